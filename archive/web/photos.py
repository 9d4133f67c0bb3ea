"""Photo checks on the web: the reviewers' list of near-duplicate photos (/photos/reuse) and
the evaluation date the window check uses (a small form on that page and the review queue)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from archive.core.errors import ArchiveError
from archive.evidence.photos import reuse_pairs
from archive.readiness.photochecks import evaluation_date_for_checks, set_evaluation_date
from .common import REVIEW_ROLES, client_ip, get_db, int_arg, roles_required

bp = Blueprint("photos", __name__)
PAGE_SIZE = 50
MAX_PAGE = 10_000


@bp.route("/photos/reuse")
@roles_required(*REVIEW_ROLES)
def reuse_page():
    page = int_arg("page", 1, 1, MAX_PAGE)
    db = get_db()
    total, pairs = reuse_pairs(db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("photos/reuse.html", pairs=pairs, total=total, page=page,
                           more=page * PAGE_SIZE < total, evaluation_date=evaluation_date_for_checks(db))


@bp.route("/settings/evaluation-date", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def set_date():
    target = url_for("photos.reuse_page") if request.form.get("next") == "reuse" else url_for("review.queue")
    try:
        d = set_evaluation_date(get_db(), request.form.get("evaluation_date", ""), by=current_user.name,
                                ip=client_ip())
    except ArchiveError as e:
        flash(e.message_zh, "error")
    else:
        flash(f"测评日期已设为 {d}：照片按其材料时间窗口检查" if d else "测评日期已清除：不再检查照片的时间窗口",
              "success")
    return redirect(target)
