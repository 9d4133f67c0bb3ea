"""JSON API for other tools and the upload page: items (list, one, upload one file).

Auth: a session (then POST needs the X-CSRFToken header) or `Authorization: Bearer TOKEN`
(an admin issues tokens on the users page; token requests skip CSRF).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from archive.core import audit
from archive.evidence import items as items_mod
from archive.core.db import transaction
from archive.core.errors import ArchiveError
from archive.evidence.ingest import IngestRequest, ingest_files
from .common import (ALL_ROLES, EDIT_ROLES, client_ip, current_map, form_codes, get_db, get_instance,
                     int_arg, roles_required, save_upload, sees_audit)
from archive.maps.loading import resolve_code
from archive.readiness.photochecks import annotate

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.route("/items", methods=["GET"])
@roles_required(*ALL_ROLES)
def list_items():
    """?code= (a node: its whole subtree), ?unit=, ?review_state=, ?deleted=1, ?limit= (≤ 500), ?offset=."""
    code = request.args.get("code")
    code_in, map_id = None, None
    if code:
        try:
            imap, node = resolve_code(get_instance(), code)
        except ArchiveError as e:
            return jsonify({"error": str(e)}), 400
        if node is None:
            return jsonify({"error": f"未知的指标编号 {code} (unknown code)"}), 400
        code_in, map_id = [n.code for n in node.leaves()], imap.id
    limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 500)
    offset = int_arg("offset", 0, 0, 10_000_000)
    rows = items_mod.list_items(get_db(), code_in=code_in, map_id=map_id, unit=request.args.get("unit") or None,
                                review_state=request.args.get("review_state") or None,
                                include_deleted=request.args.get("deleted") == "1",
                                limit=limit, offset=offset)
    return jsonify({"items": rows, "limit": limit, "offset": offset})


@bp.route("/items/<int:item_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
def get_item(item_id):
    return jsonify(items_mod.item_detail(get_instance(), item_id, history=sees_audit()))  # NotFound → 404


@bp.route("/items", methods=["POST"])
@roles_required(*EDIT_ROLES)
def upload():
    """One file per request (multipart field `file`) with `code` (repeatable or `;`-separated),
    `type`, `date`, `unit`, `title`. Clerks' uploads always carry their own unit.
    201 added, 200 duplicate (new codes added to it), 422 refused; body is the CLI's JSON shape."""
    storage = request.files.get("file")
    if storage is None:
        return jsonify({"error": "缺少文件字段 file (missing file)"}), 400
    unit = request.form.get("unit") or None
    if current_user.role == "clerk":
        unit = current_user.unit
    path, name = save_upload(storage)
    try:
        req = IngestRequest(path=path, codes=form_codes(request.form),
                            material_type=request.form.get("type", "").strip(),
                            date=request.form.get("date") or None, unit=unit,
                            title=request.form.get("title") or None, original_name=name, display=name)
        try:
            result = ingest_files(get_instance(), [req], user=current_user.name, ip=client_ip(),
                                  only_unit=unit if current_user.role == "clerk" else None)
        except ArchiveError as e:  # e.g. no map loaded: the whole request is refused
            result = None
            body = {"added": [], "duplicates": [], "refused": [{"path": name, "reason": e.reason}]}
    finally:
        path.unlink(missing_ok=True)
    if result is not None:
        body = result.as_json()
    if body["refused"]:
        # ingest records what it stores; a refused upload attempt is recorded here.
        db = get_db()
        with transaction(db):
            audit.log(db, current_user.name, "item.refused", None,
                      {"name": name, "reason": body["refused"][0]["reason"]}, client_ip())
    annotate(get_instance(), body["added"] + body["duplicates"])   # photo checks: window, dates, reuse
    for row in body["added"] + body["duplicates"]:
        row["url"] = url_for("evidence.item", item_id=row["id"])
    for row in body["added"]:   # kept, but no package takes it until it has a date: say so now
        if items_mod.is_undated(get_db(), row["id"]):
            row["warning"] = items_mod.NO_DATE_WARNING
    status = 201 if body["added"] else 200 if body["duplicates"] else 422
    return jsonify(body), status
