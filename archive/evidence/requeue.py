"""A decided item that changes goes back to 待审核, with an audit row saying what changed
(ingest's duplicates, item edits and file replacement all call this in their transaction)."""
from __future__ import annotations

from archive.core import audit

# What a review judged: changing one of these sends a decided item back to 待审核. A returned
# (rejected) item goes back on any fix, its title too: the clerk answered the reviewer.
REVIEWED_FIELDS = ("codes", "date", "material_type", "unit", "file")
REVIEW_RESET_REASONS = {"codes": "指标编号", "date": "日期", "material_type": "材料类型", "unit": "责任单位",
                        "file": "文件", "title": "标题"}


def requeue_if_decided(db, item_id: int, changed: list[str], user=None, ip=None) -> bool:
    """Inside the caller's transaction: an approved item whose reviewed fields changed, or a
    returned item changed at all, goes back to 待审核 with an audit row naming the changes.
    Returns whether it did."""
    state = db.execute("SELECT review_state FROM items WHERE id = ?", [item_id]).fetchone()[0]
    if state == "approved":
        changed = [c for c in changed if c in REVIEWED_FIELDS]
    elif state != "rejected":
        return False
    if not changed:
        return False
    db.execute("UPDATE items SET review_state = 'pending' WHERE id = ?", [item_id])
    audit.log(db, user, "item.review.reset", f"item:{item_id}",
              {"from": state, "changed": changed,
               "reason": "已修改" + "、".join(REVIEW_RESET_REASONS.get(c, c) for c in changed) + "，重新待审核"}, ip)
    return True
