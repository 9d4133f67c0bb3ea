"""Versioned re-extraction: items whose text came from an older extractor get it again from
their stored originals (e.g. PDF text from pdftotext instead of pypdf, text_version 1 → 2).

Each item is its own transaction (text, meta, text_version, search row, audit row), so a run
that is killed leaves every item either fully updated or untouched, and running it again
continues where it stopped. Extraction runs outside any transaction (it is slow). Text that
OCR added to an item is kept."""
from __future__ import annotations

import json
from typing import Callable

from archive import search
from archive.core import audit
from archive.core.db import transaction
from archive.core.errors import Refusal
from archive.extract import extract, registry
from archive.extract.ocr import OCR_SEPARATOR, split_recognised

Progress = Callable[[int, int, str], None]


def stale_items(db) -> list[tuple[int, str, str, int]]:
    """(id, sha256, kind, text_version) of items older than their kind's parser, oldest first."""
    current = {p.kind: p.text_version for p in registry.parsers()}
    rows = db.execute("SELECT id, sha256, kind, text_version FROM items ORDER BY id").fetchall()
    return [tuple(r) for r in rows if r[2] in current and r[3] < current[r[2]]]


def reextract(instance, user: str | None = None, progress: Progress | None = None) -> dict:
    """Re-extract every stale item. Returns {"done": [ids], "failed": [{id, reason}], "total"}."""
    db = instance.db
    todo = stale_items(db)
    done, failed = [], []
    for n, (item_id, sha, kind, old_version) in enumerate(todo, start=1):
        path = instance.store.path(sha)
        try:
            if not path.is_file():
                raise Refusal("original missing", "原件缺失")
            extraction = extract(path, kind, instance.limits)
            if extraction.text_version <= old_version:
                # e.g. pdftotext is not installed here: nothing better to write
                raise Refusal("no newer extractor", "本机缺少新的提取工具（如 poppler-utils 的 pdftotext）")
        except Refusal as e:
            failed.append({"id": item_id, "reason": str(e)})
        else:
            if _record(db, item_id, sha, old_version, extraction, user):
                done.append(item_id)
        if progress:
            progress(n, len(todo), f"#{item_id}")
    return {"total": len(todo), "done": done, "failed": failed}


def _record(db, item_id: int, sha: str, old_version: int, extraction, user) -> bool:
    with transaction(db):
        row = db.execute("SELECT sha256, text_version, text, meta, ocr_status FROM items WHERE id = ?",
                         [item_id]).fetchone()
        if row is None or row[0] != sha or row[1] != old_version:
            return False   # replaced or re-extracted meanwhile: the newer state wins
        _, _, old_text, meta_json, ocr_status = row
        recognised = split_recognised(old_text)[1]
        text = (extraction.text or "") + (OCR_SEPARATOR + recognised if recognised is not None else "")
        meta = json.loads(meta_json or "{}")
        meta.update(extraction.meta or {})
        if extraction.ocr_pages:
            meta["ocr_pages"] = extraction.ocr_pages
        if extraction.ocr_pages and ocr_status == "none":
            ocr_status = "pending"   # a page the new extractor finds empty is a scan to read
        db.execute("UPDATE items SET text = ?, meta = ?, text_version = ?, ocr_status = ? WHERE id = ?",
                   [text, json.dumps(meta, ensure_ascii=False, default=str), extraction.text_version,
                    ocr_status, item_id])
        search.index_item(db, item_id)
        audit.log(db, user, "item.reextract", f"item:{item_id}",
                  {"text_version": [old_version, extraction.text_version], "chars": len(text)})
    return True
