"""Content-addressed file store: each file lives once, named by its SHA-256, read-only.

Writes go temp → fsync → rename, so a crash leaves either no file or a whole one;
a stray temp file (its name carries the writer's pid) is ignored by readers and removed by
the next ingest or `fsck --repair` once its writer is gone.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from . import leftovers

CHUNK = 1024 * 1024
TEMP_PREFIX = "put-"
RECORD_SUFFIX = ".json"


def sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class FileStore:
    def __init__(self, root: os.PathLike | str):
        self.root = Path(root)
        self.tmp = self.root / ".tmp"

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, src: os.PathLike | str) -> tuple[str, int]:
        with open(src, "rb") as f:
            return self.put_stream(f)

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Copy a stream into the store; returns (sha256, size). Same bytes → same file."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix=leftovers.tag(TEMP_PREFIX))
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = h.hexdigest()
            final = self.path(sha)
            if final.exists():
                os.unlink(tmp_name)
                return sha, size
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, final)
            _fsync_dir(final.parent)
            return sha, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    # -- the catalogue record beside each file (files/ab/cd/<sha256>.json) ---------------
    def record_path(self, sha256: str) -> Path:
        return self.path(sha256).with_name(sha256 + RECORD_SUFFIX)

    def write_record(self, sha256: str, data: bytes) -> None:
        """Replace the record beside a stored file atomically (temp → fsync → rename)."""
        final = self.record_path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix=leftovers.tag(TEMP_PREFIX))
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def iter_records(self):
        """(sha256, path) of every record beside a stored file."""
        for p in sorted(self.root.glob(f"??/??/*{RECORD_SUFFIX}")):
            sha = p.name[:-len(RECORD_SUFFIX)]
            if len(sha) == 64:
                yield sha, p

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def iter_all(self):
        """Every stored file's sha256 (temp files excluded)."""
        for p in sorted(self.root.glob("??/??/*")):
            if p.is_file() and len(p.name) == 64:
                yield p.name

    def stray_temp_files(self) -> list[Path]:
        """Temp files whose writer is gone (a killed import): safe to delete."""
        return leftovers.stale(self.tmp, TEMP_PREFIX)

    def remove_stray_temp_files(self) -> list[Path]:
        return leftovers.remove(self.stray_temp_files())

    def copy_to(self, sha256: str, dest: os.PathLike | str) -> None:
        with self.open(sha256) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
