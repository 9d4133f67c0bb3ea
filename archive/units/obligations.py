"""What each unit owes: one obligation per (unit, leaf, required material type) for every
active unit with a duty on the leaf (lead or cooperating), computed from the items — never
stored, never typed in.

State of an obligation, from the unit's live items of that type filed under that leaf:
`approved` one is approved; `submitted` one awaits review; `returned` all were sent back;
`owed` none yet. `overdue` replaces owed/returned once the deadline (北京时间 day) has
passed. The item facts come from one grouped SQL query over items × item_codes, so the
cost does not grow with the number of leaves or units.
"""
from __future__ import annotations

import threading
from typing import NamedTuple
from datetime import date, timedelta

from archive.core.dates import today_beijing
from .deadlines import DeadlineTable, round_in_force
from .duties import ensure_seeded
from .records import get_unit
from .scope import active_maps

STATES = ("overdue", "returned", "owed", "submitted", "approved")
STATE_ZH = {"owed": "待报送", "submitted": "已报送待审核", "approved": "已通过",
            "returned": "被退回", "overdue": "已逾期"}
OPEN_STATES = ("owed", "returned", "overdue")   # the unit still has to act


class Fact(NamedTuple):
    """A unit's live items of one type under one leaf (a tuple: tens of thousands are built)."""
    approved: int
    pending: int
    rejected: int
    first_at: str | None               # first upload, UTC timestamp

    @property
    def first_day(self) -> str | None:
        """The first upload as a 北京时间 day."""
        return _beijing_day(self.first_at)


def _has_map_column(db) -> bool:
    """item_codes gains map_id when several maps are active (block 0050)."""
    return any(r[1] == "map_id" for r in db.execute("PRAGMA table_info(item_codes)").fetchall())


def item_facts(db, unit_name: str | None = None) -> dict[tuple, Fact]:
    """(unit, map_id|None, code, type) → Fact, in one grouped query (index items_owed covers
    the items side, item_codes' primary key the codes side)."""
    map_col = "c.map_id" if _has_map_column(db) else "NULL"
    sql = (f"SELECT i.unit, i.material_type, {map_col}, c.code, "
           "sum(i.review_state = 'approved'), sum(i.review_state = 'pending'), "
           "sum(i.review_state = 'rejected'), min(i.created_at) "
           "FROM items i JOIN item_codes c ON c.item_id = i.id "
           "WHERE i.deleted_at IS NULL AND i.unit IS NOT NULL")
    args: list = []
    if unit_name is not None:
        sql += " AND i.unit = ?"
        args.append(unit_name)
    # Grouped in the index's order (unit, type) first: the sorter then sees runs, not chaos.
    sql += " GROUP BY i.unit, i.material_type, 3, c.code"
    make = Fact._make
    return {(r[0], r[2], r[3], r[1]): make(r[4:]) for r in db.execute(sql, args).fetchall()}


class FactsCache:
    """The last all-units facts per database file, reused while the archive has not changed.

    Every change to items, their codes or reviews writes an audit row in its transaction
    (docs/ARCHITECTURE.md), so the newest audit id is the archive's version: reading it is one
    b-tree step, where the grouped query reads every live item. Pages, `owed` and `rank` in
    one process share it; a new process starts cold."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[tuple, dict]] = {}

    @staticmethod
    def version(db) -> tuple:
        return (db.execute("SELECT max(id) FROM audit").fetchone()[0],
                db.execute("SELECT max(id) FROM items").fetchone()[0])

    def get(self, db) -> dict[tuple, Fact]:
        key = _db_file(db)
        v = self.version(db)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] == v:
                return hit[1]
        facts = item_facts(db)
        with self.lock:
            self.entries[key] = (v, facts)
        return facts

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


FACTS = FactsCache()


def _db_file(db) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] or f"memory:{id(db)}"


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
                round_name: str | None = None) -> dict:
    """{"today", "round", "obligations": [...]} — every obligation of active units (or of one
    unit), overdue first, then by deadline. Each row: unit_id, unit, map_id, code, name,
    type, role, person, due_on, days_left, state, state_zh, returned (bool), first_submitted."""
    ensure_seeded(inst)
    db = inst.db
    today_d = today or today_beijing()
    day = today_d.isoformat()
    only = get_unit(db, unit) if unit else None
    has_map = _has_map_column(db)
    facts = item_facts(db, only.name) if only else FACTS.get(db)
    rows: list[dict] = []
    round_info = None
    for imap in active_maps(inst):
        rnd = round_in_force(db, imap.id, round_name, today_d)
        table = DeadlineTable(db, rnd)
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
                fact = facts.get((unit_name, imap.id if has_map else None, code, mtype))
                state = state_of(fact, due, day)
                rows.append({
                    "unit_id": unit_id, "unit": unit_name, "map_id": imap.id, "code": code,
                    "name": leaf.name, "type": mtype, "role": role, "person": person,
                    "due_on": due,
                    "days_left": (date.fromisoformat(due) - today_d).days if due else None,
                    "state": state, "state_zh": STATE_ZH[state],
                    "returned": bool(fact and fact.rejected and not fact.approved and not fact.pending),
                    "first_submitted": fact.first_day if fact else None,
                    "since": rnd.starts_on if rnd else None,
                    "_order": (leaf_order(imap, code), t_index),
                })
    rows.sort(key=lambda r: (STATES.index(r["state"]) if r["state"] in OPEN_STATES else 9,
                             r["due_on"] or "9999", r["unit"], r["_order"]))
    for r in rows:
        del r["_order"]
    return {"today": day, "round": round_info, "obligations": rows}


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
