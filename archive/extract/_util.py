"""Helpers shared by the extractors."""
from __future__ import annotations

import contextlib
import warnings
from datetime import date, datetime, time

from archive.core.errors import Refusal

MiB = 1024 * 1024


def corrupt(label: str) -> Refusal:
    return Refusal(f"corrupt {label}", "文件已损坏")


@contextlib.contextmanager
def quiet():
    """Parsers warn about odd input (Pillow's EXIF, openpyxl's styles); for an upload the
    answer is accept or refuse, never a warning, and pytest runs with -W error.
    (catch_warnings swaps process-wide filters; a rare overlap between threads only
    mutes or shows a parser warning, it never changes a result.)"""
    with warnings.catch_warnings():
        # Parser chatter only: UserWarning (Pillow EXIF, openpyxl, pypdf) and RuntimeWarning
        # (Pillow's DecompressionBombWarning). Deprecations and ResourceWarnings still show.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def is_ooxml(names: list[str] | None, folder: str) -> bool:
    """An Office Open XML package whose main part lives in `folder` (word, xl, ppt)."""
    return bool(names) and "[Content_Types].xml" in names and folder in {n.split("/", 1)[0] for n in names}


def encrypted_ooxml(actual: str, path) -> Refusal | None:
    """Office "encrypt with password" wraps a DOCX/XLSX in an OLE2 container."""
    if actual != "ole2":
        return None
    with open(path, "rb") as f:
        data = f.read(4 * 1024 * 1024)
    if "EncryptedPackage".encode("utf-16-le") in data:
        return Refusal("encrypted Office file", "Office 文件已加密，无法读取")
    return None


def cell_text(value) -> str:
    """One ledger cell as searchable text: integral floats without `.0`, dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return "%.15g" % value
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()


def rows_text(rows) -> tuple[str, int]:
    """Cells joined by tabs, rows by newlines; empty rows and trailing empty cells dropped."""
    lines = []
    for row in rows:
        cells = [cell_text(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            lines.append("\t".join(c.replace("\t", " ").replace("\r\n", "\n") for c in cells))
    return "\n".join(lines), len(lines)


def iso(value) -> str | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return None
