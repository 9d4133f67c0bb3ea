"""Review decisions by the 资料组: approve, or send back (reject) with a comment."""
from __future__ import annotations

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import UsageError
from .items import get_item

DECISIONS = {"approved": "通过", "rejected": "退回"}


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
    return {"id": item_id, "review_state": decision, "comment": comment, "reviewer": by, "at": now}
