"""What each unit owes: one obligation per (unit, leaf, required material type) for every
active unit with a duty on the leaf (lead or cooperating), computed from the items — never
stored, never typed in.

State of an obligation, from the unit's live items of that type filed under that leaf:
`approved` one is approved; `submitted` one awaits review; `returned` all were sent back;
`owed` none yet. `overdue` replaces owed/returned once the deadline (北京时间 day) has
passed. The item facts come from the `unit_owed_facts` aggregate (facts.py), kept by
triggers as items change, so the cost does not grow with the number of items.
"""
from __future__ import annotations

from datetime import date, timedelta

from archive.core.dates import today_beijing
from .deadlines import DeadlineTable, round_in_force
from .duties import ensure_seeded
from .facts import Fact, for_duties, grouped
from .records import get_unit
from .scope import active_maps

STATES = ("overdue", "returned", "owed", "submitted", "approved")
STATE_ZH = {"owed": "待报送", "submitted": "已报送待审核", "approved": "已通过",
            "returned": "被退回", "overdue": "已逾期"}
OPEN_STATES = ("owed", "returned", "overdue")   # the unit still has to act


SOURCES = ("aggregate", "grouped")   # where the item facts come from (see facts.py)


def _beijing_day(ts: str | None) -> str | None:
    """`2026-05-31T17:00:00Z` → `2026-06-01`: the day a Beijing clerk saw it happen."""
    if not ts:
        return None
    if int(ts[11:13]) < 16:   # string slicing: strptime costs ~60 µs, called per obligation
        return ts[:10]
    return (date.fromisoformat(ts[:10]) + timedelta(days=1)).isoformat()


def state_of(fact: Fact | None, due_on: str | None, today: str) -> str:
    if fact is not None and fact.approved:
        return "approved"
    if fact is not None and fact.pending:
        return "submitted"
    if due_on is not None and due_on < today:
        return "overdue"
    return "returned" if fact is not None and fact.rejected else "owed"


def obligations(inst, unit: str | None = None, today: date | None = None,
                round_name: str | None = None, source: str = "aggregate") -> dict:
    """{"today", "round", "obligations": [...]} — every obligation of active units (or of one
    unit), overdue first, then by deadline. Each row: unit_id, unit, map_id, code, name,
    type, role, person, due_on, days_left, state, state_zh, returned (bool), first_submitted.
    `source="grouped"` recomputes the item facts from every item instead of reading the
    aggregate (the same answer, slower: the bench's baseline and the tests' reference)."""
    if source not in SOURCES:
        raise ValueError(source)
    ensure_seeded(inst)
    db = inst.db
    today_d = today or today_beijing()
    day = today_d.isoformat()
    only = get_unit(db, unit) if unit else None
    facts = grouped(db, only.name if only else None) if source == "grouped" else {}
    rows: list[dict] = []
    round_info = None
    for imap in active_maps(inst):
        rnd = round_in_force(db, imap.id, round_name, today_d)
        table = DeadlineTable(db, rnd)
        if source == "aggregate":
            facts = for_duties(db, imap.id, only.id if only else None)
        if rnd is not None:
            round_info = {"name": rnd.name, "map_id": rnd.map_id, "starts_on": rnd.starts_on,
                          "due_on": rnd.due_on}
        sql = ("SELECT d.code, d.unit_id, u.name, d.role, d.person FROM duties d "
               "JOIN units u ON u.id = d.unit_id WHERE d.map_id = ? AND u.active = 1")
        args: list = [imap.id]
        if only is not None:
            sql += " AND u.id = ?"
            args.append(only.id)
        for code, unit_id, unit_name, role, person in db.execute(sql, args).fetchall():
            leaf = imap.nodes.get(code)
            if leaf is None or not leaf.is_leaf:
                continue   # a duty on a code this edition no longer has
            due = table.due(code, unit_id)
            for t_index, mtype in enumerate(leaf.requires):
                fact = facts.get((unit_name, imap.id, code, mtype))
                state = state_of(fact, due, day)
                rows.append({
                    "unit_id": unit_id, "unit": unit_name, "map_id": imap.id, "code": code,
                    "name": leaf.name, "type": mtype, "role": role, "person": person,
                    "due_on": due,
                    "days_left": (date.fromisoformat(due) - today_d).days if due else None,
                    "state": state, "state_zh": STATE_ZH[state],
                    "returned": bool(fact and fact.rejected and not fact.approved and not fact.pending),
                    "first_submitted": _beijing_day(fact.first_at) if fact else None,
                    "since": rnd.starts_on if rnd else None,
                    "_order": (leaf_order(imap, code), t_index),
                })
    rows.sort(key=lambda r: (STATES.index(r["state"]) if r["state"] in OPEN_STATES else 9,
                             r["due_on"] or "9999", r["unit"], r["_order"]))
    for r in rows:
        del r["_order"]
    return {"today": day, "round": round_info, "obligations": rows}


def round_now(inst, today: date | None = None) -> dict | None:
    """The round `obligations()` reports (the last active map's round in force), without
    computing the obligations: {"name", "map_id", "starts_on", "due_on"} or None."""
    found = None
    for imap in active_maps(inst):
        rnd = round_in_force(inst.db, imap.id, None, today or today_beijing())
        if rnd is not None:
            found = {"name": rnd.name, "map_id": rnd.map_id, "starts_on": rnd.starts_on, "due_on": rnd.due_on}
    return found


_ORDER_CACHE: dict[int, dict[str, int]] = {}


def leaf_order(imap, code: str) -> int:
    """Position of a leaf in its map (rows follow the map's order, not the codes' spelling)."""
    order = _ORDER_CACHE.get(id(imap))
    if order is None:
        order = {c: i for i, c in enumerate(imap.nodes)}
        _ORDER_CACHE.clear()
        _ORDER_CACHE[id(imap)] = order
    return order.get(code, 0)


def filter_rows(rows: list[dict], overdue: bool = False, due_within: int | None = None,
                open_only: bool = False) -> list[dict]:
    """`--overdue`: overdue only; `--due-within N`: still open and due in ≤ N days (overdue
    included); `open_only`: what the unit still has to do."""
    out = rows
    if overdue:
        out = [r for r in out if r["state"] == "overdue"]
    if due_within is not None:
        out = [r for r in out if r["state"] in OPEN_STATES and r["days_left"] is not None
               and r["days_left"] <= due_within]
    if open_only:
        out = [r for r in out if r["state"] in OPEN_STATES]
    return out


def counts_by_unit(rows: list[dict]) -> dict[int, dict]:
    """unit_id → {"unit", state counts…, "total"}."""
    out: dict[int, dict] = {}
    for r in rows:
        c = out.get(r["unit_id"])
        if c is None:
            c = out[r["unit_id"]] = {"unit_id": r["unit_id"], "unit": r["unit"], "total": 0,
                                     **{s: 0 for s in STATES}}
        c[r["state"]] += 1
        c["total"] += 1
    return out


def unit_owes(inst, unit_id: int) -> int:
    """How many obligations of this unit are still open (deleting it is refused then)."""
    u = get_unit(inst.db, unit_id)
    if not u.active:
        return 0
    rows = obligations(inst, unit=u.name)["obligations"]
    return sum(1 for r in rows if r["state"] in OPEN_STATES)
