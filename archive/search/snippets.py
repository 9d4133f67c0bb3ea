"""Snippets on the original text: each term in context, Chinese intact, matches marked.

The shown text is the original with whitespace tidied (a line break inside a Chinese phrase is
removed, other whitespace runs become one space); it is not NFKC'd or lowercased. Terms are
found on the normalised form of that text and mapped back character by character.
"""
from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache

from archive.extract.ocr import split_recognised
from .analysis import CJK_CHAR, is_word_char, nfkc, nfkc_mapped

CONTEXT = 24        # characters shown either side of a match
MAX_FRAGMENTS = 3
HEAD = 80           # shown when no term occurs in the text (the hit is on title/name/unit)


def _tidy(text: str) -> str:
    """The text as `" ".join(drop_cjk_ws(text).split())` makes it: a whitespace run between two
    CJK characters removed, any other one made a space, none at the ends. str.split() finds
    the runs at C speed (it splits on the characters regex's \\s matches: both use
    Py_UNICODE_ISSPACE)."""
    pieces = text.split()
    if len(pieces) < 2:
        return pieces[0] if pieces else ""
    cjk = CJK_CHAR.match
    out, prev = [pieces[0]], pieces[0]
    for piece in pieces[1:]:
        if not (cjk(prev[-1]) and cjk(piece[0])):
            out.append(" ")
        out.append(piece)
        prev = piece
    return "".join(out)


def _norm_with_map(d: str) -> tuple[str, list[int]]:
    """Normalised form of d and, per normalised character, its index in d."""
    n, mapped = nfkc_mapped(d)
    if mapped and len(n) == len(d):
        low = n.lower()
        if len(low) == len(n):     # lower() never shortens: no character grew
            return low, range(len(d))   # the usual case: every character maps 1:1
    chars, where = [], []
    for i, ch in enumerate(d):
        piece = nfkc(ch).lower()
        chars.append(piece)
        where.extend([i] * len(piece))
    return "".join(chars), where


def _occurrences(n: str, term: str, start: int = 0):
    """Occurrences (start, end) of term in n from `start` on (a word term only where a word begins)."""
    word_start = is_word_char(term[0])
    i = n.find(term, start)
    while i >= 0:
        if not word_start or i == 0 or not is_word_char(n[i - 1]):
            yield i, i + len(term)
        i = n.find(term, i + 1)


def make_item_snippet(text: str, terms: list[str]) -> dict:
    """make_snippet for an item's text, which may end with text OCR read from its images.
    The file's own text is preferred; when the terms occur only in the recognised part, the
    snippet comes from there and carries "from_image": True (the UI says 图中文字)."""
    own, recognised = split_recognised(text)
    if recognised is None:
        return {**make_snippet(text, terms), "from_image": False}
    snip = make_snippet(own, terms)
    if not snip["highlights"] and terms:
        from_image = make_snippet(recognised, terms)
        if from_image["highlights"] or not own.strip():
            return {**from_image, "from_image": True}
    return {**snip, "from_image": False}


PREFIX = 2000       # raw characters looked at when a term is not found as written
LATE = 200          # a first occurrence this far in: the snippet is made from a slice around it
SHORTCUTS = True    # False: always the whole text (the reference the tests compare with)


def make_snippet(text: str, terms: list[str]) -> dict:
    """{"snippet": plain text, "snippet_html": escaped with <mark>, "highlights": [[start, end], ...]}
    (highlights index the plain snippet).

    The work is bounded: a long text is first cut between two characters that tidying and
    normalisation treat alike in any context (a CJK ideograph, then an ideograph or a printable
    ASCII character), so the cut text's tidy/normalised form is a prefix of the whole text's.
    The cut lies just past where every term first occurs as written (a few dozen characters
    for a term in the first line), else after about PREFIX characters. The snippet made from
    the cut text is kept when every term occurs there and every window ends well before the
    cut; otherwise the next longer cut, then the whole text is used: the result is always the
    whole text's. (Cost: ~0.03 ms for a cut after 100 characters, 0.2 ms for 2,000.)
    Terms of ideographs first found LATE or more characters in: only a slice around them is
    tidied and normalised (_late_snippet), the text before it merely checked."""
    text = text or ""
    if SHORTCUTS and terms:
        cuts = []
        firsts = [text.find(t) for t in terms]
        if min(firsts) >= 0 and _ideograph_terms(tuple(terms)):
            clean = _clean_snippet(text, terms, firsts)
            if clean is not None:
                return clean
        if min(firsts) >= LATE:
            late = _late_snippet(text, terms, firsts)
            if late is not None:
                return late
        if max(firsts) < 0 and len(text) > 3 * HEAD and _absent(text, terms):
            cut = _safe_cut(text, 2 * HEAD)   # the hit is on the title, name or unit
            if cut is not None:
                d = _tidy(text[:cut])
                if len(d) > HEAD:
                    return _head(d)
        if min(firsts) >= 0:
            longest = max(len(t) for t in terms)
            cuts.append(max(f + len(t) for f, t in zip(firsts, terms)) + 2 * CONTEXT + 8 * longest + 32)
        cuts.append(PREFIX)
        for prefix in cuts:
            if len(text) > prefix + prefix // 2:
                cut = _safe_cut(text, prefix)
                if cut is not None:
                    short = _snippet(_tidy(text[:cut]), terms, whole=False)
                    if short is not None:
                        return short
    return _snippet(_tidy(text), terms, whole=True)


@lru_cache(maxsize=256)
def _ideograph_terms(terms: tuple[str, ...]) -> bool:
    return all(_IDEOGRAPHS.fullmatch(t) for t in terms)


def _clean_snippet(text: str, terms: list[str], firsts: list[int]) -> dict | None:
    """The whole text's snippet cut straight from the text as written, or None. For terms of
    ideographs only, each found as written (`firsts`), when the text around each window (and a
    term's length beyond) holds no whitespace and no character NFKC turns into an ideograph:
    there the tidy text is the text itself, shifted, and an occurrence in the normalised text is
    one as written. Kept only when no term occurs in the normalised text before its first
    occurrence as written (as _late_snippet checks). Whether text precedes or follows the
    windows (the … marks) is read off the rest of the text: tidying removes only whitespace."""
    every = _windows([(f, f + len(t)) for f, t in zip(firsts, terms)], len(text))
    longest = max(len(t) for t in terms)
    # each shown window and the next one (which must stay apart from the last shown) clean;
    # between two windows some character other than whitespace, which tidying keeps: so two
    # windows apart here are apart in the tidy text too
    for k, (a, b) in enumerate(every[:MAX_FRAGMENTS + 1]):
        if _UNCLEAN.search(text, max(0, a - longest + 1), min(len(text), b + longest - 1)):
            return None
        if k and not _NOT_SPACE.search(text, every[k - 1][1], a):
            return None
    windows = every[:MAX_FRAGMENTS]
    ends = [f + len(t) - 1 for f, t in zip(firsts, terms)]
    last = max(ends)
    unclean = _UNCLEAN.search(text, 0, last)
    if unclean:
        # whitespace or a maker before the first occurrences: check as _late_snippet does
        if makes_ideograph(text, unclean.start(), last):
            return None
        for t, end in zip(terms, ends):
            if end > unclean.start() and t in "".join(text[:end].split()):
                return None
    spans = []
    for t in terms:
        for a, b in windows:
            i = text.find(t, max(0, a - len(t) + 1), b + len(t) - 1)
            while i >= 0:
                spans.append((i, i + len(t)))
                i = text.find(t, i + 1, b + len(t) - 1)
    a0, b1 = windows[0][0], windows[-1][1]
    before = a0 > 0 and _NOT_SPACE.search(text, 0, a0) is not None
    after = b1 < len(text) and _NOT_SPACE.search(text, b1) is not None
    return _render(text, windows, _merge(sorted(spans)), after, before)


def _late_snippet(text: str, terms: list[str], firsts: list[int]) -> dict | None:
    """The whole text's snippet, made from a slice around the first occurrences as written,
    or None. Kept only when it is certainly the whole text's: every term is ideographs only;
    before the slice no term occurs in the normalised text (an occurrence there is an
    occurrence in the text with all whitespace removed, since no character before it is one
    NFKC turns into an ideograph, so that squeezed text is checked, up to the last character
    of the occurrence as written — an occurrence ending earlier would start earlier too); both
    ends of the slice are safe cuts, and every window lies well inside the slice (_snippet)."""
    if not _ideograph_terms(tuple(terms)):
        return None
    ends = [f + len(t) - 1 for f, t in zip(firsts, terms)]
    if makes_ideograph(text, 0, max(ends)):
        return None
    for t, end in zip(terms, ends):
        if t in "".join(text[:end].split()):
            return None
    longest = max(len(t) for t in terms)
    margin = 2 * CONTEXT + 8 * longest + 32
    start = _safe_cut_back(text, min(firsts) - margin)
    if start is None:
        return None
    stop = max(ends) + 1 + margin
    if stop >= len(text):
        return _snippet(_tidy(text[start:]), terms, whole=True, lead=True)
    stop = _safe_cut(text, stop)
    if stop is None:
        return None
    return _snippet(_tidy(text[start:stop]), terms, whole=False, lead=True)


def _head(d: str) -> dict:
    plain = d[:HEAD] + ("…" if len(d) > HEAD else "")
    return {"snippet": plain, "snippet_html": html.escape(plain), "highlights": []}


_IDEOGRAPHS = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")
# every character other than these ideographs whose NFKC form holds one lies in these blocks
# (radicals, enclosed and squared CJK, compatibility ideographs; tests/test_search.py checks
# them against all of Unicode); makes_ideograph() tells the characters themselves (not ㎏ or ①)
_BLOCKS = ((0x2E80, 0x2FDF), (0x3038, 0x303A), (0x3190, 0x319F), (0x3200, 0x33FF), (0xF900, 0xFAFF),
           (0x1F200, 0x1F2FF), (0x2F800, 0x2FA1F))
MAKES_IDEOGRAPH = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _BLOCKS) + "]")
# Whitespace (which tidying removes or squeezes) and those blocks: where neither occurs around a
# match, the tidy text there is the text as written (_clean_snippet).
_UNCLEAN = re.compile(r"[\s" + MAKES_IDEOGRAPH.pattern[1:])
_NOT_SPACE = re.compile(r"\S")


@lru_cache(maxsize=8192)
def _makes(ch: str) -> bool:
    return bool(_IDEOGRAPHS.search(unicodedata.normalize("NFKC", ch)))


def makes_ideograph(text: str, start: int = 0, end: int | None = None) -> bool:
    """text[start:end] holds a character NFKC turns into (something holding) an ideograph.
    The blocks' pattern finds candidates at C speed (a class of the exact characters is
    matched ~10× slower); ㎏ or ① in a text do not count."""
    return any(_makes(m.group()) for m in MAKES_IDEOGRAPH.finditer(text, start, len(text) if end is None else end))


@lru_cache(maxsize=1)
def _makers() -> dict[str, str]:
    """ideograph → the characters (other than itself) whose NFKC form holds it."""
    out: dict[str, str] = {}
    for lo, hi in _BLOCKS:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            if _makes(ch):
                for ideo in set(_IDEOGRAPHS.findall(unicodedata.normalize("NFKC", ch))):
                    for x in ideo:
                        out[x] = out.get(x, "") + ch
    return out


@lru_cache(maxsize=4096)
def makers_of(chars: str) -> str:
    """The characters whose NFKC form holds one of `chars` (ideographs): only they can make an
    occurrence of a term of those ideographs in a text's normalised form that its whitespace-free
    form lacks (NFKC never removes a character, and other changes touch no ideograph). Most
    ideographs have none; 文 has ⽂ ㉆ ㍾."""
    table = _makers()
    return "".join(sorted(set("".join(table.get(c, "") for c in set(chars)))))


def _absent(text: str, terms: list[str]) -> bool:
    """No term can occur in the text's normalised form: every term is ideographs only and occurs
    neither in the text with all whitespace removed nor through a character NFKC turns into an
    ideograph (normalising only removes whitespace between CJK characters and maps those)."""
    if not _ideograph_terms(tuple(terms)) or makes_ideograph(text):
        return False
    squeezed = "".join(text.split())
    return not any(t in squeezed for t in terms)


def _ideograph(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _safe_at(text: str, i: int) -> bool:
    """Cutting text before i changes nothing tidying or normalisation does on either side: an
    ideograph, then an ideograph or a printable ASCII character."""
    nxt = text[i]
    return _ideograph(text[i - 1]) and (_ideograph(nxt) or "!" <= nxt <= "~")


def _safe_cut(text: str, at: int) -> int | None:
    """The first safe cut at or after `at` (within 400 characters)."""
    return next((i for i in range(at, min(len(text), at + 400)) if _safe_at(text, i)), None)


def _safe_cut_back(text: str, at: int) -> int | None:
    """The last safe cut at or before `at` (within 400 characters)."""
    return next((i for i in range(min(at, len(text) - 1), max(0, at - 400), -1) if _safe_at(text, i)), None)


def _snippet(d: str, terms: list[str], whole: bool, lead: bool = False) -> dict | None:
    """The snippet of tidy text d. `whole` False: d is cut from a longer text (None when a
    window could reach past the cut); `lead`: d is cut from after the start of the text (None
    unless every term occurs in d and the first window starts well inside it)."""
    if not d:
        return {"snippet": "", "snippet_html": "", "highlights": []}
    if _ideograph_terms(tuple(terms)) and not MAKES_IDEOGRAPH.search(d):
        # terms of ideographs occur in the normalised text exactly where they occur in d:
        # NFKC and lower() change no ideograph and, without makers, make none
        n, where = d, range(len(d))
    else:
        n, where = _norm_with_map(d)
    firsts: list[tuple[int, int]] = []
    for t in terms:
        first = next(_occurrences(n, t), None)
        if first:
            firsts.append((where[first[0]], where[first[1] - 1] + 1))
        elif not whole or lead:
            return None          # the term may occur after the cut (or before it)
    if not firsts:
        return _head(d)
    windows = _windows(firsts, len(d))
    longest = max(len(t) for t in terms)
    if not whole and windows[-1][1] > len(d) - 4 * longest - 8:
        return None              # a window (or a match inside it) could reach past the cut
    if lead and windows[0][0] < 4 * longest + 8:
        return None              # ... or before the start of the slice
    windows = windows[:MAX_FRAGMENTS]
    # every occurrence of a term that reaches into a shown window is marked
    spans = []
    for t in terms:
        for a, b in windows:
            for s, e in _occurrences(n, t, max(0, bisect_left(where, a) - len(t) + 1)):
                if where[s] >= b:
                    break
                spans.append((where[s], where[e - 1] + 1))
    return _render(d, windows, _merge(sorted(spans)), windows[-1][1] < len(d))


def _windows(firsts: list[tuple[int, int]], size: int) -> list[list[int]]:
    """CONTEXT characters either side of each term's first occurrence, overlapping ones merged."""
    windows: list[list[int]] = []
    for s, e in sorted(firsts):
        a, b = max(0, s - CONTEXT), min(size, e + CONTEXT)
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    return windows


def _render(d: str, windows, spans, more_after: bool, more_before: bool | None = None) -> dict:
    """The windows of d joined by …, the spans marked (indices in d). `more_before`: whether
    text precedes the first window (default: it does not start at 0)."""
    plain, marks = "", []
    for k, (a, b) in enumerate(windows):
        if k or (a > 0 if more_before is None else more_before):
            plain += "…"
        base = len(plain) - a
        plain += d[a:b]
        for s, e in spans:
            s2, e2 = max(s, a), min(e, b)
            if s2 < e2:
                marks.append([s2 + base, e2 + base])
    if more_after:
        plain += "…"
    return {"snippet": plain, "snippet_html": _html(plain, marks), "highlights": marks}


def _merge(spans):
    out: list[list[int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


_HTML_SPECIAL = re.compile("[&<>\"']")


def _html(plain: str, marks) -> str:
    # usually nothing to escape: then each piece as it is (str() of a str is itself)
    esc = html.escape if _HTML_SPECIAL.search(plain) else str
    out, pos = [], 0
    for s, e in marks:
        out.append(esc(plain[pos:s]))
        out.append("<mark>" + esc(plain[s:e]) + "</mark>")
        pos = e
    out.append(esc(plain[pos:]))
    return "".join(out)
