"""Derived previews for the item page, cached in instance/thumbs/ (deleting it loses nothing).

Photos: EXIF orientation applied (ImageOps.exif_transpose), pixel limit checked before
decoding. PDFs: the first page rendered by poppler's `pdftoppm`. Ledgers: the first rows of
the extracted text. Every path comes from the item's SHA-256 in the DB, never from a request.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

THUMB_PX = 640
PDF_TIMEOUT_S = 30
IMAGE_KINDS = {"jpeg", "jpg", "png", "gif", "webp", "tiff", "bmp", "heic"}
LEDGER_KINDS = {"xlsx", "xls", "csv"}
_SHA = re.compile(r"^[0-9a-f]{64}$")


def preview_kind(kind: str) -> str | None:
    if kind in IMAGE_KINDS:
        return "image"
    if kind == "pdf":
        return "pdf"
    if kind in LEDGER_KINDS:
        return "ledger"
    return None


def thumbnail(instance, sha256: str, kind: str) -> Path | None:
    """The cached JPEG preview of a stored file, made on first use; None if there is none."""
    if not _SHA.match(sha256 or ""):
        raise ValueError("not a sha256")
    pk = preview_kind(kind)
    if pk not in ("image", "pdf"):
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
        ok = _image_thumb(src, Path(tmp), instance.limits.max_image_pixels) if pk == "image" \
            else _pdf_thumb(src, Path(tmp))
        if not ok:
            return None
        os.replace(tmp, out)
        return out
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _image_thumb(src: Path, dest: Path, max_pixels: int) -> bool:
    try:
        with Image.open(src) as im:
            if im.width * im.height > max_pixels:
                return False
            # JPEG: decode at a reduced scale (1/2..1/8), far less memory for 50 MP photos.
            im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))
            im = ImageOps.exif_transpose(im)
            im.thumbnail((THUMB_PX, THUMB_PX))
            if im.mode not in ("RGB", "L"):
                im = im.convert("RGB")
            im.save(dest, "JPEG", quality=82)
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _pdf_thumb(src: Path, dest: Path) -> bool:
    exe = shutil.which("pdftoppm")
    if exe is None:
        return False
    with tempfile.TemporaryDirectory() as tmpdir:
        prefix = Path(tmpdir) / "page"
        try:
            subprocess.run([exe, "-f", "1", "-l", "1", "-singlefile", "-jpeg", "-scale-to", str(THUMB_PX),
                            str(src), str(prefix)], check=True, timeout=PDF_TIMEOUT_S,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError):
            return False
        rendered = prefix.with_suffix(".jpg")
        if not rendered.is_file():
            return False
        shutil.move(str(rendered), dest)
    return True


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
