"""Zip files written and read with memory flat in the number of entries.

`zipfile` keeps one ZipInfo per entry (~0.7 KB writing, ~1 KB reading: 200 MB for a
200,000-file package) and offers no public way not to. Overriding its private methods
(`_RealGetContents`, `_EndRecData`, replacing `filelist`) did it before, and would break with
any new Python. This module instead writes and reads the zip format itself (PKWARE APPNOTE
6.3; only `struct` and `zlib`), for what packages need: STORED and DEFLATED entries, folders,
UTF-8 names, ZIP64.

Bytes: ZipWriter writes exactly what `zipfile.ZipFile(fh, "w", allowZip64=True)` writes for
the same entries added with `ZipFile.open(ZipInfo, "w")` (create_system 3, DEFLATE at zlib's
default level, ZIP64 records past zipfile's ZIP64_LIMIT) — tests/test_zipio.py compares them
byte for byte, ZIP64 cases included, so packages stay byte-identical to those built before.
Now that the format is written here, a new Python's zipfile can no longer move them.

Memory: the central directory's records go to an unnamed temporary file as each entry ends
and are streamed out at close(); ZipReader parses the central directory record by record and
opens one member at a time.
"""
from __future__ import annotations

import io
import struct
import tempfile
import zlib
from typing import Iterator, NamedTuple
from zipfile import BadZipFile   # the public exception, so callers catch one error type

ZIP64_LIMIT = (1 << 31) - 1      # zipfile's threshold for ZIP64 records (not 4 GiB: kept for equal bytes)
FILECOUNT_LIMIT = 0xFFFF
DEFAULT_VERSION, ZIP64_VERSION, MAX_EXTRACT_VERSION = 20, 45, 63
UNIX = 3
STORED, DEFLATED = 0, 8
UTF8_FLAG, ENCRYPTED_FLAG, DATA_DESCRIPTOR_FLAG = 0x800, 0x1, 0x8

LOCAL = struct.Struct("<4s2B4HL2L2H")
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
END = struct.Struct("<4s4H2LH")
END64 = struct.Struct("<4sQ2H2L4Q")
END64_LOCATOR = struct.Struct("<4sLQL")
SIG_LOCAL, SIG_CENTRAL = b"PK\x03\x04", b"PK\x01\x02"
SIG_END, SIG_END64, SIG_END64_LOCATOR = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
DIR_ATTR = (0o40755 << 16) | 0x10   # drwxr-xr-x + MS-DOS directory bit
FILE_ATTR = 0o100644 << 16          # -rw-r--r--
_SPILL = struct.Struct("<2B4HL3QLH")   # one finished entry, as kept until close()
_OUT_MAX = 1 << 20                       # inflated bytes per read step


def dos_time(when: tuple) -> tuple[int, int]:
    """(time, date) fields of a (Y, M, D, h, m, s) tuple (years from 1980)."""
    y, mo, d, h, mi, s = when[:6]
    return h << 11 | mi << 5 | s // 2, (y - 1980) << 9 | mo << 5 | d


def _encode_name(name: str) -> tuple[bytes, int]:
    """Name bytes and flag bits: ASCII names as they are, others UTF-8 with the UTF-8 flag."""
    if name.isascii():
        return name.encode("ascii"), 0
    return name.encode("utf-8"), UTF8_FLAG


class _EntryWriter(io.RawIOBase):
    """One member being written: counts, CRCs and (if DEFLATED) compresses what it is given."""

    def __init__(self, zw: "ZipWriter", name: bytes, flags: int, method: int, when: tuple,
                 external_attr: int, zip64: bool):
        super().__init__()
        self.zw, self.name, self.flags, self.method, self.when = zw, name, flags, method, when
        self.external_attr, self.zip64 = external_attr, zip64
        self.version = ZIP64_VERSION if zip64 else DEFAULT_VERSION
        self.offset = zw.fh.tell()
        self.size = self.csize = self.crc = 0
        self.compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15) \
            if method == DEFLATED else None
        zw.fh.write(self._header())     # sizes and CRC are filled in by close()

    def _header(self) -> bytes:
        extra = b""
        size, csize = self.size, self.csize
        if self.zip64:
            extra = struct.pack("<HHQQ", 1, 16, size, csize)
            size = csize = 0xFFFFFFFF
        t, d = dos_time(self.when)
        return LOCAL.pack(SIG_LOCAL, self.version, 0, self.flags, self.method, t, d, self.crc, csize, size,
                          len(self.name), len(extra)) + self.name + extra

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        n = len(data)
        self.size += n
        self.crc = zlib.crc32(data, self.crc)
        if self.compressor is not None:
            data = self.compressor.compress(data)
        self.csize += len(data)
        self.zw.fh.write(data)
        return n

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        fh = self.zw.fh
        if self.compressor is not None:
            tail = self.compressor.flush()
            self.csize += len(tail)
            fh.write(tail)
        if not self.zip64 and (self.size > ZIP64_LIMIT or self.csize > ZIP64_LIMIT):
            raise RuntimeError("zip entry larger than announced; pass its size to open()")
        end = fh.tell()
        fh.seek(self.offset)
        fh.write(self._header())
        fh.seek(end)
        self.zw._finished(self)


class ZipWriter:
    """Writes a zip to the seekable binary file `fh`; close() writes the central directory.
    `tmpdir`: where the central directory waits (an unnamed temporary file)."""

    def __init__(self, fh, tmpdir=None):
        self.fh = fh
        self.start = fh.tell()
        self.count = 0
        self.pending = tempfile.TemporaryFile(dir=tmpdir)
        self.open_entry: _EntryWriter | None = None

    def open(self, name: str, when: tuple, size: int = 0, deflate: bool = False,
             external_attr: int = FILE_ATTR, force_zip64: bool = False) -> _EntryWriter:
        """A member to write into; `size` is the expected size (decides ZIP64 up front, as
        zipfile does: ZIP64 when size × 1.05 passes ZIP64_LIMIT)."""
        if self.open_entry is not None and not self.open_entry.closed:
            raise ValueError("close the open zip entry first")
        raw, flags = _encode_name(name)
        zip64 = force_zip64 or size * 1.05 > ZIP64_LIMIT
        self.open_entry = _EntryWriter(self, raw, flags, DEFLATED if deflate else STORED, when,
                                       external_attr, zip64)
        return self.open_entry

    def add_dir(self, name: str, when: tuple) -> None:
        self.open(name if name.endswith("/") else name + "/", when, external_attr=DIR_ATTR).close()

    def _finished(self, e: _EntryWriter) -> None:
        t, d = dos_time(e.when)
        self.pending.write(_SPILL.pack(e.version, e.version, e.flags, e.method, t, d, e.crc, e.csize, e.size,
                                       e.offset, e.external_attr, len(e.name)) + e.name)
        self.count += 1

    def _records(self) -> Iterator[bytes]:
        """The central directory, one record at a time, from the temporary file."""
        self.pending.flush()
        self.pending.seek(0)
        read = self.pending.read
        for _ in range(self.count):
            (create, extract, flags, method, t, d, crc, csize, size, offset, attr,
             nlen) = _SPILL.unpack(read(_SPILL.size))
            name = read(nlen)
            extra = []
            if size > ZIP64_LIMIT or csize > ZIP64_LIMIT:
                extra += [size, csize]
                size = csize = 0xFFFFFFFF
            if offset > ZIP64_LIMIT:
                extra.append(offset)
                offset = 0xFFFFFFFF
            extra_data = b""
            if extra:
                extra_data = struct.pack("<HH" + "Q" * len(extra), 1, 8 * len(extra), *extra)
                create, extract = max(create, ZIP64_VERSION), max(extract, ZIP64_VERSION)
            yield CENTRAL.pack(SIG_CENTRAL, create, UNIX, extract, 0, flags, method, t, d, crc, csize, size,
                               len(name), len(extra_data), 0, 0, 0, attr, offset) + name + extra_data

    def close(self) -> None:
        """Write the central directory and the end records (ZIP64 ones when needed)."""
        try:
            fh = self.fh
            cd_start = fh.tell()
            for record in self._records():
                fh.write(record)
            cd_end = fh.tell()
            count, size, offset = self.count, cd_end - cd_start, cd_start
            if count > FILECOUNT_LIMIT or offset > ZIP64_LIMIT or size > ZIP64_LIMIT:
                fh.write(END64.pack(SIG_END64, 44, 45, 45, 0, 0, count, count, size, offset))
                fh.write(END64_LOCATOR.pack(SIG_END64_LOCATOR, 0, cd_end, 1))
                count, size, offset = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(offset, 0xFFFFFFFF)
            fh.write(END.pack(SIG_END, 0, 0, count, count, size, offset, 0))
            fh.flush()
        finally:
            self.pending.close()

    def abandon(self) -> None:
        self.pending.close()


class Entry(NamedTuple):
    """One central directory record (what reading a member needs)."""
    cd_offset: int      # position of the record inside the central directory
    name: str
    flags: int
    method: int
    crc: int
    csize: int
    size: int
    header_offset: int

    def is_dir(self) -> bool:
        return self.name.endswith("/")


class ZipReader:
    """Reads a zip's central directory record by record and opens members one at a time.
    A damaged file raises BadZipFile (or EOFError / zlib.error / NotImplementedError while a
    member is read), like zipfile does."""

    def __init__(self, path):
        self.path = path
        self.fh = open(path, "rb")
        try:
            self._end_record()
        except BaseException:
            self.fh.close()
            raise

    def close(self) -> None:
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _end_record(self) -> None:
        fh = self.fh
        fh.seek(0, 2)
        file_size = fh.tell()
        if file_size < END.size:
            raise BadZipFile("File is not a zip file")
        # the end record is last, unless the archive has a comment (≤ 64 KiB)
        back = min(file_size, END.size + 0xFFFF)
        fh.seek(file_size - back)
        tail = fh.read(back)
        at = len(tail) - END.size
        if not (tail[at:at + 4] == SIG_END and tail[-2:] == b"\0\0"):
            at = tail.rfind(SIG_END)
            if at < 0 or len(tail) - at < END.size:
                raise BadZipFile("File is not a zip file")
        (_, disk, _, _, count, cd_size, cd_offset, _) = END.unpack(tail[at:at + END.size])
        location = file_size - back + at
        zip64 = False
        if location >= END64_LOCATOR.size + END64.size:
            fh.seek(location - END64_LOCATOR.size)
            sig, diskno, _, disks = END64_LOCATOR.unpack(fh.read(END64_LOCATOR.size))
            if sig == SIG_END64_LOCATOR:
                if diskno != 0 or disks > 1:
                    raise BadZipFile("zipfiles that span multiple disks are not supported")
                fh.seek(location - END64_LOCATOR.size - END64.size)
                rec = END64.unpack(fh.read(END64.size))
                if rec[0] == SIG_END64:
                    zip64 = True
                    count, cd_size, cd_offset = rec[7], rec[8], rec[9]
        # bytes before the archive (a zip appended to another file) shift every offset
        self.concat = location - cd_size - cd_offset
        if zip64:
            self.concat -= END64.size + END64_LOCATOR.size
        self.cd_start = cd_offset + self.concat
        self.cd_size = cd_size
        self.count = count
        if self.cd_start < 0:
            raise BadZipFile("Bad offset for central directory")

    def entries(self) -> Iterator[Entry]:
        """Every central directory record, in order, each checked as zipfile checks it."""
        with open(self.path, "rb", buffering=1 << 16) as fh:
            fh.seek(self.cd_start)
            pos = 0
            while pos < self.cd_size:
                entry, length = self._record(fh, pos)
                yield entry
                pos += length

    def entry_at(self, cd_offset: int) -> Entry:
        self.fh.seek(self.cd_start + cd_offset)
        return self._record(self.fh, cd_offset)[0]

    def _record(self, fh, pos: int) -> tuple[Entry, int]:
        head = fh.read(CENTRAL.size)
        if len(head) != CENTRAL.size:
            raise BadZipFile("Truncated central directory")
        (sig, _, _, extract, _, flags, method, _, _, crc, csize, size, nlen, xlen, clen, _, _, _,
         offset) = CENTRAL.unpack(head)
        if sig != SIG_CENTRAL:
            raise BadZipFile("Bad magic number for central directory")
        if extract > MAX_EXTRACT_VERSION:
            raise NotImplementedError("zip file version %.1f" % (extract / 10))
        raw_name = fh.read(nlen)
        extra = fh.read(xlen)
        fh.read(clen)
        if len(raw_name) != nlen or len(extra) != xlen:
            raise BadZipFile("Truncated central directory")
        name = raw_name.decode("utf-8") if flags & UTF8_FLAG else raw_name.decode("cp437")
        if "\0" in name:
            name = name[:name.index("\0")]
        if 0xFFFFFFFF in (size, csize, offset):
            size, csize, offset = _zip64_extra(extra, size, csize, offset)
        return (Entry(pos, name, flags, method, crc, csize, size, offset + self.concat),
                CENTRAL.size + nlen + xlen + clen)

    def open(self, entry: Entry) -> io.BufferedReader:
        """The member's bytes as a binary file (read, readline, iteration by lines); its CRC is
        checked when the end is read."""
        fh = self.fh
        fh.seek(entry.header_offset)
        head = fh.read(LOCAL.size)
        if len(head) != LOCAL.size:
            raise BadZipFile("Truncated file header")
        sig, *_, nlen, xlen = LOCAL.unpack(head)
        if sig != SIG_LOCAL:
            raise BadZipFile("Bad magic number for file header")
        local_name = fh.read(nlen)
        want = entry.name.encode("utf-8" if entry.flags & UTF8_FLAG else "cp437")
        if local_name != want:
            raise BadZipFile(f"File name in directory {entry.name!r} and header {local_name!r} differ.")
        if entry.flags & ENCRYPTED_FLAG:
            raise NotImplementedError(f"File {entry.name!r} is encrypted")
        if entry.method not in (STORED, DEFLATED):
            raise NotImplementedError("That compression method is not supported")
        return io.BufferedReader(_MemberReader(self.path, entry, entry.header_offset + LOCAL.size + nlen + xlen),
                                 1 << 16)


def _zip64_extra(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset from the ZIP64 extra field (id 1) where the record says 0xFFFFFFFF."""
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, i)
        if i + 4 + length > len(extra):
            raise BadZipFile(f"Corrupt extra field {tag:04x} (size={length})")
        if tag == 1:
            data = extra[i + 4:i + 4 + length]
            values = [struct.unpack_from("<Q", data, j)[0] for j in range(0, len(data) - 7, 8)]
            try:
                if size == 0xFFFFFFFF:
                    size = values.pop(0)
                if csize == 0xFFFFFFFF:
                    csize = values.pop(0)
                if offset == 0xFFFFFFFF:
                    offset = values.pop(0)
            except IndexError:
                raise BadZipFile("Corrupt zip64 extra field") from None
            return size, csize, offset
        i += 4 + length
    raise BadZipFile("Corrupt zip64 extra field: missing")


class _MemberReader(io.RawIOBase):
    """Raw reads of one member: inflates DEFLATED data, checks size and CRC at the end."""

    def __init__(self, path, entry: Entry, data_offset: int):
        super().__init__()
        self.fh = open(path, "rb")
        self.fh.seek(data_offset)
        self.entry = entry
        self.left = entry.csize          # compressed bytes still to read
        self.crc = 0
        self.out = 0
        self.buf = b""
        self.inflater = zlib.decompressobj(-15) if entry.method == DEFLATED else None
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self.buf and not self.done:
            self._fill()
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n

    def _fill(self) -> None:
        inf = self.inflater
        if inf is not None and inf.unconsumed_tail:   # output was capped: go on with the same input
            data = inf.decompress(inf.unconsumed_tail, _OUT_MAX)
        else:
            chunk = b""
            if self.left:
                chunk = self.fh.read(min(self.left, 1 << 16))
                if not chunk:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                self.left -= len(chunk)
            data = chunk if inf is None else inf.decompress(chunk, _OUT_MAX)   # capped: no zip bomb in memory
        final = not self.left and (inf is None or not inf.unconsumed_tail)
        if final and inf is not None:
            data += inf.flush()
            if not inf.eof:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        self.crc = zlib.crc32(data, self.crc)
        self.out += len(data)
        self.buf = data
        if final:
            self.done = True
            if self.out != self.entry.size or self.crc != self.entry.crc:
                raise BadZipFile(f"Bad CRC-32 for file {self.entry.name!r}")

    def close(self) -> None:
        if not self.closed:
            self.fh.close()
        super().close()
