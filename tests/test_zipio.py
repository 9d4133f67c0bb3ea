"""archive/package/zipio.py: the same bytes as zipfile writes, read back with flat memory."""
from __future__ import annotations

import io
import random
import zipfile
import zlib

import pytest

from archive.package import zipio

WHEN = (2026, 7, 15, 0, 0, 0)


def _entries(rng: random.Random, n: int = 12):
    """(name, data or None for a folder, deflate) — Chinese and ASCII names, empty files,
    compressible text and incompressible bytes."""
    out = [("root/", None, False), ("root/SHA256SUMS", b"", True), ("root/目录/", None, False)]
    for i in range(n):
        text = ("第%d份 创建全国文明城市工作台账。\n" % i).encode("utf-8") * rng.randint(0, 400)
        noise = rng.randbytes(rng.randint(0, 9000))
        name = f"root/目录/{i:03d}_材料.csv" if i % 2 else f"root/plain/{i:03d}.jpg"
        out.append((name, text if i % 2 else noise, bool(i % 2)))
    return out


def _with_zipfile(entries) -> bytes:
    """What the package builder wrote with zipfile's public API before (ZipInfo + open('w'))."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", allowZip64=True) as zf:
        for name, data, deflate in entries:
            zi = zipfile.ZipInfo(name, date_time=WHEN)
            zi.create_system = 3
            if data is None:
                zi.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(zi, b"")
                continue
            zi.external_attr = 0o100644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zi.file_size = len(data)
            with zf.open(zi, "w") as dst:
                for i in range(0, len(data), 4096):
                    dst.write(data[i:i + 4096])
    return buf.getvalue()


def _with_zipio(entries, tmp_path) -> bytes:
    buf = io.BytesIO()
    zw = zipio.ZipWriter(buf, tmp_path)
    for name, data, deflate in entries:
        if data is None:
            zw.add_dir(name, WHEN)
            continue
        with zw.open(name, WHEN, size=len(data), deflate=deflate) as dst:
            for i in range(0, len(data), 4096):
                dst.write(data[i:i + 4096])
    zw.close()
    return buf.getvalue()


@pytest.mark.parametrize("limits", [None, (3000, 5), (100, 3)], ids=["plain", "zip64-offsets", "zip64-all"])
def test_same_bytes_as_zipfile(tmp_path, monkeypatch, limits):
    """Byte for byte what zipfile writes, also where ZIP64 records start (the limits are
    lowered on both sides so that ZIP64 offsets, sizes and end records occur in a small zip)."""
    if limits:
        for mod in (zipfile, zipio):
            monkeypatch.setattr(mod, "ZIP64_LIMIT", limits[0])
        monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", limits[1])
        monkeypatch.setattr(zipio, "FILECOUNT_LIMIT", limits[1])
    entries = _entries(random.Random(7))
    ours = _with_zipio(entries, tmp_path)
    assert ours == _with_zipfile(entries)
    if limits:
        assert zipio.SIG_END64 in ours
    # and both readers agree on it
    p = tmp_path / "z.zip"
    p.write_bytes(ours)
    with zipio.ZipReader(p) as zr, zipfile.ZipFile(p) as zf:
        got = list(zr.entries())
        assert [e.name for e in got] == zf.namelist()
        for e in got:
            with zr.open(e) as f:
                assert f.read() == zf.read(e.name)
            assert zr.entry_at(e.cd_offset) == e


def test_reader_handles_a_comment_and_bytes_before_the_zip(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.comment = b"x" * 300
        zf.writestr("a/说明.txt", "第一行\n第二行\n".encode("utf-8") * 50, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("a/b.bin", bytes(range(256)))
    p = tmp_path / "c.zip"
    p.write_bytes(b"MZ-prefix" * 100 + buf.getvalue())
    with zipio.ZipReader(p) as zr:
        entries = {e.name: e for e in zr.entries()}
        with zr.open(entries["a/说明.txt"]) as f:
            lines = list(f)
        assert lines[:2] == ["第一行\n".encode(), "第二行\n".encode()] and len(lines) == 100
        assert zr.open(entries["a/b.bin"]).read() == bytes(range(256))


def test_reader_reports_damage(tmp_path):
    data = _with_zipio(_entries(random.Random(3), 4), tmp_path)
    p = tmp_path / "d.zip"
    with zipio.ZipReader(_write(p, data)) as zr:
        entries = [e for e in zr.entries() if not e.is_dir() and e.size]
    # a flipped byte inside a stored member: CRC; inside a deflated one: CRC or inflate error
    for e in entries:
        broken = bytearray(data)
        at = e.header_offset + zipio.LOCAL.size + len(e.name.encode()) + e.csize // 2
        broken[at] ^= 0xFF
        with zipio.ZipReader(_write(p, bytes(broken))) as zr:
            with pytest.raises((zipfile.BadZipFile, zlib.error, EOFError)):
                zr.open(zr.entry_at(e.cd_offset)).read()
    # a broken central directory, a truncated file, not a zip at all
    with zipio.ZipReader(_write(p, data)) as zr:
        cd = zr.cd_start
    broken = bytearray(data)
    broken[cd:cd + 64] = b"\xff" * 64
    with zipio.ZipReader(_write(p, bytes(broken))) as zr, pytest.raises(zipfile.BadZipFile):
        list(zr.entries())
    for bad in (data[: len(data) // 2], b"not a zip at all" * 10, b""):
        with pytest.raises(zipfile.BadZipFile):
            zipio.ZipReader(_write(p, bad))


def _write(p, data: bytes):
    p.write_bytes(data)
    return p


def test_an_entry_larger_than_announced_is_refused_not_corrupted(tmp_path, monkeypatch):
    monkeypatch.setattr(zipio, "ZIP64_LIMIT", 1000)
    zw = zipio.ZipWriter(io.BytesIO(), tmp_path)
    with pytest.raises(RuntimeError):
        with zw.open("big.bin", WHEN, size=10) as dst:
            dst.write(b"x" * 2000)
    zw.abandon()
