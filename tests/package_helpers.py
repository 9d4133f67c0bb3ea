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

from archive.core import audit
from archive.core.db import insert, transaction, utcnow


def _real_ingest_available() -> bool:
    try:
        for name in ("pdf", "image", "docx", "ledger"):
            importlib.import_module(f"archive.extract.kinds.{name}")
        importlib.import_module("archive.evidence.ingest")
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
        from archive.evidence.ingest import IngestRequest, ingest_files

        res = ingest_files(instance, [IngestRequest(path=path, codes=list(codes), material_type=material_type,
                                                    date=date, unit=unit, title=title,
                                                    original_name=original_name)], user="tester")
        assert not res.refused, res.refused
        item_id = (res.added or res.duplicates)[0]["id"]
    else:
        item_id = insert_direct(instance, path, codes, material_type, date, title, unit, original_name)
    if review:
        from archive.evidence.review import review_item

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


EVIL = '=HYPERLINK("http://evil.example","点此查看")'


def load_mini_map_with_edition(instance, edition: str) -> None:
    """Reload tests/data/mini_map.yaml with another `edition` (e.g. one that looks like a formula)."""
    from archive.maps.loading import load_map_text_into

    src = Path(__file__).parent / "data" / "mini_map.yaml"
    text = src.read_text("utf-8").replace("edition: 测试用测评体系（迷你）",
                                          "edition: " + json.dumps(edition, ensure_ascii=False), 1)
    assert json.dumps(edition, ensure_ascii=False) in text
    load_map_text_into(instance, text, "mini_map.yaml", user="test")


def xlsx_sheet_xml(path) -> str:
    """Every worksheet's XML in an xlsx (the raw text, to look for <f> formula elements)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/worksheets/"))


def assert_text_not_formula(path, text: str) -> None:
    """`text` is in the workbook as a plain string cell, and the workbook has no formula at all."""
    import re

    from openpyxl import load_workbook

    xml = xlsx_sheet_xml(path)
    assert not re.search(r"<f[\s>/]", xml), "formula element in " + str(path)
    ws = load_workbook(path).active
    found = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and text in c.value]
    assert found, f"{text!r} not in {path}"
    assert all(c.data_type == "s" for c in found)
