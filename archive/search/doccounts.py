"""Kept document counts of common bigrams, for ranking several terms without walking them.

bm25 weighs each term by its IDF, from the number of items holding it. FTS5 counts that by
walking every item with the term before it scores a hit: for a common phrase in a large archive
most of a ranked query's time (宣传街, in 434,441 of 1,000,000 items: 136 ms). Tantivy keeps
each token's document count in its dictionary and gives a phrase the sum of its tokens' IDFs;
so does engine._multi_terms, from counts kept here.

`search_df` holds, for every ideograph bigram in at least KEEP_MIN items, the number of items
holding it (in any column, as FTS5 counts), taken from FTS5's own vocabulary by `take`
(engine.keep_doc_counts, after `compact`, as `evidence reindex` ends). `search_state.df_upto` is the highest
rowid the counts cover; items added since are counted by a walk of the rowids above it, and a
bigram below KEEP_MIN is counted by walking its few rows. An item deleted or changed since the
last `take` still counts as it was until the next: document counts steer ranking only (as in
Lucene and Tantivy until segments merge); hits and totals never depend on them.
Schema: migration 0062_search_doc_counts.
"""
from __future__ import annotations

from archive.core.db import transaction
from .index import FTS, STATE

TABLE = "search_df"
KEEP_MIN = 256    # fewer items: counted by walking them (~0.05 µs an item, a seek)


def _ideographs(term: str) -> bool:
    return len(term) == 2 and all("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff" for c in term)


def take(db, table: str = FTS) -> dict:
    """Count every ideograph bigram's items in FTS5's vocabulary (one read of the whole index:
    ~5 s at 100,000 items, 50 s at 1,000,000) and keep those in KEEP_MIN or more; one short
    write replaces the previous counts, unless the table was rebuilt in between. Returns
    {"terms": kept, "upto": highest rowid covered, or None when nothing was kept}."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)")
    db.execute("BEGIN")   # one read snapshot: the counts and the rowid they cover agree
    try:
        counted = _table_id(db, table)
        upto = db.execute(f"SELECT max(id) FROM {table}_docsize").fetchone()[0] or 0
        rows = [(t, n) for t, n in db.execute(
            f"SELECT term, doc FROM temp.{table}_vocab WHERE doc >= ? AND length(term) = 2", [KEEP_MIN])
            if _ideographs(t)]
    finally:
        db.execute("COMMIT")
    with transaction(db):
        if _table_id(db, table) != counted:   # rebuilt meanwhile (reindex --full): its own reindex counts
            return {"terms": 0, "upto": None}
        db.execute(f"DELETE FROM {TABLE}")
        db.conn.executemany(f"INSERT INTO {TABLE} (term, docs) VALUES (?, ?)", rows)
        db.execute(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES ('df_upto', ?)", [upto])
    return {"terms": len(rows), "upto": upto}


def _table_id(db, table: str):
    """The FTS table's data table's root page: another after a full rebuild swapped tables."""
    return db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [f"{table}_data"]).fetchone()


def forget(db) -> None:
    """No kept counts (a rebuilt table's tokens may differ): ranking walks again until `take`.
    Inside the caller's transaction."""
    db.execute(f"DELETE FROM {TABLE}")
    db.execute(f"DELETE FROM {STATE} WHERE key = 'df_upto'")


def upto(db) -> int | None:
    """The highest rowid the kept counts cover, or None when there are none."""
    row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'df_upto'").fetchone()
    return None if row is None else int(row[0])


def doc_count(db, bigram: str, covered: int, newer: bool = True, table: str = FTS) -> int:
    """Items holding `bigram`: its kept count plus the items above `covered` (upto()) holding it
    (`newer`: there may be some); a bigram not kept (fewer than KEEP_MIN items when counted) by
    walking all its rows."""
    row = db.execute(f"SELECT docs FROM {TABLE} WHERE term = ?", [bigram]).fetchone()
    phrase = '"' + bigram + '"'
    if row is None:
        return db.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", [phrase]).fetchone()[0]
    if not newer:
        return row[0]
    return row[0] + db.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > ?",
                               [phrase, covered]).fetchone()[0]
