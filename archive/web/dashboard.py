"""Dashboard: readiness per 测评项目/指标/内容 for an evaluation date (archive.coverage), who
still owes what per unit, links to the gaps; and /api/coverage for other tools.

Thin: the numbers come from archive.readiness (coverage, its cache, the roll-ups up the tree
and by responsible unit); this module parses the request and renders.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from archive.readiness.cache import CoverageCache
from archive.readiness.coverage import STATUS_ZH
from archive.readiness.rollup import owed_by_unit, rollup
from archive.core.dates import today_beijing
from archive.core.errors import ArchiveError
from archive.evidence import items as items_mod
from archive.maps.loading import active_map_ids
from .common import ALL_ROLES, current_map, date_arg, get_instance, page_args, roles_required

bp = Blueprint("dashboard", __name__)


def cached_coverage(evaluation_date: date, unit: str | None, fresh: bool = True):
    inst = get_instance()
    imap = current_map()
    cache = current_app.extensions.get("coverage_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("coverage_cache", CoverageCache(inst.db_path))
    return cache.get(inst, imap, evaluation_date, unit, fresh=fresh)


def evaluation_date_arg(errors: list[str]) -> date:
    """?date= (any spelling a clerk types), default the current cycle's evaluation date (for
    the picked map), else today; a bad date → message + that default."""
    from archive.cycles.cycles import current_evaluation_date

    raw = request.args.get("date") or request.args.get("evaluation_date")
    picked = get_instance().map_id
    default = current_evaluation_date(get_instance().db, picked)
    default = date.fromisoformat(default) if default else today_beijing()
    return date_arg(raw, errors, "测评日期", "；下面按默认日期显示。") or default


@bp.route("/dashboard")
@bp.route("/")          # registered first, so url_for() gives "/"
@roles_required(*ALL_ROLES)
def dashboard():
    if request.args.get("cycle"):
        return cycle_dashboard(request.args.get("cycle", ""))
    errors: list[str] = []
    d = evaluation_date_arg(errors)
    try:
        imap = current_map()
    except ArchiveError as e:
        return render_template("dashboard.html", error=e.message_zh, errors=errors, report=None,
                               evaluation_date=d.isoformat(), units=[], unit=None)
    units = imap.units()
    # A clerk lands on their own unit; ?unit= (empty) shows every unit.
    if "unit" in request.args:
        unit = request.args.get("unit", "").strip() or None
    else:
        unit = current_user.unit if current_user.role == "clerk" and current_user.unit in units else None
    gaps_only = request.args.get("gaps") == "1"
    report, snap, behind = cached_coverage(d, unit, fresh=request.args.get("fresh") == "1")
    rows = report["indicators"]
    display = rollup(imap, [r for r in rows if not gaps_only or r["status"] != "complete"])
    undated = items_mod.undated_items(get_instance().db, unit)
    return render_template("dashboard.html", error=None, errors=errors, report=report, imap=imap,
                           undated=undated,
                           display=display, owed=owed_by_unit(rows, unit), units=units, unit=unit,
                           evaluation_date=d.isoformat(), gaps_only=gaps_only,
                           status_zh=STATUS_ZH, as_of=snap.wall, behind=behind,
                           fresh_args=page_args(("date", "evaluation_date", "unit", "gaps"),
                                                fresh="1")), (400 if errors else 200)


def cycle_dashboard(ref: str):
    """An earlier cycle, read-only: coverage from its pinned edition and frozen items. An
    open cycle is the live dashboard at its date."""
    from archive.cycles.cycles import get_cycle
    from archive.cycles.packages import cycle_coverage, cycle_map
    from archive.maps.loading import get_edition

    inst = get_instance()
    try:
        cycle, entry = cycle_map(inst, ref, request.args.get("map") or None)
    except ArchiveError:
        try:
            cycle = get_cycle(inst.db, ref)
        except ArchiveError as e:
            abort(404, e.message_zh)
        entry = cycle["maps"][0] if cycle["maps"] else None
        if entry is None:
            abort(404)
    if not cycle["read_only"]:
        if entry["map_id"] in active_map_ids(inst.db):
            session["map_id"] = entry["map_id"]
        return redirect(url_for("dashboard.dashboard", date=entry["evaluation_date"]))
    unit = request.args.get("unit", "").strip() or None
    report = cycle_coverage(inst, cycle["id"], map_id=entry["map_id"], unit=unit)
    imap = get_edition(inst, entry["edition_id"])
    units = sorted({u for n in imap.leaves() for u in n.units})
    gaps_only = request.args.get("gaps") == "1"
    rows = report["indicators"]
    display = rollup(imap, [r for r in rows if not gaps_only or r["status"] != "complete"])
    return render_template("dashboard.html", error=None, errors=[], report=report, imap=imap,
                           display=display, owed=owed_by_unit(rows, unit), units=units, unit=unit,
                           evaluation_date=report["evaluation_date"], gaps_only=gaps_only,
                           status_zh=STATUS_ZH, as_of=datetime.now(), behind=False, fresh_args={},
                           cycle=cycle, cycle_map_id=entry["map_id"])


@bp.route("/api/coverage")
@roles_required(*ALL_ROLES)
def api_coverage():
    """?date= (evaluation date, default today), ?unit= → the CONTRACT.md coverage JSON."""
    errors: list[str] = []
    d = evaluation_date_arg(errors)
    if errors:
        return jsonify({"error": errors[0], "status": 400}), 400
    report, _, _ = cached_coverage(d, request.args.get("unit") or None, fresh=True)  # no map → 400 JSON
    return jsonify(report)
