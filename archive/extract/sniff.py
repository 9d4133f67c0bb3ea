"""What a file really is: magic bytes, checked against the extension the user gave it.

The accepted kinds, their extensions, labels and signatures come from the parser registry;
this module adds only what is never accepted but must be named when a file pretends to be
something else (an .exe renamed .pdf is refused as "实际为 Windows 可执行程序")."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from archive.core.config import DEFAULT_LIMITS, Limits
from archive.core.errors import Refusal
from archive.core.text import decode
from . import registry
from .registry import Sample

KINDS = registry.kinds()
EXTENSIONS = registry.extensions()

# How content that is no accepted kind is named to the user in a mismatch refusal.
FOREIGN = {
    "pptx": "PowerPoint 演示文稿（PPTX）", "zip": "ZIP 压缩包", "ole2": "Office 97-2003 文档",
    "exe": "Windows 可执行程序", "elf": "Linux 可执行程序", "gif": "GIF 图片", "bmp": "BMP 图片",
    "webp": "WebP 图片", "heic": "HEIC 图片", "tiff": "TIFF 图片", "rar": "RAR 压缩包",
    "7z": "7z 压缩包", "gzip": "gzip 压缩包", "rtf": "RTF 文档", "mp4": "视频文件",
    "html": "网页（HTML）表格，请用 Excel 打开后另存为 .xlsx",
    "xmlss": "Excel 2003 XML 表格，请用 Excel 打开后另存为 .xlsx",
    "utf16": "UTF-16 编码的文本（请另存为 UTF-8 或 GBK 编码）", "unknown": "无法识别的格式",
}
DESCRIPTIONS = {**registry.labels(), **{k: v for k, v in FOREIGN.items() if k not in KINDS}}

# (prefix, family) at offset 0 for content no parser accepts. Long signatures come before the
# text check; two-byte ones after it, so a CSV that happens to start with "BM" stays a CSV.
FOREIGN_MAGIC = [
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (bytes.fromhex("D0CF11E0A1B11AE1"), "ole2"),
    (b"\x7fELF", "elf"), (b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"), (b"Rar!\x1a\x07", "rar"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"{\\rtf", "rtf"),
]
WEAK_MAGIC = [(b"MZ", "exe"), (b"BM", "bmp"), (b"\x1f\x8b", "gzip")]

HEAD_BYTES = 64 * 1024


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 10 or mb.is_integer() else f"{mb:.2g}"


def sniff_kind(path, original_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return the kind (one of KINDS) of the file at `path`, named `original_name` by the user,
    or raise Refusal: empty, too large, unsupported extension, content not the extension's type."""
    path = Path(path)
    name = original_name or path.name
    size = os.stat(path).st_size
    if size == 0:
        raise Refusal("empty file", "文件为空")
    if size > limits.max_file_bytes:
        raise Refusal("file too large", f"文件超过大小上限 {_megabytes(limits.max_file_bytes)} MB")
    ext = Path(name).suffix.lower()
    expected = registry.extensions().get(ext)   # live: a parser added later counts
    if expected is None:
        shown = ext if ext else "（无扩展名）"
        raise Refusal("unsupported file type", f"不支持的文件类型 {shown}")

    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    actual = content_type(path, head, expected)
    if actual == expected:
        return expected
    specific = registry.get(expected).mismatch(actual, path)
    if specific is not None:
        raise specific
    raise Refusal("content does not match extension",
                  f"文件内容与扩展名不符：扩展名为 {ext}，实际为 {describe(actual)}")


def describe(actual: str) -> str:
    """The Chinese name of a content type: a parser's label, or FOREIGN's."""
    return registry.labels().get(actual) or FOREIGN.get(actual, actual)


def content_type(path: Path, head: bytes, expected: str) -> str:
    """The type the bytes say: a KINDS member or a DESCRIPTIONS key."""
    sample = Sample(path, head, _family(head))
    wanted = registry.get(expected)
    if sample.family == "text" and wanted.family != "text":
        return _text_type(head)
    if sample.family == "zip":
        sample.zip_names = _zip_names(path)
        if sample.zip_names is None:
            # A local header but no readable directory: a truncated Office file is the likely
            # story when the extension says so; extraction refuses it as corrupt.
            return expected if wanted.family == "zip" else "zip"
    if wanted.claims(sample, True):
        return expected
    for parser in registry.parsers():
        if parser.kind != expected and parser.claims(sample, False):
            return parser.kind
    if sample.family == "zip":
        names = sample.zip_names
        if "[Content_Types].xml" in names and "ppt" in {n.split("/", 1)[0] for n in names}:
            return "pptx"
    return "csv" if sample.family == "text" else sample.family


def _family(head: bytes) -> str:
    """The content family from the first bytes (the parsers' signatures and FOREIGN_MAGIC)."""
    strong = [(m, p.family) for p in registry.parsers() for m in p.magic] + FOREIGN_MAGIC
    if head[4:8] == b"ftyp":
        return "heic" if head[8:12] in (b"heic", b"heix", b"mif1", b"msf1") else "mp4"
    if head[:1] == b"\x00" and head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mp4"   # an older QuickTime movie without an ftyp box
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    family = _match(head, strong)
    # The PDF header may follow a little junk; readers accept it within the first 1024 bytes.
    if family is None and b"%PDF-" in head[:1024]:
        return "pdf"
    if family is None:
        family = "text" if _is_text(head) else (_match(head, WEAK_MAGIC) or "unknown")
    return family


def _text_type(head: bytes) -> str:
    """Name the text a wrong extension hides: many web systems export an HTML or XML table
    as ".xls", which Excel opens but no parser here should guess at."""
    lowered = head[:4096].lower()
    if b"urn:schemas-microsoft-com:office:spreadsheet" in lowered:
        return "xmlss"
    if any(tag in lowered for tag in (b"<html", b"<!doctype html", b"<table")):
        return "html"
    return "csv"


def _match(head: bytes, table) -> str | None:
    return next((kind for prefix, kind in table if head.startswith(prefix)), None)


def _zip_names(path: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def _is_text(head: bytes) -> bool:
    """Decodes as UTF-8 (BOM or not) or GB18030, and has no control bytes binary files have."""
    if b"\x00" in head:
        return False
    if any(b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D) for b in head):
        return False
    return decode(head, partial=True) is not None


def is_encrypted_ooxml(path: Path) -> bool:
    """Office "encrypt with password" wraps a DOCX/XLSX in an OLE2 container."""
    with open(path, "rb") as f:
        data = f.read(4 * 1024 * 1024)
    return "EncryptedPackage".encode("utf-16-le") in data
