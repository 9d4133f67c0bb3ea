"""Zip-bomb guard for Office files (DOCX/XLSX are zip archives), checked before inflating."""
from __future__ import annotations

import zipfile
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ._util import MiB, corrupt

# Small entries may compress far beyond the ratio limit (a few KB of repeated XML); only
# entries that inflate past this size are held to the ratio.
RATIO_FLOOR = 1 * MiB


def zip_bomb() -> Refusal:
    return Refusal("zip bomb", "压缩包解压后过大，疑似压缩炸弹")


def check_zip(path: Path, limits: Limits, label: str) -> None:
    """Refuse a zip whose central directory promises too much. The declared sizes can be
    trusted as bounds: zipfile never yields more than an entry's declared file_size and
    fails on a CRC mismatch, so a lying header cannot inflate past what is checked here."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise corrupt(label) from None
    if len(infos) > limits.max_zip_entries:
        raise zip_bomb()
    inflated = sum(i.file_size for i in infos)
    if inflated > limits.max_zip_inflated_bytes:
        raise zip_bomb()
    # Entries that share compressed data (overlapping-file bombs) claim more bytes than exist.
    if sum(i.compress_size for i in infos) > path.stat().st_size:
        raise zip_bomb()
    for info in infos:
        if info.file_size >= RATIO_FLOOR and info.file_size > limits.max_zip_ratio * max(info.compress_size, 1):
            raise zip_bomb()
        if info.flag_bits & 0x1:  # an encrypted entry: Office never writes one
            raise corrupt(label)
