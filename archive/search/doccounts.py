"""Kept document counts of common bigrams: several terms ranked, a common term counted, without walking.

bm25 weighs each term by its IDF, from the number of items holding it. FTS5 counts that by
walking every item with the term before it scores a hit: for a common phrase in a large archive
most of a ranked query's time (宣传街, in 434,441 of 1,000,000 items: 136 ms). Tantivy keeps
each token's document count in its dictionary and gives a phrase the sum of its tokens' IDFs;
so does engine._multi_terms, from counts kept here.

`search_df` holds, for every ideograph bigram in at least KEEP_MIN items, the number of items
holding it (in any column, as FTS5 counts), taken from FTS5's own vocabulary by `take`
(engine.keep_doc_counts, after `compact`, as `evidence reindex` ends). `search_state.df_upto`
is the highest rowid the counts cover and `df_rows` the rows they count. Items added above it
are counted by a walk of the rowids above it; a row at or below it that is removed, added or
rewritten adjusts the counts of the bigrams it lost or gained in its own transaction
(index._recount), so the counts stay exact: a 2-character term's total comes from them
(exact_docs), and several-term ranking weighs terms by them. A bigram below KEEP_MIN is
counted by walking its few rows.
Schema: migration 0062_search_doc_counts.
"""
from __future__ import annotations

from archive.core.db import transaction
from .index import DF, FTS, STATE
from .ranking import varints

TABLE = DF
KEEP_MIN = 256    # fewer items: counted by walking them (~0.05 µs an item, a seek)


def _ideographs(term: str) -> bool:
    return len(term) == 2 and all("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff" for c in term)


def take(db, table: str = FTS, tries: int = 3) -> dict:
    """Count every ideograph bigram's items in FTS5's vocabulary (one read of the whole index:
    ~5 s at 100,000 items, 50 s at 1,000,000) and keep those in KEEP_MIN or more; one short
    write replaces the previous counts, unless the table was rebuilt in between, or a row at or
    below the covered rowid changed meanwhile (then counted again, `tries` times in all).
    Returns {"terms": kept, "upto": highest rowid covered, or None when nothing was kept}."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)")
    for _ in range(tries):
        db.execute("BEGIN")   # one read snapshot: the counts and the rowid they cover agree
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
        upto, n_rows = upto or 0, varints(averages)[0] if averages else 0
        with transaction(db):
            if _table_id(db, table) != counted:   # rebuilt meanwhile (reindex --full): its own reindex counts
                return {"terms": 0, "upto": None}
            if not _only_added_above(db, table, upto, rewrites, n_rows):
                continue   # a row at or below `upto` changed after the read: these counts miss it
            db.execute(f"DELETE FROM {TABLE}")
            db.conn.executemany(f"INSERT INTO {TABLE} (term, docs) VALUES (?, ?)", rows)
            db.conn.executemany(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES (?, ?)",
                                [("df_upto", upto), ("df_rows", n_rows)])
            return {"terms": len(rows), "upto": upto}
    return {"terms": 0, "upto": None}


def _only_added_above(db, table: str, upto: int, rewrites, n_rows: int) -> bool:
    """Since the index held `n_rows` rows up to rowid `upto` at generation `rewrites`, rows were
    only added above `upto`: no row removed (index.note_rewrite), and the row count grew by
    exactly the rows above it."""
    now_rewrites, averages, above = db.execute(
        f"SELECT (SELECT value FROM {STATE} WHERE key = 'rewrites'), (SELECT block FROM {table}_data WHERE id = 1), "
        f"(SELECT count(*) FROM {table}_docsize WHERE id > ?)", [upto]).fetchone()
    return now_rewrites == rewrites and (varints(averages)[0] if averages else 0) == n_rows + above


def _table_id(db, table: str):
    """The FTS table's data table's root page: another after a full rebuild swapped tables."""
    return db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [f"{table}_data"]).fetchone()


def forget(db) -> None:
    """No kept counts (a rebuilt table's tokens may differ): ranking walks again until `take`.
    Inside the caller's transaction."""
    db.execute(f"DELETE FROM {TABLE}")
    db.execute(f"DELETE FROM {STATE} WHERE key IN ('df_upto', 'df_rows')")


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
    """Items holding `bigram` now, exactly: its kept count (kept exact for the rows it covers by
    index._recount) plus the items above the covered rowid holding it. None when the bigram is
    not kept, or the rows covered do not add up (FTS5's row count is not the rows counted plus
    the rows above: a change no recount saw). One statement: one snapshot."""
    row = db.execute(
        f"WITH s AS (SELECT (SELECT value FROM {STATE} WHERE key = 'df_upto') AS upto) "
        f"SELECT (SELECT docs FROM {TABLE} WHERE term = ?), s.upto, "
        f"(SELECT value FROM {STATE} WHERE key = 'df_rows'), (SELECT block FROM {table}_data WHERE id = 1), "
        f"(SELECT count(*) FROM {table}_docsize WHERE id > s.upto), "
        f"(SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > s.upto) FROM s",
        [bigram, '"' + bigram + '"']).fetchone()
    docs, covered, rows, averages, rows_above, hits_above = row
    if docs is None or covered is None or rows is None or averages is None:
        return None
    if varints(averages)[0] != rows + rows_above:
        return None
    return docs + hits_above
