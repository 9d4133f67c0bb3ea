"""Dashboard: readiness per 测评项目/指标/内容 for an evaluation date (archive.coverage), who
still owes what per unit, links to the gaps; and /api/coverage for other tools.

Thin: the numbers come from `coverage()`; this module only rolls leaf statuses up the tree
and groups missing types by responsible unit for display.
"""
from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from datetime import date

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user

from ..coverage import STATUS_ZH, compute, load_items, snapshot
from ..dates import parse_date
from ..errors import ArchiveError
from .common import ALL_ROLES, current_map, get_instance, roles_required

bp = Blueprint("dashboard", __name__)

NO_UNIT = "（未指定责任单位）"


class CoverageCache:
    """Coverage reports reused while the archive has not changed.

    `coverage()` reads every item (≈ 200 ms at 20,000 items). A dashboard is read far more
    often than the archive changes between two reads, so the items read once (the domain's
    `load_items`, in one snapshot) and the reports made from them (`compute`, per date and
    unit) are kept and thrown away on any commit: `PRAGMA data_version` on a connection of
    our own that never writes changes whenever any other connection (any thread or
    process) commits. The version is read before the items, so nothing is ever filed under
    a version older than what it shows."""

    MAX_REPORTS = 64

    def __init__(self, db_path):
        self.db_path = str(db_path)
        self.lock = threading.Lock()
        self.load_lock = threading.Lock()
        self.conn: sqlite3.Connection | None = None
        self.items: tuple[int, list[dict]] | None = None
        self.reports: "OrderedDict[tuple, tuple[int, dict]]" = OrderedDict()

    def version(self) -> int:
        with self.lock:
            if self.conn is None:
                self.conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
            return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def get(self, instance, imap, evaluation_date: date, unit: str | None) -> dict:
        key = (id(imap), evaluation_date.isoformat(), unit)
        v = self.version()
        with self.lock:
            hit = self.reports.get(key)
            if hit is not None and hit[0] == v:
                self.reports.move_to_end(key)
                return hit[1]
            items = self.items[1] if self.items is not None and self.items[0] == v else None
        if items is None:
            # One reader at a time: requests arriving while the items are read wait for that
            # read and share it instead of each reading 20,000 rows.
            with self.load_lock:
                v = self.version()
                with self.lock:
                    items = self.items[1] if self.items is not None and self.items[0] == v else None
                if items is None:
                    with snapshot(instance.db) as db:
                        items = load_items(db)
                    with self.lock:
                        self.items = (v, items)
        report = compute(imap, items, evaluation_date, unit)
        with self.lock:
            self.reports[key] = (v, report)
            self.reports.move_to_end(key)
            while len(self.reports) > self.MAX_REPORTS:
                self.reports.popitem(last=False)
        return report


def cached_coverage(evaluation_date: date, unit: str | None) -> dict:
    inst = get_instance()
    imap = current_map()
    cache = current_app.extensions.get("coverage_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("coverage_cache", CoverageCache(inst.db_path))
    return cache.get(inst, imap, evaluation_date, unit)


def evaluation_date_arg(errors: list[str]) -> date:
    """?date= (any spelling a clerk types), default today; a bad date → message + today."""
    raw = (request.args.get("date") or request.args.get("evaluation_date") or "").strip()
    if not raw:
        return date.today()
    try:
        d = parse_date(raw)
    except ArchiveError:
        d = None
    if d is None:
        errors.append(f"测评日期“{raw}”无法识别，请用 YYYY-MM-DD 格式；下面按今天显示。")
        return date.today()
    return d


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
    report = cached_coverage(d, unit)
    rows = report["indicators"]
    display = rollup(imap, [r for r in rows if not gaps_only or r["status"] != "complete"])
    return render_template("dashboard.html", error=None, errors=errors, report=report, imap=imap,
                           display=display, owed=owed_by_unit(rows, unit), units=units, unit=unit,
                           evaluation_date=d.isoformat(), gaps_only=gaps_only,
                           status_zh=STATUS_ZH), (400 if errors else 200)


@bp.route("/api/coverage")
@roles_required(*ALL_ROLES)
def api_coverage():
    """?date= (evaluation date, default today), ?unit= → the CONTRACT.md coverage JSON."""
    errors: list[str] = []
    d = evaluation_date_arg(errors)
    if errors:
        return jsonify({"error": errors[0], "status": 400}), 400
    try:
        report = cached_coverage(d, request.args.get("unit") or None)
    except ArchiveError as e:
        return jsonify({"error": e.reason, "status": 400}), 400
    return jsonify(report)
