"""Zip-bomb guard for Office files (DOCX/XLSX are zip archives), checked before any parser
inflates them: first the sizes the zip directory declares, then the bytes each entry really
inflates to, streamed through zlib with a hard cap (the declared sizes can lie).

Why the second pass: zipfile stops returning data at an entry's declared size, but a reader
that asks for everything at once (`ZipExtFile.read()`, as python-docx and openpyxl do) hands
all the compressed bytes to zlib in one call first: a 1 MB DOCX whose header understates
1 GiB of XML inflated the whole GiB into memory before being truncated. Here at most one
chunk is inflated at a time, and an entry that inflates past its declared size is refused.
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ._util import MiB, corrupt

# Small entries may compress far beyond the ratio limit (a few KB of repeated XML); only
# entries that inflate past this size are held to the ratio.
RATIO_FLOOR = 1 * MiB
CHUNK = 64 * 1024
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")   # PKZIP local file header, 30 bytes
_STORED, _DEFLATED = 0, 8


def zip_bomb() -> Refusal:
    return Refusal("zip bomb", "压缩包解压后过大，疑似压缩炸弹")


def check_zip(path: Path, limits: Limits, label: str) -> None:
    """Refuse a zip whose directory promises too much, or whose entries inflate to more than
    their headers declare (see the module docstring)."""
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
    _check_inflated(path, infos, limits, label)


def _check_inflated(path: Path, infos, limits: Limits, label: str) -> None:
    """Inflate every entry in CHUNK steps, counting the bytes that really come out: past the
    entry's declared size, or past max_zip_inflated_bytes in all, it is a bomb. Memory stays
    at a few chunks whatever the file claims."""
    total = 0
    with open(path, "rb") as f:
        for info in infos:
            if info.compress_type not in (_STORED, _DEFLATED):   # Office writes only these two
                raise corrupt(label)
            f.seek(info.header_offset)
            head = f.read(_LOCAL_HEADER.size)
            if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
                raise corrupt(label)
            name_len, extra_len = _LOCAL_HEADER.unpack(head)[9:11]
            f.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
            out = 0
            left = info.compress_size   # zipfile reads no more than this either
            inflater = zlib.decompressobj(-15) if info.compress_type == _DEFLATED else None
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    raise corrupt(label)
                left -= len(data)
                if inflater is None:
                    out += len(data)
                else:
                    try:
                        while data:
                            piece = inflater.decompress(data, CHUNK)
                            out += len(piece)
                            if out > info.file_size or total + out > limits.max_zip_inflated_bytes:
                                raise zip_bomb()
                            data = inflater.unconsumed_tail
                            if inflater.eof:
                                break
                    except zlib.error:
                        raise corrupt(label) from None
                if out > info.file_size or total + out > limits.max_zip_inflated_bytes:
                    raise zip_bomb()
                if inflater is not None and inflater.eof:
                    break
            if inflater is not None and not inflater.eof:
                try:
                    out += len(inflater.flush(CHUNK))   # what zlib still holds: at most its window
                except zlib.error:
                    raise corrupt(label) from None
                if out > info.file_size or total + out > limits.max_zip_inflated_bytes:
                    raise zip_bomb()
            total += out
