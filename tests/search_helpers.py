"""Helpers for the search tests: insert items rows directly (SQL + index_item in one transaction)
and a brute-force matcher that is written independently of archive/search."""
from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata

from archive.core.db import transaction
from archive.search import index_item
from archive.search.ranking import varints

_SEQ = itertools.count()
_CJK = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


def add_item(db, text, title="材料", original_name="材料.pdf", unit=None, date=None,
             material_type="情况说明", codes=(), deleted=False) -> int:
    sha = hashlib.sha256(f"{next(_SEQ)}|{text}".encode()).hexdigest()
    with transaction(db):
        db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [sha])
        cur = db.execute(
            "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
            " created_at, updated_at, deleted_at) VALUES (?, 'pdf', ?, ?, ?, ?, ?, 1, ?, 't', 't', ?)",
            [sha, material_type, title, original_name, unit, date, text, "t" if deleted else None])
        item_id = cur.lastrowid
        for c in codes:
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, 't')", [item_id, c])
        index_item(db, item_id)
    return item_id


def bf_norm(s: str | None) -> str:
    s = unicodedata.normalize("NFKC", s or "")
    s = re.sub(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])", "", s)
    return s.lower()


def _wordish(ch: str) -> bool:
    return ch.isalnum() and not re.match(f"[{_CJK}]", ch)


def bf_contains(field: str | None, term: str) -> bool:
    """Substring of the normalised field; a term starting with a Latin letter/digit must start a
    word (TZ2005 finds TZ20051)."""
    f, t = bf_norm(field), bf_norm(term).strip()
    start = 0
    while True:
        i = f.find(t, start)
        if i < 0:
            return False
        if not _wordish(t[0]) or i == 0 or not _wordish(f[i - 1]):
            return True
        start = i + 1


def bf_item_has(item: dict, term: str) -> bool:
    return any(bf_contains(item[k], term) for k in ("text", "title", "original_name", "unit"))


def add_many(db, texts, dates=None, index: bool = True) -> list[int]:
    """Many short items in one transaction (index_item for each): for tests that need thousands.
    index=False: as a bulk load leaves them, not indexed (search_pending lists them)."""
    ids = []
    with transaction(db):
        for k, text in enumerate(texts):
            sha = hashlib.sha256(f"{next(_SEQ)}|{text}".encode()).hexdigest()
            db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [sha])
            cur = db.execute(
                "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
                " created_at, updated_at) VALUES (?, 'pdf', '情况说明', '材料', '材料.pdf', NULL, ?, 1, ?, 't', 't')",
                [sha, dates[k] if dates else None, text])
            if index:
                index_item(db, cur.lastrowid)
            ids.append(cur.lastrowid)
    return ids


def fts_segments(db, table: str = "search_fts") -> int:
    """How many segments the FTS5 index has: from its structure record (`%_data` row 10, as
    fts5_index.c writes it: a 4-byte cookie, FTS5's 4-byte version-2 marker when present, then
    varints: levels, segments, …)."""
    block = db.execute(f"SELECT block FROM {table}_data WHERE id = 10").fetchone()[0]
    return varints(block[8 if block[4:8] == b"\xff\x00\x00\x01" else 4:])[1]
