"""Export page: build a declaration package in the background, poll its progress, download
the zip, list earlier packages with their manifest.

A build is a row in `export_jobs` plus a thread that calls archive.package.export_package
with its own Instance (SQLite connections stay in their thread) and a progress callback
that writes the row a few times a second. The zip is written to exports/<job id>/; the
download route finds it only through the job's row (a path the server wrote), never
through anything the request names. One build runs at a time per process; others queue.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_file, url_for)
from flask_login import current_user

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import ArchiveError
from archive.core.instance import Instance
from archive.package import PackageRefused, export_package
from .common import REVIEW_ROLES, client_ip, date_arg, get_db, get_instance, roles_required

bp = Blueprint("export", __name__)
log = logging.getLogger(__name__)

VIEW_ROLES = ("reviewer", "admin", "auditor")    # auditors may look and download, never build
OPTIONS = {"approved_only": "只收已审核通过的材料",
           "include_out_of_window": "包含时间窗口外的材料",
           "strict": "严格模式：有缺项则不生成"}
STATES = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败",
          "interrupted": "已中断"}
PROGRESS_EVERY_S = 0.25
MANIFEST_ROWS = 300

_build_slot = threading.Semaphore(1)
_active: set[tuple[str, int]] = set()   # (instance root, job id) of builds alive in this process
_active_lock = threading.Lock()

JOB_COLUMNS = ("id", "created_at", "created_by", "evaluation_date", "options", "state", "done", "total",
               "message", "error", "path", "size", "report", "finished_at")


def _key(job_id: int, root: str | None = None) -> tuple[str, int]:
    return (str(root or current_app.config["INSTANCE"]), job_id)


def _row(r) -> dict:
    job = dict(zip(JOB_COLUMNS, r))
    job["options"] = json.loads(job["options"] or "{}")
    job["report"] = json.loads(job["report"]) if job["report"] else None
    with _active_lock:
        alive = _key(job["id"]) in _active
    if job["state"] in ("queued", "running") and not alive:
        job["state"] = "interrupted"     # its process ended (restart) before it finished
    job["state_zh"] = STATES.get(job["state"], job["state"])
    return job


def get_job(db, job_id: int) -> dict:
    r = db.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM export_jobs WHERE id = ?", [job_id]).fetchone()
    if r is None:
        abort(404)
    return _row(r)


def _update(db, job_id: int, **fields) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    with transaction(db):
        db.execute(f"UPDATE export_jobs SET {sets} WHERE id = ?", [*fields.values(), job_id])


def _report_summary(report: dict) -> dict:
    """What the page shows of an export report (the full item list stays in the zip)."""
    return {"root": report.get("root"), "included": report.get("included"), "files": report.get("files"),
            "bytes": report.get("bytes"), "summary": report.get("summary"), "window": report.get("window"),
            "gaps": report.get("gaps", [])[:500], "excluded": report.get("excluded", [])[:500],
            "excluded_count": len(report.get("excluded", []))}


def run_job(root: str, limits, job_id: int, evaluation_date: str, options: dict,
            user: str | None, ip: str | None) -> None:
    """The worker thread: build, record progress and the outcome. Never raises."""
    inst = Instance(root, limits)
    try:
        with _build_slot:
            db = inst.db
            _update(db, job_id, state="running", message="正在准备……")
            out_dir = inst.exports_dir / str(job_id)
            out_dir.mkdir(parents=True, exist_ok=True)
            last = [0.0]

            def progress(done: int, total: int, message: str) -> None:
                now = time.monotonic()
                if now - last[0] >= PROGRESS_EVERY_S or done >= total:
                    last[0] = now
                    _update(db, job_id, done=done, total=total, message=str(message)[:300])

            try:
                report = export_package(inst, out_dir, evaluation_date, fmt="zip", progress=progress,
                                        user=user, ip=ip, **options)
            except PackageRefused as e:
                _update(db, job_id, state="failed", error=e.message_zh, finished_at=utcnow(),
                        report=json.dumps(_report_summary(e.report), ensure_ascii=False))
                return
            except ArchiveError as e:
                _update(db, job_id, state="failed", error=e.reason, finished_at=utcnow())
                return
            target = Path(report["path"]).resolve()
            rel = target.relative_to(inst.exports_dir.resolve())
            _update(db, job_id, state="done", path=str(rel), size=target.stat().st_size,
                    done=report["files"], total=report["files"], message="已完成",
                    report=json.dumps(_report_summary(report), ensure_ascii=False), finished_at=utcnow())
    except Exception:  # the thread must record the failure, never die silently
        log.exception("export job %s failed", job_id)
        try:
            _update(inst.db, job_id, state="failed", error="生成材料包时出错，已记录。请重试或联系管理员。",
                    finished_at=utcnow())
        except Exception:
            log.exception("export job %s: could not record the failure", job_id)
    finally:
        with _active_lock:
            _active.discard(_key(job_id, root))
        inst.close()


def start_job(evaluation_date: str, options: dict) -> int:
    db = get_db()
    with _active_lock:  # no reader may see the new row as "interrupted"
        with transaction(db):
            cur = db.execute(
                "INSERT INTO export_jobs (created_at, created_by, evaluation_date, options, state) "
                "VALUES (?, ?, ?, ?, 'queued')",
                [utcnow(), current_user.name, evaluation_date, json.dumps(options)])
            job_id = cur.lastrowid
            audit.log(db, current_user.name, "export.start", f"export:{job_id}",
                      {"evaluation_date": evaluation_date, "options": options}, client_ip())
        _active.add(_key(job_id))
    t = threading.Thread(target=run_job, name=f"export-{job_id}", daemon=True,
                         args=(current_app.config["INSTANCE"], current_app.extensions["archive_limits"],
                               job_id, evaluation_date, options, current_user.name, client_ip()))
    t.start()
    return job_id


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
    db = get_db()
    jobs = [_row(r) for r in db.execute(
        f"SELECT {', '.join(JOB_COLUMNS)} FROM export_jobs ORDER BY id DESC LIMIT 50")]
    return render_template("export.html", jobs=jobs, options=OPTIONS, today=date.today().isoformat(),
                           can_build=current_user.role in REVIEW_ROLES)


@bp.route("/export", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def export_start():
    errors: list[str] = []
    d = date_arg(request.form.get("date"), errors, "测评日期")
    if d is None:
        flash(errors[0] if errors else "请填写测评日期 (YYYY-MM-DD)", "error")
        return redirect(url_for("export.export_page"))
    options = {k: request.form.get(k) == "1" for k in OPTIONS}
    job_id = start_job(d.isoformat(), options)
    return redirect(url_for("export.job_page", job_id=job_id))


def read_manifest(path: Path, limit: int = MANIFEST_ROWS) -> dict | None:
    """manifest.json from inside a package zip (the first `limit` files listed)."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.count("/") == 1 and n.endswith("/manifest.json")), None)
            if name is None:
                return None
            with z.open(name) as f:
                man = json.load(f)
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    man["files_total"] = len(man.get("files", []))
    man["files"] = man.get("files", [])[:limit]
    return man


def _package_path(job: dict) -> Path | None:
    """The job's zip, only if the server-written path stays inside exports/."""
    if job["state"] != "done" or not job["path"]:
        return None
    base = get_instance().exports_dir.resolve()
    path = (base / job["path"]).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


@bp.route("/export/<int:job_id>")
@roles_required(*VIEW_ROLES)
def job_page(job_id):
    job = get_job(get_db(), job_id)
    path = _package_path(job)
    manifest = read_manifest(path) if path else None
    return render_template("export_job.html", job=job, status=job_status(job), manifest=manifest,
                           options=OPTIONS, missing_file=(job["state"] == "done" and path is None))


@bp.route("/export/<int:job_id>/status")
@roles_required(*VIEW_ROLES)
def status(job_id):
    return jsonify(job_status(get_job(get_db(), job_id)))


@bp.route("/export/<int:job_id>/download")
@roles_required(*VIEW_ROLES)
def download(job_id):
    db = get_db()
    job = get_job(db, job_id)
    path = _package_path(job)
    if path is None:
        abort(404)
    with transaction(db):
        audit.log(db, current_user.name, "export.download", f"export:{job_id}",
                  {"file": path.name, "size": job["size"]}, client_ip())
    resp = send_file(path, as_attachment=True, download_name=path.name, mimetype="application/zip",
                     max_age=0, conditional=True)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
