"""Accounts for administrators: list, create, disable/enable, reset password, API tokens."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from archive import users
from archive.core.errors import ArchiveError
from .common import client_ip, current_map, get_db, get_instance, map_units, roles_required
from .errors import errors_back_to

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _target(user_id: int) -> users.User:
    user = users.get_user(get_db(), user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users_page():
    db = get_db()
    form = {}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("name", "role", "unit")}
        password = request.form.get("password", "")
        if password != request.form.get("confirm_password", ""):
            flash("两次输入的密码不一致", "error")
            status = 400
        else:
            try:
                from archive.units.duties import ensure_seeded

                ensure_seeded(get_instance())   # the map's units are in the register first
                user = users.create_user(db, form["name"], form["role"], form["unit"], password,
                                         by=current_user.name, ip=client_ip())
            except ArchiveError as e:
                flash(e.message_zh, "error")
                status = 400
            else:
                flash(f"已创建账号 {user.name}（{user.role_label}）", "success")
                return redirect(url_for("admin.users_page"))
    return render_template("admin/users.html", users=users.list_users(db), form=form,
                           units=map_units()), status


def _users_page() -> str:
    return url_for("admin.users_page")


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@roles_required("admin")
def disable(user_id):
    user = _target(user_id)
    if user.id == current_user.id:
        flash("不能停用自己的账号", "error")
    else:
        users.disable(get_db(), user.id, by=current_user.name, ip=client_ip())
        flash(f"已停用 {user.name}（其 API 令牌同时作废）", "success")
    return redirect(url_for("admin.users_page"))


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@roles_required("admin")
def enable(user_id):
    user = _target(user_id)
    users.enable(get_db(), user.id, by=current_user.name, ip=client_ip())
    flash(f"已启用 {user.name}", "success")
    return redirect(url_for("admin.users_page"))


@bp.route("/users/<int:user_id>/edit", methods=["POST"])
@roles_required("admin")
@errors_back_to(_users_page)
def edit_user(user_id):
    user = _target(user_id)
    role = request.form.get("role", user.role)
    if user.id == current_user.id and role != "admin":
        flash("不能取消自己的管理员角色", "error")
        return redirect(url_for("admin.users_page"))
    updated = users.update_user(get_db(), user.id, role, request.form.get("unit"),
                                by=current_user.name, ip=client_ip())
    flash(f"已更新 {updated.name}：{updated.role_label}{'，' + updated.unit if updated.unit else ''}", "success")
    return redirect(url_for("admin.users_page"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
@errors_back_to(_users_page)
def reset_password(user_id):
    user = _target(user_id)
    own = session.get("sid") if user.id == current_user.id else None   # resetting one's own: stay in
    users.set_password(get_db(), user.id, request.form.get("password", ""), by=current_user.name,
                       ip=client_ip(), keep_session=own)
    flash(f"已重设 {user.name} 的密码", "success")
    return redirect(url_for("admin.users_page"))


@bp.route("/users/<int:user_id>/token", methods=["POST"])
@roles_required("admin")
@errors_back_to(_users_page)
def issue_token(user_id):
    user = _target(user_id)
    token = users.issue_token(get_db(), user.id, by=current_user.name, ip=client_ip())
    # Shown once, never stored in clear; the page is not cached (Cache-Control: no-store).
    return render_template("admin/token.html", user=user, token=token)


@bp.route("/users/<int:user_id>/token/revoke", methods=["POST"])
@roles_required("admin")
def revoke_token(user_id):
    user = _target(user_id)
    users.revoke_token(get_db(), user.id, by=current_user.name, ip=client_ip())
    flash(f"已撤销 {user.name} 的 API 令牌", "success")
    return redirect(url_for("admin.users_page"))


MAP_MAX_BYTES = 2 * 1024 * 1024


@bp.route("/map", methods=["GET", "POST"])
@roles_required("admin")
def map_page():
    """The loaded edition, earlier loads, and loading a new edition (YAML upload). Evidence is
    never deleted: codes that vanish are listed with their item counts."""
    from archive.maps.indicators import MapError, check_map_text, diff_maps, parse_map
    from archive.maps.loading import load_map_text_into

    db = get_db()
    problems, report, diff, status = None, None, None, 200
    if request.method == "POST":
        storage = request.files.get("map")
        data = storage.read(MAP_MAX_BYTES + 1) if storage else b""
        name = (storage.filename if storage else "") or "indicator_map.yaml"
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
        if not data:
            flash("请选择指标体系 YAML 文件", "error")
            status = 400
        elif len(data) > MAP_MAX_BYTES:
            flash("文件过大，不像指标体系 YAML", "error")
            status = 400
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
                flash("文件不是 UTF-8 编码", "error")
                status = 400
            if text is not None:
                problems = [p.format(name) for p in check_map_text(text, name)]
                if problems:
                    status = 400
                elif request.form.get("action") == "check":
                    try:
                        diff = diff_maps(current_map(), parse_map(text, name))
                    except (ArchiveError, MapError):
                        diff = None
                    flash(f"{name} 检查通过，未载入", "success")
                else:
                    try:
                        report = load_map_text_into(get_instance(), text, f"web:{name}",
                                                    current_user.name, ip=client_ip())
                    except ArchiveError as e:
                        flash(e.message_zh, "error")
                        status = 400
                    else:
                        flash("已载入新的指标体系" if report["changed"] else "与当前指标体系相同，未改动",
                              "success")
    history = [dict(zip(("id", "map_id", "edition", "source_path", "loaded_at", "loaded_by"), r))
               for r in db.execute("SELECT id, map_id, edition, source_path, loaded_at, loaded_by "
                                   "FROM maps ORDER BY id DESC LIMIT 50")]
    try:
        imap = current_map()
    except ArchiveError:
        imap = None
    return render_template("admin/map.html", imap=imap, history=history, problems=problems,
                           report=report, diff=diff), status
