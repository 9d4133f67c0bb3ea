"""Chinese error pages (HTML) and JSON errors for /api/ and scripts.

One handler turns any `ArchiveError` a view lets through into the answer: NotFound → 404,
Refusal → 422, UsageError (and any other ArchiveError) → 400; JSON `{"error": reason,
"status"}` for /api/ and XHR, else the Chinese error page. A form whose error belongs back
on the page it came from marks its view with `@errors_back_to(...)`: the handler then
flashes the message there (a missing item is still a 404).
"""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from archive.core.errors import ArchiveError, NotFound, Refusal

MESSAGES = {
    400: ("请求有误", "提交的内容不完整或格式不对，请返回上一页检查后重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("没有权限", "您的账号角色无权执行此操作或查看此页面。如需权限，请联系管理员。"),
    404: ("页面不存在", "您要找的页面或材料不存在，可能已被移动，或链接有误。"),
    422: ("无法处理", "提交的文件或内容被拒收。"),
    405: ("不支持的操作", "此页面不支持这种请求方式。"),
    413: ("文件太大", "上传的内容超过了允许的大小上限 {limit}。请拆分或压缩后再上传。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "处理请求时出错，已记录。请稍后重试；如果反复出现，请联系管理员。"),
}


def _human_bytes(n: int | None) -> str:
    if not n:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return str(n)


def wants_json() -> bool:
    return (request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"
            or request.headers.get("X-Requested-With") == "XMLHttpRequest")


def status_for(e: ArchiveError) -> int:
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, Refusal):
        return 422
    return 400


def errors_back_to(target, prefix: str = "", reason: bool = False):
    """Marks a form view: an ArchiveError it raises is flashed (`prefix` + the Chinese message,
    or with its English key when `reason`) on the page `target` names — an endpoint built
    with the view's own URL arguments, or a callable returning the URL."""
    def deco(view):
        view.archive_error_back = (target, prefix, reason)
        return view
    return deco


def _back_url(target) -> str:
    if callable(target):
        return target()
    return url_for(target, **(request.view_args or {}))


def render_error(code: int, detail: str | None = None):
    from flask import current_app

    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    message = message.format(limit=_human_bytes(current_app.config.get("MAX_CONTENT_LENGTH")))
    if wants_json():
        return jsonify({"error": f"{title}：{detail or message}", "status": code}), code
    return render_template("error.html", code=code, title=title, message=message, detail=detail), code


def archive_error(e: ArchiveError):
    code = status_for(e)
    view = current_app.view_functions.get(request.endpoint)
    back = getattr(view, "archive_error_back", None)
    if back is not None and code != 404 and not wants_json():
        target, prefix, with_key = back
        flash(prefix + (e.reason if with_key else e.message_zh), "error")
        return redirect(_back_url(target))
    if wants_json():
        return jsonify({"error": e.reason, "status": code}), code
    return render_error(code, e.message_zh)


def init_app(app) -> None:
    app.register_error_handler(ArchiveError, archive_error)
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, "安全令牌缺失或已过期（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def http_error(e):
        if e.code is None or e.code < 400:
            return e
        detail = e.description if getattr(e, "archive_detail", False) else None
        return render_error(e.code, detail)

    @app.errorhandler(500)
    def server_error(e):
        return render_error(500)
