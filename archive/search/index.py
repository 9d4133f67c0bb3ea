"""The FTS5 index: written in the item's own transaction, so it cannot drift from the archive.

`search_fts` (text, title, name, unit, f) is contentless: the archive already holds the text.
`f` holds the item's filter tokens (archive/search/filters.py). SQLite 3.40 deletes a
contentless row only when given back the exact tokens it was built from, so:
- `search_docs` keeps, per indexed item, the `f` string written and a digest of the text fields;
- `search_old` (filled by a trigger on the item's first change after indexing) keeps the text
  fields the row was built from; otherwise they are the items row's current ones.
`search_pending` (triggers) lists items whose filter tokens may be stale; index_item clears
an item's entries. Schema: migration 0060_search_filters.

Old archives: items indexed only in the old `items_fts` are listed in `search_unmoved`; while
any remain, index_item writes both tables (search reads the old one) and `catch_up` moves them.
"""
from __future__ import annotations

import hashlib
import json
import zlib

from . import fts5, grams
from .analysis import ANALYZER_VERSION, normalise, tokens
from .filters import item_tokens, iso_date_ok, padded
from .ranking import fts_rows

FTS, DOCS, OLD, PENDING, UNMOVED, STATE = ("search_fts", "search_docs", "search_old", "search_pending",
                                           "search_unmoved", "search_state")
DF = "search_df"    # kept document counts of common bigrams (doccounts.py), kept exact here
LEGACY_FTS, LEGACY_SRC = "items_fts", "items_fts_src"
NEW_FTS = "search_fts_new"    # exists only while reindex(full=True) builds a new table
FTS_HASH_SIZE = fts5.HASH_SIZE   # tests and bench/reindex.py read it here


def make_fts(db, table: str) -> None:
    """Create the index table `table` (search_fts's layout) with this code's tokenizer
    (fts5.TOKENIZE), automerge 16 and FTS_HASH_SIZE; inside the caller's transaction."""
    db.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(text, title, name, unit, f, content='', "
               f"tokenize='{fts5.TOKENIZE}')")
    db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('automerge', 16)")
    db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('hashsize', ?)", [FTS_HASH_SIZE])


class AnalyzerChanged(RuntimeError):
    """Rows made by another analyzer version cannot be deleted in place: `reindex` rebuilds."""


def source_hash(text, title, name, unit) -> bytes:
    """Digest of the fields an FTS row's text columns are built from: check_index finds drift."""
    h = hashlib.blake2b(digest_size=16)
    for v in (text, title, name, unit):
        b = (v or "").encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


def item_codes(db, item_id: int) -> list[str]:
    """The codes whose tokens an item's `f` holds (a map filter would read map_id here too)."""
    return [r[0] for r in db.execute("SELECT code FROM item_codes WHERE item_id = ? ORDER BY code", [item_id])]


def _text_tokens(row) -> list[str]:
    return [tokens(normalise(v)) for v in row]


def analyse(row) -> tuple[bytes, list[str]]:
    """(source_hash, token strings of the text columns) of (text, title, name, unit): what a
    bulk job computes ahead, in another process (prefetch.py), keyed by the hash."""
    return source_hash(*row), _text_tokens(row)


def _tokens_of(row, known: dict | None, digest: bytes | None = None) -> list[str]:
    """The token strings of row: from `known` ({source hash: tokens}) when it has them —
    the hash covers every field, so they are this row's — else analysed here."""
    if known:
        found = known.get(digest or source_hash(*row))
        if found is not None:
            return found
    return _text_tokens(row)


def indexed_fields(db, item_id: int):
    """The (text, title, name, unit) the item's FTS row was built from (an item not indexed:
    its own)."""
    old = db.execute(f"SELECT text, title, name, unit FROM {OLD} WHERE item_id = ?", [item_id]).fetchone()
    if old is not None:
        return old
    return db.execute("SELECT text, title, original_name, unit FROM items WHERE id = ?", [item_id]).fetchone()


def _check_analyzer(db) -> None:
    row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'analyzer'").fetchone()
    if row is not None and row[0] != ANALYZER_VERSION:
        raise AnalyzerChanged(f"the index was built by analyzer {row[0]}; run `evidence reindex`")


def _remove(db, item_id: int, rebuilding: bool, known: dict | None = None):
    """Delete the item's FTS row: (source hash, tokens) of the fields it was built from, or
    None when it had none."""
    doc = db.execute(f"SELECT f, src_hash FROM {DOCS} WHERE item_id = ?", [item_id]).fetchone()
    if doc is None:
        return None
    _check_analyzer(db)
    digest = bytes(doc[1])
    text_toks = known.get(digest) if known else None
    if text_toks is None:
        text_toks = _text_tokens(indexed_fields(db, item_id))
    toks = [*text_toks, padded(doc[0])]
    db.execute(f"INSERT INTO {FTS} ({FTS}, rowid, text, title, name, unit, f) "
               "VALUES ('delete', ?, ?, ?, ?, ?, ?)", [item_id, *toks])
    note_rewrite(db)
    if rebuilding and db.execute(f"SELECT 1 FROM {NEW_FTS}_docsize WHERE id = ?", [item_id]).fetchone():
        db.execute(f"INSERT INTO {NEW_FTS} ({NEW_FTS}, rowid, text, title, name, unit, f) "
                   "VALUES ('delete', ?, ?, ?, ?, ?, ?)", [item_id, *toks])
    db.execute(f"DELETE FROM {DOCS} WHERE item_id = ?", [item_id])
    return digest, text_toks


def keep_counts(db, item_id: int, before: list[str] | None, after: list[str] | None) -> None:
    """The kept document counts (doccounts.py) follow a change of the live row `item_id` at or
    below the rowid they cover: `before` / `after` are the row's text token strings (None: no
    row). Only the bigrams it gained or lost change (an edit of type, date or codes, or a
    reindex, changes none: the same tokens), in two statements, and the rows counted with them
    (`df_rows`). Rows above the covered rowid are counted by walking them. Inside the caller's
    transaction, so the counts change with the row or not at all.

    A changed text touches ~1,000 kept counts spread over the whole table (at 1,000,000 items
    ~3.6 MB of pages written an edit), so only `df_left` changes are followed after each take
    (doccounts.take sets it from the table's size); past that (a bulk re-extraction) the counts
    lapse until the next `evidence reindex`: no total is taken from them, ranking reads them as
    they were."""
    if before is after or before == after:
        return
    state = dict(db.execute(f"SELECT key, value FROM {STATE} WHERE key IN ('df_upto', 'df_left', 'df_rows')"))
    if state.get("df_upto") is None or item_id > int(state["df_upto"]) or state.get("df_rows") is None:
        return
    if int(state.get("df_left") or 0) <= 0:
        db.execute(f"DELETE FROM {STATE} WHERE key = 'df_rows'")   # lapsed: exact_docs says None
        return
    old, new = _pairs(before), _pairs(after)
    for terms, step in ((old - new, -1), (new - old, 1)):
        if terms:   # terms not kept (rare ones, Latin words) match no row
            db.execute(f"UPDATE {DF} SET docs = docs + ? WHERE term IN (SELECT value FROM json_each(?))",
                       [step, json.dumps(sorted(terms), ensure_ascii=False)])
    rows = (after is not None) - (before is not None)
    db.execute(f"UPDATE {STATE} SET value = value + (CASE key WHEN 'df_rows' THEN ? ELSE -1 END) "
               "WHERE key IN ('df_rows', 'df_left')", [rows])


def indexed_pairs(db, item_id: int) -> set[str]:
    """The distinct two-character tokens of the item's live row, from the fields it was built
    from (doccounts.wrong)."""
    return _pairs(_text_tokens(indexed_fields(db, item_id)))


def _pairs(toks: list[str] | None) -> set[str]:
    """The distinct two-character tokens of a row's text columns (its bigrams, among others)."""
    if toks is None:
        return set()
    return {t for t in " ".join(toks).split() if len(t) == 2}


def note_rewrite(db) -> None:
    """A row of the live index was removed: bump the `rewrites` generation, so totals kept for
    later pages are counted again, not grown (kept.py). Inside the caller's transaction."""
    db.execute(f"INSERT INTO {STATE} (key, value) VALUES ('rewrites', 1) "
               "ON CONFLICT (key) DO UPDATE SET value = value + 1")


def only_added_above(rewrites_then, rewrites_now, rows_then: int, averages_now, rows_above: int) -> bool:
    """Since the index held `rows_then` rows up to some top rowid at generation `rewrites_then`,
    rows were only added above that top: no row removed (note_rewrite) and FTS5's row count (its
    averages record, rowid 1) grew by exactly the `rows_above` rows above it. kept.py's totals
    and doccounts' exact counts hold while this does."""
    return rewrites_then == rewrites_now and fts_rows(averages_now) == rows_then + rows_above


def write_row(db, item_id: int, row, f: str, table: str = FTS, known: dict | None = None,
              text_toks: list[str] | None = None) -> None:
    """Insert the FTS row of (text, title, original_name, unit) and filter tokens `f` — no delete."""
    if text_toks is None:
        text_toks = _tokens_of(row, known)
    db.execute(f"INSERT INTO {table} (rowid, text, title, name, unit, f) VALUES (?, ?, ?, ?, ?, ?)",
               [item_id, *text_toks, padded(f)])


def index_item(db, item_id: int, known: dict | None = None) -> None:
    """(Re)write one item's FTS row from its items row; a deleted or missing item is removed.
    `known`: token strings analysed ahead by source hash (bulk jobs), and common grams by
    (source hash, grams.GRAMS); an item whose text is unchanged is analysed once for its delete
    and insert.

    Call inside the caller's `transaction(db)` (raw SQL only, never commits)."""
    row = db.execute("SELECT text, title, original_name, unit, deleted_at, material_type, date "
                     "FROM items WHERE id = ?", [item_id]).fetchone()
    rebuilding = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [NEW_FTS]).fetchone() is not None
    if db.execute(f"SELECT 1 FROM {UNMOVED} LIMIT 1").fetchone():
        _legacy_index(db, item_id, row)
        db.execute(f"DELETE FROM {UNMOVED} WHERE item_id = ?", [item_id])
    removed = _remove(db, item_id, rebuilding, known)
    before = removed[1] if removed else None
    live = row is not None and row[4] is None
    digest = source_hash(*row[:4]) if live else None
    tracked = grams.tracks(db, item_id)
    if removed and tracked and removed[0] != digest:   # same text: same grams
        grams.remove_row(db, item_id, indexed_fields(db, item_id))
        removed_grams = True
    else:
        removed_grams = not removed
    db.execute(f"DELETE FROM {OLD} WHERE item_id = ?", [item_id])
    db.execute(f"DELETE FROM {PENDING} WHERE item_id = ?", [item_id])
    if not live:
        keep_counts(db, item_id, before, None)
        return
    fields, mtype, date = row[:4], row[5], row[6]
    f = item_tokens(mtype, fields[3], date, item_codes(db, item_id))
    text_toks = removed[1] if removed and removed[0] == digest else _tokens_of(fields, known, digest)
    write_row(db, item_id, fields, f, text_toks=text_toks)
    if removed_grams and tracked:
        grams.add_row(db, item_id, fields, known.get((digest, grams.GRAMS)) if known else None)
    keep_counts(db, item_id, before, text_toks)
    if rebuilding:
        write_row(db, item_id, fields, f, NEW_FTS, text_toks=text_toks)
    db.execute(f"INSERT INTO {DOCS} (item_id, f, src_hash) VALUES (?, ?, ?)", [item_id, f, digest])
    if not iso_date_ok(date):
        # a date the buckets cannot hold: its date filter is evaluated in SQL
        db.execute(f"INSERT INTO {PENDING} (item_id) VALUES (?)", [item_id])


def unindex_item(db, item_id: int) -> None:
    """Remove one item's FTS row (inside the caller's transaction)."""
    if db.execute(f"SELECT 1 FROM {UNMOVED} LIMIT 1").fetchone():
        _legacy_remove(db, item_id)
    removed = _remove(db, item_id, db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [NEW_FTS]).fetchone()
                      is not None)
    if removed:
        keep_counts(db, item_id, removed[1], None)
        if grams.tracks(db, item_id):
            grams.remove_row(db, item_id, indexed_fields(db, item_id))
    db.execute(f"DELETE FROM {OLD} WHERE item_id = ?", [item_id])


# ---- the old index (items_fts + items_fts_src), kept up while old archives move over ---------
def _legacy_unpack(blob: bytes) -> list[str]:
    return json.loads(zlib.decompress(blob).decode("utf-8"))


def _legacy_remove(db, item_id: int) -> None:
    row = db.execute(f"SELECT analyzer, source FROM {LEGACY_SRC} WHERE item_id = ?", [item_id]).fetchone()
    if row is None:
        return
    if row[0] != ANALYZER_VERSION:
        raise AnalyzerChanged(f"item {item_id} was indexed by analyzer {row[0]}; run `evidence reindex`")
    db.execute(f"INSERT INTO {LEGACY_FTS} ({LEGACY_FTS}, rowid, text, title, name, unit) "
               "VALUES ('delete', ?, ?, ?, ?, ?)", [item_id, *(tokens(f) for f in _legacy_unpack(row[1]))])
    db.execute(f"DELETE FROM {LEGACY_SRC} WHERE item_id = ?", [item_id])


def legacy_write(db, item_id: int, row) -> None:
    """The old layout's row (tests build old archives with it)."""
    norm = [normalise(v) for v in row]
    db.execute(f"INSERT INTO {LEGACY_FTS} (rowid, text, title, name, unit) VALUES (?, ?, ?, ?, ?)",
               [item_id, *(tokens(f) for f in norm)])
    blob = zlib.compress(json.dumps(norm, ensure_ascii=False).encode("utf-8"), 6)
    db.execute(f"INSERT INTO {LEGACY_SRC} (item_id, analyzer, source, src_hash) VALUES (?, ?, ?, ?)",
               [item_id, ANALYZER_VERSION, blob, source_hash(*row).hex()])


def _legacy_index(db, item_id: int, row) -> None:
    _legacy_remove(db, item_id)
    if row is not None and row[4] is None:
        legacy_write(db, item_id, row[:4])
