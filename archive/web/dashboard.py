"""Dashboard: readiness per 测评项目/指标/内容 for an evaluation date (archive.coverage), who
still owes what per unit, links to the gaps; and /api/coverage for other tools.

Thin: the numbers come from `coverage()`; this module only rolls leaf statuses up the tree
and groups missing types by responsible unit for display.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import date

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user

from ..coverage import STATUS_ZH, coverage
from ..dates import parse_date
from ..errors import ArchiveError
from .common import ALL_ROLES, current_map, get_instance, roles_required

bp = Blueprint("dashboard", __name__)

NO_UNIT = "（未指定责任单位）"


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
    report = coverage(get_instance(), d, unit=unit)
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
        report = coverage(get_instance(), d, unit=request.args.get("unit") or None)
    except ArchiveError as e:
        return jsonify({"error": e.reason, "status": 400}), 400
    return jsonify(report)
