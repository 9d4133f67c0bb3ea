"""How inspection records name a responsible unit: by the unit's name, through this one function.

The units register (block 0030, archive/units/) is being built beside this area. While it is
absent any non-blank name is accepted; once a `units` table exists and holds rows, the name
must be a registered unit (or one of its former names, which resolves to the current name).
"""
from __future__ import annotations

from archive.core.errors import UsageError

MAX_UNIT_LEN = 64


def _table_exists(db, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      [name]).fetchone() is not None


def resolve_unit(db, name: str | None) -> str:
    """A typed unit name → the unit's current name, or UsageError (blank, unknown, too long)."""
    name = " ".join((name or "").split())
    if not name:
        raise UsageError("no unit", "未指定责任单位")
    if len(name) > MAX_UNIT_LEN:
        raise UsageError("bad unit", f"单位名称过长（不超过 {MAX_UNIT_LEN} 个字）")
    if _table_exists(db, "units") and db.execute("SELECT 1 FROM units LIMIT 1").fetchone():
        row = db.execute("SELECT name FROM units WHERE name = ?", [name]).fetchone()
        if row is None and _table_exists(db, "unit_names"):
            row = db.execute("SELECT u.name FROM unit_names n JOIN units u ON u.id = n.unit_id "
                             "WHERE n.name = ? ORDER BY n.until DESC LIMIT 1", [name]).fetchone()
        if row is None:
            raise UsageError("unknown unit", f"未知的单位「{name}」，请先在单位名录中登记")
        return row[0]
    return name
