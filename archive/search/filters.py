"""Filter tokens: an item's type, unit, codes and date as tokens of the FTS5 column `f`, so a
filter is part of the MATCH (an AND of doclists) instead of a join with `items` per hit.

Every filter token starts with U+E000 (private use). FTS5's tokenizers (ascii, and unicode61 of
older tables) keep it as a token character, while the analyzer (archive/search/analysis.py)
never emits one (it is not a letter, digit or CJK character), so no query term, prefix query
included, can match a filter token. The `f` column has bm25 weight 0: scores are those of the terms alone.

- type, unit, code: MARK + kind letter + 16 hex digits of blake2b(value) (values hold any
  character; a hash keeps each one a single token). Codes: one token per item_codes row. A map
  filter (issue 14, item_codes.map_id) would add `p` tokens the same way.
- date: year, month and day buckets (`y2025`, `m202507`, `d20250701`); a range becomes an OR of
  the fewest buckets covering it (≤ ~85 for any span of a few years).
"""
from __future__ import annotations

import hashlib
import re
from datetime import date as _date, timedelta

MARK = "\ue000"
NOTHING = f'"{MARK}none"'    # matches no row: an empty date range
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DATE_TOKENS = 200        # more buckets than this: the date range stays an SQL condition
# FTS5's bm25 divides by the row's length over all columns, `f` included; every row's `f` is
# padded to this many tokens so an item's filters never change its score (1 type + 1 unit +
# 3 date + up to 7 codes fit; rarer items with more codes are 1 token longer per extra code,
# against ~1,000 tokens of text).
F_TOKENS = 12
_PAD = MARK + "p"


def _h(kind: str, value: str) -> str:
    return MARK + kind + hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def type_token(value: str) -> str:
    return _h("t", value)


def unit_token(value: str) -> str:
    return _h("u", value)


def code_token(code: str) -> str:
    return _h("c", code)


def iso_date_ok(d: str | None) -> bool:
    return d is None or bool(_ISO.fullmatch(d))


def date_tokens(d: str) -> list[str]:
    return [f"{MARK}y{d[:4]}", f"{MARK}m{d[:4]}{d[5:7]}", f"{MARK}d{d[:4]}{d[5:7]}{d[8:10]}"]


def item_tokens(material_type: str | None, unit: str | None, date: str | None, codes) -> str:
    """The `f` column of one item."""
    out = []
    if material_type is not None:
        out.append(type_token(material_type))
    if unit is not None:
        out.append(unit_token(unit))
    if date is not None and _ISO.fullmatch(date):
        out.extend(date_tokens(date))
    out.extend(code_token(c) for c in codes)
    return " ".join(out)


def padded(f: str) -> str:
    """The `f` column as written: the item's filter tokens, padded to F_TOKENS tokens."""
    n = f.count(" ") + 1 if f else 0
    return f + (" " if f else "") + " ".join([_PAD] * (F_TOKENS - n)) if n < F_TOKENS else f


def any_of(tokens: list[str]) -> str:
    """FTS5 expression: any of the tokens."""
    if not tokens:
        return NOTHING
    quoted = [f'"{t}"' for t in tokens]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def _iso(s: str) -> _date | None:
    try:
        return _date.fromisoformat(s) if _ISO.fullmatch(s) else None
    except ValueError:
        return None


def date_range_expr(lo: str | None, hi: str | None, lo_excl: bool, hi_excl: bool,
                    bounds: tuple[str | None, str | None]) -> str | None:
    """FTS5 expression for lo ≤ date ≤ hi (ISO strings, None = open), or None when it cannot be
    written with few buckets (then the filter stays SQL). `bounds` = the archive's (min, max)
    date, which closes open ends: no item lies outside them."""
    a = _iso(lo) if lo else None
    b = _iso(hi) if hi else None
    if (lo and a is None) or (hi and b is None):
        return None
    if a and lo_excl:
        a += timedelta(days=1)
    if b and hi_excl:
        b -= timedelta(days=1)
    amin = _iso(bounds[0]) if bounds[0] else None
    amax = _iso(bounds[1]) if bounds[1] else None
    if bounds[0] is None:            # no dated item at all
        return NOTHING
    if amin is None or amax is None:
        return None
    a = max(a, amin) if a else amin
    b = min(b, amax) if b else amax
    toks: list[str] = []
    d = a
    while d <= b:
        if len(toks) > MAX_DATE_TOKENS:
            return None
        if d.month == 1 and d.day == 1 and _date(d.year, 12, 31) <= b:
            toks.append(f"{MARK}y{d.year:04d}")
            d = _date(d.year + 1, 1, 1) if d.year < 9999 else b + timedelta(days=1)
            continue
        nxt = _date(d.year + (d.month == 12), d.month % 12 + 1, 1) if (d.year, d.month) != (9999, 12) else None
        if d.day == 1 and nxt is not None and nxt - timedelta(days=1) <= b:
            toks.append(f"{MARK}m{d.year:04d}{d.month:02d}")
            d = nxt
            continue
        toks.append(f"{MARK}d{d.year:04d}{d.month:02d}{d.day:02d}")
        if d == _date.max:
            break
        d += timedelta(days=1)
    return any_of(toks)
