"""The FTS5 index: written in the item's own transaction, so it cannot drift from the archive.

`items_fts` is contentless (the archive already holds the text; storing the token strings would
double the DB). A contentless FTS5 row can only be deleted by giving back the exact tokens it
was built from, so `items_fts_docs` keeps them, zlib-compressed, per item: an item's row is
always rewritten exactly, whatever the analyzer version was when it was indexed.
"""
from __future__ import annotations

import hashlib
import json
import zlib

from .analysis import ANALYZER_VERSION, field_tokens

FIELDS = ("text", "title", "name", "unit")

# Schema: migration "search_fts" in archive/db.py.

_INSERT = "INSERT INTO items_fts (rowid, text, title, name, unit) VALUES (?, ?, ?, ?, ?)"
_DELETE = ("INSERT INTO items_fts (items_fts, rowid, text, title, name, unit) "
           "VALUES ('delete', ?, ?, ?, ?, ?)")


def item_tokens(row) -> list[str]:
    """Token strings for (text, title, original_name, unit)."""
    return [field_tokens(v) for v in row]


def source_hash(text, title, name, unit) -> str:
    """Digest of the fields an FTS row is built from: check_index finds rows that drifted."""
    h = hashlib.blake2b(digest_size=16)
    for v in (text, title, name, unit):
        b = (v or "").encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _pack(toks: list[str]) -> bytes:
    return zlib.compress(json.dumps(toks, ensure_ascii=False).encode("utf-8"), 6)


def _unpack(blob: bytes) -> list[str]:
    return json.loads(zlib.decompress(blob).decode("utf-8"))


def _remove(db, item_id: int) -> bool:
    row = db.execute("SELECT tokens FROM items_fts_docs WHERE item_id = ?", [item_id]).fetchone()
    if row is None:
        return False
    db.execute(_DELETE, [item_id, *_unpack(row[0])])
    db.execute("DELETE FROM items_fts_docs WHERE item_id = ?", [item_id])
    return True


def index_item(db, item_id: int) -> None:
    """(Re)write one item's FTS row from its items row; a deleted or missing item is removed.

    Call inside the caller's `transaction(db)` (raw SQL only, never commits)."""
    row = db.execute("SELECT text, title, original_name, unit, deleted_at FROM items WHERE id = ?",
                     [item_id]).fetchone()
    _remove(db, item_id)
    if row is None or row[4] is not None:
        return
    toks = item_tokens(row[:4])
    db.execute(_INSERT, [item_id, *toks])
    db.execute("INSERT INTO items_fts_docs (item_id, analyzer, tokens, src_hash) VALUES (?, ?, ?, ?)",
               [item_id, ANALYZER_VERSION, _pack(toks), source_hash(*row[:4])])


def unindex_item(db, item_id: int) -> None:
    """Remove one item's FTS row (inside the caller's transaction)."""
    _remove(db, item_id)
