"""Times users read: the DB keeps UTC (`2026-07-01T02:30:00Z`); pages show 北京时间 (UTC+8, no DST)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "北京时间")


def localtime(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """'2026-07-01T18:30:00Z' → '2026-07-02 02:30'; anything unparsable is shown as it is."""
    if not value:
        return ""
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return str(value)
    return moment.astimezone(BEIJING).strftime(fmt)


def localdate(value: str | None) -> str:
    return localtime(value, "%Y-%m-%d")


def utc_day_start(day: str) -> str:
    """The first UTC second of a 北京时间 calendar day ('2026-07-01' → '2026-06-30T16:00:00Z')."""
    local = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=BEIJING)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_day_end(day: str) -> str:
    """The last UTC second of a 北京时间 calendar day."""
    local = (datetime.strptime(day, "%Y-%m-%d") + timedelta(days=1, seconds=-1)).replace(tzinfo=BEIJING)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdate"] = localdate
