"""Search page and /api/search: the one archive.search.search, with filters and paging.

Snippets come from the search module already escaped with only <mark> added
(`snippet_html`); the template marks that one field safe and escapes everything else.
A malformed query is shown on the page in Chinese (HTTP 400), never a 500.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, make_response, render_template, request
from flask_login import current_user

from archive.core.sqlite import sqlite3
from archive.core import audit
from archive.core.db import connect, transaction, utcnow
from archive.core.errors import ArchiveError
from ..search import search
from .common import ALL_ROLES, client_ip, current_map, get_instance, iso_date_arg, roles_required

bp = Blueprint("search", __name__)

PAGE_SIZE = 20
MAX_PAGE = 500          # 10,000 hits deep is enough for a page; the API pages further
API_MAX_LIMIT = 200


_date = iso_date_arg


def search_args(errors: list[str]) -> dict:
    return {
        "query": request.args.get("q", "").strip(),
        "code": request.args.get("code", "").strip() or None,
        "type": request.args.get("type", "").strip() or None,
        "unit": request.args.get("unit", "").strip() or None,
        "date_from": _date("from", errors),
        "date_to": _date("to", errors),
    }


def _log_search(args: dict, total: int | None, response) -> None:
    """The search goes into the audit log once the page has been sent: writing waits for the
    database's write lock, which uploads hold in turn (while 8 clerks upload, seconds at p95),
    and a reader should not wait for that. Its own connection: the request's is closed by
    then. Time, user and address are taken now."""
    detail = {k: v for k, v in args.items() if v}
    detail["total"] = total
    row = (current_user.name, "search", None, detail, client_ip(), utcnow())
    db_path = get_instance().db_path

    def write() -> None:
        db = connect(db_path)
        try:
            with transaction(db):
                audit.log(db, *row[:5], at=row[5])
        except sqlite3.Error as e:   # the page is out already: say so in the server log
            logging.getLogger("archive.web").warning("检索记录未能写入审计日志：%s (%s)", e, row)
        finally:
            db.conn.close()

    response.call_on_close(write)
    return response


@bp.route("/search")
@roles_required(*ALL_ROLES)
def search_page():
    errors: list[str] = []
    args = search_args(errors)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    imap = None
    try:
        imap = current_map()
    except ArchiveError as e:
        errors.append(e.message_zh)
    result = None
    asked = any(args.values())
    if asked and not errors:
        try:
            result = search(get_instance(), args["query"] or None, code=args["code"], type=args["type"],
                            unit=args["unit"], date_from=args["date_from"], date_to=args["date_to"],
                            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except ArchiveError as e:
            errors.append(e.message_zh)
        logged = (args, result["total"] if result else None)
    else:
        logged = None
    units = imap.units() if imap else []
    pages = 0
    if result:
        pages = min((result["total"] + PAGE_SIZE - 1) // PAGE_SIZE, MAX_PAGE)
    response = make_response(render_template(
        "search.html", args=args, raw=request.args, result=result, errors=errors, page=page, pages=pages,
        page_size=PAGE_SIZE, imap=imap, units=units, material_types=(imap.material_types if imap else [])),
        400 if errors else 200)
    if logged is not None:
        _log_search(*logged, response)
    return response


@bp.route("/api/search")
@roles_required(*ALL_ROLES)
def api_search():
    """?q= &code= &type= &unit= &from= &to= &limit= (≤ 200) &offset= → {"total", "hits", "order", "limit", "offset"}."""
    errors: list[str] = []
    args = search_args(errors)
    limit = min(max(request.args.get("limit", PAGE_SIZE, type=int) or PAGE_SIZE, 1), API_MAX_LIMIT)
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    if errors:
        return jsonify({"error": errors[0], "status": 400}), 400
    result = search(get_instance(), args["query"] or None, code=args["code"], type=args["type"],
                    unit=args["unit"], date_from=args["date_from"], date_to=args["date_to"],
                    limit=limit, offset=offset)        # a malformed query → 400 JSON (errors.py)
    return _log_search(args, result["total"], jsonify({
        "total": result["total"], "hits": result["hits"], "order": result["order"], "limit": limit, "offset": offset}))
