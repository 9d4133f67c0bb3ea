"""Reading and editing items: detail, codes, soft delete/restore, new versions."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from archive.core import audit
from archive import search
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, Refusal
from . import records
from . import photos
from .ingest import extract_and_store, resolve_item_codes, sniff_and_hash
from .requeue import requeue_if_decided
from archive.extract.ocr import needs_ocr
from archive.maps.loading import NoMapSelected, active_map_ids, code_labels, current_map, get_map

ITEM_COLUMNS = ("id", "sha256", "kind", "material_type", "title", "original_name", "unit", "date",
                "date_source", "size", "ocr_status", "review_state", "created_at", "created_by",
                "updated_at", "deleted_at", "deleted_by")


def get_item(db, item_id: int) -> dict:
    cols = ", ".join(ITEM_COLUMNS)
    row = db.execute(f"SELECT {cols}, meta FROM items WHERE id = ?", [item_id]).fetchone()
    if row is None:
        raise NotFound("no such item", f"找不到材料 #{item_id}")
    item = dict(zip(ITEM_COLUMNS + ("meta",), row))
    item["meta"] = json.loads(item["meta"] or "{}")
    item["codes"] = item_codes(db, item_id)
    return item


def item_codes(db, item_id: int, active: list[str] | None = None) -> list[str]:
    """The item's codes as users read them (bare while one map is active, else `map:code`);
    `active`: the active map ids, when a list of items already read them."""
    return code_labels(db, code_pairs(db, item_id), active)


def code_pairs(db, item_id: int) -> list[tuple[str, str]]:
    return [tuple(r) for r in db.execute(
        "SELECT map_id, code FROM item_codes WHERE item_id = ? ORDER BY rowid", [item_id])]


def item_text(db, item_id: int) -> str:
    row = db.execute("SELECT text FROM items WHERE id = ?", [item_id]).fetchone()
    return row[0] if row else ""


def item_detail(instance, item_id: int, history: bool = True) -> dict:
    """Everything `show --json` and the item page show. `history` (the item's audit rows:
    users, actions, IPs) only if asked: the web gives it to auditors and admins alone."""
    db = instance.db
    item = get_item(db, item_id)
    pairs = code_pairs(db, item_id)
    item["codes"] = [{"code": label, "name": _leaf_name(instance, map_id, code)}
                     for (map_id, code), label in zip(pairs, item["codes"])]
    item["type"] = item.pop("material_type")
    meta = item.pop("meta")
    item["exif"] = {k: meta[k] for k in ("exif_date", "exif_datetime", "gps", "orientation",
                                         "width", "height", "camera") if k in meta}
    item["meta"] = meta
    item["deleted"] = item["deleted_at"] is not None
    item["reviews"] = [dict(zip(("decision", "comment", "reviewer", "at"), r)) for r in db.execute(
        "SELECT decision, comment, reviewer, created_at FROM reviews WHERE item_id = ? ORDER BY id",
        [item_id])]
    item["versions"] = [dict(zip(("sha256", "original_name", "kind", "size", "at", "by"), r)) for r in db.execute(
        "SELECT sha256, original_name, kind, size, created_at, created_by FROM versions "
        "WHERE item_id = ? ORDER BY id", [item_id])]
    if not history:
        return item
    item["history"] = [dict(zip(("at", "user", "action", "detail", "ip"), r)) for r in db.execute(
        "SELECT at, user, action, detail, ip FROM audit WHERE target = ? ORDER BY id",
        [f"item:{item_id}"])]
    for h in item["history"]:
        h["detail"] = json.loads(h["detail"]) if h["detail"] else None
    return item


def _leaf_name(instance, map_id: str, code: str) -> str | None:
    try:
        node = get_map(instance, map_id).find(code)
    except NotFound:
        return None
    return node.name if node is not None else None


def set_codes(instance, item_id: int, codes: list[str], user=None, ip=None) -> list[str]:
    """Replace an item's codes (lenient input, the map's codes stored) in the maps in play:
    the selected (or only active) map and any map a qualified code names. Codes in other
    maps stay. Other leaves than before send a decided item back to 待审核."""
    pairs, _ = resolve_item_codes(instance, codes)
    scope = {m for m, _ in pairs}
    try:
        scope.add(current_map(instance).id)
    except NoMapSelected:
        pass
    db = instance.db
    get_item(db, item_id)
    now = utcnow()
    with transaction(db):
        old = item_codes(db, item_id)
        marks = ",".join("?" * len(scope))
        db.execute(f"DELETE FROM item_codes WHERE item_id = ? AND map_id IN ({marks})", [item_id, *scope])
        for map_id, code in pairs:
            insert(db, "item_codes", {"item_id": item_id, "map_id": map_id, "code": code,
                                      "added_at": now, "added_by": user})
        db.execute("UPDATE items SET updated_at = ? WHERE id = ?", [now, item_id])
        search.index_item(db, item_id)
        resolved = code_labels(db, pairs)
        audit.log(db, user, "item.codes", f"item:{item_id}", {"old": old, "new": resolved}, ip)
        if set(old) != set(item_codes(db, item_id)):
            requeue_if_decided(db, item_id, ["codes"], user, ip)
    records.save(instance, item_id)
    return resolved


def update_metadata(instance, item_id: int, *, title=None, unit=None, date=None, material_type=None,
                    user=None, ip=None) -> dict:
    """Edit title/unit/date/type; unchanged fields stay as they are."""
    from archive.core.dates import parse_date
    from .ingest import check_material_type

    db = instance.db
    item = get_item(db, item_id)
    changes = {}
    if title is not None and title.strip() and title.strip() != item["title"]:
        changes["title"] = title.strip()
    if unit is not None and (unit.strip() or None) != item["unit"]:
        changes["unit"] = unit.strip() or None
    if date is not None:
        parsed = parse_date(date)
        if parsed is not None and parsed.isoformat() != item["date"]:
            changes["date"] = parsed.isoformat()
            changes["date_source"] = "given"
    if material_type is not None and material_type != item["material_type"]:
        maps = [get_map(instance, m) for m in dict.fromkeys(p[0] for p in code_pairs(db, item_id))]
        changes["material_type"] = check_material_type(maps or current_map(instance), material_type)
    if not changes:
        return changes
    now = utcnow()
    with transaction(db):
        sets = ", ".join(f"{k} = ?" for k in changes)
        db.execute(f"UPDATE items SET {sets}, updated_at = ? WHERE id = ?", [*changes.values(), now, item_id])
        search.index_item(db, item_id)
        audit.log(db, user, "item.edit", f"item:{item_id}", changes, ip)
        requeue_if_decided(db, item_id, [k for k in changes if k != "date_source"], user, ip)
    records.save(instance, item_id)
    return changes


def record_download(instance, item_id: int, sha256: str, user=None, ip=None) -> None:
    """Downloads are audited (who read which file, when, from where)."""
    db = instance.db
    with transaction(db):
        audit.log(db, user, "item.download", f"item:{item_id}", {"sha256": sha256}, ip)


def soft_delete(instance, item_id: int, user=None, ip=None) -> None:
    _set_deleted(instance, item_id, deleted=True, user=user, ip=ip)


def restore(instance, item_id: int, user=None, ip=None) -> None:
    _set_deleted(instance, item_id, deleted=False, user=user, ip=ip)


def _set_deleted(instance, item_id, deleted, user, ip):
    db = instance.db
    get_item(db, item_id)
    now = utcnow()
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ?",
                   [now if deleted else None, user if deleted else None, now, item_id])
        search.index_item(db, item_id)
        audit.log(db, user, "item.delete" if deleted else "item.restore", f"item:{item_id}", None, ip)
    records.save(instance, item_id)


def replace_file(instance, item_id: int, path: Path, original_name: str | None = None,
                 user=None, ip=None) -> dict:
    """A new version of an item's file; the old one stays in the store and in `versions`."""
    db = instance.db
    item = get_item(db, item_id)
    path = Path(path)
    original_name = original_name or path.name
    kind, sha = sniff_and_hash(instance, path, original_name)
    if sha == item["sha256"]:
        raise Refusal("same file", "新文件与当前版本完全相同")
    _refuse_other_items_file(db, sha, item_id)
    extraction, size = extract_and_store(instance, path, kind, sha)
    meta = extraction.meta or {}
    if extraction.ocr_pages:
        meta["ocr_pages"] = extraction.ocr_pages
    wants_ocr = needs_ocr(kind, extraction.ocr_pages)
    hashes = photos.hashes_or_none(path) if photos.is_photo(kind) else None   # reuse check
    now = utcnow()
    with transaction(db):
        _refuse_other_items_file(db, sha, item_id)   # again: a concurrent upload may have won
        db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, ?, ?)",
                   [sha, size, kind, now])
        updates = {"sha256": sha, "kind": kind, "original_name": original_name, "size": size,
                   "text": extraction.text or "", "text_version": extraction.text_version,
                   "meta": json.dumps(meta, ensure_ascii=False, default=str),
                   "ocr_status": "pending" if wants_ocr else "none", "updated_at": now}
        if item["date_source"] != "given":
            updates["date"] = meta.get("exif_date") or meta.get("media_date")
            updates["date_source"] = ("exif" if meta.get("exif_date") else
                                      "media" if meta.get("media_date") else None)
        sets = ", ".join(f"{k} = ?" for k in updates)
        db.execute(f"UPDATE items SET {sets} WHERE id = ?", [*updates.values(), item_id])
        insert(db, "versions", {"item_id": item_id, "sha256": sha, "original_name": original_name,
                                "kind": kind, "size": size, "created_at": now, "created_by": user})
        search.index_item(db, item_id)
        if hashes is not None:
            photos.record_photo(db, sha, hashes=hashes)
        audit.log(db, user, "item.replace", f"item:{item_id}",
                  {"old_sha256": item["sha256"], "sha256": sha, "name": original_name}, ip)
        requeue_if_decided(db, item_id, ["file"], user, ip)
    records.save(instance, item_id)
    if hashes is not None:
        photos.link_photo(db, sha)
    return {"id": item_id, "sha256": sha}


def _refuse_other_items_file(db, sha: str, item_id: int) -> None:
    other = db.execute("SELECT id FROM items WHERE sha256 = ? AND id != ?", [sha, item_id]).fetchone()
    if other:
        raise Refusal("duplicate of another item", f"该文件已作为材料 #{other[0]} 入库")


def count_items(db, codes: list[str], include_deleted: bool = False, map_id: str | None = None) -> int:
    """Distinct items mapped to any of these codes (of map `map_id`; any map if None), live only
    unless `include_deleted`."""
    if not codes:
        return 0
    marks = ",".join("?" * len(codes))
    alive = "" if include_deleted else "AND i.deleted_at IS NULL"
    in_map = "c.map_id = ? AND " if map_id else ""
    return db.execute(f"SELECT count(DISTINCT i.id) FROM items i JOIN item_codes c ON c.item_id = i.id "
                      f"WHERE {in_map}c.code IN ({marks}) {alive}",
                      ([map_id] if map_id else []) + list(codes)).fetchone()[0]


def types_present(db, codes: list[str], map_id: str | None = None) -> Counter:
    """Material type → live items mapped to these codes of map `map_id` (any map if None) (a
    parent node's summary; leaves use archive.readiness.coverage.leaf_coverage, which applies the
    window and review state)."""
    if not codes:
        return Counter()
    marks = ",".join("?" * len(codes))
    in_map = "c.map_id = ? AND " if map_id else ""
    return Counter(dict(db.execute(
        f"SELECT i.material_type, count(DISTINCT i.id) FROM items i JOIN item_codes c ON c.item_id = i.id "
        f"WHERE i.deleted_at IS NULL AND {in_map}c.code IN ({marks}) GROUP BY i.material_type",
        ([map_id] if map_id else []) + list(codes)).fetchall()))


NO_DATE_WARNING = "没有日期：已入库，但补填日期前不会收入申报材料包 (no date)"


def is_undated(db, item_id: int) -> bool:
    row = db.execute("SELECT date FROM items WHERE id = ?", [item_id]).fetchone()
    return row is not None and not row[0]


def undated_items(db, unit: str | None = None, limit: int = 20) -> tuple[int, list[dict]]:
    """(count, the newest `limit`) live items without a date: no package takes them (their
    window cannot be checked), so the dashboard lists them as something to fix."""
    where, params = "deleted_at IS NULL AND (date IS NULL OR date = '')", []
    if unit:
        where += " AND unit = ?"
        params.append(unit)
    total = db.execute(f"SELECT count(*) FROM items WHERE {where}", params).fetchone()[0]
    rows = [dict(zip(("id", "title", "material_type", "unit", "created_at"), r)) for r in db.execute(
        f"SELECT id, title, material_type, unit, created_at FROM items WHERE {where} ORDER BY id DESC LIMIT ?",
        [*params, limit])]
    return total, rows


def list_items(db, *, code_in: list[str] | None = None, unit: str | None = None,
               review_state: str | None = None, include_deleted=False, limit=100, offset=0,
               map_id: str | None = None) -> list[dict]:
    """Items, newest first; `code_in` (codes of map `map_id`, any map if None) and `map_id`
    alone (items filed in that map) narrow the list."""
    where, params = [], []
    if not include_deleted:
        where.append("i.deleted_at IS NULL")
    if code_in is not None:
        if not code_in:
            return []
        in_map = "map_id = ? AND " if map_id else ""
        where.append(f"i.id IN (SELECT item_id FROM item_codes WHERE {in_map}code IN ({','.join('?' * len(code_in))}))")
        params += ([map_id] if map_id else []) + list(code_in)
    elif map_id:
        where.append("i.id IN (SELECT item_id FROM item_codes WHERE map_id = ?)")
        params.append(map_id)
    if unit:
        where.append("i.unit = ?")
        params.append(unit)
    if review_state:
        where.append("i.review_state = ?")
        params.append(review_state)
    sql = (f"SELECT {', '.join('i.' + c for c in ITEM_COLUMNS)} FROM items i "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} "
           "ORDER BY i.date DESC, i.id DESC LIMIT ? OFFSET ?")
    rows = [dict(zip(ITEM_COLUMNS, r)) for r in db.execute(sql, [*params, limit, offset])]
    active = active_map_ids(db)
    pairs: dict[int, list[tuple[str, str]]] = {r["id"]: [] for r in rows}
    if pairs:   # one query for the page's codes, not one per row
        for item_id, map_id_, code in db.execute(
                f"SELECT item_id, map_id, code FROM item_codes WHERE item_id IN ({','.join('?' * len(pairs))}) "
                "ORDER BY item_id, rowid", list(pairs)):
            pairs[item_id].append((map_id_, code))
    for r in rows:
        r["codes"] = code_labels(db, pairs[r["id"]], active)
    return rows
