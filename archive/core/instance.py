"""An instance: the folder that holds everything one archive owns (CONTRACT.md "Instance")."""
from __future__ import annotations

import os
import sqlite3
from functools import cached_property
from pathlib import Path

from . import db as dbmod
from .config import DEFAULT_LIMITS, Limits
from .errors import UsageError
from .store import FileStore


class Instance:
    def __init__(self, root: os.PathLike | str, limits: Limits = DEFAULT_LIMITS):
        self.root = Path(root)
        self.limits = limits
        self.db_path = self.root / "archive.db"
        self.files_dir = self.root / "files"
        self.thumbs_dir = self.root / "thumbs"
        self.exports_dir = self.root / "exports"
        # The map a command (--map) or request (the web picker) works in; None: the only
        # active one (archive.maps.loading.current_map).
        self.map_id: str | None = None

    # -- lifecycle -------------------------------------------------------
    def exists(self) -> bool:
        return self.db_path.is_file()

    def create(self) -> list[str]:
        """Make the folders and the DB; idempotent. Returns migrations applied."""
        for d in (self.root, self.files_dir, self.thumbs_dir, self.exports_dir):
            d.mkdir(parents=True, exist_ok=True)
        return dbmod.migrate(self.db)

    @classmethod
    def open(cls, root: os.PathLike | str, limits: Limits = DEFAULT_LIMITS) -> "Instance":
        inst = cls(root, limits)
        if not inst.exists():
            raise UsageError("instance not initialised",
                             f"实例目录 {inst.root} 尚未初始化，请先运行 evidence init")
        try:
            dbmod.migrate(inst.db)
        except sqlite3.DatabaseError as e:
            inst.close()
            raise UsageError("not an archive database",
                             f"{inst.db_path} 不是可用的档案数据库（{e}）；请从备份恢复") from e
        return inst

    @cached_property
    def db(self):
        return dbmod.connect(self.db_path)

    @cached_property
    def store(self) -> FileStore:
        return FileStore(self.files_dir)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.conn.close()
            del self.__dict__["db"]
