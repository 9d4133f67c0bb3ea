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
