"""Building a real archive for the coverage and package tests.

`add(instance, path, codes, material_type, ...)` goes through the real ingest
(`archive.ingest.ingest_files`) when every extractor is importable; while archive/extract is
still being written it stores the file with `instance.store.put` and writes the same rows
ingest writes (items, files, item_codes, versions, audit) in one transaction.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

from archive import audit
from archive.db import insert, transaction, utcnow


def _real_ingest_available() -> bool:
    try:
        for name in ("pdf", "image", "office", "ledger"):
            importlib.import_module(f"archive.extract.{name}")
        importlib.import_module("archive.ingest")
    except ImportError:
        return False
    return True


REAL_INGEST = _real_ingest_available()
KINDS = {".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".docx": "docx",
         ".xlsx": "xlsx", ".xls": "xls", ".csv": "csv"}


def add(instance, path, codes, material_type, date=None, title=None, unit=None,
        review: str | None = None, original_name: str | None = None, direct: bool = False) -> int:
    """Add one file; returns the item id. `review`: 'approved' / 'rejected' decision."""
    path = Path(path)
    if REAL_INGEST and not direct:
        from archive.ingest import IngestRequest, ingest_files

        res = ingest_files(instance, [IngestRequest(path=path, codes=list(codes), material_type=material_type,
                                                    date=date, unit=unit, title=title,
                                                    original_name=original_name)], user="tester")
        assert not res.refused, res.refused
        item_id = (res.added or res.duplicates)[0]["id"]
    else:
        item_id = insert_direct(instance, path, codes, material_type, date, title, unit, original_name)
    if review:
        from archive.review import review_item

        review_item(instance, item_id, review, comment=f"{review} by test", by="审核员甲")
    return item_id


def insert_direct(instance, path, codes, material_type, date=None, title=None, unit=None,
                  original_name=None, size=None) -> int:
    """Store a file and write its rows directly (no extraction, no search index)."""
    sha, size = instance.store.put(path)
    name = original_name or path.name
    kind = KINDS.get(Path(name).suffix.lower(), "pdf")
    date_source = "given" if date else None
    if date is None and kind == "jpeg":
        date, date_source = _exif_date(path), "exif"
    now = utcnow()
    db = instance.db
    with transaction(db):
        if not db.execute("SELECT 1 FROM files WHERE sha256 = ?", [sha]).fetchone():
            insert(db, "files", {"sha256": sha, "size": size, "kind": kind, "stored_at": now})
        item_id = insert(db, "items", {
            "sha256": sha, "kind": kind, "material_type": material_type, "title": title or Path(name).stem,
            "original_name": name, "unit": unit, "date": date, "date_source": date_source, "size": size,
            "meta": json.dumps({}), "created_at": now, "created_by": "tester", "updated_at": now})
        for code in codes:
            insert(db, "item_codes", {"item_id": item_id, "code": code, "added_at": now, "added_by": "tester"})
        insert(db, "versions", {"item_id": item_id, "sha256": sha, "original_name": name, "kind": kind,
                                "size": size, "created_at": now, "created_by": "tester"})
        audit.log(db, "tester", "item.add", f"item:{item_id}")
    return item_id


def _exif_date(path: Path) -> str | None:
    from PIL import Image

    with Image.open(path) as im:
        exif = im.getexif().get_ifd(0x8769)
        value = exif.get(36867)
    if not value:
        return None
    return value[:10].replace(":", "-")
