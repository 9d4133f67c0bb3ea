"""Evidence pages: the indicator tree, indicator pages, upload, item pages, download, previews.

Thin: reads and writes go through archive.items / archive.ingest; this module only checks
roles and the clerk's unit, parses forms and renders.
"""
from __future__ import annotations

from archive.core.dates import today_beijing
from pathlib import Path

from flask import (Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, session,
                   url_for)
from flask_login import current_user

from archive.core.errors import ArchiveError
from archive.evidence import items as items_mod
from archive.readiness.photochecks import photo_warnings
from archive.maps.loading import evidence_counts
from archive.maps.lookup import leaf_json, search_leaves
from archive.readiness.coverage import leaf_coverage
from archive.maps.loading import active_map_ids, split_qualified
from .common import (ALL_ROLES, EDIT_ROLES, MAX_PAGE_NUMBER, can_edit_unit, client_ip, current_map,
                     date_arg, form_codes, get_db, get_instance, int_arg, map_units,
                     require_edit_unit, roles_required, save_upload, sees_audit, set_attachment)
from .errors import errors_back_to
from archive.extract.ocr import split_recognised
from .previews import ledger_rows, preview_kind, thumbnail, upload_accept

bp = Blueprint("evidence", __name__)


# -- helpers ----------------------------------------------------------------------------

def subtree_counts(db, imap, under=None) -> dict[str, int]:
    """code → distinct live items in the node's subtree (an item on two leaves counts once);
    `under`: that node's subtree only."""
    return evidence_counts(db, imap, under)


ITEMS_PAGE = 200


def load_item(item_id: int, history: bool = False) -> dict:
    return items_mod.item_detail(get_instance(), item_id, history=history)   # NotFound → 404


# -- pages ------------------------------------------------------------------------------

@bp.route("/tree")
@roles_required(*ALL_ROLES)
def home():
    """The indicator tree with evidence counts (the home page `/` is the dashboard)."""
    db = get_db()
    try:
        imap = current_map()
    except ArchiveError as e:
        return render_template("tree.html", imap=None, error=e.message_zh)
    counts = subtree_counts(db, imap)
    return render_template("tree.html", imap=imap, counts=counts, error=None)


@bp.route("/indicators/<code>")
@roles_required(*ALL_ROLES)
def indicator(code):
    map_id, bare = split_qualified(code)
    if map_id is not None:   # `wcn-2024-sample:Ⅲ—5` (an item's code in another map): switch to it
        if map_id not in active_map_ids(get_db()):
            abort(404)
        session["map_id"] = map_id
        return redirect(url_for("evidence.indicator", code=bare))
    imap = current_map()
    node = imap.find(code)
    if node is None:
        abort(404)
    if node.code != code:
        return redirect(url_for("evidence.indicator", code=node.code))
    db = get_db()
    leaf_codes = [n.code for n in node.leaves()]
    errors: list[str] = []
    evaluation_date = date_arg(request.args.get("date"), errors, "测评日期", "；下面按今天显示。") or today_beijing()
    if node.is_leaf:   # window-aware, as the dashboard and the package judge it
        row, windows = leaf_coverage(get_instance(), node.code, evaluation_date)
        present, required, missing = row["present_counts"], row["required"], row["missing"]
    else:
        row, windows = None, None
        present, required, missing = items_mod.types_present(db, leaf_codes, imap.id), [], []
    show_deleted = request.args.get("deleted") == "1"
    page = int_arg("page", 1, 1, MAX_PAGE_NUMBER)
    total = items_mod.count_items(db, leaf_codes, show_deleted, map_id=imap.id)
    rows = items_mod.list_items(db, code_in=leaf_codes, map_id=imap.id, include_deleted=show_deleted,
                                limit=ITEMS_PAGE, offset=(page - 1) * ITEMS_PAGE)
    counts = subtree_counts(db, imap, node) if not node.is_leaf else {}
    return render_template("indicator.html", node=node, present=present, required=required,
                           missing=missing, items=rows, counts=counts, show_deleted=show_deleted,
                           total=total, page=page, page_size=ITEMS_PAGE, row=row, windows=windows,
                           evaluation_date=evaluation_date, errors=errors)


@bp.route("/upload")
@roles_required(*EDIT_ROLES)
def upload():
    imap = current_map()
    preset = [imap.find(c) for c in request.args.getlist("code")]
    preset = [leaf_json(n) for n in preset if n is not None and n.is_leaf]
    preset_type = request.args.get("type") if request.args.get("type") in imap.material_types else None
    return render_template("upload.html", material_types=imap.material_types, preset=preset,
                           preset_type=preset_type, units=map_units(), limits=get_instance().limits,
                           accept=upload_accept())


@bp.route("/items/<int:item_id>")
@roles_required(*ALL_ROLES)
def item(item_id):
    detail = load_item(item_id, history=sees_audit())
    pk = preview_kind(detail["kind"])
    table = ledger_rows(items_mod.item_text(get_db(), item_id)) if pk == "ledger" else None
    own, recognised = split_recognised(items_mod.item_text(get_db(), item_id))
    text_excerpt = own[:1500] if pk != "ledger" else None
    ocr_excerpt = (recognised or "")[:1500]
    imap = current_map()
    warnings = photo_warnings(get_instance(), [item_id]).get(item_id, [])
    return render_template("item.html", item=detail, preview=pk, table=table, text_excerpt=text_excerpt,
                           ocr_excerpt=ocr_excerpt,
                           editable=can_edit_unit(detail["unit"]),
                           material_types=imap.material_types, photo_warnings=warnings)


def _send_stored(sha256: str, name: str, kind: str, fallback: str | None = None):
    inst = get_instance()
    try:
        path = inst.store.path(sha256)      # derived from the DB's sha256, never from the request
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    resp = send_file(path, as_attachment=True, download_name=name, max_age=0, conditional=True,
                     mimetype=None if Path(name).suffix else "application/octet-stream")
    resp.headers["Cache-Control"] = "private, no-store"
    return set_attachment(resp, name, fallback or f"file{_ascii_suffix(name)}")


def _ascii_suffix(name: str) -> str:
    suffix = Path(name).suffix
    return suffix.lower() if suffix.isascii() and suffix[1:].isalnum() else ""


def _version(detail: dict, version: int | None) -> dict:
    """The current file (version None) or the n-th version (1-based, oldest first)."""
    if version is None:
        return {"sha256": detail["sha256"], "original_name": detail["original_name"], "kind": detail["kind"]}
    if not 1 <= version <= len(detail["versions"]):
        abort(404)
    return detail["versions"][version - 1]


@bp.route("/items/<int:item_id>/download")
@roles_required(*ALL_ROLES)
def download(item_id):
    detail = load_item(item_id)
    version = request.args.get("version", type=int)
    v = _version(detail, version)
    items_mod.record_download(get_instance(), item_id, v["sha256"], current_user.name, client_ip())
    fallback = f"item-{item_id}{f'-v{version}' if version else ''}{_ascii_suffix(v['original_name'])}"
    return _send_stored(v["sha256"], v["original_name"], v["kind"], fallback)


@bp.route("/items/<int:item_id>/thumb")
@roles_required(*ALL_ROLES)
def thumb(item_id):
    detail = load_item(item_id)
    v = _version(detail, request.args.get("version", type=int))
    path = thumbnail(get_instance(), v["sha256"], v["kind"])
    if path is None:
        abort(404)
    resp = send_file(path, mimetype="image/jpeg", max_age=0, conditional=True)
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


# -- edits (clerks: own unit only; auditors never) --------------------------------------

def _editable_item(item_id: int) -> dict:
    item = items_mod.get_item(get_db(), item_id)      # NotFound → 404
    require_edit_unit(item["unit"])
    return item


@bp.route("/items/<int:item_id>/codes", methods=["POST"])
@roles_required(*EDIT_ROLES)
@errors_back_to("evidence.item")
def edit_codes(item_id):
    _editable_item(item_id)
    codes = form_codes(request.form)
    if not codes:
        flash("至少保留一个指标编号", "error")
    else:
        saved = items_mod.set_codes(get_instance(), item_id, codes, user=current_user.name, ip=client_ip())
        flash("指标编号已更新：" + "、".join(saved), "success")
    return redirect(url_for("evidence.item", item_id=item_id))


@bp.route("/items/<int:item_id>/meta", methods=["POST"])
@roles_required(*EDIT_ROLES)
@errors_back_to("evidence.item")
def edit_meta(item_id):
    _editable_item(item_id)
    unit = request.form.get("unit")
    if current_user.role == "clerk":
        unit = None  # a clerk cannot move an item to another unit
    changes = items_mod.update_metadata(
        get_instance(), item_id, title=request.form.get("title"), unit=unit,
        date=request.form.get("date"), material_type=request.form.get("type") or None,
        user=current_user.name, ip=client_ip())
    flash("信息已保存" if changes else "没有改动", "success" if changes else "info")
    return redirect(url_for("evidence.item", item_id=item_id))


@bp.route("/items/<int:item_id>/replace", methods=["POST"])
@roles_required(*EDIT_ROLES)
@errors_back_to("evidence.item", prefix="未替换：", reason=True)
def replace(item_id):
    _editable_item(item_id)
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        flash("请选择要替换的新文件", "error")
        return redirect(url_for("evidence.item", item_id=item_id))
    path, name = save_upload(storage)
    try:
        items_mod.replace_file(get_instance(), item_id, path, original_name=name,
                               user=current_user.name, ip=client_ip())
    finally:
        path.unlink(missing_ok=True)
    flash("已上传新版本，旧版本仍保留在“版本”中", "success")
    return redirect(url_for("evidence.item", item_id=item_id))


@bp.route("/items/<int:item_id>/delete", methods=["POST"])
@roles_required(*EDIT_ROLES)
def delete(item_id):
    _editable_item(item_id)
    items_mod.soft_delete(get_instance(), item_id, user=current_user.name, ip=client_ip())
    flash("材料已删除（可恢复）", "success")
    return redirect(url_for("evidence.item", item_id=item_id))


@bp.route("/items/<int:item_id>/restore", methods=["POST"])
@roles_required(*EDIT_ROLES)
def restore(item_id):
    _editable_item(item_id)
    items_mod.restore(get_instance(), item_id, user=current_user.name, ip=client_ip())
    flash("材料已恢复", "success")
    return redirect(url_for("evidence.item", item_id=item_id))


# -- the tree picker --------------------------------------------------------------------

@bp.route("/api/indicators")
@roles_required(*ALL_ROLES)
def api_indicators():
    """Leaves matching ?q= (code, lenient, or Chinese name); ?limit= (≤ 1000)."""
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 1000)
    imap = current_map()
    return jsonify({"edition": imap.edition,
                    "leaves": search_leaves(imap, request.args.get("q", ""), limit)})
