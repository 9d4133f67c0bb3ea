"""What each unit has filed under each leaf, per material type: counts of its live items by
review state and its first upload. Stored in `unit_owed_facts` (migration 0070), kept by
triggers in every writer's own transaction, so reading it costs a few thousand key lookups
however many items the archive holds. `grouped` computes the same from items × item_codes (the
reference: fsck's drift check, tests, the bench's baseline); `rebuild` rewrites the table.
Likewise `unit_review_days` (0071): review decisions per unit and 北京时间 day, for the ranking.
"""
from __future__ import annotations

from typing import NamedTuple

from archive.core.db import transaction


class Fact(NamedTuple):
    """A unit's live items of one type under one leaf (a tuple: thousands are built)."""
    approved: int
    pending: int
    rejected: int
    first_at: str | None               # first upload, UTC timestamp


Key = tuple   # (unit name, map_id, code, material type)

_COLS = "approved, pending, rejected, first_at"


def for_duties(db, map_id: str, unit_id: int | None = None) -> dict[Key, Fact]:
    """The facts of every active unit's duties in one map (or one unit's): the duties joined to
    the aggregate on its key, so only the groups obligations ask about are read."""
    # CROSS JOIN fixes the order: each duty, then its unit, then a key lookup in the aggregate
    # (~1,200 duties: ~15 ms). Left to itself the planner starts from units and reads every
    # row of each unit (~50,000 rows at 100,000 items: ~50 ms).
    sql = (f"SELECT f.unit, f.map_id, f.code, f.material_type, f.{_COLS.replace(', ', ', f.')} "
           "FROM duties d CROSS JOIN units u CROSS JOIN unit_owed_facts f "
           "WHERE d.map_id = ? AND u.id = d.unit_id AND u.active = 1 "
           "AND f.unit = u.name AND f.map_id = d.map_id AND f.code = d.code")
    args: list = [map_id]
    if unit_id is not None:
        sql += " AND d.unit_id = ?"
        args.append(unit_id)
    make = Fact._make
    return {r[:4]: make(r[4:]) for r in db.execute(sql, args).fetchall()}


def stored(db) -> dict[Key, Fact]:
    """Every row of the aggregate."""
    make = Fact._make
    return {r[:4]: make(r[4:]) for r in db.execute(
        f"SELECT unit, map_id, code, material_type, {_COLS} FROM unit_owed_facts").fetchall()}


GROUPED_SQL = (
    "SELECT i.unit, c.map_id, c.code, i.material_type, count(*), sum(i.review_state = 'approved'), "
    "sum(i.review_state = 'pending'), sum(i.review_state = 'rejected'), min(i.created_at) "
    "FROM items i JOIN item_codes c ON c.item_id = i.id "
    "WHERE i.deleted_at IS NULL AND i.unit IS NOT NULL AND c.map_id <> ''{unit} "
    "GROUP BY i.unit, i.material_type, c.map_id, c.code")


def grouped(db, unit_name: str | None = None) -> dict[Key, Fact]:
    """The same facts recomputed by one grouped query over every live item × its codes (what
    obligations read before the aggregate: ~0.5 s CPU at 100,000 items)."""
    sql = GROUPED_SQL.format(unit=" AND i.unit = ?" if unit_name is not None else "")
    args = [unit_name] if unit_name is not None else []
    make = Fact._make
    return {(r[0], r[1], r[2], r[3]): make(r[5:]) for r in db.execute(sql, args).fetchall()}


REVIEW_DAYS_SQL = (
    "SELECT i.unit, date(r.created_at, '+8 hours'), count(*), sum(r.decision = 'rejected') "
    "FROM reviews r JOIN items i ON i.id = r.item_id "
    "WHERE i.unit IS NOT NULL AND date(r.created_at, '+8 hours') IS NOT NULL "
    "GROUP BY i.unit, date(r.created_at, '+8 hours')")


def review_days(db, recompute: bool = False) -> dict[tuple[str, str], tuple[int, int]]:
    """(unit, 北京时间 day) → (decisions, rejected): the stored aggregate, or recomputed from
    every review × its item."""
    sql = REVIEW_DAYS_SQL if recompute else "SELECT unit, day, decisions, rejected FROM unit_review_days"
    return {(r[0], r[1]): (r[2], r[3]) for r in db.execute(sql).fetchall()}


def review_counts(db, day_from: str, day_to: str) -> dict[str, tuple[int, int]]:
    """unit → (decisions sending material back, all decisions) on 北京时间 days [from, to]."""
    rows = db.execute("SELECT unit, sum(rejected), sum(decisions) FROM unit_review_days "
                      "WHERE day BETWEEN ? AND ? GROUP BY unit", [day_from, day_to]).fetchall()
    return {u: (rej, n) for u, rej, n in rows if n}


def drift(db) -> list[dict]:
    """Groups where the aggregates differ from the recomputation (empty when the triggers did
    their job): [{"key", "stored", "computed"}]."""
    out = []
    for have, want in ((stored(db), grouped(db)), (review_days(db), review_days(db, recompute=True))):
        out += [{"key": k, "stored": have.get(k), "computed": want.get(k)}
                for k in sorted(have.keys() | want.keys()) if have.get(k) != want.get(k)]
    return out


def rebuild(db) -> int:
    """Rewrite both aggregates from the items, codes and reviews (one transaction); → rows."""
    with transaction(db):
        db.execute("DELETE FROM unit_owed_facts")
        db.execute("INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, "
                   "rejected, first_at) " + GROUPED_SQL.format(unit=""))
        db.execute("DELETE FROM unit_review_days")
        db.execute("INSERT INTO unit_review_days (unit, day, decisions, rejected) " + REVIEW_DAYS_SQL)
        return (db.execute("SELECT count(*) FROM unit_owed_facts").fetchone()[0]
                + db.execute("SELECT count(*) FROM unit_review_days").fetchone()[0])


TRIGGERS = ("unit_owed_codes_insert", "unit_owed_codes_delete", "unit_owed_codes_update",
            "unit_owed_items_review", "unit_owed_items_move", "unit_owed_items_insert",
            "unit_owed_items_delete", "unit_review_days_insert", "unit_review_days_delete",
            "unit_review_days_update", "unit_review_days_item_unit")


def check(db) -> list[dict]:
    """fsck's findings: triggers missing (a later table rebuild dropped them), groups that drifted."""
    have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND (name LIKE 'unit_owed_%' OR name LIKE 'unit_review_days_%')").fetchall()}
    out = []
    missing = [t for t in TRIGGERS if t not in have]
    if missing:
        out.append({"key": "owed triggers missing",
                    "message": f"单位材料汇总缺少触发器 {'、'.join(missing)}，汇总不再随材料更新"
                               "（请升级后运行 evidence reindex）"})
    differ = drift(db)
    if differ:
        shown = "；".join(" ".join(k[:1] + k[2:] if len(k) == 4 else k) for k in (d["key"] for d in differ[:3]))
        out.append({"key": "owed facts drift",
                    "message": f"单位材料汇总与材料不一致：{len(differ)} 组（如 {shown}），"
                               "「应报材料」状态可能有误；运行 evidence reindex 重建"})
    return out
