"""The problem counts every summary shows (open, overdue, rectified, closed, rebound), as SQL:
one definition for the dashboard, the 点位 list and the per-unit table."""
from __future__ import annotations


def count_columns(p: str = "p") -> str:
    """SQL columns counting problems of alias `p` (TOTAL: 0.0, not NULL, over an outer join)."""
    return f"""
    TOTAL(CASE WHEN {p}.state != 'closed' THEN 1 ELSE 0 END) AS open,
    TOTAL(CASE WHEN {p}.state = 'open' AND {p}.deadline < :today THEN 1 ELSE 0 END) AS overdue,
    TOTAL(CASE WHEN {p}.state = 'rectified' THEN 1 ELSE 0 END) AS rectified,
    TOTAL(CASE WHEN {p}.state = 'closed' THEN 1 ELSE 0 END) AS closed,
    TOTAL(CASE WHEN {p}.rebound_of IS NOT NULL THEN 1 ELSE 0 END) AS rebound,
    COUNT({p}.id) AS total"""


COUNT_KEYS = ("open", "overdue", "rectified", "closed", "rebound", "total")


def rows_with_counts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for r in rows:
        for k in COUNT_KEYS:
            r[k] = int(r[k] or 0)
    return rows
