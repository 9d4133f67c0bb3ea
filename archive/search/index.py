"""The FTS5 index: written in the item's own transaction, so it cannot drift from the archive.

`items_fts` (text, title, name, unit) is contentless: the archive already holds the text, and
storing the token strings would add ~4.5× the text's compressed size. SQLite 3.40 can delete a
contentless row only when given back the exact tokens it was built from, so `items_fts_src`
keeps, per item, the normalised source fields it was built from (zlib) and the analyzer
version: tokens(source) re-creates the old row exactly even after the items row has changed.
Schema: migrations "search_fts", "search_src_hash", "search_fts_source" in archive/db.py.
"""
from __future__ import annotations

import hashlib
import json
import zlib

from .analysis import ANALYZER_VERSION, normalise, tokens

FIELDS = ("text", "title", "name", "unit")

_INSERT = "INSERT INTO items_fts (rowid, text, title, name, unit) VALUES (?, ?, ?, ?, ?)"
_DELETE = ("INSERT INTO items_fts (items_fts, rowid, text, title, name, unit) "
           "VALUES ('delete', ?, ?, ?, ?, ?)")


class AnalyzerChanged(RuntimeError):
    """A row made by another analyzer version cannot be deleted in place: `reindex` rebuilds."""


def source_hash(text, title, name, unit) -> str:
    """Digest of the fields an FTS row is built from: check_index finds rows that drifted."""
    h = hashlib.blake2b(digest_size=16)
    for v in (text, title, name, unit):
        b = (v or "").encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def pack(norm: list[str]) -> bytes:
    return zlib.compress(json.dumps(norm, ensure_ascii=False).encode("utf-8"), 6)


def unpack(blob: bytes) -> list[str]:
    return json.loads(zlib.decompress(blob).decode("utf-8"))


def _remove(db, item_id: int) -> bool:
    row = db.execute("SELECT analyzer, source FROM items_fts_src WHERE item_id = ?", [item_id]).fetchone()
    if row is None:
        return False
    if row[0] != ANALYZER_VERSION:
        raise AnalyzerChanged(f"item {item_id} was indexed by analyzer {row[0]}; run `evidence reindex`")
    db.execute(_DELETE, [item_id, *(tokens(f) for f in unpack(row[1]))])
    db.execute("DELETE FROM items_fts_src WHERE item_id = ?", [item_id])
    return True


def write_row(db, item_id: int, row, table: str = "items_fts", src_table: str = "items_fts_src") -> None:
    """Insert the FTS row of (text, title, original_name, unit) — no delete."""
    norm = [normalise(v) for v in row]
    db.execute(f"INSERT INTO {table} (rowid, text, title, name, unit) VALUES (?, ?, ?, ?, ?)",
               [item_id, *(tokens(f) for f in norm)])
    db.execute(f"INSERT INTO {src_table} (item_id, analyzer, source, src_hash) VALUES (?, ?, ?, ?)",
               [item_id, ANALYZER_VERSION, pack(norm), source_hash(*row)])


REBUILD_LOG = "items_fts_rebuild_log"   # exists only while reindex(full=True) builds a new table


def index_item(db, item_id: int) -> None:
    """(Re)write one item's FTS row from its items row; a deleted or missing item is removed.

    Call inside the caller's `transaction(db)` (raw SQL only, never commits)."""
    row = db.execute("SELECT text, title, original_name, unit, deleted_at FROM items WHERE id = ?",
                     [item_id]).fetchone()
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [REBUILD_LOG]).fetchone():
        db.execute(f"INSERT OR IGNORE INTO {REBUILD_LOG} (item_id) VALUES (?)", [item_id])
    _remove(db, item_id)
    if row is None or row[4] is not None:
        return
    write_row(db, item_id, row[:4])


def unindex_item(db, item_id: int) -> None:
    """Remove one item's FTS row (inside the caller's transaction)."""
    _remove(db, item_id)
