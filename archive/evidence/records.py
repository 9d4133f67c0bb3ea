"""A small catalogue record beside every stored file, and rebuilding the catalogue from them.

`files/ab/cd/<sha256>.json` holds what the archive knows of the item that file belongs to:
original name, kind, codes, unit, date, title, material type, review state and history of
versions. It is written when the file is stored (before the item's transaction, without an
id) and rewritten after every committed change of the item (with its id). If archive.db is
lost or damaged and there is no backup, `evidence rebuild` makes a new catalogue from these
records: items keep their ids, codes, dates and review states; the text is extracted again
from the files. Accounts and the audit log live only in the database and are not rebuilt.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import UsageError

RECORD_VERSION = 1


def _stamp() -> str:
    """When a record was written, to the microsecond: the newest record of an item wins."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_of(db, item_id: int) -> dict | None:
    """The record of an item as the database holds it now."""
    cur = db.execute("SELECT * FROM items WHERE id = ?", [item_id])
    row = cur.fetchone()
    if row is None:
        return None
    item = dict(zip([d[0] for d in cur.description], row))
    return {
        "record": RECORD_VERSION, "item_id": item_id, "sha256": item["sha256"], "kind": item["kind"],
        "material_type": item["material_type"], "title": item["title"],
        "original_name": item["original_name"], "unit": item["unit"], "date": item["date"],
        "date_source": item["date_source"], "size": item["size"], "meta": item.get("meta"),
        "codes": [[r[0], r[1]] for r in db.execute(   # [map_id, code]: several maps may be active
            "SELECT map_id, code FROM item_codes WHERE item_id = ? ORDER BY rowid", [item_id])],
        "review_state": item["review_state"], "deleted_at": item["deleted_at"],
        "created_at": item["created_at"], "created_by": item["created_by"],
        "reviews": [dict(zip(("decision", "comment", "reviewer", "created_at"), r)) for r in db.execute(
            "SELECT decision, comment, reviewer, created_at FROM reviews WHERE item_id = ? ORDER BY id",
            [item_id])],
        "versions": [dict(zip(("sha256", "original_name", "kind", "size", "created_at", "created_by"), r))
                     for r in db.execute("SELECT sha256, original_name, kind, size, created_at, created_by "
                                         "FROM versions WHERE item_id = ? ORDER BY id", [item_id])],
        "recorded_at": _stamp(),
    }


def _dump(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def write_pending(instance, sha: str, fields: dict) -> None:
    """The record written with the store write, before the item has an id."""
    instance.store.write_record(sha, _dump({"record": RECORD_VERSION, "item_id": None, "sha256": sha,
                                            "recorded_at": _stamp(), **fields}))


def save(instance, item_id: int) -> None:
    """Rewrite an item's record from the database (after its transaction committed). Best
    effort: the database is the truth; a record that cannot be written only weakens rebuild."""
    record = record_of(instance.db, item_id)
    if record is None:
        return
    try:
        instance.store.write_record(record["sha256"], _dump(record))
    except OSError:
        pass


# -- rebuild ---------------------------------------------------------------------------

def rebuild(instance, map_path: Path, user: str | None = None) -> dict:
    """Make a new archive.db from the records beside the stored files (the old DB, if any, is
    kept as archive.db.damaged-<time>). Returns {"items", "files", "without_record",
    "new_ids", "moved_aside", "map"}."""
    from archive import search
    from archive.extract import extract
    from archive.extract.ocr import needs_ocr
    from archive.maps.loading import load_map_into
    from archive.maps.indicators import load_map

    load_map(map_path)   # a bad map is refused before anything moves
    damaged = instance.damage()
    if damaged is None and instance.exists():
        try:
            healthy = instance.db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except Exception:   # noqa: BLE001 - any failure to read it means it is not healthy
            healthy = False
        instance.close()
        if healthy:
            raise UsageError("database healthy",
                             f"{instance.db_path} 完好，无需重建；检查请用 evidence fsck")
    if not instance.files_dir.is_dir():
        raise UsageError("no file store", f"{instance.files_dir} 不存在，无从重建")
    moved = None
    if instance.db_path.exists():
        moved = instance.db_path.with_name(f"archive.db.damaged-{utcnow().replace(':', '')}")
        os.replace(instance.db_path, moved)
    for suffix in ("-wal", "-shm"):
        side = Path(str(instance.db_path) + suffix)
        if side.exists():
            shutil.move(side, Path(str(moved or instance.db_path) + suffix))
    for d in (instance.files_dir, instance.thumbs_dir, instance.exports_dir):
        d.mkdir(parents=True, exist_ok=True)
    instance.create(rebuilding=True)
    load_map_into(instance, map_path, user=user)

    records: dict[int, dict] = {}
    pending: list[dict] = []
    for sha, path in instance.store.iter_records():
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if rec.get("item_id") is None:
            pending.append(rec)
        elif rec["item_id"] not in records or _newer(rec, records[rec["item_id"]]):
            records[rec["item_id"]] = rec
    used = {r["sha256"] for r in records.values()} | {v["sha256"] for r in records.values()
                                                       for v in r.get("versions", [])}
    db, store = instance.db, instance.store
    new_ids = []
    next_id = max(records, default=0) + 1
    for rec in sorted(pending, key=lambda r: r["recorded_at"]):
        if rec["sha256"] not in used and store.exists(rec["sha256"]):
            rec = dict(rec, item_id=next_id, versions=[])
            records[next_id] = rec
            new_ids.append(next_id)
            used.add(rec["sha256"])
            next_id += 1
    now = utcnow()
    stored = set(store.iter_all())
    for item_id in sorted(records):
        rec = records[item_id]
        if rec["sha256"] not in stored:
            continue
        text, ocr, text_version = _text(store.path(rec["sha256"]), rec, instance, extract, needs_ocr)
        with transaction(db):
            for sha in {rec["sha256"], *(v["sha256"] for v in rec.get("versions", []))} & stored:
                db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, ?, ?)",
                           [sha, store.path(sha).stat().st_size, rec["kind"], now])
            insert(db, "items", {
                "id": item_id, "sha256": rec["sha256"], "kind": rec["kind"],
                "material_type": rec["material_type"], "title": rec["title"],
                "original_name": rec["original_name"], "unit": rec.get("unit"), "date": rec.get("date"),
                "date_source": rec.get("date_source"), "size": store.path(rec["sha256"]).stat().st_size,
                "text": text, "text_version": text_version, "meta": rec.get("meta") or "{}",
                "ocr_status": "pending" if ocr else "none",
                "review_state": rec.get("review_state") or "pending", "created_at": rec.get("created_at") or now,
                "created_by": rec.get("created_by"), "updated_at": now, "deleted_at": rec.get("deleted_at")})
            for entry in rec.get("codes", []):
                map_id, code = entry if isinstance(entry, list) else ("", entry)   # '' = the active map
                insert(db, "item_codes", {"item_id": item_id, "map_id": map_id, "code": code,
                                          "added_at": now, "added_by": user})
            versions = rec.get("versions") or [{"sha256": rec["sha256"], "original_name": rec["original_name"],
                                                "kind": rec["kind"], "size": rec.get("size"),
                                                "created_at": rec.get("created_at"), "created_by": rec.get("created_by")}]
            for v in versions:
                insert(db, "versions", {"item_id": item_id, "sha256": v["sha256"], "original_name": v["original_name"],
                                        "kind": v["kind"], "size": v.get("size") or 0,
                                        "created_at": v.get("created_at") or now, "created_by": v.get("created_by")})
            for r in rec.get("reviews", []):
                insert(db, "reviews", {"item_id": item_id, **r})
            search.index_item(db, item_id)
        save(instance, item_id)
    with transaction(db):
        audit.log(db, user, "archive.rebuild", "archive",
                  {"items": len(records), "moved_aside": str(moved) if moved else None})
    recorded = used | {r["sha256"] for r in records.values()}
    return {"items": len([i for i in records if records[i]["sha256"] in stored]), "files": len(stored),
            "without_record": sorted(stored - recorded), "new_ids": new_ids,
            "moved_aside": str(moved) if moved else None, "map": str(map_path)}


def _newer(a: dict, b: dict) -> bool:
    """Is record `a` a later state of the item than `b`? By time, then by versions held."""
    return (a.get("recorded_at", ""), len(a.get("versions", []))) > (b.get("recorded_at", ""), len(b.get("versions", [])))


def _text(path: Path, rec: dict, instance, extract, needs_ocr) -> tuple[str, bool, int]:
    """The file's text extracted again, whether it goes back on the OCR queue, and which
    extractor version made the text (items.text_version)."""
    try:
        extraction = extract(path, rec["kind"], instance.limits)
    except Exception:   # noqa: BLE001 - a file that no longer extracts still gets its item back
        return "", False, 1
    return extraction.text or "", needs_ocr(rec["kind"], extraction.ocr_pages), extraction.text_version
