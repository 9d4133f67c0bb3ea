"""FTS5 tables: the tokenizer they are made with, how bulk jobs write their segments, and
merging segments into one.

The tokenizer (TOKENIZE, fifteenth session): the analyzer (analysis.py) has already split and
lowercased the text into space-separated tokens, so FTS5 only has to split at the spaces.
`ascii` does that: every non-ASCII character is part of a token, ASCII letters and digits too,
anything else separates. `unicode61`, which tables made before used, looked up every
character's Unicode category and case folding again: a fifth of a bulk build's indexing
process (bench/RESULTS.md, fifteenth session). With `ascii` a row's tokens are exactly the
analyzer's, also where unicode61 split one (a bigram holding ・ U+30FB, a mark or a symbol
the analyzer counts as a CJK character). A table's tokenizer is fixed when it is made: tables
made by migrations 0060 and 0064 before this change keep unicode61 until `evidence reindex`
builds new ones (engine.reindex), which it does when `tokenizer()` says so.

FTS5 writes each transaction's postings as a new segment and merges segments as later writes
come in: `automerge` N merges a level once N segments wait on it (search_fts 16, search_grams
FTS5's default 4), a bit of merge work after each write. A bulk job (reindex, a fresh build of a
loaded archive, the common grams) writes thousands of batches, and that merging rewrites every
posting once per level: log16 of the batches for search_fts (3 rewrites at 1,000,000 items),
log4 for search_grams (6), before `evidence reindex` merges everything into one segment anyway
(bench/RESULTS.md, fifteenth session: a third of the indexing process at 1,000,000 items).

`bulk_batch` wraps one batch's transaction: no incremental merging while it writes, and a
level merged all at once only when BULK_LEVEL segments wait on it (`crisismerge`), so a
posting is rewritten about twice in a bulk build of 1,000,000 items (once with its level's
BULK_LEVEL × 200 items, once by the final merge) instead of four to seven times. FTS5 writes
the batch's segment when a setting changes (it flushes its pending postings first), so the
batch's own settings are put back before the commit with the segment already written under
them: every other transaction, and a batch that crashes (rolled back with its settings),
sees the table's own. Queries during a bulk build read up to BULK_LEVEL segments a level
(with 200-item batches at 1,000,000 items: ~40 on level 1 and up to 127 on level 0) until the
merge that ends it. An upload committed between two batches runs with the table's own
`crisismerge` 16, so it may merge such a level 0 first (a few seconds' wait). Level 1 reaches
BULK_LEVEL only past ~3.3 M items; that merge would hold writers for minutes (not measured).
"""
from __future__ import annotations

import re
from contextlib import contextmanager

from archive.core.db import transaction

TOKENIZE = "ascii"
_TOKENIZE_ARG = re.compile(r"tokenize\s*=\s*'([^']*)'", re.IGNORECASE)

# FTS5's in-memory postings before a segment is written (its `hashsize`; 1 MB by default, less
# than one bulk batch): set by migrations 0063/0064 and on every search_fts or search_grams made anew.
HASH_SIZE = 32 * 1024 * 1024
# Segments a level holds during a bulk job before FTS5 merges the level at once. 128 × 200 items
# is one merge of ~25,600 items' postings (a few seconds a writer may wait, every 128 batches);
# level 1 would reach it at ~3.3 M items. FTS5 allows at most 2,000 segments in a table.
BULK_LEVEL = 128
# FTS5's defaults, for a table whose _config has no row for the setting
FTS5_DEFAULTS = {"automerge": 4, "crisismerge": 16}
# Pages of merge work per transaction: ~0.1 s (66 µs a page measured at 100k), so a writer
# waits about as long as for one reindex batch.
MERGE_PAGES = 2000


def tokenizer(db, table: str) -> str | None:
    """The tokenizer an FTS5 table was made with ("unicode61 remove_diacritics 0", "ascii"), or
    None when there is no such table; FTS5's default when none was given."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()
    if row is None:
        return None
    m = _TOKENIZE_ARG.search(row[0] or "")
    return m.group(1) if m else "unicode61"


def current(db, table: str) -> bool:
    """Whether the table exists and was made with TOKENIZE."""
    return tokenizer(db, table) == TOKENIZE


def _settings(db, table: str) -> dict:
    have = dict(db.execute(f"SELECT k, v FROM {table}_config WHERE k IN ('automerge', 'crisismerge')"))
    return {k: have.get(k, default) for k, default in FTS5_DEFAULTS.items()}


def _set(db, table: str, key: str, value) -> None:
    db.execute(f"INSERT INTO {table} ({table}, rank) VALUES (?, ?)", [key, value])


@contextmanager
def bulk_batch(db, tables):
    """Inside a bulk job's batch transaction: FTS5 `tables` (those that exist) write the batch
    without incremental merging (module docstring), their own settings put back before the
    caller commits. On an exception nothing is put back: the caller's rollback undoes both."""
    tables = [t for t in tables if tokenizer(db, t) is not None]
    saved = {t: _settings(db, t) for t in tables}
    for t in tables:   # nothing of this transaction is pending yet: these write no segment
        _set(db, t, "automerge", 0)
        _set(db, t, "crisismerge", BULK_LEVEL)
    yield
    for t in tables:   # the first write-out of the batch's postings, under the bulk settings
        _set(db, t, "crisismerge", saved[t]["crisismerge"])
        _set(db, t, "automerge", saved[t]["automerge"])


def merge(db, table: str, progress=None) -> dict:
    """Merge the table's segments into one in short transactions (FTS5's `merge` with a negative
    page count: the work of `optimize` a step at a time) while search and writers go on; a step
    that changes fewer than 2 rows did nothing (FTS5's documented test). Bounded by four times
    the index's pages, so writers adding segments meanwhile cannot keep it going.
    Returns {"steps", "pages"}."""
    pages = db.execute(f"SELECT count(*) FROM {table}_data").fetchone()[0]
    estimate = max(1, pages // MERGE_PAGES + 1)
    steps = 0
    while steps < 4 * estimate + 4:
        with transaction(db):
            before = db.conn.total_changes
            db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)", [-MERGE_PAGES])
            worked = db.conn.total_changes - before >= 2
        if not worked:
            break
        steps += 1
        if progress:
            progress(min(steps, estimate), estimate, "")
    if progress:
        progress(estimate, estimate, "")
    return {"steps": steps, "pages": pages}
