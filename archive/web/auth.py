"""Sessions and tokens: login (throttled), logout, change password; CSRF on every
state-changing request except those authenticated by an API token."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (Blueprint, flash, g, jsonify, redirect, render_template, request, session, url_for)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from archive.core import audit
from archive import users
from archive.core.db import transaction
from archive.core.errors import ArchiveError
from . import csrf
from .common import ALL_ROLES, client_ip, get_db, public, roles_required

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class WebUser(UserMixin):
    """A flask-login user wrapping archive.users.User."""

    def __init__(self, user: users.User, via_token: bool = False):
        self.user = user
        self.via_token = via_token

    def get_id(self):
        return str(self.user.id)

    def __getattr__(self, name):  # name, role, unit, role_label ...
        return getattr(self.user, name)

    @property
    def is_active(self):
        return not self.user.disabled


SESSION_KEY = "sid"     # the session cookie's server-side session token (users.open_session)


@login_manager.user_loader
def load_user(user_id: str):
    """The user of a session only while its server-side session row lives: logout, a password
    change, a role change or disabling the account end it, so a replayed cookie is refused."""
    if g.get("token_user") is not None:
        return g.token_user
    user = users.session_user(get_db(), session.get(SESSION_KEY))
    if user is None or str(user.id) != str(user_id):
        return None
    return WebUser(user)


@login_manager.request_loader
def load_user_from_request(req):
    return g.get("token_user")


@login_manager.unauthorized_handler
def unauthorized():
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": "未登录或令牌无效 (unauthorized)"}), 401
    flash("请先登录", "info")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def init_app(app) -> None:
    login_manager.init_app(app)

    @app.before_request
    def token_auth_and_csrf():
        token = _bearer_token()
        if token is not None:
            user = users.user_for_token(get_db(), token)
            if user is None:
                return jsonify({"error": "令牌无效或已撤销 (bad token)"}), 401
            g.token_user = WebUser(user, via_token=True)
            # A cross-site page cannot set an Authorization header, so token requests
            # cannot be forged by a browser: they alone skip the CSRF check.
            return None
        if request.method in UNSAFE_METHODS and app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return None


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        # Browsers drop tabs/newlines and read "\" as "/": "/\t/evil" or "/\\evil" would leave the site.
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target and not any(c.isspace() or ord(c) < 32 for c in target):
            return target
    return url_for("dashboard.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    status = 200
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        try:
            user = users.login(get_db(), name, password, ip=client_ip())
        except ArchiveError as e:
            flash(e.message_zh, "error")
            status = 429 if e.key == "login locked" else 401
        else:
            session[SESSION_KEY] = users.open_session(get_db(), user.id, client_ip())
            login_user(WebUser(user))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", name=name), status


@bp.route("/logout", methods=["POST"])
@roles_required(*ALL_ROLES)
def logout():
    db = get_db()
    with transaction(db):
        audit.log(db, current_user.name, "logout", ip=client_ip())
    users.close_session(db, session.pop(SESSION_KEY, None))
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def change_password():
    if request.method == "POST":
        db = get_db()
        old = request.form.get("old_password", "")
        new = request.form.get("new_password", "")
        confirm = request.form.get("confirm_password", "")
        if users.authenticate(db, current_user.name, old) is None:
            flash("原密码不正确", "error")
        elif new != confirm:
            flash("两次输入的新密码不一致", "error")
        else:
            try:
                users.set_password(db, current_user.id, new, by=current_user.name, ip=client_ip(),
                                   keep_session=session.get(SESSION_KEY))   # other sessions end
            except ArchiveError as e:
                flash(e.message_zh, "error")
            else:
                flash("密码已修改", "success")
                return redirect(url_for("dashboard.dashboard"))
        return render_template("auth/password.html"), 400
    return render_template("auth/password.html")
