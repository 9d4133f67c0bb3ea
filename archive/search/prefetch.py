"""Analysis ahead of a bulk index job, in a second process.

Reindexing spends about a third of its time analysing text (normalise, bigrams) and the rest
in SQLite; one process does them one after the other. `analysed()` hands each batch's ids to
a worker process a batch or two ahead: it reads the items' text fields (and search_old's)
through its own read-only connection and returns {source hash: token strings}. The indexing
process still reads every row itself inside its transaction and uses a worker's tokens only
when the row's hash equals theirs, so an item edited meanwhile is analysed again, never
indexed from stale text. Any worker failure (no second core, an in-memory database, a
crash) falls back to analysing in the indexing process: slower, same index.
"""
from __future__ import annotations

import os
import sqlite3
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from .index import OLD, analyse

MIN_ITEMS = 2000   # fewer: starting a process (~0.2 s) costs more than it saves
AHEAD = 2          # batches handed to the worker before the one being indexed


def _database_file(db) -> str | None:
    row = db.execute("SELECT file FROM pragma_database_list WHERE name = 'main'").fetchone()
    return row[0] if row and row[0] else None


def analyse_batch(path: str, ids: list[int]) -> dict[bytes, list[str]]:
    """In the worker: {source hash: token strings} of the items' current and old text fields."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        marks = ", ".join("?" for _ in ids)
        rows = conn.execute(f"SELECT text, title, original_name, unit FROM items WHERE id IN ({marks})", ids).fetchall()
        rows += conn.execute(f"SELECT text, title, name, unit FROM {OLD} WHERE item_id IN ({marks})", ids).fetchall()
    finally:
        conn.close()
    return dict(analyse(row) for row in rows)


def analysed(db, batches: list[list[int]]):
    """Yield (batch, known) for each batch in order; `known` is {source hash: tokens} from the
    worker, or None (analyse in this process)."""
    path = _database_file(db)
    if path is None or sum(len(b) for b in batches) < MIN_ITEMS or (os.cpu_count() or 1) < 2:
        for batch in batches:
            yield batch, None
        return
    # spawn, not fork: this process holds SQLite connections and may run threads
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    pending: deque = deque()
    broken = False
    try:
        nxt = 0
        for batch in batches:
            while not broken and nxt < len(batches) and len(pending) <= AHEAD:
                pending.append(pool.submit(analyse_batch, path, batches[nxt]))
                nxt += 1
            known = None
            if pending:
                try:
                    known = pending.popleft().result()
                except Exception:   # noqa: BLE001 — any worker failure: analyse here instead
                    broken = True
                    pending.clear()
            yield batch, known
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
