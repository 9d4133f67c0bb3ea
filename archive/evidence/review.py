"""Review decisions by the 资料组: approve, or send back (reject) with a comment."""
from __future__ import annotations

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import UsageError
from . import records
from .items import get_item

DECISIONS = {"approved": "通过", "rejected": "退回"}
STATES = {"pending": "待审核", "rejected": "已退回", "approved": "已通过"}   # items.review_state → 中文


def review_item(instance, item_id: int, decision: str, comment: str | None = None,
                by: str | None = None, ip: str | None = None) -> dict:
    if decision not in DECISIONS:
        raise UsageError("bad decision", f"审核结论只能是 approved 或 rejected，而不是 {decision!r}")
    db = instance.db
    item = get_item(db, item_id)
    if item["deleted_at"]:
        raise UsageError("item deleted", f"材料 #{item_id} 已删除，不能审核")
    now = utcnow()
    comment = (comment or "").strip() or None
    with transaction(db):
        insert(db, "reviews", {"item_id": item_id, "decision": decision, "comment": comment,
                               "reviewer": by, "created_at": now})
        db.execute("UPDATE items SET review_state = ?, updated_at = ? WHERE id = ?", [decision, now, item_id])
        audit.log(db, by, f"item.review.{decision}", f"item:{item_id}", {"comment": comment}, ip)
    records.save(instance, item_id)
    return {"id": item_id, "review_state": decision, "comment": comment, "reviewer": by, "at": now}


def latest_reviews(db, ids: list[int]) -> dict[int, dict]:
    """item id → its latest review (decision, comment, reviewer, at)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out = {}
    for item_id, decision, comment, reviewer, at in db.execute(
            f"SELECT item_id, decision, comment, reviewer, created_at FROM reviews r "
            f"WHERE item_id IN ({marks}) AND id = (SELECT MAX(id) FROM reviews WHERE item_id = r.item_id)", ids):
        out[item_id] = {"decision": decision, "comment": comment, "reviewer": reviewer, "at": at}
    return out


def state_counts(db, unit: str | None = None, code_in: list[str] | None = None,
                 map_id: str | None = None) -> dict[str, int]:
    """Live items per review state, optionally of one unit and/or under these leaf codes (of map
    `map_id`), or filed in map `map_id`."""
    where, params = ["deleted_at IS NULL"], []
    if unit:
        where.append("unit = ?")
        params.append(unit)
    in_map = "map_id = ? AND " if map_id else ""
    if code_in is not None:
        if not code_in:
            return {}
        where.append(f"id IN (SELECT item_id FROM item_codes WHERE {in_map}code IN ({','.join('?' * len(code_in))}))")
        params += ([map_id] if map_id else []) + list(code_in)
    elif map_id:
        where.append("id IN (SELECT item_id FROM item_codes WHERE map_id = ?)")
        params.append(map_id)
    return dict(db.execute(f"SELECT review_state, count(*) FROM items WHERE {' AND '.join(where)} "
                           "GROUP BY review_state", params).fetchall())
