"""Dashboard: readiness per 测评项目/指标/内容 for an evaluation date (archive.coverage), who
still owes what per unit, links to the gaps; and /api/coverage for other tools.

Thin: the numbers come from `coverage()`; this module only rolls leaf statuses up the tree
and groups missing types by responsible unit for display.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from datetime import date, datetime

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user

from archive.readiness.coverage import STATUS_ZH, compute, load_items, snapshot
from archive.core.errors import ArchiveError
from .common import ALL_ROLES, current_map, date_arg, get_instance, page_args, roles_required

bp = Blueprint("dashboard", __name__)

NO_UNIT = "（未指定责任单位）"


class Snapshot:
    """The items as read once (the domain's `load_items`, in one read transaction)."""

    def __init__(self, version: int, items: list[dict], load_s: float):
        self.version = version
        self.items = items
        self.load_s = load_s
        self.at = time.monotonic()
        self.wall = datetime.now()


class CoverageCache:
    """Coverage reports reused while the archive has not changed.

    `coverage()` reads every item (200–400 ms at 20,000 items). A dashboard is read far more
    often than the archive changes, so the items read once and the reports made from them
    (the domain's `compute`, per date and unit) are kept until the next commit: `PRAGMA
    data_version` on a connection of our own that never writes changes whenever any other
    connection (any thread or process) commits. The version is read before the items, so
    nothing is filed under a version older than what it shows.

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
        self.snap: Snapshot | None = None
        self.reports: "OrderedDict[tuple, tuple[Snapshot, dict]]" = OrderedDict()

    def version(self) -> int:
        with self.lock:
            if self.conn is None:
                self.conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
            return self.conn.execute("PRAGMA data_version").fetchone()[0]

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
        v = self.version()
        with self.lock:
            snap = self.snap if self._usable(self.snap, v, fresh) else None
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
                    snap = self.snap if self._usable(self.snap, v, fresh) else None
                if snap is None:
                    t0 = time.perf_counter()
                    with snapshot(instance.db) as db:
                        items = load_items(db)
                    snap = Snapshot(v, items, time.perf_counter() - t0)
                    with self.lock:
                        self.snap = snap
        report = compute(imap, snap.items, evaluation_date, unit)
        with self.lock:
            self.reports[key] = (snap, report)
            self.reports.move_to_end(key)
            while len(self.reports) > self.MAX_REPORTS:
                self.reports.popitem(last=False)
        return report, snap, snap.version != v


def cached_coverage(evaluation_date: date, unit: str | None, fresh: bool = True):
    inst = get_instance()
    imap = current_map()
    cache = current_app.extensions.get("coverage_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("coverage_cache", CoverageCache(inst.db_path))
    return cache.get(inst, imap, evaluation_date, unit, fresh=fresh)


def evaluation_date_arg(errors: list[str]) -> date:
    """?date= (any spelling a clerk types), default today; a bad date → message + today."""
    raw = request.args.get("date") or request.args.get("evaluation_date")
    return date_arg(raw, errors, "测评日期", "；下面按今天显示。") or date.today()


def rollup(imap, rows: list[dict]) -> list[dict]:
    """Map-ordered display rows: every node with its depth; branches carry the counts of
    their leaves' statuses, leaves their coverage row. Nodes with no leaf in `rows`
    (e.g. filtered out by unit) are left out."""
    by_code = {r["code"]: r for r in rows}
    out = []

    def walk(node, depth):
        if node.is_leaf:
            row = by_code.get(node.code)
            if row is not None:
                out.append({"node": node, "depth": depth, "leaf": row})
                return {row["status"]: 1}
            return {}
        at = len(out)
        counts = {"complete": 0, "partial": 0, "empty": 0}
        for child in node.children:
            for k, v in walk(child, depth + 1).items():
                counts[k] += v
        total = sum(counts.values())
        if total:
            out.insert(at, {"node": node, "depth": depth, "leaf": None, "counts": counts, "total": total})
        return counts

    for root in imap.roots:
        walk(root, 0)
    return out


def owed_by_unit(rows: list[dict], only_unit: str | None = None) -> "OrderedDict[str, list[dict]]":
    """unit → the leaves it is responsible for that still miss a required type."""
    owed: dict[str, list[dict]] = {}
    for r in rows:
        if not r["missing"]:
            continue
        for unit in (r.get("units") or [NO_UNIT]):
            if only_unit and unit != only_unit:
                continue
            owed.setdefault(unit, []).append(r)
    return OrderedDict(sorted(owed.items(), key=lambda kv: (-len(kv[1]), kv[0])))


@bp.route("/dashboard")
@bp.route("/")          # registered first, so url_for() gives "/"
@roles_required(*ALL_ROLES)
def dashboard():
    errors: list[str] = []
    d = evaluation_date_arg(errors)
    try:
        imap = current_map()
    except ArchiveError as e:
        return render_template("dashboard.html", error=e.message_zh, errors=errors, report=None,
                               evaluation_date=d.isoformat(), units=[], unit=None)
    units = sorted({u for n in imap.leaves() for u in n.units})
    # A clerk lands on their own unit; ?unit= (empty) shows every unit.
    if "unit" in request.args:
        unit = request.args.get("unit", "").strip() or None
    else:
        unit = current_user.unit if current_user.role == "clerk" and current_user.unit in units else None
    gaps_only = request.args.get("gaps") == "1"
    report, snap, behind = cached_coverage(d, unit, fresh=request.args.get("fresh") == "1")
    rows = report["indicators"]
    display = rollup(imap, [r for r in rows if not gaps_only or r["status"] != "complete"])
    return render_template("dashboard.html", error=None, errors=errors, report=report, imap=imap,
                           display=display, owed=owed_by_unit(rows, unit), units=units, unit=unit,
                           evaluation_date=d.isoformat(), gaps_only=gaps_only,
                           status_zh=STATUS_ZH, as_of=snap.wall, behind=behind,
                           fresh_args=page_args(("date", "evaluation_date", "unit", "gaps"),
                                                fresh="1")), (400 if errors else 200)


@bp.route("/api/coverage")
@roles_required(*ALL_ROLES)
def api_coverage():
    """?date= (evaluation date, default today), ?unit= → the CONTRACT.md coverage JSON."""
    errors: list[str] = []
    d = evaluation_date_arg(errors)
    if errors:
        return jsonify({"error": errors[0], "status": 400}), 400
    try:
        report, _, _ = cached_coverage(d, request.args.get("unit") or None, fresh=True)
    except ArchiveError as e:
        return jsonify({"error": e.reason, "status": 400}), 400
    return jsonify(report)
