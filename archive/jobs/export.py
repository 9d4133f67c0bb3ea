"""Background export jobs: a declaration package built in a thread while the web page polls.

A job is a row in `export_jobs` plus a thread that calls archive.package.build.export_package
with its own Instance (SQLite connections stay in their thread) and a progress callback that
writes the row a few times a second. The zip is written to exports/<job id>/; a job's file is
found only through its row (a path the server wrote), never through anything a request names.
One build runs at a time per process; others queue. A queued or running job whose thread is
not alive in this process (the server restarted) reads as `interrupted`.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import ArchiveError, NotFound
from archive.core.instance import Instance
from archive.package import PackageRefused, export_package
from archive.package import read_manifest as package_manifest

log = logging.getLogger(__name__)

OPTIONS = {"approved_only": "只收已审核通过的材料",
           "include_out_of_window": "包含时间窗口外的材料",
           "strict": "严格模式：有缺项则不生成"}
STATES = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败",
          "interrupted": "已中断"}
PROGRESS_EVERY_S = 0.25
MANIFEST_ROWS = 300
JOB_COLUMNS = ("id", "created_at", "created_by", "evaluation_date", "options", "state", "done", "total",
               "message", "error", "path", "size", "report", "finished_at")

_build_slot = threading.Semaphore(1)
_active: set[tuple[str, int]] = set()   # (instance root, job id) of builds alive in this process
_active_lock = threading.Lock()


def _key(instance_root, job_id: int) -> tuple[str, int]:
    return (str(instance_root), job_id)


def _alive_now() -> frozenset:
    """The builds alive in this process, read BEFORE their rows: a build that finishes between
    the two reads then shows as running (its next read: done), never as interrupted."""
    with _active_lock:
        return frozenset(_active)


def _row(root, r, alive: frozenset) -> dict:
    job = dict(zip(JOB_COLUMNS, r))
    job["options"] = json.loads(job["options"] or "{}")
    job["report"] = json.loads(job["report"]) if job["report"] else None
    if job["state"] in ("queued", "running") and _key(root, job["id"]) not in alive:
        job["state"] = "interrupted"     # its process ended (restart) before it finished
    job["state_zh"] = STATES.get(job["state"], job["state"])
    return job


def get_job(instance, job_id: int) -> dict:
    """One job as a dict (options and report parsed, `state_zh`); NotFound if there is none."""
    alive = _alive_now()
    r = instance.db.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM export_jobs WHERE id = ?",
                            [job_id]).fetchone()
    if r is None:
        raise NotFound("no such export", f"找不到材料包任务 #{job_id}")
    return _row(instance.root, r, alive)


def list_jobs(instance, limit: int = 50) -> list[dict]:
    """The newest jobs first."""
    alive = _alive_now()
    return [_row(instance.root, r, alive) for r in instance.db.execute(
        f"SELECT {', '.join(JOB_COLUMNS)} FROM export_jobs ORDER BY id DESC LIMIT ?", [limit]).fetchall()]


def _update(db, job_id: int, **fields) -> None:
    sets = ", ".join(f"{k} = ?" for k in fields)
    with transaction(db):
        db.execute(f"UPDATE export_jobs SET {sets} WHERE id = ?", [*fields.values(), job_id])


def report_summary(report: dict) -> dict:
    """What the page shows of an export report (the full item list stays in the zip)."""
    return {"root": report.get("root"), "included": report.get("included"), "files": report.get("files"),
            "bytes": report.get("bytes"), "summary": report.get("summary"), "window": report.get("window"),
            "gaps": report.get("gaps", [])[:500], "excluded": report.get("excluded", [])[:500],
            "excluded_count": len(report.get("excluded", []))}


def run_job(root: str, limits, job_id: int, evaluation_date: str, options: dict,
            user: str | None, ip: str | None, map_id: str | None = None) -> None:
    """The worker thread: build, record progress and the outcome. Never raises. `map_id`: the
    map whose package it is (the instance's selected map when the job was started)."""
    inst = Instance(root, limits)
    inst.map_id = map_id
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
                _update(db, job_id, state="failed", error=e.message_zh, message=None, finished_at=utcnow(),
                        report=json.dumps(report_summary(e.report), ensure_ascii=False))
                return
            except ArchiveError as e:
                _update(db, job_id, state="failed", error=e.reason, message=None, finished_at=utcnow())
                return
            target = Path(report["path"]).resolve()
            rel = target.relative_to(inst.exports_dir.resolve())
            _update(db, job_id, state="done", path=str(rel), size=target.stat().st_size,
                    done=report["files"], total=report["files"], message="已完成",
                    report=json.dumps(report_summary(report), ensure_ascii=False), finished_at=utcnow())
    except Exception:  # the thread must record the failure, never die silently
        log.exception("export job %s failed", job_id)
        try:
            _update(inst.db, job_id, state="failed", error="生成材料包时出错，已记录。请重试或联系管理员。",
                    message=None, finished_at=utcnow())
        except Exception:
            log.exception("export job %s: could not record the failure", job_id)
    finally:
        with _active_lock:
            _active.discard(_key(root, job_id))
        inst.close()


def start_job(instance, evaluation_date: str, options: dict, user: str | None,
              ip: str | None = None) -> int:
    """Queues a build (audited as export.start) and starts its thread; returns the job id.
    `options` are export_package's flags (keys of OPTIONS). The package is of the instance's
    selected map (`instance.map_id`: the web's picked map), recorded in export_jobs.map_id."""
    options = {k: bool(options.get(k)) for k in OPTIONS}
    db = instance.db
    map_id = getattr(instance, "map_id", None)
    with _active_lock:  # no reader may see the new row as "interrupted"
        with transaction(db):
            cur = db.execute(
                "INSERT INTO export_jobs (created_at, created_by, evaluation_date, options, state, map_id) "
                "VALUES (?, ?, ?, ?, 'queued', ?)",
                [utcnow(), user, evaluation_date, json.dumps(options), map_id])
            job_id = cur.lastrowid
            audit.log(db, user, "export.start", f"export:{job_id}",
                      {"evaluation_date": evaluation_date, "options": options, "map": map_id}, ip)
        _active.add(_key(instance.root, job_id))
    t = threading.Thread(target=run_job, name=f"export-{job_id}", daemon=True,
                         args=(str(instance.root), instance.limits, job_id, evaluation_date, options,
                               user, ip, map_id))
    t.start()
    return job_id


def package_path(instance, job: dict) -> Path | None:
    """A finished job's zip, only if the server-written path stays inside exports/."""
    if job["state"] != "done" or not job["path"]:
        return None
    base = instance.exports_dir.resolve()
    path = (base / job["path"]).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def record_download(instance, job: dict, path: Path, user: str | None, ip: str | None = None) -> None:
    db = instance.db
    with transaction(db):
        audit.log(db, user, "export.download", f"export:{job['id']}",
                  {"file": path.name, "size": job["size"]}, ip)


def read_manifest(path: Path, limit: int = MANIFEST_ROWS) -> dict | None:
    """manifest.json of a package (the first `limit` files listed, `files_total`): the one
    manifest reader, archive.package.read_manifest."""
    return package_manifest(path, limit=limit)
