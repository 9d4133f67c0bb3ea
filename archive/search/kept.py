"""Totals of huge results kept for their later pages, and grown as uploads add items.

Counting a result of more than RECENT_MIN_HITS hits walks all of them (a 4-character term in
90 % of 1,000,000 items: ~0.5 s of CPU), and its next page asks the same count again. A total is
kept by (table, MATCH expression, database file, the table's root page) with the index state it
was counted on: FTS5's averages and structure records (rewritten by every transaction that
changes the index), the `rewrites` generation and the highest rowid then.

- Nothing written since (the records are the same): the kept total.
- Only items added since (no row removed: same `rewrites`; and FTS5's row count grew by
  exactly the rows above the kept top, so none was added at or below it): the kept total plus
  the hits above the kept top, counted in the same statement that re-reads the state, so both
  come from one snapshot. An upload between two pages costs a seek instead of the whole count.
- Anything else (a row removed: index.note_rewrite bumps `rewrites` in that transaction; a row
  added below the top, as when a deleted item is restored; a full rebuild's new table; the old
  index of an archive moving over): counted again.

A total counted while a transaction changed the index (the state read before and after
differs), or inside a write transaction (it may be rolled back), is not kept. Docs: docs/search.md "Kept totals".
"""
from __future__ import annotations

from typing import NamedTuple

from .index import FTS, STATE, only_added_above
from .ranking import fts_rows

COUNT_CACHE: dict = {}
COUNT_CACHE_SIZE = 256


class State(NamedTuple):
    """What a count holds for (read in one statement)."""
    file: str
    root: int            # the table's %_data root page: another after a full rebuild
    averages: bytes      # FTS5's averages record (rowid 1): rows and tokens per column
    structure: bytes     # FTS5's structure record (rowid 10): segments and a write counter
    rewrites: object     # search_state 'rewrites' (None: never bumped)
    top: int | None      # the highest rowid in the index


class Kept(NamedTuple):
    total: int
    state: State


def _state_sql(t: str) -> str:
    return (f"(SELECT file FROM pragma_database_list WHERE name = 'main'), "
            f"(SELECT rootpage FROM sqlite_master WHERE name = '{t}_data'), "
            f"(SELECT block FROM {t}_data WHERE id = 1), (SELECT block FROM {t}_data WHERE id = 10), "
            f"(SELECT value FROM {STATE} WHERE key = 'rewrites'), (SELECT max(id) FROM {t}_docsize)")


def state(db, t: str) -> State | None:
    """The index state now, or None when FTS5 has no structure record yet (an empty table)."""
    row = db.execute(f"SELECT {_state_sql(t)}").fetchone()
    return State(*row) if row[3] is not None else None


def _key(t: str, match: str, st: State) -> tuple:
    return (t, match, st.file, st.root)


def total(db, t: str, match: str, now: State | None) -> int | None:
    """The kept total of `match` for the index state `now`, grown by the hits added since when
    only items were added; None when not kept or no longer exact."""
    if now is None:
        return None
    key = _key(t, match, now)
    kept = COUNT_CACHE.get(key)
    if kept is None:
        return None
    if kept.state[2:] == now[2:]:
        return kept.total
    if t != FTS or kept.state.rewrites != now.rewrites or kept.state.top is None:
        COUNT_CACHE.pop(key, None)
        return None
    # one statement: the hits above the kept top and the state they were counted in
    row = db.execute(f"SELECT (SELECT count(*) FROM {t} WHERE {t} MATCH ? AND rowid > ?), "
                     f"(SELECT count(*) FROM {t}_docsize WHERE id > ?), {_state_sql(t)}",
                     [match, kept.state.top, kept.state.top]).fetchone()
    added, rows_added, grown = row[0], row[1], State(*row[2:])
    if grown.root != kept.state.root or not only_added_above(
            kept.state.rewrites, grown.rewrites, fts_rows(kept.state.averages), grown.averages, rows_added):
        COUNT_CACHE.pop(key, None)   # rows changed below the top (or another file): count again
        return None
    if not _writing(db):
        keep(kept.total + added, grown, match, t)
    return kept.total + added


def remember(db, t: str, match: str, before: State | None, n: int) -> None:
    """Keep `n`, counted between reading `before` and now, if the index did not change meanwhile."""
    if before is None or _writing(db) or state(db, t) != before:
        return
    keep(n, before, match, t)


def _writing(db) -> bool:
    """Inside a write transaction: what it counted may yet be rolled back (and its rowids
    used again by other rows), so nothing is kept."""
    return getattr(db, "conn", db).in_transaction


def keep(n: int, st: State, match: str, t: str) -> None:
    key = _key(t, match, st)
    COUNT_CACHE.pop(key, None)      # re-inserted last: the oldest goes first
    if len(COUNT_CACHE) >= COUNT_CACHE_SIZE:   # (pop's default: another thread may have taken it)
        COUNT_CACHE.pop(next(iter(COUNT_CACHE), None), None)
    COUNT_CACHE[key] = Kept(n, st)
