"""Instance-wide settings (table `settings`): a few values a person sets once, audited."""
from __future__ import annotations

from . import audit
from .db import transaction, utcnow

EVALUATION_DATE = "evaluation_date"   # the date reviewers prepare for (ISO), used for photo windows


def get_setting(db, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return default if row is None or row[0] is None else row[0]


def set_setting(db, key: str, value: str | None, by: str | None, ip: str | None = None) -> None:
    """Set one value (None clears it) with an audit row, in one transaction."""
    with transaction(db):
        put_setting(db, key, value, by, ip)


def put_setting(db, key: str, value: str | None, by: str | None, ip: str | None = None) -> None:
    """`set_setting` inside the caller's transaction (e.g. starting an evaluation cycle sets
    the evaluation date in the same transaction)."""
    db.execute("INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
               "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
               [key, value, utcnow(), by])
    audit.log(db, by, "settings.set", key, {"value": value}, ip=ip)
