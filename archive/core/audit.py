"""The audit log: who did what, when, from where. Written in the caller's transaction."""
from __future__ import annotations

import json

from .db import insert, utcnow


def log(db, user: str | None, action: str, target: str | None = None,
        detail: dict | None = None, ip: str | None = None) -> None:
    insert(db, "audit", {
        "at": utcnow(), "user": user, "ip": ip, "action": action, "target": target,
        "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
    })


def query(db, *, user=None, action=None, target=None, at_from=None, at_to=None,
          limit=100, offset=0) -> tuple[int, list[dict]]:
    """(total, rows newest first) of audit rows matching the filters. `action` matches itself
    and its sub-actions (`item.review` finds `item.review.approved`); `at_from`/`at_to` are
    UTC timestamps (inclusive)."""
    where, params = [], []
    if user:
        where.append("user = ?")
        params.append(user)
    if action:
        where.append("(action = ? OR action LIKE ? ESCAPE '\\')")
        params += [action, action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"]
    if target:
        where.append("target = ?")
        params.append(target)
    if at_from:
        where.append("at >= ?")
        params.append(at_from)
    if at_to:
        where.append("at <= ?")
        params.append(at_to)
    sql_where = ("WHERE " + " AND ".join(where)) if where else ""
    total = db.execute(f"SELECT count(*) FROM audit {sql_where}", params).fetchone()[0]
    rows = []
    for r in db.execute(f"SELECT id, at, user, ip, action, target, detail FROM audit {sql_where} "
                        "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]):
        row = dict(zip(("id", "at", "user", "ip", "action", "target", "detail"), r))
        if row["detail"]:
            try:
                row["detail"] = json.dumps(json.loads(row["detail"]), ensure_ascii=False)
            except ValueError:
                pass
        rows.append(row)
    return total, rows


def actions(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT action FROM audit ORDER BY action")]


def user_names(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT user FROM audit WHERE user IS NOT NULL ORDER BY user")]
