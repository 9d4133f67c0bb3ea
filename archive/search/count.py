"""Counting the rest of a large result: on both cores, while the page is read.

Counting a result of hundreds of thousands of hits walks every one (a phrase: its positions in
every item holding all its bigrams, ~0.5 µs an item), and nothing else can give an exact total.
SQLite lets go of the GIL while it steps, so the rest's rowid range is cut into slices, and a
second, read-only connection in a thread starts counting them at once while this connection
reads the page and makes its snippets; then this one counts the slices left. Slices of about
SLICE_S each keep the two ending together (the page's work is not known ahead). At 1,000,000
items, 890,123 hits of a 4-character term: 470 → 250 ms on two cores when split in two halves
after the page; measured: bench/RESULTS.md "Issue 15, eleventh session".
"""
from __future__ import annotations

import threading

from archive.core.sqlite import sqlite3
from archive.core.db import BUSY_TIMEOUT_S, MMAP_BYTES, database_file

# Estimated time to count the rest (the first walk's time, scaled by the rowids left) above which
# the count is split: a second connection and its first statement cost ~1 ms. Hits alone say
# little: a phrase's items that hold its bigrams but not it cost as much as its hits.
SPLIT_MIN_S = 0.010
# Estimated time of one slice: each costs a statement and a seek in every doclist (~0.1 ms);
# the two connections end at most about one slice apart.
SLICE_S = 0.004
MAX_SLICES = 64


class Counted:
    """A count already done."""

    def __init__(self, n: int):
        self.n = n

    def result(self) -> int:
        return self.n

    def stop(self) -> None:
        pass


class Counting:
    """The rows of `match` in the slices (after, upto] (upto None: no end), counted by a second
    connection from the highest slice down as soon as this starts, and by `db` from the lowest
    up when result() is called; each slice once. above(last) narrows it to rowids > last."""

    def __init__(self, db, path: str, table: str, match: str, slices: list):
        self.db, self.table, self.match = db, table, match
        self.slices = slices           # lowest first; both ends pop under the lock
        self.floor = slices[0][0]      # rows at or below it are not wanted
        self.lock = threading.Lock()
        self.counted: list[tuple] = []   # (after, upto, rows); list.append is atomic
        self.failed: list = []           # slices the second connection could not count
        self.worker = threading.Thread(target=self._apart, args=(path,), daemon=True)
        self.worker.start()

    def _take(self, highest: bool):
        with self.lock:
            if not self.slices:
                return None
            return self.slices.pop(-1 if highest else 0)

    def _apart(self, path: str) -> None:
        piece = None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
            try:
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
                while (piece := self._take(True)) is not None:
                    self.counted.append((*piece, _count(conn, self.table, self.match, *piece)))
            finally:
                conn.close()
        except Exception:   # this connection failed: result() counts its slice on db
            if piece is not None:
                self.failed.append(piece)

    def above(self, last: int) -> None:
        """Only rows above `last` are wanted (the first walk counted those up to it): slices
        at or below it are dropped, the one holding it is cut (one counted already: result())."""
        with self.lock:
            self.floor = max(self.floor, last)
            self.slices = [(max(a, last), b) for a, b in self.slices if b is None or b > last]

    def result(self) -> int:
        """The count, once every slice is counted (called on db's thread)."""
        while (piece := self._take(False)) is not None:
            self.counted.append((*piece, _count(self.db, self.table, self.match, *piece)))
        self.worker.join()
        for piece in self.failed:
            self.counted.append((*piece, _count(self.db, self.table, self.match, *piece)))
        self.failed = []
        total = 0
        for after, upto, n in self.counted:
            if upto is not None and upto <= self.floor:
                continue        # counted before above() dropped it
            if after < self.floor:   # counted whole before above() cut it
                n = _count(self.db, self.table, self.match, self.floor, upto)
            total += n
        return total

    def stop(self) -> None:
        """No result wanted (a small result, or the search failed): the second connection
        stops after its slice."""
        with self.lock:
            self.slices.clear()


def start_counting(db, table: str, match: str, top: int, slices: int) -> Counting | None:
    """All rows of `match` counted in `slices` slices of the rowids up to `top` (the last slice
    open-ended), begun now on a second connection (from the newest), for a query whose first
    walk is about to run on `db`: None where a second connection cannot count (no file, or
    inside a transaction)."""
    path = database_file(db)
    if not path or getattr(db, "conn", db).in_transaction:
        return None
    return Counting(db, path, table, match, _slices(0, top, slices))


def _slices(after: int, top: int, n: int) -> list:
    bounds = [after + (top - after) * i // n for i in range(n)] + [None]   # the last: no end
    return list(zip(bounds, bounds[1:]))


def count_rest(db, table: str, match: str, last: int, walked: float):
    """Rows of `match` with rowid > last, as a Counted or a Counting whose result() gives the
    number; the first walk, which ended at rowid `last`, took `walked` seconds (so the rest
    should take about walked × rowids left / last)."""
    top = db.execute("SELECT max(id) FROM items").fetchone()[0] or last
    path = database_file(db)
    estimate = walked * (top - last) / max(last, 1)
    # inside a transaction a second connection would not see its uncommitted rows
    if not path or getattr(db, "conn", db).in_transaction or estimate < SPLIT_MIN_S:
        return Counted(_count(db, table, match, last, None))
    n = max(2, min(MAX_SLICES, round(estimate / SLICE_S)))
    return Counting(db, path, table, match, _slices(last, top, n))


def _count(db, table, match, after, upto) -> int:
    """Rows of `match` with after < rowid (≤ upto); db: a connection or sqlite-utils Database."""
    if upto is None:
        return db.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > ?",
                          [match, after]).fetchone()[0]
    return db.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ? AND rowid > ? AND rowid <= ?",
                      [match, after, upto]).fetchone()[0]
