"""Sniff, validate and extract: one parser per file kind behind one interface (see registry).

    kind = sniff_kind(path, original_name, limits)   # magic bytes must agree with the extension
    result = extract(path, kind, limits)             # validates fully; text + meta + pages for OCR

Both raise archive.errors.Refusal with a stable English key and a Chinese message.
"""
from __future__ import annotations

from pathlib import Path

from archive.core.config import DEFAULT_LIMITS, Limits
from . import registry
from .registry import Extraction
from .sniff import EXTENSIONS, KINDS, sniff_kind

__all__ = ["Extraction", "sniff_kind", "extract", "KINDS", "EXTENSIONS", "registry"]


def extract(path, kind: str, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    """Validate the whole file as `kind` and extract its text and metadata, or raise Refusal."""
    parser = registry.get(kind)
    if parser is None:
        raise ValueError(f"unknown kind {kind!r}")
    return parser.extract(Path(path), limits)
