"""What every blueprint shares: the per-request instance and DB, the client's IP, the map,
the `roles_required` decorator, clerk scoping (rules in archive/core/permissions.py), and
reading uploads and code lists from a request."""
from __future__ import annotations

import functools
import os
import tempfile
import threading
from pathlib import Path

from flask import abort, current_app, g, request, session, url_for
from flask_login import current_user

from archive.core import permissions
from archive.core.instance import Instance
from archive.core.permissions import (ALL_ROLES, AUDIT_ROLES, EDIT_ROLES,  # noqa: F401  (re-exported)
                                      EXPORT_VIEW_ROLES, REVIEW_ROLES, ROLES)
from archive.maps.loading import active_map_ids, current_map as instance_map



def get_instance() -> Instance:
    if "instance" not in g:
        g.instance = Instance(current_app.config["INSTANCE"], current_app.extensions["archive_limits"])
        g.instance.map_id = picked_map_id(g.instance)
    return g.instance


def picked_map_id(inst) -> str | None:
    """The map this session works in: the one picked (remembered in the session) while it is
    active, else the first active map."""
    active = active_map_ids(inst.db)
    picked = session.get("map_id")
    if picked in active:
        return picked
    return active[0] if active else None


def get_db():
    return get_instance().db


def current_map():
    """The map of this request (picked, else the first active); parsed once per process per
    edition (archive.maps.loading caches parsed maps)."""
    return instance_map(get_instance())


def client_ip() -> str | None:
    # waitress sets REMOTE_ADDR to the peer; behind a proxy, configure trusted_proxy in waitress.
    return request.remote_addr


def user_name() -> str | None:
    return current_user.name if current_user.is_authenticated else None


def roles_required(*roles: str):
    """Login plus one of `roles`, enforced on the server. Every view except login uses it;
    tests/web checks that no route is left without it."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"bad roles: {roles}")

    def deco(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.roles = tuple(roles)
        return wrapped

    return deco


def sees_audit() -> bool:
    """Whether the current user may read audit rows (the audit log, an item's history)."""
    return current_user.is_authenticated and permissions.sees_audit(current_user.role)


def public(view):
    """Marks a view that needs no login (the login page, static files)."""
    view.public = True
    return view


def can_edit_unit(unit: str | None) -> bool:
    """Whether the current user may edit an item of `unit` (permissions.can_edit_unit)."""
    return current_user.is_authenticated and permissions.can_edit_unit(
        current_user.role, current_user.unit, unit)


def require_edit_unit(unit: str | None) -> None:
    if not can_edit_unit(unit):
        abort(403)


def date_arg(raw: str | None, errors: list[str], label: str = "日期", hint: str = ""):
    """A date typed into a form (any spelling archive.dates accepts) → `date`; blank → None;
    unreadable → None with a message for the page appended to `errors`."""
    from archive.core.dates import parse_date
    from archive.core.errors import ArchiveError

    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ArchiveError:
        errors.append(f"{label}“{raw}”无法识别，请用 YYYY-MM-DD{hint}")
        return None


def map_units() -> list[str]:
    """Unit names for pickers: the active units of the register (archive/units/, seeded from
    the map's `units:` lists); [] while no map is loaded."""
    from archive.core.errors import ArchiveError
    from archive.units.duties import ensure_seeded
    from archive.units.records import list_units

    try:
        current_map()
        ensure_seeded(get_instance())
    except ArchiveError:
        return []
    return [u.name for u in list_units(get_db(), include_retired=False)]


def save_upload(storage) -> tuple[Path, str]:
    """Writes an uploaded file to a private temp file; returns (path, original name).
    The client's name is kept verbatim as metadata (Chinese included), minus any folders."""
    name = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "未命名文件"
    suffix = Path(name).suffix[:16] if Path(name).suffix.isascii() else ""
    fd, tmp = tempfile.mkstemp(prefix="evidence-upload-", suffix=suffix)
    with os.fdopen(fd, "wb") as out:
        storage.save(out)
    return Path(tmp), name


def form_codes(form) -> list[str]:
    """Codes from a form: repeated `code`/`codes` fields, each may hold several split by ;，,"""
    codes = []
    for raw in form.getlist("code") + form.getlist("codes"):
        for part in raw.replace("；", ";").replace(",", ";").replace("，", ";").split(";"):
            if part.strip():
                codes.append(part.strip())
    return codes


def set_attachment(resp, name: str, fallback: str):
    """Content-Disposition for a download: the real name (Chinese kept) as RFC 5987
    `filename*`, and a readable ASCII `filename` for clients that cannot read it — the name
    itself when it is plain ASCII, else `fallback` (e.g. `item-12.pdf`), never `().pdf`."""
    from urllib.parse import quote

    plain = name if name.isascii() and all(c.isprintable() and c not in '"\\;/' for c in name) else fallback
    resp.headers["Content-Disposition"] = (f'attachment; filename="{plain}"; '
                                           f"filename*=UTF-8''{quote(name, safe='')}")
    return resp


MAX_ROW = 2**63 - 1        # SQLite's integer range: past it an id or offset is a typo, not a 500
MAX_PAGE_NUMBER = 100_000


def int_arg(name: str, default: int, lo: int = 0, hi: int = MAX_ROW) -> int:
    """?name=N clamped into [lo, hi]; missing or not a number → default."""
    value = request.args.get(name, default, type=int)
    return min(max(default if value is None else value, lo), hi)


def iso_date_arg(name: str, errors: list[str]) -> str | None:
    """?name=DATE as ISO text for SQL filters (see date_arg)."""
    d = date_arg(request.args.get(name), errors)
    return d.isoformat() if d else None


def page_args(allowed, **overrides) -> dict:
    """The query string for a link back to this page: only the page's own parameters
    (`allowed`, first value each, empty values kept), then `overrides`. Never
    `request.args` whole: keys such as `endpoint`, `_method`, `_anchor` or `_external` would
    reach url_for() as its own arguments (a 500, or a rewritten link)."""
    out = {k: request.args.get(k) for k in allowed if k in request.args}
    out.update(overrides)
    return out


def item_url(item_id: int) -> str:
    """url_for('evidence.item', item_id=…), built once per request: tables of 200 items
    called url_for 400 times a page (a third of the indicator page's time)."""
    base = g.get("item_url_base")
    if base is None:
        base = g.item_url_base = url_for("evidence.item", item_id=0)[:-1]
    return f"{base}{int(item_id)}"


def indicator_url(code: str) -> str:
    """url_for('evidence.indicator', code=…), once per code and request."""
    cache = g.get("indicator_urls")
    if cache is None:
        cache = g.indicator_urls = {}
    url = cache.get(code)
    if url is None:
        url = cache[code] = url_for("evidence.indicator", code=code)
    return url


def init_app(app) -> None:
    @app.teardown_appcontext
    def close_instance(exc):
        inst = g.pop("instance", None)
        if inst is not None:
            inst.close()

    from archive.evidence.review import STATES
    app.jinja_env.globals["REVIEW_STATES"] = STATES     # globals reach imported macros too
    app.jinja_env.globals["item_url"] = item_url
    app.jinja_env.globals["indicator_url"] = indicator_url
    from archive.core.audit import action_label
    app.jinja_env.filters["action_label"] = action_label

    @app.context_processor
    def inject():
        return {"ROLES": ROLES, "can_edit_unit": can_edit_unit, "page_args": page_args}
