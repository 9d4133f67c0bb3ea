"""Who answers for each leaf: one lead unit (牵头), cooperating units (配合), a named person
(责任人) per leaf and unit.

Seeded once per loaded map version from the leaves' `units:` lists (first = lead); units
named there that are not yet records are created (kind guessed from the name), and a
former name finds the renamed unit. A leaf an admin has already given duties keeps them.
"""
from __future__ import annotations

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import UsageError
from .records import add_unit_tx, clean_name, get_unit, unit_id_for
from .scope import active_maps, edition_row, find_leaf

ROLE_ZH = {"lead": "牵头", "coop": "配合"}
SEED_USER = "system"


def ensure_seeded(inst) -> None:
    """Seed units and duties from each active map once per edition (cheap when done)."""
    db = inst.db
    try:
        maps = active_maps(inst)
    except UsageError:
        return   # no map loaded yet: nothing to seed from
    todo = [(m, edition_row(db, m.id)) for m in maps]
    todo = [(m, row) for m, row in todo if row is not None and not _seeded(db, row)]
    if not todo:
        return
    with transaction(db):
        units_made, duties_made = [], 0
        for imap, row in todo:
            if _seeded(db, row):
                continue   # another process seeded it while we waited for the write lock
            have = {r[0] for r in db.execute("SELECT DISTINCT code FROM duties WHERE map_id = ?",
                                             [imap.id]).fetchall()}
            for leaf in imap.leaves():
                if leaf.code in have or not leaf.units:
                    continue
                seen: set[int] = set()
                for i, name in enumerate(leaf.units):
                    uid = unit_id_for(db, name)
                    if uid is None:
                        uid = add_unit_tx(db, name, {}, SEED_USER)
                        units_made.append(clean_name(name))
                    if uid in seen:
                        continue
                    seen.add(uid)
                    db.execute("INSERT INTO duties (map_id, code, unit_id, role, person) VALUES (?, ?, ?, ?, NULL)",
                               [imap.id, leaf.code, uid, "lead" if i == 0 else "coop"])
                    duties_made += 1
            db.execute("INSERT OR IGNORE INTO duty_seeds (maps_row, map_id, seeded_at) VALUES (?, ?, ?)",
                       [row, imap.id, utcnow()])
        if units_made or duties_made:
            audit.log(db, SEED_USER, "duty.seed", target=",".join(m.id for m, _ in todo),
                      detail={"units": units_made, "duties": duties_made})


def _seeded(db, maps_row: int) -> bool:
    return db.execute("SELECT 1 FROM duty_seeds WHERE maps_row = ?", [maps_row]).fetchone() is not None


def duties_of_leaf(db, map_id: str, code: str) -> list[dict]:
    rows = db.execute(
        "SELECT u.id, u.name, d.role, d.person, u.active FROM duties d JOIN units u ON u.id = d.unit_id "
        "WHERE d.map_id = ? AND d.code = ? ORDER BY d.role = 'coop', u.name", [map_id, code]).fetchall()
    return [{"unit_id": r[0], "unit": r[1], "role": r[2], "role_zh": ROLE_ZH[r[2]], "person": r[3],
             "active": bool(r[4])} for r in rows]


def show_duties(inst, code: str | None = None, unit: str | None = None) -> list[dict]:
    """One row per leaf (map order): code, name, requires, lead, coops, persons.
    `code` limits to that leaf, `unit` to leaves the unit answers for."""
    ensure_seeded(inst)
    db = inst.db
    unit_id = get_unit(db, unit).id if unit else None
    if code:
        imap, leaf = find_leaf(inst, code)
        pairs = [(imap, leaf)]
    else:
        pairs = [(m, n) for m in active_maps(inst) for n in m.leaves()]
    by_leaf: dict[tuple[str, str], list[dict]] = {}
    for r in db.execute("SELECT d.map_id, d.code, u.id, u.name, d.role, d.person, u.active FROM duties d "
                        "JOIN units u ON u.id = d.unit_id ORDER BY d.role = 'coop', u.name").fetchall():
        by_leaf.setdefault((r[0], r[1]), []).append(
            {"unit_id": r[2], "unit": r[3], "role": r[4], "role_zh": ROLE_ZH[r[4]], "person": r[5],
             "active": bool(r[6])})
    out = []
    for imap, leaf in pairs:
        duties = by_leaf.get((imap.id, leaf.code), [])
        if unit_id is not None and not any(d["unit_id"] == unit_id for d in duties):
            continue
        out.append({"map_id": imap.id, "code": leaf.code, "name": leaf.name,
                    "requires": list(leaf.requires),
                    "lead": next((d["unit"] for d in duties if d["role"] == "lead"), None),
                    "coops": [d["unit"] for d in duties if d["role"] == "coop"],
                    "duties": duties})
    return out


def set_duty(inst, code: str, lead: str | None = None, coops: list[str] | None = None,
             persons: dict[str, str] | None = None, remove: list[str] | None = None,
             by: str | None = None, ip: str | None = None) -> dict:
    """Change who answers for one leaf, in one transaction with an audit row.

    `lead` makes that unit the lead (the old lead is dropped unless listed in `coops`);
    `coops` (when given) replaces the cooperating units; `remove` drops units; `persons`
    maps unit name → 责任人 (blank clears). Unknown or retired units are refused."""
    ensure_seeded(inst)
    db = inst.db
    imap, leaf = find_leaf(inst, code)
    with transaction(db):
        current = duties_of_leaf(db, imap.id, leaf.code)
        person_of = {d["unit_id"]: d["person"] for d in current}
        lead_id = next((d["unit_id"] for d in current if d["role"] == "lead"), None)
        coop_ids = [d["unit_id"] for d in current if d["role"] == "coop"]

        def unit_of(name: str) -> int:
            u = get_unit(db, name)
            if not u.active:
                raise UsageError("unit retired", f"单位「{u.name}」已撤销，不能承担任务")
            return u.id

        if lead is not None:
            new_lead = unit_of(lead)
            if coops is None and lead_id is not None and lead_id != new_lead:
                coop_ids = [c for c in coop_ids if c != new_lead]
            lead_id = new_lead
        if coops is not None:
            coop_ids = []
            for name in coops:
                uid = unit_of(name)
                if uid != lead_id and uid not in coop_ids:
                    coop_ids.append(uid)
        coop_ids = [c for c in coop_ids if c != lead_id]
        for name in remove or []:
            uid = get_unit(db, name).id
            if uid != lead_id and uid not in coop_ids:
                raise UsageError("no such duty", f"单位「{name}」本来就不承担 {leaf.code}")
            if uid == lead_id:
                lead_id = None
            coop_ids = [c for c in coop_ids if c != uid]
        if lead_id is None and coop_ids:
            raise UsageError("lead required", f"{leaf.code} 有配合单位却没有牵头单位：请用 --lead 指定")
        members = ([lead_id] if lead_id is not None else []) + coop_ids
        for name, person in (persons or {}).items():
            uid = get_unit(db, name).id
            if uid not in members:
                raise UsageError("no such duty", f"单位「{name}」不承担 {leaf.code}，不能指定责任人")
            person = clean_name(person)
            if len(person) > 30:
                raise UsageError("text too long", "责任人姓名过长")
            person_of[uid] = person or None
        db.execute("DELETE FROM duties WHERE map_id = ? AND code = ?", [imap.id, leaf.code])
        for uid in members:
            db.execute("INSERT INTO duties (map_id, code, unit_id, role, person) VALUES (?, ?, ?, ?, ?)",
                       [imap.id, leaf.code, uid, "lead" if uid == lead_id else "coop", person_of.get(uid)])
        after = duties_of_leaf(db, imap.id, leaf.code)
        before = [(d["unit"], d["role"]) for d in current]
        audit.log(db, by, "duty.set", target=f"{imap.id}:{leaf.code}", ip=ip, detail={
            "before": before, "after": [(d["unit"], d["role"]) for d in after],
            "persons_changed": sorted(persons or {})})
    return show_duties(inst, code=f"{imap.id}:{leaf.code}")[0]


def unit_has_duties(db, unit_id: int) -> bool:
    return db.execute("SELECT 1 FROM duties WHERE unit_id = ? LIMIT 1", [unit_id]).fetchone() is not None

