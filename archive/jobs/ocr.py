"""The OCR queue: items with `ocr_status = 'pending'` get their recognised text added to their
text and search index. Recognition runs outside any transaction (it is slow); the write is one
short transaction that first checks the item still has the same file."""
from __future__ import annotations

import json
import logging
import threading

from archive.core import audit
from archive import search
from archive.core.db import transaction, utcnow
from archive.core.progress import Progress
from archive.extract import registry
from archive.extract.ocr import OcrError, ocr_available, ocr_file

log = logging.getLogger(__name__)
OCR_SEPARATOR = "\n\n[OCR]\n"
SITE_PHOTO_TYPE = "实景图片"


def needs_ocr(kind: str, material_type: str, ocr_pages: list[int]) -> bool:
    """Scanned PDF pages, and photos filed as documents (a photographed 通知 is not a 实景图片)."""
    return bool(ocr_pages) or (registry.is_image(kind) and material_type != SITE_PHOTO_TYPE)


def pending_count(db) -> int:
    return db.execute("SELECT COUNT(*) FROM items WHERE ocr_status = 'pending' AND deleted_at IS NULL").fetchone()[0]


def run_pending(instance, limit: int | None = None, progress: Progress | None = None) -> dict:
    """Recognise pending items, oldest first. Returns {"done": [...ids], "failed": [{id, error}]}."""
    db = instance.db
    rows = db.execute(
        "SELECT id, sha256, kind, meta FROM items WHERE ocr_status = 'pending' AND deleted_at IS NULL "
        "ORDER BY id" + (" LIMIT ?" if limit else ""), [limit] if limit else []).fetchall()
    done, failed = [], []
    for n, (item_id, sha, kind, meta_json) in enumerate(rows, start=1):
        meta = json.loads(meta_json or "{}")
        try:
            pages = ocr_file(instance.store.path(sha), kind, meta.get("ocr_pages") or [])
        except Exception as e:   # one unreadable file must not stall the queue behind it
            if not isinstance(e, OcrError):
                log.exception("OCR of item %s failed", item_id)
            error = str(e) if isinstance(e, OcrError) else f"{type(e).__name__}: {e}"
            _record(db, item_id, sha, None, error)
            failed.append({"id": item_id, "error": error})
        else:
            if _record(db, item_id, sha, pages, None):
                done.append(item_id)
        if progress:
            progress(n, len(rows), f"#{item_id}")
    return {"done": done, "failed": failed}


def _record(db, item_id: int, sha: str, pages: dict[int, str] | None, error: str | None) -> bool:
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
        meta["ocr"] = {"engine": "tesseract", "pages": sorted(pages), "at": now}
        db.execute("UPDATE items SET text = ?, ocr_status = 'done', meta = ?, updated_at = ? WHERE id = ?",
                   [text, json.dumps(meta, ensure_ascii=False), now, item_id])
        search.index_item(db, item_id)
        audit.log(db, "ocr", "item.ocr", f"item:{item_id}", {"pages": sorted(pages), "chars": len(recognised)})
    return True


def start_background_worker(instance_dir, interval_s: float = 30.0) -> threading.Thread | None:
    """A daemon thread that works the queue while the web app runs; None without an engine."""
    if not ocr_available():
        return None
    from archive.core.instance import Instance

    stop = threading.Event()

    def loop():
        instance = Instance.open(instance_dir)
        while not stop.is_set():
            try:
                run_pending(instance, limit=20)
            except Exception:   # never let one bad file end the worker; it is logged
                log.exception("OCR worker error")
            stop.wait(interval_s)

    thread = threading.Thread(target=loop, name="ocr-worker", daemon=True)
    thread.stop = stop
    thread.start()
    return thread
