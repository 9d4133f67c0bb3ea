"""OCR: an interface only, for now.

Scanned PDF pages (no text layer) come back from `extract` in `Extraction.ocr_pages`; ingest
then records the item with `items.ocr_status = 'pending'`. A background worker with an
offline engine will later read pending items, add the recognised text to the item and its
index, and set the status to 'done' (or 'failed'). Photos are not queued by extraction: a
worker that wants photos of documents selects items of kind jpeg/png itself. The archive
works fully without an engine; pending items are simply not yet searchable by their images.
"""
from __future__ import annotations

import importlib.util
import shutil


def ocr_available() -> bool:
    """True when an offline OCR engine with Chinese support is installed (none is required)."""
    if importlib.util.find_spec("rapidocr_onnxruntime") is not None:
        return True
    return shutil.which("tesseract") is not None and _tesseract_has_chinese()


def _tesseract_has_chinese() -> bool:
    import subprocess

    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "chi_sim" in out.split()
