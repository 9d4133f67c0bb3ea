"""Coverage reports reused while the archive has not changed (the dashboard, /api/coverage,
and any long-lived caller: one cache per process and instance)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import date, datetime

from archive.core.sqlite import sqlite3
from archive.core.dates import BEIJING
from .coverage import compute, compute_counts, load_counts, load_items, snapshot


class Snapshot:
    """The archive's counts for one map and evaluation date as read once (`load_counts`, in
    one read transaction), or its items when the counts cannot be used (`load_items`)."""

    def __init__(self, version: int, counted, items: list[dict] | None, load_s: float):
        self.version = version
        self.counted = counted
        self.items = items
        self.load_s = load_s
        self.at = time.monotonic()
        self.wall = datetime.now(BEIJING)   # shown to users: 北京时间, whatever the server zone


class CoverageCache:
    """Coverage reports reused while the archive has not changed.

    `coverage()` counts every live item of the map (SQLite's GROUP BY: tens of ms at 20,000
    items, where reading them one dict each took 200–400 ms). A dashboard is read far more
    often than the archive changes, so the counts read once per map and date and the reports
    made from them (per unit) are kept until the next commit: `PRAGMA data_version` on a
    connection of our own that never writes changes whenever any other connection (any
    thread or process) commits — that is why the cache holds its own connection. The version
    is read before the items, so nothing is filed under a version older than what it shows.

    While material is pouring in (deadline day) every request would read everything again;
    so when reading the items was slow (≥ SLOW_LOAD_S), a page may show a snapshot up to
    MAX_STALE_S old. The page then says so, with its time and a link that reads afresh
    (`fresh=True`). Small archives, the API and `fresh` are always exact."""

    MAX_REPORTS = 64
    SLOW_LOAD_S = 0.15
    MAX_STALE_S = 10.0

    def __init__(self, db_path):
        self.db_path = str(db_path)
        self.lock = threading.Lock()
        self.load_lock = threading.Lock()
        self.conn: sqlite3.Connection | None = None
        self.snaps: "OrderedDict[tuple, Snapshot]" = OrderedDict()   # per (map id, date)
        self.reports: "OrderedDict[tuple, tuple[Snapshot, dict]]" = OrderedDict()

    def version(self) -> int:
        with self.lock:
            if self.conn is None:
                self.conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
            return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def _usable(self, snap: Snapshot | None, v: int, fresh: bool) -> bool:
        if snap is None:
            return False
        if snap.version == v:
            return True
        return (not fresh and snap.load_s >= self.SLOW_LOAD_S
                and time.monotonic() - snap.at <= self.MAX_STALE_S)

    def get(self, instance, imap, evaluation_date: date, unit: str | None,
            fresh: bool = True) -> tuple[dict, Snapshot, bool]:
        """→ (report, the snapshot it was made from, whether that snapshot is behind)."""
        key = (id(imap), evaluation_date.isoformat(), unit)
        skey = (imap.id, evaluation_date.isoformat())
        v = self.version()
        with self.lock:
            snap = self.snaps.get(skey)
            snap = snap if self._usable(snap, v, fresh) else None
            hit = self.reports.get(key)
            if snap is not None and hit is not None and hit[0] is snap:
                self.reports.move_to_end(key)
                return hit[1], snap, snap.version != v
        if snap is None:
            # One reader at a time: requests arriving while the items are read wait for that
            # read and share it instead of each reading every row again.
            with self.load_lock:
                v = self.version()
                with self.lock:
                    snap = self.snaps.get(skey)
                    snap = snap if self._usable(snap, v, fresh) else None
                if snap is None:
                    t0 = time.perf_counter()
                    items = None
                    with snapshot(instance.db) as db:
                        counted = load_counts(db, imap, evaluation_date)
                        if counted is None:
                            items = load_items(db, map_id=imap.id)
                    snap = Snapshot(v, counted, items, time.perf_counter() - t0)
                    with self.lock:
                        self.snaps[skey] = snap
                        self.snaps.move_to_end(skey)
                        while len(self.snaps) > self.MAX_REPORTS:
                            self.snaps.popitem(last=False)
        if snap.counted is not None:
            report = compute_counts(imap, *snap.counted, evaluation_date, unit)
        else:
            report = compute(imap, snap.items, evaluation_date, unit)
        with self.lock:
            self.reports[key] = (snap, report)
            self.reports.move_to_end(key)
            while len(self.reports) > self.MAX_REPORTS:
                self.reports.popitem(last=False)
        return report, snap, snap.version != v
