"""SQLite (WAL) through sqlite-utils: explicit schema, numbered migrations, short transactions.

Writes run inside `transaction(db)` (BEGIN IMMEDIATE), with raw SQL: sqlite-utils' write
helpers commit on their own (`with conn:`), which would end our transaction early.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

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


def _m1_core(db: sqlite_utils.Database) -> None:
    run_script(db, """
    CREATE TABLE maps (
        id INTEGER PRIMARY KEY,
        map_id TEXT NOT NULL,
        edition TEXT NOT NULL,
        yaml TEXT NOT NULL,
        source_path TEXT,
        loaded_at TEXT NOT NULL,
        loaded_by TEXT
    );
    CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        stored_at TEXT NOT NULL
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES files(sha256),
        kind TEXT NOT NULL,              -- pdf docx xlsx xls csv jpeg png
        material_type TEXT NOT NULL,     -- 规范文件 情况说明 实景图片 统计表格 工作台账
        title TEXT NOT NULL,
        original_name TEXT NOT NULL,     -- verbatim, Chinese kept
        unit TEXT,
        date TEXT,                       -- effective date YYYY-MM-DD (given, else EXIF)
        date_source TEXT,                -- 'given' | 'exif' | NULL
        size INTEGER NOT NULL,
        text TEXT NOT NULL DEFAULT '',   -- extracted text, as extracted
        meta TEXT NOT NULL DEFAULT '{}', -- JSON: exif, gps, pages, sheets ...
        ocr_status TEXT NOT NULL DEFAULT 'none',   -- none | pending | done | failed
        review_state TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
        created_at TEXT NOT NULL,
        created_by TEXT,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        deleted_by TEXT
    );
    CREATE UNIQUE INDEX items_sha256 ON items(sha256);
    CREATE INDEX items_unit ON items(unit);
    CREATE INDEX items_date ON items(date);
    CREATE TABLE item_codes (
        item_id INTEGER NOT NULL REFERENCES items(id),
        code TEXT NOT NULL,              -- exactly as the map writes it
        added_at TEXT NOT NULL,
        added_by TEXT,
        PRIMARY KEY (item_id, code)
    );
    CREATE INDEX item_codes_code ON item_codes(code);
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        sha256 TEXT NOT NULL REFERENCES files(sha256),
        original_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT
    );
    CREATE INDEX versions_item ON versions(item_id);
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        decision TEXT NOT NULL,          -- approved | rejected
        comment TEXT,
        reviewer TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX reviews_item ON reviews(item_id);
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,              -- clerk | reviewer | auditor | admin
        unit TEXT,
        password_hash TEXT NOT NULL,
        api_token_hash TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT,
        ip TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    """)


def _m_search_fts(db: sqlite_utils.Database) -> None:
    # Full-text index (archive/search/index.py explains the layout); SQL frozen here on purpose.
    run_script(db, """
    CREATE VIRTUAL TABLE items_fts USING fts5(
        text, title, name, unit,
        content='', tokenize='unicode61 remove_diacritics 0'
    );
    CREATE TABLE items_fts_docs (
        item_id INTEGER PRIMARY KEY,
        analyzer INTEGER NOT NULL,
        tokens BLOB NOT NULL
    )
    """)


def _m_search_src_hash(db: sqlite_utils.Database) -> None:
    # Digest of the fields each FTS row was built from: check_index finds drift cheaply.
    db.execute("ALTER TABLE items_fts_docs ADD COLUMN src_hash TEXT")


def _m_export_jobs(db: sqlite_utils.Database) -> None:
    # Declaration packages built from the web (archive/web/export_views.py): one row per build,
    # its progress while running and its report afterwards; the zip lives in exports/<id>/.
    run_script(db, """
    CREATE TABLE export_jobs (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        created_by TEXT,
        evaluation_date TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',   -- JSON: approved_only, include_out_of_window, strict
        state TEXT NOT NULL,                  -- queued | running | done | failed
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        message TEXT,
        error TEXT,
        path TEXT,                            -- relative to exports/, set by the server only
        size INTEGER,
        report TEXT,                          -- JSON summary of the export report
        finished_at TEXT
    )
    """)


def _m_search_fts_source(db: sqlite_utils.Database) -> None:
    # The side table keeps each row's normalised source fields (zlib; ~half the size of the
    # token strings, cheaper to write) instead of the tokens; FTS5 merges less often (faster
    # writes, same query speed). Rows indexed the old way are moved over here.
    run_script(db, """
    CREATE TABLE items_fts_src (
        item_id INTEGER PRIMARY KEY,
        analyzer INTEGER NOT NULL,
        source BLOB NOT NULL,
        src_hash TEXT NOT NULL
    );
    INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16)
    """)
    old = [r[0] for r in db.execute("SELECT item_id FROM items_fts_docs").fetchall()]
    if old:
        import json as _json
        import zlib as _zlib
        for item_id, blob in db.execute("SELECT item_id, tokens FROM items_fts_docs").fetchall():
            toks = _json.loads(_zlib.decompress(blob).decode("utf-8"))
            db.execute("INSERT INTO items_fts (items_fts, rowid, text, title, name, unit) "
                       "VALUES ('delete', ?, ?, ?, ?, ?)", [item_id, *toks])
        from archive.search.index import index_item
        for item_id in old:
            index_item(db, item_id)
    db.execute("DROP TABLE items_fts_docs")


def _m_search_live_index(db: sqlite_utils.Database) -> None:
    # Search joins every FTS hit to items for deleted_at/date; deleted_at sits after the text in
    # the row, so without this covering index each check reads the text's overflow pages.
    db.execute("CREATE INDEX items_search_live ON items(id, deleted_at, date, material_type, unit)")


# Append only; never edit a migration that has shipped.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("core", _m1_core),
    ("search_fts", _m_search_fts),
    ("search_src_hash", _m_search_src_hash),
    ("export_jobs", _m_export_jobs),
    ("search_fts_source", _m_search_fts_source),
    ("search_live_index", _m_search_live_index),
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    applied = {r[0] for r in db.execute("SELECT version FROM migrations").fetchall()}
    done = []
    for version, (name, fn) in enumerate(MIGRATIONS, start=1):
        if version in applied:
            continue
        with transaction(db):
            # Another process (CLI beside `serve`) may have applied it since we looked.
            if db.execute("SELECT 1 FROM migrations WHERE version = ?", [version]).fetchone():
                continue
            fn(db)
            db.execute("INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                       [version, name, utcnow()])
        done.append(name)
    return done
