"""排名公示: units ranked by completeness, on-time rate and return rate for a period.

- 完成率 completeness: obligations handed in (approved or awaiting review) / all, today.
- 按时率 on-time rate: of the obligations whose deadline fell inside the period and has
  passed, the share whose first material arrived on or before the deadline (北京时间 day).
- 退回率 return rate: review decisions on the unit's items made inside the period that
  sent material back / all its decisions in the period.
Ranked by completeness, then on-time rate, then return rate (lower first), then name.
The trend of what is still owed comes from the daily snapshots.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from archive.core.dates import BEIJING, today_beijing
from archive.core.errors import UsageError
from . import facts, snapshots
from .records import list_units
from .service import owed_report

HEADERS = ["名次", "单位", "类型", "应报材料", "已通过", "待审核", "未报送/被退回", "已逾期",
           "完成率", "按时率", "退回率"]


def _utc_bound(day: date) -> str:
    """The UTC timestamp at which a 北京时间 day begins."""
    return datetime.combine(day, time(0), BEIJING).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def review_counts(db, day_from: date, day_to: date, source: str = "aggregate") -> dict[str, tuple[int, int]]:
    """unit name → (decisions sending material back, all decisions) in [from, to], 北京时间 days:
    from `unit_review_days` (units/facts.py), or `source="grouped"` from every review × its item."""
    if source == "aggregate":
        return facts.review_counts(db, day_from.isoformat(), day_to.isoformat())
    rows = db.execute(
        "SELECT i.unit, sum(r.decision = 'rejected'), count(*) FROM reviews r JOIN items i ON i.id = r.item_id "
        "WHERE r.created_at >= ? AND r.created_at < ? AND i.unit IS NOT NULL GROUP BY i.unit",
        [_utc_bound(day_from), _utc_bound(day_to + timedelta(days=1))]).fetchall()
    return {u: (rej or 0, n) for u, rej, n in rows}


def rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def ranking(inst, day_from: date, day_to: date, today: date | None = None) -> dict:
    if day_to < day_from:
        raise UsageError("bad period", f"结束日期 {day_to} 早于开始日期 {day_from}")
    today = today or today_beijing()
    report = owed_report(inst, today=today)
    db = inst.db
    kinds = {u.id: u.kind for u in list_units(db)}
    reviews = review_counts(db, day_from, day_to)
    lo, hi = day_from.isoformat(), min(day_to, today - timedelta(days=1)).isoformat()
    per: dict[int, dict] = {}
    for r in report["obligations"]:
        u = per.get(r["unit_id"])
        if u is None:
            u = per[r["unit_id"]] = {"unit_id": r["unit_id"], "unit": r["unit"], "kind": kinds.get(r["unit_id"]),
                                     "total": 0, "approved": 0, "submitted": 0, "open": 0, "overdue": 0,
                                     "due_in_period": 0, "on_time": 0}
        u["total"] += 1
        if r["state"] in ("approved", "submitted"):
            u[r["state"]] += 1
        else:
            u["open"] += 1
        if r["state"] == "overdue":
            u["overdue"] += 1
        if r["due_on"] and lo <= r["due_on"] <= hi:
            u["due_in_period"] += 1
            if r["first_submitted"] and r["first_submitted"] <= r["due_on"]:
                u["on_time"] += 1
    rows = []
    for u in per.values():
        rejected, decided = reviews.get(u["unit"], (0, 0))
        u.update(completeness=rate(u["approved"] + u["submitted"], u["total"]),
                 on_time_rate=rate(u["on_time"], u["due_in_period"]),
                 returned_reviews=rejected, reviews=decided, return_rate=rate(rejected, decided))
        rows.append(u)
    rows.sort(key=lambda u: (-(u["completeness"] or 0),
                             -(u["on_time_rate"] if u["on_time_rate"] is not None else -1),
                             u["return_rate"] if u["return_rate"] is not None else 0, u["unit"]))
    rank, prev = 0, None
    for i, u in enumerate(rows, start=1):
        key = (u["completeness"], u["on_time_rate"], u["return_rate"])
        if key != prev:   # ties share a place (1, 2, 2, 4)
            rank, prev = i, key
        u["rank"] = rank
    return {"from": day_from.isoformat(), "to": day_to.isoformat(), "today": report["today"],
            "round": report["round"], "units": rows,
            "trend": snapshots.trend(db, day_from, min(day_to, today))}


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def ranking_rows(result: dict) -> list[list]:
    return [[u["rank"], u["unit"], u["kind"] or "", u["total"], u["approved"], u["submitted"], u["open"],
             u["overdue"], pct(u["completeness"]), pct(u["on_time_rate"]), pct(u["return_rate"])]
            for u in result["units"]]


def ranking_xlsx(result: dict) -> bytes:
    from .sheets import simple_sheet

    title = f"创建任务完成情况排名（{result['from']} 至 {result['to']}，{result['today']} 统计）"
    return simple_sheet("排名", title, HEADERS, ranking_rows(result))
