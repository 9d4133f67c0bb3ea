"""Snippets on the original text: each term in context, Chinese intact, matches marked.

The shown text is the original with whitespace tidied (a line break inside a Chinese phrase is
removed, other whitespace runs become one space); it is not NFKC'd or lowercased. Terms are
found on the normalised form of that text and mapped back character by character.
"""
from __future__ import annotations

import html
import re

from .analysis import _CJK, is_word_char, nfkc

_CJK_WS = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_WS = re.compile(r"\s+")
CONTEXT = 24        # characters shown either side of a match
MAX_FRAGMENTS = 3
HEAD = 80           # shown when no term occurs in the text (the hit is on title/name/unit)


def _tidy(text: str) -> str:
    return _WS.sub(" ", _CJK_WS.sub("", text)).strip()


def _norm_with_map(d: str) -> tuple[str, list[int]]:
    """Normalised form of d and, per normalised character, its index in d."""
    n = nfkc(d).lower()
    if len(n) == len(d):
        return n, list(range(len(d)))   # the usual case: every character maps 1:1
    chars, where = [], []
    for i, ch in enumerate(d):
        piece = nfkc(ch).lower()
        chars.append(piece)
        where.extend([i] * len(piece))
    return "".join(chars), where


def _occurrences(n: str, term: str, limit: int = 50):
    word_start = is_word_char(term[0])
    i = n.find(term)
    found = 0
    while i >= 0 and found < limit:
        if not word_start or i == 0 or not is_word_char(n[i - 1]):
            yield i, i + len(term)
            found += 1
        i = n.find(term, i + 1)


def make_snippet(text: str, terms: list[str]) -> dict:
    """{"snippet": plain text, "snippet_html": escaped with <mark>, "highlights": [[start, end], ...]}
    (highlights index the plain snippet)."""
    d = _tidy(text or "")
    if not d:
        return {"snippet": "", "snippet_html": "", "highlights": []}
    n, where = _norm_with_map(d)
    spans: list[tuple[int, int]] = []
    firsts: list[tuple[int, int]] = []
    for t in terms:
        first = None
        for s, e in _occurrences(n, t):
            span = (where[s], where[e - 1] + 1)
            spans.append(span)
            first = first or span
        if first:
            firsts.append(first)
    if not firsts:
        cut = d[:HEAD]
        plain = cut + ("…" if len(d) > HEAD else "")
        return {"snippet": plain, "snippet_html": html.escape(plain), "highlights": []}
    # windows around the first occurrence of each term, merged
    windows: list[list[int]] = []
    for s, e in sorted(firsts):
        a, b = max(0, s - CONTEXT), min(len(d), e + CONTEXT)
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    windows = windows[:MAX_FRAGMENTS]
    spans = _merge(sorted(spans))
    plain, marks = "", []
    for k, (a, b) in enumerate(windows):
        if k or a > 0:
            plain += "…"
        base = len(plain) - a
        plain += d[a:b]
        for s, e in spans:
            s2, e2 = max(s, a), min(e, b)
            if s2 < e2:
                marks.append([s2 + base, e2 + base])
    if windows[-1][1] < len(d):
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


def _html(plain: str, marks) -> str:
    out, pos = [], 0
    for s, e in marks:
        out.append(html.escape(plain[pos:s]))
        out.append("<mark>" + html.escape(plain[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(plain[pos:]))
    return "".join(out)
