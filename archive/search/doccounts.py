"""Kept document counts of common bigrams: several terms ranked, a common term counted, without walking them.

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
last `take` still counts as it was until the next: for ranking that is as in Lucene and
Tantivy until segments merge. A total is taken from the counts (exact_docs: a 2-character term
alone) only while they are exact: no index row removed since (`df_rewrites`, the generation
index.note_rewrite bumps) and none added at or below the covered rowid (`df_rows`, the rows
counted) — an archive reindexed and then only added to or read, as an evaluation cycle's
archive is once it is closed.
Schema: migration 0062_search_doc_counts.
"""
from __future__ import annotations

from archive.core.db import transaction
from .index import FTS, STATE, only_added_above
from .ranking import varints

TABLE = "search_df"
KEEP_MIN = 256    # fewer items: counted by walking them (~0.05 µs an item, a seek)


def _ideographs(term: str) -> bool:
    return len(term) == 2 and all("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff" for c in term)


def take(db, table: str = FTS) -> dict:
    """Count every ideograph bigram's items in FTS5's vocabulary (one read of the whole index:
    ~5 s at 100,000 items, 50 s at 1,000,000) and keep those in KEEP_MIN or more; one short
    write replaces the previous counts, unless the table was rebuilt in between. With them, the
    state they were read in: the covered rowid, the rows counted, the `rewrites` generation.
    Returns {"terms": kept, "upto": highest rowid covered, or None when nothing was kept}."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)")
    db.execute("BEGIN")   # one read snapshot: the counts and the state they cover agree
    try:
        counted = _table_id(db, table)
        upto, rewrites, averages = db.execute(
            f"SELECT (SELECT max(id) FROM {table}_docsize), (SELECT value FROM {STATE} WHERE key = 'rewrites'), "
            f"(SELECT block FROM {table}_data WHERE id = 1)").fetchone()
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
        db.conn.executemany(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES (?, ?)",
                            [("df_upto", upto or 0), ("df_rewrites", rewrites),
                             ("df_rows", varints(averages)[0] if averages else 0)])
    return {"terms": len(rows), "upto": upto or 0}


def _table_id(db, table: str):
    """The FTS table's data table's root page: another after a full rebuild swapped tables."""
    return db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [f"{table}_data"]).fetchone()


def forget(db) -> None:
    """No kept counts (a rebuilt table's tokens may differ): ranking walks again until `take`.
    Inside the caller's transaction."""
    db.execute(f"DELETE FROM {TABLE}")
    db.execute(f"DELETE FROM {STATE} WHERE key IN ('df_upto', 'df_rewrites', 'df_rows')")


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


def exact_docs(db, bigram: str, table: str = FTS) -> int | None:
    """Items holding `bigram` now, exactly, from its kept count: while no index row was removed
    since the counts were taken (the `rewrites` generation is the one they were read in) and
    none was added at or below the covered rowid (FTS5's row count is the rows counted plus the
    rows above it), the kept count plus the items above the covered rowid holding it. None
    otherwise, or when the bigram is not kept. One statement: one snapshot."""
    # the two walks above the covered rowid only when the count is kept and nothing was removed
    # since: else the caller walks the whole term anyway
    row = db.execute(
        f"WITH s AS (SELECT (SELECT value FROM {STATE} WHERE key = 'df_upto') AS upto, "
        f"(SELECT docs FROM {TABLE} WHERE term = ?) AS docs, "
        f"(SELECT value FROM {STATE} WHERE key = 'df_rewrites') AS was, "
        f"(SELECT value FROM {STATE} WHERE key = 'rewrites') AS now) "
        f"SELECT s.docs, s.upto, s.was, s.now, "
        f"(SELECT value FROM {STATE} WHERE key = 'df_rows'), (SELECT block FROM {table}_data WHERE id = 1), "
        f"CASE WHEN s.docs IS NOT NULL AND s.was IS s.now THEN "
        f"(SELECT count(*) FROM {table}_docsize WHERE id > s.upto) END, "
        f"CASE WHEN s.docs IS NOT NULL AND s.was IS s.now THEN "
        f"(SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > s.upto) END FROM s",
        [bigram, '"' + bigram + '"']).fetchone()
    docs, covered, rewrites_then, rewrites_now, rows, averages, rows_above, hits_above = row
    if docs is None or covered is None or rows is None or rows_above is None:
        return None
    if not only_added_above(rewrites_then, rewrites_now, rows, averages, rows_above):
        return None
    return docs + hits_above
