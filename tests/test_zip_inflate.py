"""Issue 10, item 10: the Office zip-bomb check bounds the bytes actually inflated, not the
sizes a DOCX/XLSX declares (a header may understate its content)."""
from __future__ import annotations

import struct
import tracemalloc
import zipfile
import zlib

import pytest

from archive.core.config import DEFAULT_LIMITS
from archive.core.errors import Refusal
from archive.extract import extract
from archive.extract.ziplimits import check_zip
from tests import filefactory as ff

REAL = 64 * 1024 * 1024     # what the entry really inflates to
CLAIMED = 4096              # what its headers say


def understate(path, member: str, claimed: int = CLAIMED) -> None:
    """Rewrite `member`'s sizes in the local header and the central directory to `claimed`
    bytes, with the CRC of its first `claimed` bytes: zipfile then returns those bytes
    without complaint, while the deflate stream still holds all of them."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
        with zf.open(member) as f:
            crc = zlib.crc32(f.read(claimed))
    name = member.encode()
    # local header: crc at +14, sizes at +18/+22 (zip64 keeps 0xFFFFFFFF there; we write plain ones)
    off = info.header_offset
    assert data[off:off + 4] == b"PK\x03\x04"
    struct.pack_into("<III", data, off + 14, crc, info.compress_size, claimed)
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        assert pos >= 0
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + n]) == name:
            break
        pos += 4
    struct.pack_into("<III", data, pos + 16, crc, info.compress_size, claimed)
    path.write_bytes(bytes(data))


@pytest.fixture
def lying_docx(tmp_path):
    path = ff.make_docx(tmp_path / "说明.docx", ["正常的段落"])
    ff._add_zeros_entry(path, "word/media/pad.bin", REAL)
    understate(path, "word/media/pad.bin")
    with zipfile.ZipFile(path) as zf:   # the lie holds up for zipfile: declared, CRC-checked bytes
        assert zf.getinfo("word/media/pad.bin").file_size == CLAIMED
        assert len(zf.read("word/media/pad.bin")) == CLAIMED
    return path


def test_understated_entry_is_refused_with_memory_bounded(lying_docx):
    tracemalloc.start()
    try:
        with pytest.raises(Refusal) as e:
            check_zip(lying_docx, DEFAULT_LIMITS, "DOCX")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.key == "zip bomb"
    assert peak < 4 * 1024 * 1024, peak     # a few chunks, not the 64 MiB inside


def test_zipfile_read_would_inflate_it_all(lying_docx):
    """Why the check streams: the plain read() inflates everything before truncating."""
    tracemalloc.start()
    try:
        with zipfile.ZipFile(lying_docx) as zf:
            zf.read("word/media/pad.bin")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak > REAL // 2


def test_extract_refuses_it_as_a_bomb(lying_docx):
    with pytest.raises(Refusal) as e:
        extract(lying_docx, "docx", DEFAULT_LIMITS)
    assert e.value.key == "zip bomb"


def test_honest_office_files_still_pass(tmp_path):
    docx = ff.make_docx(tmp_path / "a.docx", ["第一段", "第二段"], table=[["序号", "事项"], ["1", "检查"]])
    xlsx = ff.make_xlsx(tmp_path / "b.xlsx", [["编号", "事项"]] + [[i, f"门前三包{i}"] for i in range(2000)])
    for path, kind in ((docx, "docx"), (xlsx, "xlsx")):
        check_zip(path, DEFAULT_LIMITS, kind.upper())
        assert extract(path, kind, DEFAULT_LIMITS).text


def test_a_cut_stream_is_corrupt_not_a_crash(tmp_path):
    docx = ff.make_docx(tmp_path / "c.docx", ["内容" * 5000])
    data = bytearray(docx.read_bytes())
    with zipfile.ZipFile(docx) as zf:
        info = zf.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 10:start + 60] = b"\xff" * 50   # garbage inside the deflate stream
    docx.write_bytes(bytes(data))
    with pytest.raises(Refusal) as e:
        check_zip(docx, DEFAULT_LIMITS, "DOCX")
    assert e.value.key in ("corrupt DOCX", "zip bomb")
