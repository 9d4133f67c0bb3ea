"""An instance: the folder that holds everything one archive owns (CONTRACT.md "Instance")."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from .sqlite import sqlite3
from . import db as dbmod
from .config import DEFAULT_LIMITS, Limits
from .errors import RECOVER, DatabaseProblem, UsageError
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

    def has_stored_files(self) -> bool:
        return self.files_dir.is_dir() and any(p.is_file() for p in self.files_dir.glob("??/??/*"))

    def damage(self) -> DatabaseProblem | None:
        """Why this folder is a damaged archive rather than a new one (archive.db cut to 0 bytes,
        or gone while files/ still holds stored files), or None. A damaged archive is never
        silently re-created empty: that would hide every stored file."""
        if self.db_path.is_file():
            if self.db_path.stat().st_size == 0:
                what = f"档案数据库 {self.db_path} 为空（0 字节）"
            else:
                return None
        elif self.has_stored_files():
            what = f"档案数据库 {self.db_path} 不存在，但文件库 {self.files_dir} 中有已保存的文件"
        else:
            return None
        return DatabaseProblem("database damaged", f"{what}：这是损坏的档案，不是新档案。{RECOVER}")

    def create(self, rebuilding: bool = False) -> list[str]:
        """Make the folders and the DB; idempotent. Returns migrations applied.
        Refuses a damaged archive (see `damage`) unless it is being rebuilt from its files."""
        damaged = None if rebuilding else self.damage()
        if damaged is not None:
            raise damaged
        for d in (self.root, self.files_dir, self.thumbs_dir, self.exports_dir):
            d.mkdir(parents=True, exist_ok=True)
        return dbmod.migrate(self.db)

    @classmethod
    def open(cls, root: os.PathLike | str, limits: Limits = DEFAULT_LIMITS) -> "Instance":
        inst = cls(root, limits)
        damaged = inst.damage()
        if damaged is not None:
            raise damaged
        if not inst.exists():
            raise UsageError("instance not initialised",
                             f"实例目录 {inst.root} 尚未初始化，请先运行 evidence init")
        try:
            dbmod.migrate(inst.db)
        except sqlite3.DatabaseError as e:
            inst.close()
            if not os.access(inst.root, os.W_OK) or not os.access(inst.db_path, os.W_OK):
                raise DatabaseProblem("read-only instance",
                                      f"实例目录 {inst.root} 是只读的，无法打开档案（{e}）：请检查权限或挂载方式",
                                      exit_code=2) from e
            problem = dbmod.explain(e)
            if problem.key in ("database damaged", "database error"):
                raise DatabaseProblem("not an archive database",
                                      f"{inst.db_path} 不是可用的档案数据库（{e}）；{RECOVER}", exit_code=2) from e
            raise problem from e
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
