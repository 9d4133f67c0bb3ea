"""Several maps and cycles on the web: the map picker (remembered in the session), the list of
maps (admins activate and retire them) and the evaluation cycles (docs/maps.md)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from archive.core.errors import ArchiveError
from archive.cycles.cycles import current_cycle, list_cycles
from archive.maps.loading import active_editions, active_map_ids, list_maps, set_active
from .common import ALL_ROLES, client_ip, get_db, get_instance, roles_required, user_name

bp = Blueprint("maps", __name__)


def _back(default: str) -> str:
    """Where to go after a form: a path on this site only (never another host)."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc \
            and "\\" not in target:
        return target
    return default


@bp.route("/maps/pick", methods=["POST"])
@roles_required(*ALL_ROLES)
def pick():
    """Switch the map this session works in; remembered until changed or logged out."""
    map_id = request.form.get("map_id", "")
    if map_id not in active_map_ids(get_db()):
        flash("没有这个启用中的指标体系", "error")
    else:
        session["map_id"] = map_id
    return redirect(_back(url_for("dashboard.dashboard")))


@bp.route("/maps")
@roles_required(*ALL_ROLES)
def maps_page():
    return render_template("maps/maps.html", maps=list_maps(get_instance()), picked=get_instance().map_id)


@bp.route("/maps/<map_id>/state", methods=["POST"])
@roles_required("admin")
def set_state(map_id):
    action = request.form.get("action")
    if action not in ("activate", "retire"):
        abort(400)
    try:
        r = set_active(get_instance(), map_id, action == "activate", user=user_name(), ip=client_ip())
    except ArchiveError as e:
        flash(e.message_zh, "error")
        return redirect(url_for("maps.maps_page")), 303
    if r["changed"]:
        flash(f"已{'启用' if r['active'] else '停用'}指标体系 {r['id']}", "success")
    return redirect(url_for("maps.maps_page")), 303


@bp.route("/cycles")
@roles_required(*ALL_ROLES)
def cycles_page():
    return render_template("maps/cycles.html", cycles=list_cycles(get_db()))


@bp.app_context_processor
def inject_maps():
    def map_choices():
        """(active map ids with editions, the picked one) for the picker in the top bar."""
        from flask_login import current_user
        if not current_user.is_authenticated:
            return [], None
        inst = get_instance()
        return [{"id": m, "edition": e} for m, e in active_editions(inst.db)], inst.map_id

    def cycle_now():
        from flask_login import current_user
        if not current_user.is_authenticated:
            return None
        return current_cycle(get_db())

    return {"map_choices": map_choices, "cycle_now": cycle_now}
