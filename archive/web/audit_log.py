"""The audit log page: who did what, when, from where; filters by user, action, target, date."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from archive.core import audit
from archive.core.permissions import AUDIT_ROLES

from .common import MAX_PAGE_NUMBER, get_db, int_arg, iso_date_arg, roles_required
from .timefmt import utc_day_end, utc_day_start

bp = Blueprint("audit", __name__)
PAGE_SIZE = 100


def query_audit(db, *, user=None, action=None, target=None, date_from=None, date_to=None,
                limit=PAGE_SIZE, offset=0) -> tuple[int, list[dict]]:
    """audit.query with the 北京时间 days a user types turned into UTC bounds."""
    return audit.query(db, user=user, action=action, target=target,
                       at_from=utc_day_start(date_from) if date_from else None,
                       at_to=utc_day_end(date_to) if date_to else None, limit=limit, offset=offset)


_date_arg = iso_date_arg


@bp.route("/audit")
@roles_required(*AUDIT_ROLES)
def audit_page():
    db = get_db()
    errors: list[str] = []
    filters = {
        "user": request.args.get("user", "").strip() or None,
        "action": request.args.get("action", "").strip() or None,
        "target": request.args.get("target", "").strip() or None,
        "date_from": _date_arg("from", errors),
        "date_to": _date_arg("to", errors),
    }
    page = int_arg("page", 1, 1, MAX_PAGE_NUMBER)
    total, rows = query_audit(db, **filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    actions = audit.actions(db)
    user_names = audit.user_names(db)
    return render_template("audit.html", rows=rows, total=total, page=page, page_size=PAGE_SIZE,
                           args=request.args, actions=actions, user_names=user_names,
                           errors=errors), (400 if errors else 200)
