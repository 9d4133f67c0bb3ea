"""The one progress callback every long job takes (ingest, export, fsck, backup, OCR, reindex).

`progress(done, total, message)`: `done` of `total` steps are finished (absolute, never a
delta, so a caller may skip calls); `message` names what was just done ("" when nothing
useful). The CLI draws it as a bar on a terminal (archive.commands.common.progress_bar), the
web export job stores it in its job row.
"""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str, /) -> None: ...
