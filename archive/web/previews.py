"""Derived previews for the item page, cached in instance/thumbs/ (deleting it loses nothing).

Each kind's parser makes its thumbnail (photos: EXIF orientation applied, pixel limit checked
before decoding; PDFs: the first page by poppler's `pdftoppm`). Ledgers: the first rows of
the extracted text. Every path comes from the item's SHA-256 in the DB, never from a request.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from archive.extract import registry

_SHA = re.compile(r"^[0-9a-f]{64}$")


def preview_kind(kind: str) -> str | None:
    """"image", "pdf", "ledger" or None, as the kind's parser declares."""
    return registry.preview_kind(kind)


def upload_accept() -> str:
    """The upload form's `accept=`: every accepted extension (and image/* for phones)."""
    return registry.upload_accept()


def thumbnail(instance, sha256: str, kind: str) -> Path | None:
    """The cached JPEG preview of a stored file, made on first use; None if there is none."""
    if not _SHA.match(sha256 or ""):
        raise ValueError("not a sha256")
    parser = registry.get(kind)
    if parser is None or not parser.thumbnails:
        return None
    out = instance.thumbs_dir / sha256[:2] / f"{sha256}.jpg"
    if out.is_file():
        return out
    src = instance.store.path(sha256)
    if not src.is_file():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".thumb-", suffix=".jpg")
    os.close(fd)
    try:
        if not parser.thumbnail(src, Path(tmp), instance.limits):
            return None
        os.replace(tmp, out)
        return out
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ledger_rows(text: str, max_rows: int = 30, max_cols: int = 12) -> list[list[str]]:
    """The first rows of a ledger's extracted text as a table (cells split on tabs)."""
    rows = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        cells = line.split("\t") if "\t" in line else [c for c in re.split(r"\s{2,}|\|", line)]
        rows.append([c.strip() for c in cells[:max_cols]])
        if len(rows) >= max_rows:
            break
    return rows
