"""Chinese analysis shared by indexing, querying, verification and snippets.

Normalisation: NFKC, whitespace between CJK characters removed (a phrase broken across a PDF
line is whole again), lowercase. Tokens, written space-separated into FTS5 columns:

- a CJK run c1..cn gives its overlapping bigrams c1c2 … c(n-1)cn and then one terminal
  unigram cn. Every character of a run starts exactly one token (a bigram, or the terminal),
  so a 1-character term is the prefix query `c*`; and the terminal sits between two runs, so a
  bigram phrase can never chain across a punctuation mark.
- a run of other letters/digits (Latin, digits, …) is one lowercased token (TZ20051 → tz20051),
  found by prefix.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from operator import add as _add

# Bump when tokens change: reindex rewrites every row whose analyzer is older.
ANALYZER_VERSION = 1

_CJK = ("\u3005\u3007\u3021-\u3029\u3038-\u303b\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf"
        "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f")
CJK_CHAR = re.compile(f"[{_CJK}]")
_TOKEN_RE = re.compile(f"(?P<c>[{_CJK}]+)|(?P<w>[^\\W_{_CJK}]+)")
# The reference pattern: a whitespace run between two CJK characters. drop_cjk_ws removes the
# same runs faster (the lookbehind is tried at every position of a long text).
_CJK_WS = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_WS_RUN = re.compile(r"(\s+)")
_WORD_CHAR = re.compile(f"[^\\W_{_CJK}]")


def _stable(lo: int, hi: int) -> str:
    """Character-class ranges of the code points in [lo, hi] that NFKC leaves alone and that
    never take part in a composition (no combining marks)."""
    out, start = [], None
    for cp in range(lo, hi + 2):
        c = chr(cp) if cp <= hi else None
        ok = c is not None and unicodedata.normalize("NFKC", c) == c and not unicodedata.category(c).startswith("M")
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append(f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = None
    return "".join(out)


# Runs of characters that NFKC may change (with the character before, which a combining mark
# may compose with); CJK ideographs, ASCII and most CJK punctuation are stable and skipped.
# The reference form; nfkc() scans for bare runs (_NFKC_BARE: one test a character, ~35 %
# faster) and takes this one only when a run starts with a combining mark after ASCII.
_NFKC_RUN = re.compile(f"[\\x00-\\x7f]?[^\\x00-\\x7f{_stable(0x3000, 0x303f)}\\u4e00-\\u9fff]+")
_NFKC_BARE = re.compile(_NFKC_RUN.pattern[len("[\\x00-\\x7f]?"):])


@lru_cache(maxsize=8192)   # the same few runs (，（） full-width digits) recur in every text
def _run_form(run: str) -> tuple[str, bool]:
    """The run's NFKC form, and whether NFKC maps it character by character, one to one (equal
    total lengths alone do not say so: ㎏ → kg and e + ◌́ → é cancel out)."""
    per = [unicodedata.normalize("NFKC", c) for c in run]
    form = unicodedata.normalize("NFKC", run)
    return form, all(len(x) == 1 for x in per) and "".join(per) == form


class _Glued(Exception):
    pass


# Full-width punctuation that Chinese text is full of (~36 marks in 1,800 characters), each of
# which NFKC makes one ASCII character, its whole compatibility decomposition. Replaced at C
# speed before the scan, which would otherwise call back into Python for each. NFKC of the
# result is NFKC of the text (the same decomposition), and one to one stays one to one.
_FULL_WIDTH = tuple((c, unicodedata.normalize("NFKC", c)) for c in "，：；！？（）％")


def nfkc_mapped(s: str) -> tuple[str, bool]:
    """(unicodedata.normalize("NFKC", s), whether every character maps to exactly one), several
    times faster on Chinese text: only the runs that can change are normalised."""
    if s.isascii():
        return s, True
    for wide, narrow in _FULL_WIDTH:
        if wide in s:
            s = s.replace(wide, narrow)
    odd = []

    def bare(m):
        i = m.start()
        if i and s[i - 1] < "\x80" and unicodedata.category(s[i])[0] == "M":
            raise _Glued      # it may compose with the ASCII character before: the reference scan
        form, one = _run_form(m.group())
        if not one:
            odd.append(i)
        return form

    def glued(m):
        form, one = _run_form(m.group())
        if not one:
            odd.append(m.start())
        return form
    try:
        out = _NFKC_BARE.sub(bare, s)
    except _Glued:
        odd.clear()
        out = _NFKC_RUN.sub(glued, s)
    return out, not odd


def nfkc(s: str) -> str:
    """unicodedata.normalize("NFKC", s), several times faster on Chinese text (nfkc_mapped)."""
    return s if s.isascii() else nfkc_mapped(s)[0]


def drop_cjk_ws(s: str) -> str:
    """s with every whitespace run between two CJK characters removed (as `_CJK_WS.sub("", s)`:
    such a run is matched whole or not at all)."""
    parts = _WS_RUN.split(s)
    if len(parts) == 1:
        return s
    cjk = CJK_CHAR.match
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        before, after = parts[i - 1], parts[i + 1]
        if not (before and after and cjk(before[-1]) and cjk(after[0])):
            out.append(parts[i])
        out.append(after)
    return "".join(out)


def normalise(s: str | None) -> str:
    """NFKC, whitespace between CJK characters removed, lowercase."""
    if not s:
        return ""
    return drop_cjk_ws(nfkc(s)).lower()


def is_word_char(ch: str) -> bool:
    return bool(_WORD_CHAR.match(ch))


def tokens(norm: str) -> str:
    """The FTS5 token string of an already normalised field."""
    out: list[str] = []
    append, extend = out.append, out.extend
    for cjk, word in _TOKEN_RE.findall(norm):
        if cjk:
            extend(map(_add, cjk, cjk[1:]))   # overlapping bigrams, at C speed
            append(cjk[-1])
        else:
            append(word)
    return " ".join(out)


def field_tokens(value: str | None) -> str:
    return tokens(normalise(value))


@dataclass(frozen=True)
class TermPlan:
    """How one query term is matched.

    `match` is an FTS5 expression (a phrase) that finds every item containing the term. When
    `exact` is False it may also find items that do not (the term mixes scripts, holds
    punctuation or spaces): those candidates are checked with `contains()`.
    """
    text: str          # the normalised term
    match: str
    exact: bool


def _q(tok: str) -> str:
    return '"' + tok.replace('"', '""') + '"'


def plan_term(raw: str) -> TermPlan | None:
    """Plan a term; None when it holds no letter, digit or CJK character."""
    t = normalise(raw).strip()
    segs = list(_TOKEN_RE.finditer(t))
    if not segs:
        return None
    parts: list[str] = []  # FTS5 phrase pieces joined by " + "
    n = len(t)
    for m in segs:
        at_end = m.end() == n
        run = m.group("c")
        if run is None:
            w = m.group("w")
            parts.append(_q(w) + (" *" if at_end else ""))
            continue
        bigrams = [run[i:i + 2] for i in range(len(run) - 1)]
        parts.extend(_q(b) for b in bigrams)
        if not at_end:
            parts.append(_q(run[-1]))           # the run ends here: its terminal follows
        elif not bigrams:
            parts.append(_q(run) + " *")        # 1 character: a bigram starting with it, or a terminal
    exact = len(segs) == 1 and segs[0].start() == 0 and segs[0].end() == n
    return TermPlan(t, " + ".join(parts), exact)


def contains(norm_field: str, term: str) -> bool:
    """The exact rule every hit obeys: `term` (normalised) occurs in the normalised field; a term
    starting with a letter/digit must start a word there (prefix match: TZ2005 finds TZ20051,
    0051 does not)."""
    if not term:
        return False
    if not is_word_char(term[0]):
        return term in norm_field
    i = norm_field.find(term)
    while i >= 0:
        if i == 0 or not is_word_char(norm_field[i - 1]):
            return True
        i = norm_field.find(term, i + 1)
    return False
