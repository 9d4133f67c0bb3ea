"""Accounts for administrators: list, create, disable/enable, reset password, API tokens."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import users
from ..errors import ArchiveError
from .common import client_ip, current_map, get_db, roles_required

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
                user = users.create_user(db, form["name"], form["role"], form["unit"], password,
                                         by=current_user.name, ip=client_ip())
            except ArchiveError as e:
                flash(e.message_zh, "error")
                status = 400
            else:
                flash(f"已创建账号 {user.name}（{user.role_label}）", "success")
                return redirect(url_for("admin.users_page"))
    try:
        units = sorted({u for n in current_map().leaves() for u in n.units})
    except ArchiveError:
        units = []
    return render_template("admin/users.html", users=users.list_users(db), form=form,
                           units=units), status


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


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def reset_password(user_id):
    user = _target(user_id)
    password = request.form.get("password", "")
    try:
        users.set_password(get_db(), user.id, password, by=current_user.name, ip=client_ip())
    except ArchiveError as e:
        flash(e.message_zh, "error")
    else:
        flash(f"已重设 {user.name} 的密码", "success")
    return redirect(url_for("admin.users_page"))


@bp.route("/users/<int:user_id>/token", methods=["POST"])
@roles_required("admin")
def issue_token(user_id):
    user = _target(user_id)
    try:
        token = users.issue_token(get_db(), user.id, by=current_user.name, ip=client_ip())
    except ArchiveError as e:
        flash(e.message_zh, "error")
        return redirect(url_for("admin.users_page"))
    # Shown once, never stored in clear; the page is not cached (Cache-Control: no-store).
    return render_template("admin/token.html", user=user, token=token)


@bp.route("/users/<int:user_id>/token/revoke", methods=["POST"])
@roles_required("admin")
def revoke_token(user_id):
    user = _target(user_id)
    users.revoke_token(get_db(), user.id, by=current_user.name, ip=client_ip())
    flash(f"已撤销 {user.name} 的 API 令牌", "success")
    return redirect(url_for("admin.users_page"))
