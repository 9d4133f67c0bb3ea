"""How inspection records name a responsible unit: `unit_id` → `units` (0030), plus the name.

While the register is empty (no unit registered or seeded yet) any non-blank name is accepted
and the record keeps only the name; once it holds rows, the name must be a registered unit (or
one of its former names, which resolves to the current name). Migration 0042's triggers link a
record to a unit registered later under its name and keep the name current on a rename.
"""
from __future__ import annotations

from archive.core.errors import UsageError

MAX_UNIT_LEN = 64


def resolve_unit(db, name: str | None) -> str:
    """A typed unit name → the unit's current name, or UsageError (blank, unknown, too long)."""
    name = " ".join((name or "").split())
    if not name:
        raise UsageError("no unit", "未指定责任单位")
    if len(name) > MAX_UNIT_LEN:
        raise UsageError("bad unit", f"单位名称过长（不超过 {MAX_UNIT_LEN} 个字）")
    if db.execute("SELECT 1 FROM units LIMIT 1").fetchone():
        row = db.execute("SELECT name FROM units WHERE name = ?", [name]).fetchone()
        if row is None:
            row = db.execute("SELECT u.name FROM unit_names n JOIN units u ON u.id = n.unit_id "
                             "WHERE n.name = ? ORDER BY n.until DESC LIMIT 1", [name]).fetchone()
        if row is None:
            raise UsageError("unknown unit", f"未知的单位「{name}」，请先在单位名录中登记")
        return row[0]
    return name


def unit_id(db, name: str) -> int | None:
    """The registered unit's id for a name `resolve_unit` returned, or None (register empty)."""
    row = db.execute("SELECT id FROM units WHERE name = ?", [name]).fetchone()
    return row[0] if row else None
