"""The unit register as a spreadsheet: import from XLSX or CSV, export to XLSX or CSV.

Columns: 名称, 类型, 上级单位, 责任领导, 领导电话, 联系人, 联系电话, 状态. 名称 and 类型 are
required; the others may be left out (a column that is present and blank clears the value).
An import is all or nothing: every row is checked first, and the first problem found is
reported with its row number; then one transaction writes everything with audit rows.
Refused outright: missing required columns, merged cells (Excel's layout, not data),
duplicate names, unknown parents, bad kinds or phones.
"""
from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

from archive.core import audit
from archive.core.config import DEFAULT_LIMITS
from archive.core.db import transaction
from archive.core.errors import ArchiveError, Refusal, UsageError
from archive.core.text import decode
from archive.extract.ziplimits import check_zip
from .duties import ensure_seeded
from .records import (KINDS, add_unit_tx, check_new_name, clean_name, get_unit, list_units,
                      unit_id_for, update_unit_tx)

COLUMNS = ("名称", "类型", "上级单位", "责任领导", "领导电话", "联系人", "联系电话", "状态")
REQUIRED = ("名称", "类型")
FIELD_OF = {"类型": "kind", "上级单位": "parent", "责任领导": "leader_name", "领导电话": "leader_phone",
            "联系人": "contact_name", "联系电话": "contact_phone"}
ALIASES = {"单位名称": "名称", "单位": "名称", "单位类型": "类型", "上级": "上级单位",
           "领导": "责任领导", "分管领导": "责任领导", "领导手机": "领导电话", "联系人电话": "联系电话",
           "手机": "联系电话", "电话": "联系电话"}
ACTIVE_WORDS = {"": True, "在用": True, "正常": True, "是": True, "已撤销": False, "撤销": False,
                "停用": False, "否": False}
MAX_ROWS = 5000
MAX_BYTES = 20 * 1024 * 1024


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)   # a phone typed as a number: 13800000000.0 → 13800000000
    return unicodedata.normalize("NFKC", str(v)).strip()


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(row number as Excel shows it, cells)]) from an .xlsx or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise UsageError("file not found", f"找不到文件 {path}")
    if path.stat().st_size > MAX_BYTES:
        raise UsageError("file too large", f"{path.name} 超过 {MAX_BYTES // 1048576} MB，不像单位名录")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise UsageError("unsupported file type", f"{path.name}：单位名录只能是 .xlsx 或 .csv")


def _read_csv(path: Path):
    decoded = decode(path.read_bytes())
    if decoded is None:
        raise UsageError("bad encoding", f"{path.name}：无法识别文字编码（应为 UTF-8 或 GBK）")
    text = decoded[0]
    dialect = "excel-tab" if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else "excel"
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise UsageError("empty table", f"{path.name} 是空的")
    return [_cell(c) for c in rows[0]], [(i, [_cell(c) for c in r]) for i, r in enumerate(rows[1:], start=2)]


def _read_xlsx(path: Path):
    import openpyxl

    try:
        check_zip(path, DEFAULT_LIMITS, "XLSX")
        with open(path, "rb") as fh:
            # Not read-only: merged cells are only visible in a full load (the file is small).
            wb = openpyxl.load_workbook(fh, data_only=True)
    except Refusal as e:
        raise UsageError(e.key, f"{path.name}：{e.message_zh}") from None
    except Exception:
        raise UsageError("corrupt XLSX", f"{path.name}：文件已损坏，无法读取") from None
    ws = wb.worksheets[0]
    if ws.merged_cells.ranges:
        first = sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col))[0]
        raise UsageError("merged cells",
                         f"{path.name} 第 {first.min_row} 行有合并单元格（{first.coord}），请取消合并、每格填一个值后再导入")
    rows = list(ws.iter_rows(values_only=True))
    wb.close()
    # Skip a title line above the header (名录 exports often start with one).
    start = next((i for i, r in enumerate(rows[:5]) if any(_cell(c) in ("名称", "单位名称") for c in r)), 0)
    if not rows:
        raise UsageError("empty table", f"{path.name} 是空的")
    header = [_cell(c) for c in rows[start]]
    return header, [(i + 1, [_cell(c) for c in r]) for i, r in enumerate(rows[start + 1:], start=start + 1)]


def import_units(inst, path: Path, by: str | None = None, ip: str | None = None) -> dict:
    """Add or update every unit of the file, all or nothing. → {"added", "updated", "unchanged"}."""
    header, rows = read_rows(path)
    cols = [ALIASES.get(h, h) for h in header]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise UsageError("missing columns", f"{Path(path).name} 缺少列：{'、'.join(missing)}"
                         f"（应有：{'、'.join(COLUMNS)}）")
    index = {c: cols.index(c) for c in COLUMNS if c in cols}
    records, seen = [], {}
    for n, cells in rows:
        if not any(cells):
            continue
        rec = {c: (cells[i] if i < len(cells) else "") for c, i in index.items()}
        name = clean_name(rec["名称"])
        where = f"第 {n} 行"
        if not name:
            raise UsageError("empty unit name", f"{where}：单位名称为空")
        if name in seen:
            raise UsageError("duplicate unit", f"{where}：单位「{name}」与第 {seen[name]} 行重复")
        seen[name] = n
        if rec["类型"] and rec["类型"] not in KINDS:
            raise UsageError("unknown unit kind", f"{where}：单位类型「{rec['类型']}」无效，可选：{'、'.join(KINDS)}")
        if "状态" in rec and rec["状态"] not in ACTIVE_WORDS:
            raise UsageError("bad status", f"{where}：状态「{rec['状态']}」应为 在用 或 已撤销")
        records.append((n, name, rec))
        if len(records) > MAX_ROWS:
            raise UsageError("too many rows", f"单位名录超过 {MAX_ROWS} 行")
    if not records:
        raise UsageError("empty table", f"{Path(path).name} 没有任何单位")
    names_in_file = {name for _, name, _ in records}
    ensure_seeded(inst)   # the map's units first, so a row naming one updates it
    db = inst.db
    added, updated, unchanged = [], [], []
    with transaction(db):
        try:
            # Pass 1: every unit exists (parents may come later in the file than children).
            for n, name, rec in records:
                fields = {FIELD_OF[c]: v for c, v in rec.items() if c in FIELD_OF and c != "上级单位"}
                if not fields.get("kind"):
                    fields.pop("kind", None)
                uid = unit_id_for(db, name)
                if uid is None:
                    check_new_name(db, name)
                    add_unit_tx(db, name, fields, by, ip)
                    added.append(name)
                elif update_unit_tx(db, get_unit(db, uid), fields, by, ip):
                    updated.append(name)
                else:
                    unchanged.append(name)
            # Pass 2: parents and status.
            for n, name, rec in records:
                unit = get_unit(db, name)
                if "上级单位" in rec:
                    parent = clean_name(rec["上级单位"])
                    if parent and unit_id_for(db, parent) is None and parent not in names_in_file:
                        raise UsageError("unknown unit", f"上级单位「{parent}」既不在名录中也不在本表中")
                    if update_unit_tx(db, unit, {"parent": parent}, by, ip) and name in unchanged:
                        unchanged.remove(name)
                        updated.append(name)
                if "状态" in rec:
                    active = ACTIVE_WORDS[rec["状态"]]
                    if active != unit.active:
                        db.execute("UPDATE units SET active = ? WHERE id = ?", [int(active), unit.id])
                        audit.log(db, by, "unit.restore" if active else "unit.retire", target=name, ip=ip)
                        if name in unchanged:
                            unchanged.remove(name)
                            updated.append(name)
        except ArchiveError as e:
            raise UsageError(e.key, f"第 {n} 行：{e.message_zh}") from None
    return {"added": added, "updated": updated, "unchanged": unchanged}


def export_rows(db) -> list[list[str]]:
    rows = []
    for u in list_units(db):
        rows.append([u.name, u.kind, u.parent or "", u.leader_name or "", u.leader_phone or "",
                     u.contact_name or "", u.contact_phone or "", "在用" if u.active else "已撤销"])
    return rows


def export_units(db, out: Path) -> int:
    """Write the register to `out` (.xlsx or .csv, UTF-8 with BOM so Excel opens it); → rows."""
    out = Path(out)
    rows = export_rows(db)
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise UsageError("unsupported file type", f"{out.name}：只能导出为 .xlsx 或 .csv")
    if out.is_dir():
        raise UsageError("output is a folder", f"{out} 是文件夹，请给出文件名")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        with open(out, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows([[_safe_csv(c) for c in r] for r in rows])
    else:
        out.write_bytes(units_xlsx_bytes(rows))
    return len(rows)


def _safe_csv(value: str) -> str:
    """A cell starting with = + - @ would be a formula in Excel: keep it text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not value[1:2].isdigit() else value


def units_xlsx_bytes(rows: list[list[str]]) -> bytes:
    from .sheets import simple_sheet

    return simple_sheet("单位名录", None, list(COLUMNS), rows)

