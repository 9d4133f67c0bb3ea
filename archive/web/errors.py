"""Chinese error pages (HTML) and JSON errors for /api/."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: ("请求有误", "提交的内容不完整或格式不对，请返回上一页检查后重试。"),
    401: ("需要登录", "请先登录。"),
    403: ("没有权限", "您的账号角色无权执行此操作或查看此页面。如需权限，请联系管理员。"),
    404: ("页面不存在", "您要找的页面或材料不存在，可能已被移动，或链接有误。"),
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
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json")


def render_error(code: int, detail: str | None = None):
    from flask import current_app

    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    message = message.format(limit=_human_bytes(current_app.config.get("MAX_CONTENT_LENGTH")))
    if wants_json():
        return jsonify({"error": f"{title}：{detail or message}", "status": code}), code
    return render_template("error.html", code=code, title=title, message=message, detail=detail), code


def init_app(app) -> None:
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
