"""Errors users see: a Chinese message plus a stable English key (CONTRACT.md "CLI")."""
from __future__ import annotations


class ArchiveError(Exception):
    """Base class: `str(e)` is what a user reads, e.g. `文件已损坏 (corrupt PDF)`."""

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
