"""Names inside a declaration package: from the map's `export` templates, Windows-safe.
(Hand-written rather than pathvalidate: that library drops or replaces forbidden characters
with one placeholder, while a Chinese reader is better served by full-width look-alikes.)

Rules (CONTRACT.md "The declaration package"):
- NFC; the map's codes verbatim.
- Characters Windows forbids are replaced by their full-width look-alikes, which keep the
  meaning for a Chinese reader (`:`→`：`, `?`→`？`, `/`→`／`, `\\`→`＼`, `*`→`＊`, `"`→`＂`,
  `<`→`＜`, `>`→`＞`, `|`→`｜`); control characters become `_`.
- No trailing dot or space; reserved device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9,
  also with an extension) get a leading `_`.
- Every name ≤ MAX_NAME_BYTES bytes in UTF-8 (ext4 and APFS stop at 255 bytes, which is
  only 85 Chinese characters) and every path (from the root folder on, `/`-separated)
  ≤ MAX_PATH characters: folder names
  are capped at MAX_FOLDER characters (the name part shortened, code kept), file names
  shorten the title part and mark it with `…`.
- Never two names in one folder that Windows would consider equal (case-insensitive):
  the later one gets ` (2)`, ` (3)`… before its extension.
"""
from __future__ import annotations

import re
import string
import unicodedata

from archive.core.errors import UsageError

MAX_PATH = 240
MAX_FOLDER = 80          # characters; 80 CJK characters are 240 bytes in UTF-8
MAX_NAME_BYTES = 250     # one name in UTF-8: Linux/macOS file systems stop at 255 bytes
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
    while not fits(out, cap) and nm:
        nm = nm[:-1].rstrip()
        fields["name"] = nm + ELLIPSIS if nm else ""
        out = safe_name(render(template, fields, "folder"))
    if not fits(out, cap):
        out = shorten(out, "", cap)
    return out


def fits(name: str, budget: int) -> bool:
    """At most `budget` characters and MAX_NAME_BYTES bytes of UTF-8."""
    return len(name) <= budget and len(name.encode("utf-8")) <= MAX_NAME_BYTES


def file_name(template: str, fields: dict, budget: int) -> str:
    """A file name that `fits` `budget`; shortens `title` (marked …), then the stem."""
    fields = {k: clean_text(v) if isinstance(v, str) else v for k, v in fields.items()}
    out = safe_name(render(template, fields, "file"))
    if fits(out, budget):
        return out
    title = fields.get("title", "")
    # longest prefix of the title that fits
    lo, hi = 0, len(title)
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        f = dict(fields, title=title[:mid].rstrip(" .") + ELLIPSIS)
        cand = safe_name(render(template, f, "file"))
        if fits(cand, budget):
            best, lo = cand, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    return shorten(out, fields.get("ext", ""), budget)


def shorten(name: str, ext: str, budget: int) -> str:
    """Cut `name` (keeping `ext`) until it fits; the cut is marked with …."""
    if not (ext and name.endswith(ext) and fits(ext + "__", budget)):
        ext = ""
    stem = name[:len(name) - len(ext)] if ext else name
    while stem and not fits(stem.rstrip(" .") + ELLIPSIS + ext, budget):
        stem = stem[:-1]
    return safe_name(stem.rstrip(" .") + ELLIPSIS + ext)


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
            cut = stem
            while cut and not fits(cut.rstrip(" .") + suffix, budget):
                cut = cut[:-1]
            cand = cut.rstrip(" .") + suffix
            key = cand.casefold()
            if key not in self.used:
                self.used.add(key)
                return cand
            n += 1
