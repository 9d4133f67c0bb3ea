"""Errors users see: a Chinese message plus a stable English key (CONTRACT.md "CLI")."""
from __future__ import annotations


class ArchiveError(Exception):
    """Base class: `str(e)` is what a user reads, e.g. `文件已损坏 (corrupt PDF)`.
    `exit_code`: the CLI's exit status when this ends a command (2: usage or configuration)."""

    exit_code = 2

    def __init__(self, key: str, message_zh: str):
        super().__init__(f"{message_zh} ({key})")
        self.key = key
        self.message_zh = message_zh

    @property
    def reason(self) -> str:
        return f"{self.message_zh} ({self.key})"


class Refusal(ArchiveError):
    """One file is refused; the batch goes on."""


class UsageError(ArchiveError):
    """Bad arguments or configuration (CLI exit 2)."""


class NotFound(ArchiveError):
    """An item, user or node that does not exist."""


class DatabaseProblem(ArchiveError):
    """The archive's SQLite file is damaged, missing, full or read-only: nothing the user typed
    was wrong, and the message says how to recover (CLI exit 1, unless `exit_code` says 2)."""

    exit_code = 1

    def __init__(self, key: str, message_zh: str, exit_code: int = 1):
        super().__init__(key, message_zh)
        self.exit_code = exit_code


RECOVER = "请从备份恢复（evidence backup 做的备份目录），或运行 evidence rebuild 从文件库重建目录"


def os_reason(e: OSError) -> str:
    """An OSError in the words a clerk understands (the English strerror stays in brackets)."""
    import errno

    zh = {errno.ENOSPC: "磁盘已满", errno.EROFS: "只读文件系统", errno.EACCES: "没有权限",
          errno.EPERM: "没有权限", errno.ENOENT: "找不到文件或文件夹", errno.EDQUOT: "超出磁盘配额",
          errno.EIO: "磁盘读写错误"}.get(e.errno)
    text = e.strerror or str(e)
    return f"{zh}（{text}）" if zh else text
