"""What a file really is: magic bytes, checked against the extension the user gave it."""
from __future__ import annotations

import codecs
import os
import zipfile
from pathlib import Path

from archive.core.config import DEFAULT_LIMITS, Limits
from archive.core.errors import Refusal

KINDS = ("pdf", "docx", "xlsx", "xls", "csv", "jpeg", "png")

EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".xls": "xls", ".csv": "csv",
    ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".png": "png",
}

# How each detected content type is named to the user in a mismatch refusal.
DESCRIPTIONS = {
    "pdf": "PDF 文档", "docx": "Word 文档（DOCX）", "xlsx": "Excel 表格（XLSX）",
    "xls": "Excel 97-2003 表格（XLS）", "csv": "文本文件", "jpeg": "JPEG 图片", "png": "PNG 图片",
    "pptx": "PowerPoint 演示文稿（PPTX）", "zip": "ZIP 压缩包", "ole2": "Office 97-2003 文档",
    "exe": "Windows 可执行程序", "elf": "Linux 可执行程序", "gif": "GIF 图片", "bmp": "BMP 图片",
    "webp": "WebP 图片", "heic": "HEIC 图片", "tiff": "TIFF 图片", "rar": "RAR 压缩包",
    "7z": "7z 压缩包", "gzip": "gzip 压缩包", "rtf": "RTF 文档", "mp4": "视频文件",
    "html": "网页（HTML）表格，请用 Excel 打开后另存为 .xlsx",
    "xmlss": "Excel 2003 XML 表格，请用 Excel 打开后另存为 .xlsx",
    "utf16": "UTF-16 编码的文本（请另存为 UTF-8 或 GBK 编码）", "unknown": "无法识别的格式",
}

# (prefix, type) at offset 0. Long signatures come before the text check; two-byte ones after
# it, so a CSV that happens to start with "BM" stays a CSV.
STRONG_MAGIC = [
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"),
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"),
    (bytes.fromhex("D0CF11E0A1B11AE1"), "ole2"), (b"\x7fELF", "elf"), (b"GIF87a", "gif"),
    (b"GIF89a", "gif"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"), (b"{\\rtf", "rtf"),
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
    expected = EXTENSIONS.get(ext)
    if expected is None:
        shown = ext if ext else "（无扩展名）"
        raise Refusal("unsupported file type", f"不支持的文件类型 {shown}")

    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    actual = content_type(path, head, expected)
    if actual == expected:
        return expected
    if actual == "ole2" and expected in ("docx", "xlsx") and _is_encrypted_ooxml(path):
        # Office "encrypt with password" wraps the DOCX/XLSX in an OLE2 container.
        raise Refusal("encrypted Office file", "Office 文件已加密，无法读取")
    raise Refusal("content does not match extension",
                  f"文件内容与扩展名不符：扩展名为 {ext}，实际为 {DESCRIPTIONS.get(actual, actual)}")


def content_type(path: Path, head: bytes, expected: str) -> str:
    """The type the bytes say: a KINDS member or a DESCRIPTIONS key."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head[4:8] == b"ftyp":
        return "heic" if head[8:12] in (b"heic", b"heix", b"mif1", b"msf1") else "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    kind = _match(head, STRONG_MAGIC)
    # The PDF header may follow a little junk; readers accept it within the first 1024 bytes.
    if kind is None and b"%PDF-" in head[:1024]:
        return "pdf"
    if kind is None:
        kind = "csv" if _is_text(head) else (_match(head, WEAK_MAGIC) or "unknown")
    if kind == "csv" and expected != "csv":
        return _text_type(head)
    if kind == "zip":
        return _zip_type(path, expected)
    if kind == "ole2" and expected == "xls":
        return "xls"  # .doc vs .xls needs the OLE2 directory; extraction refuses a non-workbook
    return kind


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


def _zip_type(path: Path, expected: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        # A local header but no readable directory: a truncated Office file is the likely
        # story when the extension says so; extraction refuses it as corrupt.
        return expected if expected in ("docx", "xlsx") else "zip"
    if "[Content_Types].xml" in names:
        prefixes = {n.split("/", 1)[0] for n in names}
        for folder, kind in (("word", "docx"), ("xl", "xlsx"), ("ppt", "pptx")):
            if folder in prefixes:
                return kind
    return "zip"


def _is_text(head: bytes) -> bool:
    """Decodes as UTF-8 (BOM or not) or GB18030, and has no control bytes binary files have."""
    if b"\x00" in head:
        return False
    if any(b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D) for b in head):
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # An incremental decoder tolerates a character cut at the end of the sample.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            return True
        except UnicodeDecodeError:
            continue
    return False


def _is_encrypted_ooxml(path: Path) -> bool:
    with open(path, "rb") as f:
        data = f.read(4 * 1024 * 1024)
    return "EncryptedPackage".encode("utf-16-le") in data
