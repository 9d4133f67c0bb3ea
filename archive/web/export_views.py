"""Export page: start a declaration package build in the background (archive.jobs.export),
poll its progress, download the zip, list earlier packages with their manifest."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from archive.core.dates import today_beijing
from archive.jobs import export as jobs
from .common import (EXPORT_VIEW_ROLES, REVIEW_ROLES, client_ip, date_arg, get_instance,
                     roles_required, set_attachment)

bp = Blueprint("export", __name__)

VIEW_ROLES = EXPORT_VIEW_ROLES
OPTIONS = jobs.OPTIONS


def _default_date() -> str:
    """The current cycle's evaluation date for the picked map, else today (北京时间)."""
    from archive.cycles.cycles import current_evaluation_date

    inst = get_instance()
    return current_evaluation_date(inst.db, inst.map_id) or today_beijing().isoformat()


def job_status(job: dict) -> dict:
    out = {k: job[k] for k in ("id", "state", "done", "total", "message", "error", "size")}
    out["state_zh"] = job["state_zh"]
    out["url"] = url_for("export.job_page", job_id=job["id"])
    if job["state"] == "done":
        out["download_url"] = url_for("export.download", job_id=job["id"])
    return out


@bp.route("/export", methods=["GET"])
@roles_required(*VIEW_ROLES)
def export_page():
    return render_template("export.html", jobs=jobs.list_jobs(get_instance()), options=OPTIONS,
                           today=_default_date(), can_build=current_user.role in REVIEW_ROLES)


@bp.route("/export", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def export_start():
    errors: list[str] = []
    d = date_arg(request.form.get("date"), errors, "测评日期")
    if d is None:
        flash(errors[0] if errors else "请填写测评日期 (YYYY-MM-DD)", "error")
        return redirect(url_for("export.export_page"))
    options = {k: request.form.get(k) == "1" for k in OPTIONS}
    job_id = jobs.start_job(get_instance(), d.isoformat(), options, current_user.name, client_ip())
    return redirect(url_for("export.job_page", job_id=job_id))


@bp.route("/export/<int:job_id>")
@roles_required(*VIEW_ROLES)
def job_page(job_id):
    inst = get_instance()
    job = jobs.get_job(inst, job_id)                  # NotFound → 404
    path = jobs.package_path(inst, job)
    manifest = jobs.read_manifest(path) if path else None
    return render_template("export_job.html", job=job, status=job_status(job), manifest=manifest,
                           options=OPTIONS, missing_file=(job["state"] == "done" and path is None))


@bp.route("/export/<int:job_id>/status")
@roles_required(*VIEW_ROLES)
def status(job_id):
    return jsonify(job_status(jobs.get_job(get_instance(), job_id)))


@bp.route("/export/<int:job_id>/download")
@roles_required(*VIEW_ROLES)
def download(job_id):
    inst = get_instance()
    job = jobs.get_job(inst, job_id)
    path = jobs.package_path(inst, job)
    if path is None:
        abort(404)
    jobs.record_download(inst, job, path, current_user.name, client_ip())
    resp = send_file(path, as_attachment=True, download_name=path.name, mimetype="application/zip",
                     max_age=0, conditional=True)
    resp.headers["Cache-Control"] = "private, no-store"
    return set_attachment(resp, path.name, f"package-{job_id}-{job['evaluation_date']}.zip")
