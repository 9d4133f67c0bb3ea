"""Sniff, validate and extract: one small module per file kind behind one interface.

    kind = sniff_kind(path, original_name, limits)   # magic bytes must agree with the extension
    result = extract(path, kind, limits)             # validates fully; text + meta + pages for OCR

Both raise archive.errors.Refusal with a stable English key and a Chinese message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archive.core.config import DEFAULT_LIMITS, Limits
from .sniff import EXTENSIONS, KINDS, sniff_kind

__all__ = ["Extraction", "sniff_kind", "extract", "KINDS", "EXTENSIONS"]


@dataclass
class Extraction:
    """What one file yields. `ocr_pages`: 1-based pages with no text layer, queued for OCR."""

    text: str
    meta: dict = field(default_factory=dict)
    ocr_pages: list[int] = field(default_factory=list)


def extract(path, kind: str, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Validate the whole file as `kind` and extract its text and metadata, or raise Refusal."""
    # Imported here so `sniff_kind` stays cheap to import (the CLI's --help, web start-up).
    from . import image, ledger, office, pdf

    handlers = {
        "pdf": pdf.extract_pdf,
        "docx": office.extract_docx,
        "xlsx": ledger.extract_xlsx,
        "xls": ledger.extract_xls,
        "csv": ledger.extract_csv,
        "jpeg": image.extract_jpeg,
        "png": image.extract_png,
    }
    if kind not in handlers:
        raise ValueError(f"unknown kind {kind!r}")
    return handlers[kind](Path(path), limits)
