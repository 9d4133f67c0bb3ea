"""The parser registry: one `Parser` per accepted file kind, declared once, read by everyone.

Each module in `archive/extract/kinds/` declares `PARSERS = [...]`; the registry finds them (so a
new kind is one new file there plus its tests) and orders them by `rank`. Sniffing, extraction,
package file names, the OCR queue, previews and the upload form's `accept=` all read it, as
paperless-ngx's parsers declare their mime types, extensions, text and thumbnail in one place.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal


@dataclass
class Extraction:
    """What one file yields. `ocr_pages`: 1-based pages with no text layer, queued for OCR."""

    text: str
    meta: dict = field(default_factory=dict)
    ocr_pages: list[int] = field(default_factory=list)
    text_version: int = 1    # which extractor made `text` (items.text_version)


@dataclass
class Sample:
    """What sniffing knows of a file before extraction: its first bytes, their family, and for
    a readable zip its member names."""

    path: Path
    head: bytes
    family: str
    zip_names: list[str] | None = None


class Parser:
    """One accepted file kind. Subclasses set the attributes and implement `extract`."""

    kind: str = ""                      # stored in items.kind and files.kind; never renamed
    label: str = ""                     # Chinese name, e.g. in "实际为 PDF 文档"
    extensions: tuple[str, ...] = ()    # accepted name endings, lower case with the dot
    mime: str = "application/octet-stream"
    package_ext: str = ""               # a package's file name ending when the original has none
    # The content family sniffing recognises ("pdf", "jpeg", "zip", "ole2", "text", ...) and the
    # byte prefixes at offset 0 that announce it. Several kinds may share a family (zip: DOCX,
    # XLSX); `claims` then decides.
    family: str = ""
    magic: tuple[bytes, ...] = ()
    preview: str | None = None          # how the item page shows it: "image", "pdf", "ledger"
    thumbnails: bool = False            # `thumbnail` can draw a JPEG preview
    ocr_image: bool = False             # the whole file is an image OCR can read
    upload_accept: tuple[str, ...] = ()  # extra `accept=` tokens for the upload form (image/*)
    rank: int = 100                     # order in lists (KINDS, accept=, mismatch checks)
    # Raised when this kind's text extraction improves; `evidence reextract` brings items
    # whose items.text_version is lower up to date from their stored originals.
    text_version: int = 1

    def claims(self, sample: Sample, expected: bool) -> bool:
        """Is this file this kind? `expected`: the file's extension names this kind (within a
        family only extraction can tell apart, the extension is trusted until then)."""
        return sample.family == self.family

    def mismatch(self, actual: str, path: Path) -> Refusal | None:
        """A more specific refusal than "content does not match" for `actual` content, or None."""
        return None

    def extract(self, path: Path, limits: Limits) -> Extraction:
        """Validate the whole file and return its text and metadata, or raise Refusal."""
        raise NotImplementedError

    def thumbnail(self, src: Path, dest: Path, limits: Limits) -> bool:
        """Write a JPEG preview of `src` to `dest`; False when this kind has none or it fails."""
        return False


_parsers: tuple[Parser, ...] | None = None


def parsers() -> tuple[Parser, ...]:
    """Every registered parser, by rank (found once, on first use)."""
    global _parsers
    if _parsers is None:
        from . import kinds

        found: list[Parser] = []
        for info in sorted(pkgutil.iter_modules(kinds.__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{kinds.__name__}.{info.name}")
            found.extend(getattr(module, "PARSERS", ()))
        found.sort(key=lambda p: (p.rank, p.kind))
        kinds_seen = [p.kind for p in found]
        if len(set(kinds_seen)) != len(kinds_seen):
            raise RuntimeError(f"two parsers declare the same kind: {kinds_seen}")
        _parsers = tuple(found)
    return _parsers


def get(kind: str) -> Parser | None:
    return next((p for p in parsers() if p.kind == kind), None)


def kinds() -> tuple[str, ...]:
    return tuple(p.kind for p in parsers())


def extensions() -> dict[str, str]:
    """File-name ending → kind."""
    return {ext: p.kind for p in parsers() for ext in p.extensions}


def labels() -> dict[str, str]:
    return {p.kind: p.label for p in parsers()}


def package_extensions() -> dict[str, str]:
    """kind → the ending a package gives a file whose original name has none."""
    return {p.kind: p.package_ext for p in parsers() if p.package_ext}


def preview_kind(kind: str) -> str | None:
    parser = get(kind)
    return parser.preview if parser else None


def is_image(kind: str) -> bool:
    """A file OCR reads as one picture (photos, scanned pages saved as images)."""
    parser = get(kind)
    return bool(parser and parser.ocr_image)


def upload_accept() -> str:
    """The upload form's `accept=`: every extension, then the extra tokens (image/*)."""
    tokens = [ext for p in parsers() for ext in p.extensions]
    tokens += [t for p in parsers() for t in p.upload_accept if t not in tokens]
    return ",".join(dict.fromkeys(tokens))
