"""点位 register: a site with kind, name, address, optional GPS, its 包抓单位 and 片长.

Sites are named uniquely (the xlsx import matches on the name). Every change is audited.
"""
from __future__ import annotations

from pathlib import Path

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, UsageError
from .unitref import resolve_unit, unit_id

SITE_KINDS = ("农贸市场", "背街小巷", "城乡结合部", "公共厕所", "学校", "社区", "窗口单位",
              "公园广场", "交通路口", "公交站", "志愿服务站点", "新时代文明实践站", "公益广告", "其他")
SITE_COLUMNS = ["名称", "类型", "地址", "纬度", "经度", "包抓单位", "片长", "电话"]
MAX_TEXT = 200


def _text(value, label: str, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    if required and not text:
        raise UsageError("missing field", f"缺少{label}")
    if len(text) > limit:
        raise UsageError("field too long", f"{label}过长（不超过 {limit} 个字）")
    return text or None


def _coord(value, label: str, bound: float) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        v = float(str(value).strip())
    except ValueError:
        raise UsageError("bad coordinate", f"{label}「{value}」不是数字") from None
    if not -bound <= v <= bound or v != v:
        raise UsageError("bad coordinate", f"{label} {value} 超出范围（±{bound:g}）")
    return round(v, 6)


def clean_site(db, data: dict) -> dict:
    """Checked and normalised site fields (UsageError with one clear reason otherwise)."""
    kind = _text(data.get("kind"), "点位类型", required=True)
    if kind not in SITE_KINDS:
        raise UsageError("unknown site kind", f"未知的点位类型「{kind}」，可选：{'、'.join(SITE_KINDS)}")
    lat = _coord(data.get("lat"), "纬度", 90)
    lon = _coord(data.get("lon"), "经度", 180)
    if (lat is None) != (lon is None):
        raise UsageError("bad coordinate", "纬度和经度须同时填写或同时留空")
    name = _text(data.get("name"), "点位名称", required=True)
    unit = resolve_unit(db, data.get("unit"))
    return {
        "kind": kind,
        "name": name,
        "address": _text(data.get("address"), "地址"),
        "lat": lat, "lon": lon,
        "unit": unit,
        "unit_id": unit_id(db, unit),
        "person": _text(data.get("person"), "片长", limit=64),
        "phone": _text(data.get("phone"), "电话", limit=32),
    }


def add_site(instance, data: dict, user: str | None, ip: str | None = None) -> int:
    db = instance.db
    row = clean_site(db, data)
    now = utcnow()
    with transaction(db):
        if db.execute("SELECT 1 FROM sites WHERE name = ?", [row["name"]]).fetchone():
            raise UsageError("site exists", f"点位「{row['name']}」已存在")
        sid = insert(db, "sites", {**row, "active": 1, "created_at": now, "created_by": user,
                                   "updated_at": now})
        audit.log(db, user, "site.add", f"site:{sid}", {"name": row["name"], "unit": row["unit"]}, ip)
    return sid


def update_site(instance, site_id: int, data: dict, user: str | None, ip: str | None = None) -> None:
    db = instance.db
    old = get_site(instance, site_id)
    row = clean_site(db, {**old, **{k: v for k, v in data.items() if v is not None}})
    with transaction(db):
        clash = db.execute("SELECT id FROM sites WHERE name = ? AND id != ?", [row["name"], site_id]).fetchone()
        if clash:
            raise UsageError("site exists", f"点位「{row['name']}」已存在")
        sets = ", ".join(f"{k} = ?" for k in row)
        db.execute(f"UPDATE sites SET {sets}, updated_at = ? WHERE id = ?",
                   [*row.values(), utcnow(), site_id])
        changed = {k: row[k] for k in row if row[k] != old.get(k)}
        audit.log(db, user, "site.update", f"site:{site_id}", changed, ip)


def get_site(instance, site_id: int) -> dict:
    cur = instance.db.execute("SELECT * FROM sites WHERE id = ?", [site_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound("no such site", f"没有编号为 {site_id} 的点位")
    return dict(zip([d[0] for d in cur.description], row))


def find_site(instance, ref: str | int | None) -> dict | None:
    """A site by id or exact name; None for blank; NotFound otherwise."""
    if ref is None or str(ref).strip() == "":
        return None
    ref = str(ref).strip()
    if ref.isdigit():
        return get_site(instance, int(ref))
    cur = instance.db.execute("SELECT id FROM sites WHERE name = ?", [ref])
    row = cur.fetchone()
    if row is None:
        raise NotFound("no such site", f"没有名为「{ref}」的点位")
    return get_site(instance, row[0])


def list_sites(instance, unit: str | None = None, kind: str | None = None) -> list[dict]:
    """Sites with their problem counts (open, overdue, rectified, closed, rebound, total),
    computed now (overdue against today, 北京时间)."""
    from archive.core.dates import today_beijing
    from .counts import count_columns, rows_with_counts

    where, args = ["1 = 1"], {"today": today_beijing().isoformat()}
    if unit:
        where.append("s.unit = :unit")
        args["unit"] = unit
    if kind:
        where.append("s.kind = :kind")
        args["kind"] = kind
    cur = instance.db.execute(f"""
        SELECT s.*, {count_columns()} FROM sites s LEFT JOIN problems p ON p.site_id = s.id
        WHERE {' AND '.join(where)} GROUP BY s.id ORDER BY s.kind, s.name""", args)
    return rows_with_counts(cur)


def import_sites(instance, path: Path, user: str | None, ip: str | None = None) -> dict:
    """Sites from an xlsx with the SITE_COLUMNS header: new names added, known names updated.
    All rows are checked first; one bad row refuses the whole file (nothing half-written)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise UsageError("bad xlsx", f"{Path(path).name}: 不是可读取的 xlsx 文件") from None
    try:
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise UsageError("empty sheet", f"{Path(path).name}: 工作表为空")
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    missing = [c for c in ("名称", "类型", "包抓单位") if c not in header]
    if missing:
        raise UsageError("missing column", f"{Path(path).name}: 缺少列 {'、'.join(missing)}（表头应为 {'、'.join(SITE_COLUMNS)}）")
    idx = {c: header.index(c) for c in SITE_COLUMNS if c in header}
    keys = dict(zip(SITE_COLUMNS, ("name", "kind", "address", "lat", "lon", "unit", "person", "phone")))
    db = instance.db
    cleaned: list[dict] = []
    seen: set[str] = set()
    for n, r in enumerate(rows[1:], start=2):
        if not any(v not in (None, "") for v in r):
            continue
        data = {keys[c]: (r[i] if i < len(r) else None) for c, i in idx.items()}
        try:
            row = clean_site(db, data)
        except UsageError as e:
            raise UsageError(e.key, f"{Path(path).name} 第 {n} 行: {e.message_zh}") from None
        if row["name"] in seen:
            raise UsageError("duplicate site", f"{Path(path).name} 第 {n} 行: 点位「{row['name']}」重复")
        seen.add(row["name"])
        cleaned.append(row)
    added = updated = 0
    now = utcnow()
    with transaction(db):
        for row in cleaned:
            old = db.execute("SELECT id FROM sites WHERE name = ?", [row["name"]]).fetchone()
            if old:
                sets = ", ".join(f"{k} = ?" for k in row)
                db.execute(f"UPDATE sites SET {sets}, updated_at = ? WHERE id = ?", [*row.values(), now, old[0]])
                updated += 1
            else:
                insert(db, "sites", {**row, "active": 1, "created_at": now, "created_by": user, "updated_at": now})
                added += 1
        audit.log(db, user, "site.import", Path(path).name, {"added": added, "updated": updated}, ip)
    return {"added": added, "updated": updated}


def export_sites(instance, out: Path) -> int:
    """The register as xlsx (same columns the import reads). Returns the number of sites.
    Text stays text (a name starting with "=" is never a live formula)."""
    from openpyxl import Workbook

    from archive.package.xlsx import text_cell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("点位")
    ws.append(SITE_COLUMNS)
    n = 0
    for s in list_sites(instance):
        ws.append([text_cell(ws, s["name"]), s["kind"], text_cell(ws, s["address"]), s["lat"], s["lon"],
                   text_cell(ws, s["unit"]), text_cell(ws, s["person"]), text_cell(ws, s["phone"])])
        n += 1
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return n
