"""Units as records: name, kind, parent, responsible leader and contact, active/retired.

Items and users keep a unit's *name* (CONTRACT field). Renaming a unit rewrites
`items.unit` and `users.unit` in the same transaction and keeps the old name in
`unit_names`, so a former name still finds the unit (lookups, imports, the map's `units:`).
Every change writes an audit row in its transaction.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, UsageError

KINDS = ("部门", "街道", "乡镇", "社区", "村", "学校", "窗口单位", "企业", "其他")
NAME_MAX_LEN = 60
PHONE = re.compile(r"^[0-9+\-（）() ]{3,30}$")
# Personal data: shown to reviewers/admins (and a clerk for their own unit) only.
PERSONAL_FIELDS = ("leader_name", "leader_phone", "contact_name", "contact_phone")
EDITABLE = ("kind", "parent", "leader_name", "leader_phone", "contact_name", "contact_phone")


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    kind: str
    parent_id: int | None
    parent: str | None
    leader_name: str | None
    leader_phone: str | None
    contact_name: str | None
    contact_phone: str | None
    active: bool
    created_at: str
    updated_at: str
    former_names: tuple[str, ...] = ()

    def as_json(self, personal: bool = True) -> dict:
        data = asdict(self)
        data["former_names"] = list(self.former_names)
        data["status"] = "在用" if self.active else "已撤销"
        if not personal:
            for f in PERSONAL_FIELDS:
                data.pop(f)
        return data


_COLS = ("u.id, u.name, u.kind, u.parent_id, p.name, u.leader_name, u.leader_phone, "
         "u.contact_name, u.contact_phone, u.active, u.created_at, u.updated_at")


def _rows_to_units(db, rows) -> list[Unit]:
    if not rows:
        return []
    former: dict[int, list[str]] = {}
    for uid, name in db.execute("SELECT unit_id, name FROM unit_names ORDER BY until").fetchall():
        former.setdefault(uid, []).append(name)
    return [Unit(*r[:9], bool(r[9]), r[10], r[11], tuple(former.get(r[0], ()))) for r in rows]


def clean_name(name) -> str:
    """NFC, surrounding and inner blanks removed (一个单位不会因为多打空格变成两个)."""
    text = unicodedata.normalize("NFC", str(name or "")).strip()
    return re.sub(r"\s+", "", text)


def guess_kind(name: str) -> str:
    """The kind a unit's name suggests (seeding from the map, imports without a kind)."""
    if name.endswith(("街道", "街道办事处", "街道办")):
        return "街道"
    if name.endswith(("镇", "乡", "镇人民政府", "乡人民政府")):
        return "乡镇"
    if name.endswith(("社区", "社区居委会")):
        return "社区"
    if name.endswith("村") or name.endswith("村委会"):
        return "村"
    if name.endswith(("学校", "中学", "小学", "学院", "大学", "幼儿园")):
        return "学校"
    return "部门"


def list_units(db, include_retired: bool = True, kind: str | None = None) -> list[Unit]:
    sql = f"SELECT {_COLS} FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE 1=1"
    args: list = []
    if not include_retired:
        sql += " AND u.active = 1"
    if kind:
        sql += " AND u.kind = ?"
        args.append(kind)
    kind_order = "CASE u.kind " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS)) + " ELSE 99 END"
    return _rows_to_units(db, db.execute(f"{sql} ORDER BY u.active DESC, {kind_order}, u.name", args).fetchall())


def unit_id_for(db, name: str) -> int | None:
    """The unit's id for its current or a former name, or None."""
    name = clean_name(name)
    if not name:
        return None
    row = db.execute("SELECT id FROM units WHERE name = ?", [name]).fetchone()
    if row is None:
        row = db.execute("SELECT unit_id FROM unit_names WHERE name = ? ORDER BY until DESC LIMIT 1",
                         [name]).fetchone()
    return row[0] if row else None


def get_unit(db, ref: str | int) -> Unit:
    """A unit by id or by its current or former name; NotFound('unknown unit') otherwise."""
    uid = ref if isinstance(ref, int) else unit_id_for(db, ref)
    rows = db.execute(f"SELECT {_COLS} FROM units u LEFT JOIN units p ON p.id = u.parent_id "
                      "WHERE u.id = ?", [uid]).fetchall() if uid is not None else []
    if not rows:
        raise NotFound("unknown unit", f"未知的单位「{ref}」：请先在单位名录中添加（evidence unit add）")
    return _rows_to_units(db, rows)[0]


def is_known_unit(db, name: str | None) -> bool:
    """Whether `name` is an active unit's current name (what a new account may name)."""
    row = db.execute("SELECT 1 FROM units WHERE name = ? AND active = 1", [clean_name(name)]).fetchone()
    return row is not None


# ---------------------------------------------------------------- validation
def check_fields(db, fields: dict, own_id: int | None = None) -> dict:
    """Cleaned column values for the given EDITABLE fields; UsageError on the first bad one.
    `parent` (a name) becomes `parent_id`."""
    out: dict = {}
    for key, value in fields.items():
        if key not in EDITABLE:
            raise UsageError("unknown field", f"未知的单位字段「{key}」")
        value = unicodedata.normalize("NFC", str(value)).strip() if value is not None else ""
        if key == "kind":
            if value and value not in KINDS:
                raise UsageError("unknown unit kind",
                                 f"单位类型「{value}」无效，可选：{'、'.join(KINDS)}")
            if value:
                out["kind"] = value
        elif key == "parent":
            if not value:
                out["parent_id"] = None
                continue
            pid = unit_id_for(db, value)
            if pid is None:
                raise NotFound("unknown unit", f"上级单位「{value}」不在单位名录中")
            if own_id is not None and _is_own_ancestor(db, own_id, pid):
                raise UsageError("parent cycle", f"上级单位「{value}」不能是本单位或其下级单位")
            out["parent_id"] = pid
        elif key.endswith("_phone"):
            if value and not PHONE.match(value):
                raise UsageError("bad phone", f"电话「{value}」格式不对（只能含数字、+、-、括号和空格）")
            out[key] = value or None
        else:
            if len(value) > NAME_MAX_LEN:
                raise UsageError("text too long", f"「{value[:20]}…」超过 {NAME_MAX_LEN} 个字符")
            out[key] = value or None
    return out


def _is_own_ancestor(db, own_id: int, candidate_parent: int) -> bool:
    seen = set()
    pid: int | None = candidate_parent
    while pid is not None and pid not in seen:
        if pid == own_id:
            return True
        seen.add(pid)
        row = db.execute("SELECT parent_id FROM units WHERE id = ?", [pid]).fetchone()
        pid = row[0] if row else None
    return False


def check_new_name(db, name, own_id: int | None = None) -> str:
    name = clean_name(name)
    if not name:
        raise UsageError("empty unit name", "单位名称不能为空")
    if len(name) > NAME_MAX_LEN or any(c in name for c in "/\\<>\"'") or any(ord(c) < 32 for c in name):
        raise UsageError("bad unit name", f"单位名称「{name[:20]}」不能含斜杠、引号或尖括号，且不超过 {NAME_MAX_LEN} 个字")
    other = unit_id_for(db, name)
    if other is not None and other != own_id:
        row = db.execute("SELECT name FROM units WHERE id = ?", [other]).fetchone()
        if row[0] == name:
            raise UsageError("unit exists", f"单位「{name}」已存在")
        raise UsageError("unit exists", f"「{name}」是单位「{row[0]}」的曾用名")
    return name


# ---------------------------------------------------------------- writes
def add_unit_tx(db, name: str, fields: dict, by: str | None, ip: str | None = None) -> int:
    """Insert one unit inside the caller's transaction (checks included); returns its id."""
    name = check_new_name(db, name)
    cols = check_fields(db, fields)
    cols.setdefault("kind", guess_kind(name))
    now = utcnow()
    uid = insert(db, "units", {"name": name, **cols, "active": 1, "created_at": now, "updated_at": now})
    audit.log(db, by, "unit.add", target=name, ip=ip,
              detail={k: v for k, v in cols.items() if k not in PERSONAL_FIELDS} or None)
    return uid


def add_unit(db, name: str, fields: dict | None = None, by: str | None = None,
             ip: str | None = None) -> Unit:
    with transaction(db):
        uid = add_unit_tx(db, name, fields or {}, by, ip)
    return get_unit(db, uid)


def update_unit_tx(db, unit: Unit, fields: dict, by: str | None, ip: str | None = None) -> bool:
    cols = check_fields(db, fields, own_id=unit.id)
    current = {"kind": unit.kind, "parent_id": unit.parent_id, **{f: getattr(unit, f) for f in PERSONAL_FIELDS}}
    changed = {k: v for k, v in cols.items() if current.get(k) != v}
    if not changed:
        return False
    sets = ", ".join(f'"{k}" = ?' for k in changed)
    db.execute(f"UPDATE units SET {sets}, updated_at = ? WHERE id = ?", [*changed.values(), utcnow(), unit.id])
    # Personal data changes are audited by field name only: the log is readable by auditors.
    audit.log(db, by, "unit.update", target=unit.name, ip=ip, detail={
        "changed": sorted(changed),
        **{k: v for k, v in changed.items() if k not in PERSONAL_FIELDS}})
    return True


def update_unit(db, ref, fields: dict, by: str | None = None, ip: str | None = None) -> Unit:
    with transaction(db):
        unit = get_unit(db, ref)
        update_unit_tx(db, unit, fields, by, ip)
    return get_unit(db, unit.id)


def rename_unit(db, ref, new_name: str, by: str | None = None, ip: str | None = None) -> Unit:
    """New name everywhere the name is kept (items, users) in one transaction; the old one
    stays in unit_names so history and search by it still lead here."""
    with transaction(db):
        unit = get_unit(db, ref)
        new_name = check_new_name(db, new_name, own_id=unit.id)
        if new_name == unit.name:
            return unit
        now = utcnow()
        db.execute("INSERT OR REPLACE INTO unit_names (unit_id, name, until) VALUES (?, ?, ?)",
                   [unit.id, unit.name, now])
        db.execute("DELETE FROM unit_names WHERE unit_id = ? AND name = ?", [unit.id, new_name])
        db.execute("UPDATE units SET name = ?, updated_at = ? WHERE id = ?", [new_name, now, unit.id])
        # imported here: the search package loads whoosh (~0.3 s), which `owed` in a new
        # process should not pay for
        from archive.search.index import index_item

        ids = [r[0] for r in db.execute("SELECT id FROM items WHERE unit = ?", [unit.name]).fetchall()]
        db.execute("UPDATE items SET unit = ? WHERE unit = ?", [new_name, unit.name])
        for item_id in ids:   # the search row holds the unit: rewrite it in this transaction
            index_item(db, item_id)
        n_items = len(ids)
        n_users = db.execute("UPDATE users SET unit = ? WHERE unit = ?", [new_name, unit.name]).rowcount
        audit.log(db, by, "unit.rename", target=new_name, ip=ip,
                  detail={"old": unit.name, "new": new_name, "items": n_items, "users": n_users})
    return get_unit(db, unit.id)


def set_active(db, ref, active: bool, by: str | None = None, ip: str | None = None) -> Unit:
    """Retire (撤销) or bring back a unit; a retired unit owes nothing and takes no new accounts."""
    with transaction(db):
        unit = get_unit(db, ref)
        if unit.active != active:
            db.execute("UPDATE units SET active = ?, updated_at = ? WHERE id = ?",
                       [int(active), utcnow(), unit.id])
            audit.log(db, by, "unit.restore" if active else "unit.retire", target=unit.name, ip=ip)
    return get_unit(db, unit.id)
