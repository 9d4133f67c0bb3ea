"""Names inside a declaration package: from the map's `export` templates, Windows-safe.

Rules (CONTRACT.md "The declaration package"):
- NFC; the map's codes verbatim.
- Characters Windows forbids are replaced by their full-width look-alikes, which keep the
  meaning for a Chinese reader (`:`→`：`, `?`→`？`, `/`→`／`, `\\`→`＼`, `*`→`＊`, `"`→`＂`,
  `<`→`＜`, `>`→`＞`, `|`→`｜`); control characters become `_`.
- No trailing dot or space; reserved device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9,
  also with an extension) get a leading `_`.
- Every path (from the root folder on, `/`-separated) ≤ MAX_PATH characters: folder names
  are capped at MAX_FOLDER characters (the name part shortened, code kept), file names
  shorten the title part and mark it with `…`.
- Never two names in one folder that Windows would consider equal (case-insensitive):
  the later one gets ` (2)`, ` (3)`… before its extension.
"""
from __future__ import annotations

import re
import string
import unicodedata

from .errors import UsageError

MAX_PATH = 240
MAX_FOLDER = 80
ELLIPSIS = "…"

DEFAULT_TEMPLATES = {
    "root": "{id}_网上申报_{evaluation_date}",
    "folder": "{code} {name}",
    "file": "{seq:03d}_{type}_{title}{ext}",
}

_REPLACE = str.maketrans({
    ":": "：", "?": "？", "/": "／", "\\": "＼", "*": "＊", '"': "＂", "<": "＜", ">": "＞", "|": "｜",
})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10)),
             "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}


def clean_text(value) -> str:
    """NFC, Windows-forbidden characters replaced; for template fields (no trimming)."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = _CONTROL.sub("_", text)
    return text.translate(_REPLACE)


def safe_name(name: str) -> str:
    """A complete file or folder name made Windows-safe (see module docstring)."""
    name = clean_text(name)
    name = name.rstrip(" .").lstrip(" ")
    if not name:
        name = "_"
    stem = name.split(".", 1)[0].rstrip(" ")
    if stem.upper() in _RESERVED:
        name = "_" + name
    return name


def template_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render(template: str, fields: dict, what: str) -> str:
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, ValueError) as e:
        raise UsageError("bad export template",
                         f"指标体系 export.{what} 模板「{template}」无法使用：{e}") from None


def folder_name(template: str, code: str, name: str, cap: int = MAX_FOLDER) -> str:
    """A node's folder name of at most `cap` characters; the name part is shortened first."""
    cap = max(cap, 1)
    fields = dict(code=clean_text(code), name=clean_text(name))
    out = safe_name(render(template, fields, "folder"))
    nm = fields["name"]
    while len(out) > cap and nm:
        nm = nm[:-1].rstrip()
        fields["name"] = nm + ELLIPSIS if nm else ""
        out = safe_name(render(template, fields, "folder"))
    if len(out) > cap:
        out = safe_name(out[:cap])
    return out


def file_name(template: str, fields: dict, budget: int) -> str:
    """A file name of at most `budget` characters; shortens `title`, then the stem."""
    fields = {k: clean_text(v) if isinstance(v, str) else v for k, v in fields.items()}
    out = safe_name(render(template, fields, "file"))
    if len(out) <= budget:
        return out
    title = fields.get("title", "")
    # longest prefix of the title that fits
    lo, hi = 0, len(title)
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        f = dict(fields, title=title[:mid].rstrip() + ELLIPSIS)
        cand = safe_name(render(template, f, "file"))
        if len(cand) <= budget:
            best, lo = cand, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    return shorten_keep_ext(out, fields.get("ext", ""), budget)


def shorten_keep_ext(name: str, ext: str, budget: int) -> str:
    if ext and name.endswith(ext) and len(ext) < budget:
        return safe_name(name[:budget - len(ext) - 1] + ELLIPSIS + ext)
    return safe_name(name[:max(budget - 1, 1)] + ELLIPSIS)


def split_ext(name: str) -> tuple[str, str]:
    i = name.rfind(".")
    if i <= 0:
        return name, ""
    return name[:i], name[i:]


class Folder:
    """Names already used in one folder, compared the way Windows does (case-insensitive)."""

    def __init__(self):
        self.used: set[str] = set()

    def claim(self, name: str, budget: int) -> str:
        key = unicodedata.normalize("NFC", name).casefold()
        if key not in self.used:
            self.used.add(key)
            return name
        stem, ext = split_ext(name)
        n = 2
        while True:
            suffix = f" ({n}){ext}"
            cand = stem[:max(budget - len(suffix), 1)].rstrip(" .") + suffix
            key = cand.casefold()
            if key not in self.used:
                self.used.add(key)
                return cand
            n += 1
