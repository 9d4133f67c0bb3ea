"""SQLite (WAL) through sqlite-utils: explicit schema, numbered migrations, short transactions.

Writes run inside `transaction(db)` (BEGIN IMMEDIATE), with raw SQL: sqlite-utils' write
helpers commit on their own (`with conn:`), which would end our transaction early.
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlite_utils

BUSY_TIMEOUT_S = 60


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
    return sqlite_utils.Database(conn)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One short write transaction; BEGIN IMMEDIATE so concurrent writers queue, never deadlock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")


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
