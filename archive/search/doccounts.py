"""Kept document counts of common bigrams: several terms ranked, a common term counted, without walking them.

bm25 weighs each term by its IDF, from the number of items holding it. FTS5 counts that by
walking every item with the term before it scores a hit: for a common phrase in a large archive
most of a ranked query's time (宣传街, in 434,441 of 1,000,000 items: 136 ms). Tantivy keeps
each token's document count in its dictionary and gives a phrase the sum of its tokens' IDFs;
so does engine._multi_terms, from counts kept here.

`search_df` holds, for every ideograph bigram in at least KEEP_MIN items, the number of items
holding it (in any column, as FTS5 counts), taken from FTS5's own vocabulary by `take`
(engine.keep_doc_counts, after `compact`, as `evidence reindex` ends). `search_state.df_upto` is
the highest rowid the counts cover; items added since are counted by a walk of the rowids above
it, and a bigram below KEEP_MIN is counted by walking its few rows. A row deleted, edited or
restored at or below the covered rowid changes the counts in its own transaction
(index.keep_counts: the bigrams it lost or gained, and `df_rows`, the rows counted), so they
stay exact through every change. A total is taken from them (exact_docs: a 2-character term
alone) while FTS5's row count is the rows counted plus the rows above the covered rowid — a
row written behind index_item's back would break that, and then the term is walked.
Schema: migration 0062_search_doc_counts.
"""
from __future__ import annotations

from collections import Counter

from archive.core.db import transaction
from .index import DF, FTS, STATE, indexed_pairs, only_added_above
from .ranking import fts_rows

TABLE = DF
KEEP_MIN = 256    # fewer items: counted by walking them (~0.05 µs an item, a seek)
TAKE_TRIES = 3    # reads of the counts when rows below the covered rowid change meanwhile
# Changes below the covered rowid followed after a take (index.keep_counts): each rewrites most
# of the table's pages (~16 bytes a kept bigram), so about this many bytes in all, at least
# CHANGES_MIN changes (100,000 items: ~450 changes; 1,000,000: ~70).
CHANGE_BYTES = 256 * 1024 * 1024
CHANGES_MIN = 8


def _ideographs(term: str) -> bool:
    return len(term) == 2 and all("\u3400" <= c <= "\u4dbf" or "\u4e00" <= c <= "\u9fff" for c in term)


def take(db, table: str = FTS) -> dict:
    """Count every ideograph bigram's items in FTS5's vocabulary (one read of the whole index:
    ~5 s at 100,000 items, 50 s at 1,000,000) and keep those in KEEP_MIN or more; one short
    write replaces the previous counts, with the state they were read in: the covered rowid and
    the rows counted. Kept only when the index changed meanwhile by rows added above the
    covered rowid alone (the `rewrites` generation the same, the rows added all above it): a
    row changed below it meanwhile changed the previous counts (index.keep_counts), not these,
    so they are read again, up to TAKE_TRIES times; the previous counts, kept exact, stay
    otherwise. Returns {"terms": kept, "upto": highest rowid covered, or None when nothing
    was kept}."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)")
    for _ in range(TAKE_TRIES):
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
        counted_rows = fts_rows(averages) or 0
        with transaction(db):
            if _table_id(db, table) != counted:   # rebuilt meanwhile (reindex --full): its own reindex counts
                return {"terms": 0, "upto": None}
            now = db.execute(
                f"SELECT (SELECT value FROM {STATE} WHERE key = 'rewrites'), (SELECT block FROM {table}_data WHERE id = 1), "
                f"(SELECT count(*) FROM {table}_docsize WHERE id > ?)", [upto or 0]).fetchone()
            if not only_added_above(rewrites, now[0], counted_rows, now[1], now[2]):
                continue      # a row changed below the covered rowid meanwhile: read again
            db.execute(f"DELETE FROM {TABLE}")
            db.conn.executemany(f"INSERT INTO {TABLE} (term, docs) VALUES (?, ?)", rows)
            db.execute(f"DELETE FROM {STATE} WHERE key = 'df_rewrites'")   # (no longer read)
            db.conn.executemany(f"INSERT OR REPLACE INTO {STATE} (key, value) VALUES (?, ?)",
                                [("df_upto", upto or 0), ("df_rows", counted_rows),
                                 ("df_left", max(CHANGES_MIN, CHANGE_BYTES // max(1, 16 * len(rows))))])
        return {"terms": len(rows), "upto": upto or 0}
    return {"terms": 0, "upto": None}


def _table_id(db, table: str):
    """The FTS table's data table's root page: another after a full rebuild swapped tables."""
    return db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [f"{table}_data"]).fetchone()


def forget(db) -> None:
    """No kept counts (a rebuilt table's tokens may differ): ranking walks again until `take`.
    Inside the caller's transaction. (`df_rewrites`: written by takes before counts were kept
    exact through changes.)"""
    db.execute(f"DELETE FROM {TABLE}")
    db.execute(f"DELETE FROM {STATE} WHERE key IN ('df_upto', 'df_rewrites', 'df_rows', 'df_left')")


def lapsed(db) -> bool:
    """The counts stopped following changes (index.keep_counts spent `df_left`): no total is
    taken from them until the next take."""
    return db.execute(f"SELECT EXISTS (SELECT 1 FROM {STATE} WHERE key = 'df_upto') "
                      f"AND NOT EXISTS (SELECT 1 FROM {STATE} WHERE key = 'df_rows')").fetchone()[0] == 1


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


def kept_docs(db, bigrams: list[str]) -> dict[str, int]:
    """The kept counts of those bigrams that are kept (one read; as of the last take)."""
    marks = ", ".join("?" for _ in bigrams)
    return dict(db.execute(f"SELECT term, docs FROM {TABLE} WHERE term IN ({marks})", bigrams).fetchall())


def exact_docs(db, bigram: str, table: str = FTS) -> int | None:
    """Items holding `bigram` now, exactly, from its kept count: while the counts are exact
    (_exact), the kept count plus the items above the covered rowid holding it. None otherwise,
    or when the bigram is not kept. One statement: one snapshot."""
    # the two walks above the covered rowid only when the count is kept: else the caller walks
    # the whole term anyway
    row = db.execute(
        f"WITH s AS (SELECT (SELECT value FROM {STATE} WHERE key = 'df_upto') AS upto, "
        f"(SELECT docs FROM {TABLE} WHERE term = ?) AS docs) "
        f"SELECT s.docs, s.upto, "
        f"(SELECT value FROM {STATE} WHERE key = 'df_rows'), (SELECT block FROM {table}_data WHERE id = 1), "
        f"CASE WHEN s.docs IS NOT NULL THEN (SELECT count(*) FROM {table}_docsize WHERE id > s.upto) END, "
        f"EXISTS (SELECT 1 FROM {STATE} WHERE key = 'df_rewrites'), "
        f"(SELECT value FROM {STATE} WHERE key = 'df_rewrites'), (SELECT value FROM {STATE} WHERE key = 'rewrites'), "
        f"CASE WHEN s.docs IS NOT NULL THEN "
        f"(SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > s.upto) END FROM s",
        [bigram, '"' + bigram + '"']).fetchone()
    docs, covered, *state, hits_above = row
    if docs is None or covered is None or not _exact(*state):
        return None
    return docs + hits_above


def _exact(rows, averages, rows_above, legacy, rewrites_then, rewrites_now) -> bool:
    """The kept counts say what the index holds now: not lapsed (`df_rows` is there), FTS5's
    row count is the rows counted plus the `rows_above` the covered rowid, and, for counts an
    older version took (`legacy`: a `df_rewrites` key, perhaps NULL), no row removed since."""
    return (rows is not None and rows_above is not None and not (legacy and rewrites_then != rewrites_now)
            and fts_rows(averages) == rows + rows_above)


def wrong(db, table: str = FTS) -> list[tuple[str, int, int]]:
    """(bigram, kept count + its items above the covered rowid, FTS5's count) of every kept
    bigram whose count is not what the index holds, while the counts say they are exact (a
    total may be taken from them); [] when they are, or when they lapsed (ranking only). One
    read of FTS5's vocabulary (as `take`), and the bigrams of each row above the covered rowid;
    in one read snapshot. For fsck (engine.check_index)."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_vocab USING fts5vocab(main, {table}, row)")
    own = not getattr(db, "conn", db).in_transaction
    if own:
        db.execute("BEGIN")
    try:
        state = dict(db.execute(f"SELECT key, value FROM {STATE} WHERE key IN "
                                "('df_upto', 'df_rows', 'df_rewrites', 'rewrites')"))
        upto, rows = state.get("df_upto"), state.get("df_rows")
        if upto is None:
            return []
        averages, above = db.execute(f"SELECT (SELECT block FROM {table}_data WHERE id = 1), "
                                     f"(SELECT count(*) FROM {table}_docsize WHERE id > ?)", [upto]).fetchone()
        if not _exact(rows, averages, above, "df_rewrites" in state, state.get("df_rewrites"), state.get("rewrites")):
            return []
        newer = Counter()
        for (item_id,) in db.execute(f"SELECT id FROM {table}_docsize WHERE id > ?", [upto]).fetchall():
            newer.update(indexed_pairs(db, item_id))
        vocab = dict(db.execute(f"SELECT term, doc FROM temp.{table}_vocab WHERE length(term) = 2"))
        return [(t, n + newer[t], vocab.get(t, 0)) for t, n in db.execute(f"SELECT term, docs FROM {TABLE}")
                if n + newer[t] != vocab.get(t, 0)]
    finally:
        if own:
            db.execute("COMMIT")
