"""The production server: waitress, with the request-size limit set so the app (Flask) answers
oversized uploads with its Chinese 413 page, and waitress's own errors (a body far past the
limit, malformed requests) answered in Chinese too instead of its English text/plain."""
from __future__ import annotations

import html
import json

import waitress
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

# waitress's own refusals (it reads and checks the request before the app sees it)
WAITRESS_ERRORS = {
    400: ("请求有误", "请求格式不正确，请返回上一页重试。"),
    413: ("文件太大", "上传的内容超过了允许的大小上限 {limit}。请拆分或压缩后再上传。"),
    431: ("请求头过大", "请求头过大，请清除本站 Cookie 后重试。"),
    500: ("服务器内部错误", "处理请求时出错，已记录。请稍后重试；如果反复出现，请联系管理员。"),
}
# Bodies a little past Flask's MAX_CONTENT_LENGTH still reach the app (its own 413 page with
# the user's menu); waitress stops anything bigger before spooling it to disk.
SLACK_BYTES = 1024 * 1024


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} B"


class ChineseErrorTask(ErrorTask):
    """ErrorTask with a Chinese body: a small HTML page, or JSON for /api/ requests."""

    limit = 0

    def execute(self):
        e = self.request.error
        title, message = WAITRESS_ERRORS.get(e.code, WAITRESS_ERRORS[400] if e.code < 500 else WAITRESS_ERRORS[500])
        message = message.format(limit=_human(self.limit) if self.limit else "")
        path = getattr(self.request, "path", "") or ""
        if path.startswith("/api/"):
            body = json.dumps({"error": f"{title}：{message}", "status": e.code}, ensure_ascii=False).encode()
            ctype = "application/json"
        else:
            body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>'
                    f'<link rel="stylesheet" href="/static/app.css"></head><body><main><section class="card error-page">'
                    f"<h1>{e.code} · {html.escape(title)}</h1><p>{html.escape(message)}</p>"
                    f'<p><a href="/">返回首页</a></p></section></main></body></html>').encode()
            ctype = "text/html; charset=utf-8"
        self.status = f"{e.code} {e.reason}"
        self.response_headers.extend([("Content-Type", ctype), ("X-Content-Type-Options", "nosniff")])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def create_server(app, host: str = "127.0.0.1", port: int = 5000, threads: int = 16, **kw):
    """A waitress server for `app` (not started): one file per request up to the app's
    MAX_CONTENT_LENGTH, Chinese answers for what waitress refuses itself."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    task = type("AppErrorTask", (ChineseErrorTask,), {"limit": limit})
    channel = type("ChineseChannel", (HTTPChannel,), {"error_task_class": task})
    kw.setdefault("ident", "evidence-archive")
    server = waitress.create_server(app, host=host, port=port, threads=threads,
                                    max_request_body_size=limit + SLACK_BYTES, **kw)
    server.channel_class = channel     # waitress makes a channel per connection from this
    return server
