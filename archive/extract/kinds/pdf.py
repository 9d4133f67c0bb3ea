"""PDF: the text layer page by page (pypdf); pages without one are listed for OCR."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt, iso, quiet

# Readers accept %%EOF anywhere in the last 1024 bytes (PDF 1.7 implementation note 18).
EOF_WINDOW = 1024
THUMB_PX = 640
THUMB_TIMEOUT_S = 30


def encrypted() -> Refusal:
    return Refusal("encrypted PDF", "PDF 已加密，无法读取")


def extract_pdf(path: Path, limits: Limits):

    # pypdf in non-strict mode rebuilds a lost xref and reads a cut-off file as if whole, and
    # strict mode refuses too many sloppy but sound PDFs; a missing %%EOF is the sure sign
    # of a truncated upload.
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - EOF_WINDOW))
        if b"%%EOF" not in f.read():
            raise corrupt("PDF")
    try:
        import pypdf
        from pypdf.errors import DependencyError, FileNotDecryptedError

        with quiet(), open(path, "rb") as f:
            reader = pypdf.PdfReader(f, strict=False)
            if reader.is_encrypted:
                # Permission-only encryption (no user password) opens like any PDF; many
                # government PDFs are locked against copying this way. A user password refuses.
                try:
                    if not reader.decrypt(""):
                        raise encrypted()
                except (DependencyError, FileNotDecryptedError, NotImplementedError):
                    raise encrypted() from None
            texts, ocr_pages = [], []
            for number, page in enumerate(reader.pages, start=1):
                text = (page.extract_text() or "").strip()
                texts.append(text)
                if not text:
                    ocr_pages.append(number)
            meta = {"pages": len(texts)}
            meta.update(_info(reader))
    except Refusal:
        raise
    except Exception:  # pypdf raises many types (PdfReadError, KeyError, ValueError...) on damage
        raise corrupt("PDF") from None
    # Form feed between pages: whitespace to search, a page break to anyone reading the text.
    return Extraction(text="\f".join(texts), meta=meta, ocr_pages=ocr_pages)


def _info(reader) -> dict:
    """Title, author and dates from the document info, when present and readable."""
    out = {}
    try:
        info = reader.metadata
        if info is None:
            return out
        for key, getter in (("title", lambda: info.title), ("author", lambda: info.author),
                            ("created", lambda: iso(info.creation_date)),
                            ("modified", lambda: iso(info.modification_date))):
            try:
                value = getter()
            except Exception:  # a malformed date or string in the info dict is not a damaged file
                continue
            if value:
                out[key] = str(value)
    except Exception:
        pass
    return out


def first_page_thumbnail(src: Path, dest: Path) -> bool:
    """The first page rendered by poppler's `pdftoppm` as a JPEG, THUMB_PX on its long side."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return False
    with tempfile.TemporaryDirectory() as tmpdir:
        prefix = Path(tmpdir) / "page"
        try:
            subprocess.run([exe, "-f", "1", "-l", "1", "-singlefile", "-jpeg", "-scale-to", str(THUMB_PX),
                            str(src), str(prefix)], check=True, timeout=THUMB_TIMEOUT_S,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError):
            return False
        rendered = prefix.with_suffix(".jpg")
        if not rendered.is_file():
            return False
        shutil.move(str(rendered), dest)
    return True


class PdfParser(Parser):
    kind = "pdf"
    label = "PDF 文档"
    extensions = (".pdf",)
    mime = "application/pdf"
    package_ext = ".pdf"
    family = "pdf"
    magic = (b"%PDF-",)
    preview = "pdf"
    thumbnails = True
    rank = 10

    def extract(self, path, limits):
        return extract_pdf(path, limits)

    def thumbnail(self, src, dest, limits):
        return first_page_thumbnail(src, dest)


PARSERS = [PdfParser()]
