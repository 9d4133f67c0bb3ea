"""The OCR queue: items with `ocr_status = 'pending'` (scanned PDF pages, every photo) get their
recognised text added to their text and search index.

Recognition is slow and CPU-bound, so it runs in worker processes (one per core, one thread
each, at a lower CPU priority than the web server), never in the web server's threads or under
any transaction; the write is one short transaction that first checks the item still has the
same file. `evidence serve` keeps a pool of workers for as long as it runs; `evidence ocr` and
tests may also recognise in-process (no pool)."""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from archive import search
from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.progress import Progress
from archive.extract.ocr import OCR_SEPARATOR, OcrError, default_engine, ocr_available, ocr_file

__all__ = ["OCR_SEPARATOR", "ocr_available", "pending_count", "run_pending", "worker_pool",
           "start_background_worker"]

log = logging.getLogger(__name__)


def pending_count(db) -> int:
    return db.execute("SELECT COUNT(*) FROM items WHERE ocr_status = 'pending' AND deleted_at IS NULL").fetchone()[0]


def default_workers() -> int:
    """One worker per core (EVIDENCE_OCR_WORKERS overrides)."""
    try:
        return max(1, int(os.environ.get("EVIDENCE_OCR_WORKERS", "")))
    except ValueError:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _worker_init() -> None:
    """In each worker: one thread per engine, no telemetry, below the web server's priority."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    try:
        os.nice(10)
    except OSError:
        pass


def _recognise(path: str, kind: str, pages: list[int], engine: str) -> dict[int, str]:
    return ocr_file(Path(path), kind, pages, engine=engine)


def worker_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Worker processes for OCR. "spawn": a fresh interpreter, not a fork of a threaded server."""
    return ProcessPoolExecutor(workers or default_workers(), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)


def run_pending(instance, limit: int | None = None, progress: Progress | None = None,
                pool: ProcessPoolExecutor | None = None, stop: threading.Event | None = None) -> dict:
    """Recognise pending items, oldest first; in `pool` if given, else in this process.
    Returns {"done": [...ids], "failed": [{id, error}]}. Once `stop` is set (the server
    stopping) it records nothing more and cancels the files not yet started: they stay pending."""
    db = instance.db
    rows = db.execute(
        "SELECT id, sha256, kind, meta FROM items WHERE ocr_status = 'pending' AND deleted_at IS NULL "
        "ORDER BY id" + (" LIMIT ?" if limit else ""), [limit] if limit else []).fetchall()
    engine = default_engine()
    jobs = []
    for item_id, sha, kind, meta_json in rows:
        pages = json.loads(meta_json or "{}").get("ocr_pages") or []
        args = (str(instance.store.path(sha)), kind, pages, engine)
        if pool is not None:
            jobs.append((item_id, sha, pool.submit(_recognise, *args)))
        else:
            jobs.append((item_id, sha, args))
    done, failed = [], []
    for n, (item_id, sha, job) in enumerate(jobs, start=1):
        if stop is not None and stop.is_set():
            for _, _, rest in jobs[n - 1:]:
                if isinstance(rest, Future):
                    rest.cancel()   # a file already in a worker finishes there, unrecorded
            break
        try:
            pages = job.result() if isinstance(job, Future) else _recognise(*job)
        except Exception as e:   # one unreadable file must not stall the queue behind it
            if not isinstance(e, OcrError):
                log.warning("OCR of item %s failed: %s: %s", item_id, type(e).__name__, e)
            error = str(e) if isinstance(e, OcrError) else f"{type(e).__name__}: {e}"
            _record(db, item_id, sha, None, error, engine)
            failed.append({"id": item_id, "error": error})
        else:
            if _record(db, item_id, sha, pages, None, engine):
                done.append(item_id)
        if progress:
            progress(n, len(jobs), f"#{item_id}")
    return {"done": done, "failed": failed}


def _record(db, item_id: int, sha: str, pages: dict[int, str] | None, error: str | None,
            engine: str | None) -> bool:
    now = utcnow()
    with transaction(db):
        row = db.execute("SELECT sha256, ocr_status, text, meta FROM items WHERE id = ?", [item_id]).fetchone()
        if row is None or row[0] != sha or row[1] != "pending":
            return False    # replaced or handled meanwhile: the newer state wins
        meta = json.loads(row[3] or "{}")
        if error is not None:
            meta["ocr_error"] = error
            db.execute("UPDATE items SET ocr_status = 'failed', meta = ?, updated_at = ? WHERE id = ?",
                       [json.dumps(meta, ensure_ascii=False), now, item_id])
            audit.log(db, "ocr", "item.ocr.failed", f"item:{item_id}", {"error": error})
            return False
        recognised = "\n".join(pages[n].strip() for n in sorted(pages) if pages[n].strip())
        text = row[2] + (OCR_SEPARATOR + recognised if recognised else "")
        meta["ocr"] = {"engine": engine, "pages": sorted(pages), "at": now}
        db.execute("UPDATE items SET text = ?, ocr_status = 'done', meta = ?, updated_at = ? WHERE id = ?",
                   [text, json.dumps(meta, ensure_ascii=False), now, item_id])
        search.index_item(db, item_id)
        audit.log(db, "ocr", "item.ocr", f"item:{item_id}", {"pages": sorted(pages), "chars": len(recognised)})
    return True


def start_background_worker(instance_dir, interval_s: float = 30.0,
                            workers: int | None = None) -> threading.Thread | None:
    """A daemon thread that feeds the queue to worker processes while the web app runs;
    None without an engine. The thread only waits and writes; the processes recognise."""
    if not ocr_available():
        return None
    from archive.core.instance import Instance

    stop = threading.Event()

    def loop():
        instance = Instance.open(instance_dir)
        pool = worker_pool(workers)
        try:
            while not stop.is_set():
                try:
                    run_pending(instance, limit=4 * default_workers(), pool=pool, stop=stop)
                except Exception:   # never let one bad file end the worker; it is logged
                    log.exception("OCR worker error")
                    pool.shutdown(cancel_futures=True)
                    pool = worker_pool(workers)   # a worker that died takes the pool with it
                    stop.wait(interval_s)
                if pending_count(instance.db) == 0:
                    stop.wait(interval_s)
        finally:
            pool.shutdown(cancel_futures=True)
            instance.close()

    thread = threading.Thread(target=loop, name="ocr-worker", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
