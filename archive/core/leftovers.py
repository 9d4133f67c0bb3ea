"""Temporary files and folders that a killed process leaves behind (store temp files, `.part`
exports, OCR page images), named with the writer's pid so that the next run, or
`fsck --repair`, can tell a dead writer's leftovers from a live writer's work in progress."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

# A leftover without a pid in its name (written before names carried one) counts as stale
# once it is this old: no write takes an hour between two touches of its temp file.
UNTAGGED_GRACE_S = 3600


def tag(prefix: str) -> str:
    """`prefix` + this process's pid + "-": the prefix for a temp name owned by this process."""
    return f"{prefix}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's live process
        return True
    return True


def is_stale(path: Path, prefix: str) -> bool:
    """True when `path` (named `prefix` + pid + "-" …) belongs to a process that is gone."""
    rest = path.name[len(prefix):]
    pid_text, sep, _ = rest.partition("-")
    if sep and pid_text.isdigit():
        return int(pid_text) != os.getpid() and not _alive(int(pid_text))
    try:
        return time.time() - path.lstat().st_mtime > UNTAGGED_GRACE_S
    except FileNotFoundError:
        return False


def stale(folder: Path, prefix: str, suffix: str = "") -> list[Path]:
    """The dead writers' leftovers `prefix*suffix` directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{prefix}*{suffix}") if is_stale(p, prefix))


def remove(paths) -> list[Path]:
    """Delete files and folders; returns those removed (one that vanished meanwhile is fine)."""
    removed = []
    for p in paths:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except FileNotFoundError:
            continue
        removed.append(p)
    return removed
