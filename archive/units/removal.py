"""Deleting a unit: only one that owes nothing and that no account belongs to; its duties,
deadlines, reminders and snapshots go with it in one transaction (the audit log keeps the
story). Items keep the unit's name as they always do."""
from __future__ import annotations

from archive.core import audit
from archive.core.db import transaction
from archive.core.errors import Refusal
from .duties import ensure_seeded
from .obligations import unit_owes
from .records import get_unit


def delete_unit(inst, ref, by: str | None = None, ip: str | None = None) -> dict:
    db = inst.db
    ensure_seeded(inst)   # outside: it may write; inside, the check below reads only
    with transaction(db):
        unit = get_unit(db, ref)
        owes = unit_owes(inst, unit.id)
        if owes:
            raise Refusal("unit still owes material",
                          f"单位「{unit.name}」还有 {owes} 项材料未报送或未通过，不能删除；"
                          "可先调整分工（duty set），或将其撤销（unit retire）")
        users = db.execute("SELECT count(*) FROM users WHERE unit = ?", [unit.name]).fetchone()[0]
        if users:
            raise Refusal("unit has users", f"单位「{unit.name}」还有 {users} 个账号，不能删除；可将其撤销")
        children = db.execute("SELECT count(*) FROM units WHERE parent_id = ?", [unit.id]).fetchone()[0]
        if children:
            raise Refusal("unit has children", f"单位「{unit.name}」还有 {children} 个下级单位，不能删除")
        duties = db.execute("DELETE FROM duties WHERE unit_id = ?", [unit.id]).rowcount
        for table in ("deadlines", "reminders", "owed_snapshots", "unit_names"):
            db.execute(f"DELETE FROM {table} WHERE unit_id = ?", [unit.id])
        db.execute("DELETE FROM units WHERE id = ?", [unit.id])
        audit.log(db, by, "unit.delete", target=unit.name, ip=ip, detail={"duties": duties})
    return {"deleted": unit.name, "duties": duties}
