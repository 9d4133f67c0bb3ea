"""The Flask app: a thin shell over archive/. `create_app()` builds it; nothing runs at import.

Config comes from the instance folder (test_config["INSTANCE"], else $EVIDENCE_INSTANCE,
else ./instance). Each request opens its own Instance/DB connection in `g` and closes it
at teardown. Templates and static files live in the repository's templates/ folder.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from archive.core.config import DEFAULT_LIMITS, default_instance_dir
from archive.core.instance import Instance

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"
STATIC_DIR = TEMPLATES_DIR / "static"

csrf = CSRFProtect()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def load_secret_key(root: Path) -> str:
    """instance/secret_key: generated once (0600), then reused so sessions survive restarts."""
    path = root / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
        f.flush()
        os.fsync(f.fileno())
    return path.read_text(encoding="ascii").strip()


class RowIdConverter(IntegerConverter):
    """`int` limited to SQLite's rowid range."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    test_config = dict(test_config or {})
    root = Path(test_config.get("INSTANCE") or os.environ.get("EVIDENCE_INSTANCE") or default_instance_dir())
    limits = test_config.pop("LIMITS", DEFAULT_LIMITS)
    # Validates and migrates once; requests then open a plain Instance (no migration check).
    Instance.open(root, limits).close()

    app = Flask("archive.web", template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR),
                static_url_path="/static")
    app.config.update(
        INSTANCE=str(root),
        SECRET_KEY=load_secret_key(root),
        MAX_CONTENT_LENGTH=limits.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,          # the token lives as long as the session
        WTF_CSRF_CHECK_DEFAULT=False,      # checked in before_request (token API exempt)
    )
    app.config.update(test_config)
    if not app.testing:
        # Uploads are extracted in worker processes, one per core, not in waitress's threads
        # (EXTRACT_WORKERS=0: in-process). Tests extract in-process.
        from archive.extract import workers
        workers.enable(app.config.get("EXTRACT_WORKERS"))
    app.extensions["archive_limits"] = limits
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    csrf.init_app(app)

    from . import common, timefmt
    common.init_app(app)
    timefmt.init_app(app)

    # <int:...> in every route: ids beyond SQLite's range are a 404, not an OverflowError 500.
    app.url_map.converters["int"] = RowIdConverter

    from . import admin, api, audit_log, auth, evidence, errors
    auth.init_app(app)
    errors.init_app(app)
    for bp in (auth.bp, admin.bp, audit_log.bp, evidence.bp, api.bp):
        app.register_blueprint(bp)
    from . import dashboard, export_views, review_views, search_views
    for bp in (dashboard.bp, search_views.bp, review_views.bp, export_views.bp):
        app.register_blueprint(bp)
    from . import inspection
    app.register_blueprint(inspection.bp)
    from . import maps_views
    app.register_blueprint(maps_views.bp)
    from . import units
    app.register_blueprint(units.bp)   # units, duties, deadlines, 本单位任务, 催办, 排名
    from . import photos
    app.register_blueprint(photos.bp)

    @app.after_request
    def security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static" and "Cache-Control" not in resp.headers:
            resp.headers["Cache-Control"] = "no-store"
        return resp

    return app
