"""SQLite (WAL) through sqlite-utils: explicit schema, numbered migrations, short transactions.

Writes run inside `transaction(db)` (BEGIN IMMEDIATE), with raw SQL: sqlite-utils' write
helpers commit on their own (`with conn:`), which would end our transaction early.
"""
from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .sqlite import sqlite3
from .errors import RECOVER, DatabaseProblem


def _import_sqlite_utils():
    """sqlite_utils loads numpy and pandas when they are installed (numpy is, for OCR), only to
    map their types in its table helpers, which this project never calls (raw SQL only): ~0.1 s
    of every CLI command's start. Hidden while it loads unless something loaded them already."""
    hidden = [m for m in ("numpy", "pandas") if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None   # `import m` raises ImportError; sqlite_utils expects that
    try:
        import sqlite_utils
    finally:
        for m in hidden:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()

BUSY_TIMEOUT_S = 60
MMAP_BYTES = 1 << 36


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(path: Path | str) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    conn.execute("PRAGMA foreign_keys=ON")
    # FULL: a committed item survives power loss, not only a process crash.
    conn.execute("PRAGMA synchronous=FULL")
    # Read pages straight from the OS page cache instead of copying each one in: searches walk
    # many index pages (100k items: 3–19 % less CPU a query, bench/RESULTS.md "Search"). SQLite
    # caps it at its build's limit: pysqlite3's maps the whole file (archive/core/sqlite.py),
    # Python's own only the first 2 GB. Writes still go through the WAL.
    conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return sqlite_utils.Database(conn)


def database_file(db) -> str | None:
    """The main database's file, or None for an in-memory or temporary one (a second connection
    could not open it)."""
    row = db.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return row[0] if row and row[0] else None


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One short write transaction; BEGIN IMMEDIATE so concurrent writers queue, never deadlock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (disk full, I/O error): a second ROLLBACK would
        # replace the real error with "no transaction is active". A failed COMMIT (disk full)
        # leaves the transaction open: roll it back so the next write can begin.
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise


def insert(db: sqlite_utils.Database, table: str, row: dict) -> int:
    """INSERT one row with raw SQL (safe inside `transaction`); returns rowid."""
    cols = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    cur = db.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values()))
    return cur.lastrowid


def run_script(db: sqlite_utils.Database, sql: str) -> None:
    """Run several statements inside the current transaction (executescript would COMMIT first)."""
    for statement in sql.split(";\n"):
        if statement.strip():
            db.execute(statement)


MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every `NNNN_name.sql` in `folder`, by version.

    SQL only: a migration never imports the project's code (core stays below the features).
    Numbers are blocks reserved per feature (docs/ARCHITECTURE.md), so features built in
    parallel never take the same number; gaps are fine.
    """
    found = []
    for f in sorted(folder.iterdir()):
        m = _MIGRATION_FILE.match(f.name)
        if m:
            found.append((int(m.group(1)), m.group(2), f.read_text(encoding="utf-8")))
    return found


# Never edit a migration that has shipped: add a new file.
MIGRATIONS: list[tuple[int, str, str]] = load_migrations()


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations in version order; returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    applied = {r[0] for r in db.execute("SELECT version FROM migrations").fetchall()}
    done = []
    for version, name, sql in MIGRATIONS:
        if version in applied:
            continue
        with transaction(db):
            # Another process (CLI beside `serve`) may have applied it since we looked.
            if db.execute("SELECT 1 FROM migrations WHERE version = ?", [version]).fetchone():
                continue
            run_script(db, sql)
            db.execute("INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       [version, name, utcnow()])
        done.append(name)
    return done


def explain(e: sqlite3.Error) -> DatabaseProblem:
    """A SQLite failure as the one line a user reads: what happened and what to do."""
    name = getattr(e, "sqlite_errorname", "") or ""
    text = str(e)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return DatabaseProblem("database damaged", f"档案数据库已损坏（{text}）：{RECOVER}")
    if name == "SQLITE_FULL" or "disk is full" in text:
        return DatabaseProblem("disk full", "磁盘已满，未能写入数据库（已保存的内容不受影响）：请腾出空间后重试")
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return DatabaseProblem("read-only instance",
                               f"档案数据库只读，无法写入（{text}）：请检查实例目录的权限或挂载方式", exit_code=2)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return DatabaseProblem("database busy", f"数据库正忙（{text}），请稍后重试")
    if name.startswith("SQLITE_IOERR") or "I/O error" in text:
        return DatabaseProblem("disk I/O error", f"读写磁盘出错（{text}）：请检查磁盘；若数据库已损坏，{RECOVER}")
    return DatabaseProblem("database error", f"数据库出错（{text}）")
