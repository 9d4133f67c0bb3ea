"""What the shells call: obligations with their summary, taking the day's snapshot on the way."""
from __future__ import annotations

from datetime import date

from . import snapshots
from .obligations import STATES, filter_rows, obligations


def summary(rows: list[dict]) -> dict:
    out = {s: 0 for s in STATES}
    for r in rows:
        out[r["state"]] += 1
    out["total"] = len(rows)
    return out


def owed_report(inst, unit: str | None = None, overdue: bool = False, due_within: int | None = None,
                open_only: bool = False, round_name: str | None = None, today: date | None = None) -> dict:
    """{"today", "round", "summary" (the scope before filters), "obligations" (filtered)}.
    Over all units with the round in force, today's snapshot is recorded too."""
    report = obligations(inst, unit=unit, today=today, round_name=round_name)
    if unit is None and round_name is None:
        snapshots.record(inst.db, report)
    rows = report["obligations"]
    return {"today": report["today"], "round": report["round"], "summary": summary(rows),
            "obligations": filter_rows(rows, overdue=overdue, due_within=due_within, open_only=open_only)}
