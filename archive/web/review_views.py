"""Review queue for the 资料组 (approve / send back with a comment, keyboard friendly) and the
page where clerks see what was sent back to their unit.

Thin: decisions go through archive.review.review_item (which writes the audit row); lists
come from archive.items.list_items.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from archive.evidence import items as items_mod
from archive.evidence.review import STATES, latest_reviews, review_item, state_counts
from archive.readiness.photochecks import evaluation_date_for_checks, photo_warnings
from .common import (ALL_ROLES, MAX_PAGE_NUMBER, REVIEW_ROLES, client_ip, current_map, get_db, get_instance,
                     int_arg, roles_required)
from .errors import errors_back_to

bp = Blueprint("review", __name__)

PAGE_SIZE = 50


def _filters() -> dict:
    state = request.args.get("state", "pending")
    if state not in STATES:
        state = "pending"
    return {"state": state, "unit": request.args.get("unit", "").strip(),
            "code": request.args.get("code", "").strip()}


def _code_in(code: str):
    if not code:
        return None
    node = current_map().find(code)
    if node is None:
        return []
    return [n.code for n in node.leaves()]


@bp.route("/review")
@roles_required(*REVIEW_ROLES)
def queue():
    f = _filters()
    page = int_arg("page", 1, 1, MAX_PAGE_NUMBER)
    db = get_db()
    map_id = current_map().id
    rows = items_mod.list_items(db, review_state=f["state"], unit=f["unit"] or None,
                                code_in=_code_in(f["code"]), map_id=map_id, limit=PAGE_SIZE + 1,
                                offset=(page - 1) * PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    reviews = latest_reviews(db, [r["id"] for r in rows])
    counts = state_counts(db, f["unit"] or None, _code_in(f["code"]), map_id)
    imap = current_map()
    units = imap.units()
    warnings = photo_warnings(get_instance(), [r["id"] for r in rows])
    return render_template("review_queue.html", rows=rows, reviews=reviews, f=f, page=page, more=more,
                           counts=counts, states=STATES, units=units, warnings=warnings,
                           evaluation_date=evaluation_date_for_checks(db),
                           need_reason=request.args.get("need_reason", type=int))


def _queue_url(**extra) -> str:
    """The queue with the filters the form came from."""
    back = {k: v for k, v in (("state", request.form.get("state")), ("unit", request.form.get("unit")),
                               ("code", request.form.get("code"))) if v}
    return url_for("review.queue", **back, **extra)


@bp.route("/review/<int:item_id>", methods=["POST"])
@roles_required(*REVIEW_ROLES)
@errors_back_to(_queue_url)
def decide(item_id):
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "").strip()
    if decision == "rejected" and not comment:
        # said beside that item's reason box (the queue may be long: the page top is off screen)
        return redirect(_queue_url(need_reason=item_id) + f"#item-{item_id}")
    review_item(get_instance(), item_id, decision, comment or None, by=current_user.name, ip=client_ip())
    flash(f"材料 #{item_id} 已{'通过' if decision == 'approved' else '退回'}", "success")
    return redirect(_queue_url())


@bp.route("/review/returned")
@roles_required(*ALL_ROLES)
def returned():
    """Items sent back: a clerk sees their own unit's, everyone else all of them."""
    db = get_db()
    unit = None
    if current_user.role == "clerk":
        unit = current_user.unit
        rows = items_mod.list_items(db, review_state="rejected", unit=unit, limit=500) if unit else []
    else:
        unit = request.args.get("unit", "").strip() or None
        rows = items_mod.list_items(db, review_state="rejected", unit=unit, limit=500)
    reviews = latest_reviews(db, [r["id"] for r in rows])
    return render_template("review_returned.html", rows=rows, reviews=reviews, unit=unit)


@bp.app_context_processor
def returned_badge():
    """`returned_count()` for the nav: a clerk's sent-back items, counted only when shown."""
    def returned_count() -> int:
        if not current_user.is_authenticated or current_user.role != "clerk" or not current_user.unit:
            return 0
        return state_counts(get_db(), unit=current_user.unit).get("rejected", 0)
    return {"returned_count": returned_count}
