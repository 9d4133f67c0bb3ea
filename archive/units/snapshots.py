"""Daily snapshots of each unit's obligation counts, so the trend of what is owed can be
drawn for past weeks. Taken whenever obligations are computed for every unit (a page or a
command) — one row per 北京时间 day and unit, updated while the day lasts and written only
when the counts changed. Derived data, like the search index: no audit row."""
from __future__ import annotations

from datetime import date

from archive.core.db import transaction
from .obligations import counts_by_unit

COLS = ("owed", "submitted", "approved", "returned", "overdue")


def record(db, report: dict) -> int:
    """Store today's counts of `report` (an obligations() result over all units); → rows written."""
    day = report["today"]
    counts = counts_by_unit(report["obligations"])
    have = {r[0]: tuple(r[1:]) for r in db.execute(
        f"SELECT unit_id, {', '.join(COLS)} FROM owed_snapshots WHERE day = ?", [day]).fetchall()}
    todo = [(uid, tuple(c[s] for s in COLS)) for uid, c in counts.items()
            if have.get(uid) != tuple(c[s] for s in COLS)]
    gone = [uid for uid in have if uid not in counts]
    if not todo and not gone:
        return 0
    with transaction(db):
        for uid, values in todo:
            db.execute(f"INSERT INTO owed_snapshots (day, unit_id, {', '.join(COLS)}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT(day, unit_id) DO UPDATE SET " +
                       ", ".join(f"{c} = excluded.{c}" for c in COLS), [day, uid, *values])
        for uid in gone:
            db.execute("DELETE FROM owed_snapshots WHERE day = ? AND unit_id = ?", [day, uid])
    return len(todo) + len(gone)


def trend(db, day_from: date, day_to: date, unit_id: int | None = None) -> list[dict]:
    """Per day in [from, to] that has snapshots: the summed counts (all units, or one),
    with `open` = owed + returned + overdue (what is still to be handed in)."""
    sql = (f"SELECT day, {', '.join(f'sum({c})' for c in COLS)} FROM owed_snapshots "
           "WHERE day BETWEEN ? AND ?")
    args: list = [day_from.isoformat(), day_to.isoformat()]
    if unit_id is not None:
        sql += " AND unit_id = ?"
        args.append(unit_id)
    out = []
    for r in db.execute(sql + " GROUP BY day ORDER BY day", args).fetchall():
        row = {"day": r[0], **dict(zip(COLS, r[1:]))}
        row["open"] = row["owed"] + row["returned"] + row["overdue"]
        out.append(row)
    return out


