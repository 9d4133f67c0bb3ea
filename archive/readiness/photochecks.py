"""Checks on photos a reviewer would otherwise do by eye (issue 11): taken in the window,
dates that agree, a date at all, and not the same picture as another item's.

`photo_warnings(instance, item_ids)` → {item_id: [{"key", "message"}]} for the upload result
(web JSON, CLI add/import), the item page and the review queue. The window is the one of the
evaluation date reviewers work to (`evaluation_date_for_checks`): the instance setting today,
the current evaluation cycle's date once cycles exist — that function is the one place to
change. Without an evaluation date the window check is skipped (the others still run).
"""
from __future__ import annotations

import json
from datetime import date

from archive.core.dates import parse_date
from archive.core.settings import EVALUATION_DATE, get_setting, set_setting
from archive.core.errors import UsageError
from archive.evidence import photos
from archive.maps.loading import current_map

DATES_APART_DAYS = 30


def evaluation_date_for_checks(db) -> date | None:
    """The evaluation date photo checks use (None: not set yet)."""
    raw = get_setting(db, EVALUATION_DATE)
    try:
        return parse_date(raw) if raw else None
    except Exception:
        return None


def set_evaluation_date(db, value: str | None, by: str | None, ip: str | None = None) -> date | None:
    """Set (or with None/"" clear) the evaluation date reviewers work to; audited."""
    if value is None or not str(value).strip():
        set_setting(db, EVALUATION_DATE, None, by, ip)
        return None
    try:
        d = parse_date(str(value).strip())
    except Exception:
        d = None
    if d is None:
        raise UsageError("bad evaluation date", f"测评日期「{value}」无效，应为 YYYY-MM-DD")
    set_setting(db, EVALUATION_DATE, d.isoformat(), by, ip)
    return d


def _warning(key: str, message: str) -> dict:
    return {"key": key, "message": f"{message} ({key})"}


def _as_date(value) -> date | None:
    if not value:
        return None
    try:
        return parse_date(str(value)[:10])
    except Exception:
        return None


def _window(imap, evaluation: date | None, material_type: str):
    if evaluation is None or imap is None:
        return None
    try:
        lo, hi = imap.window(evaluation, material_type)
    except Exception:
        return None
    return _as_date(lo), _as_date(hi)


def check_photo(item: dict, window, reuse: list[dict]) -> list[dict]:
    """The warnings for one photo item (keys: out of window, dates disagree, no date, reused)."""
    out = []
    meta = item.get("meta") or {}
    if isinstance(meta, str):
        meta = json.loads(meta or "{}")
    exif = _as_date(meta.get("exif_date"))
    given = _as_date(item.get("date")) if item.get("date_source") == "given" else None
    if exif is None and given is None:
        out.append(_warning("no date", "照片没有拍摄日期（EXIF）也没有填报日期，请补填拍摄日期"))
    if window is not None:
        lo, hi = window
        for label, d in (("拍摄日期", exif), ("填报日期", given)):
            if d is not None and not lo <= d <= hi:
                out.append(_warning("out of window", f"{label} {d} 不在材料时间窗口 {lo} 至 {hi} 内"))
                break   # the EXIF date speaks first; one window warning is enough
    if exif is not None and given is not None and abs((exif - given).days) > DATES_APART_DAYS:
        out.append(_warning("dates disagree", f"拍摄日期 {exif} 与填报日期 {given} 相差 {abs((exif - given).days)} 天"))
    for other in reuse:
        where = []
        if other["other_unit"]:
            where.append(f"{other['unit'] or '未指定单位'}")
        if other["other_leaf"]:
            where.append("另一测评内容 " + "、".join(other["codes"]))
        how = "完全相同" if other["distance"] == 0 else "几乎相同"
        out.append(dict(_warning("reused", f"与材料 #{other['id']}「{other['title']}」的照片{how}"
                                 + (f"（{'；'.join(where)}）" if where else "")),
                        item_id=other["id"]))
    return out


def photo_warnings(instance, item_ids) -> dict[int, list[dict]]:
    """{item id: warnings} for the photos among `item_ids` (other items get no entry)."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        return {}
    db = instance.db
    try:
        imap = current_map(instance)
    except Exception:
        imap = None
    evaluation = evaluation_date_for_checks(db)
    rows = db.execute(f"SELECT id, sha256, kind, material_type, unit, date, date_source, meta FROM items "
                      f"WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
    out: dict[int, list[dict]] = {}
    for item_id, sha, kind, mtype, unit, d, source, meta in rows:
        if not photos.is_photo(kind):
            continue
        codes = [c for (c,) in db.execute("SELECT code FROM item_codes WHERE item_id = ?", [item_id])]
        item = {"id": item_id, "sha256": sha, "unit": unit, "date": d, "date_source": source, "meta": meta,
                "codes": codes}
        found = check_photo(item, _window(imap, evaluation, mtype), photos.reuse_of(db, item))
        if found:
            out[item_id] = found
    return out


def annotate(instance, rows: list[dict]) -> None:
    """Add `warnings` ([{"key", "message"}]) to the upload result rows (added and duplicate
    files, each with its item `id`) that have any."""
    found = photo_warnings(instance, [r["id"] for r in rows if r.get("id")])
    for r in rows:
        if found.get(r.get("id")):
            r["warnings"] = found[r["id"]]
