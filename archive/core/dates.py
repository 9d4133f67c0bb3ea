"""The one date parser for what people type and what Excel writes:
2026-07-01, 2026/7/1, 2026.07.01, 20260701, 2026年7月1日, and any of them followed by a time
(`2026/7/1 0:00`, as Excel writes dates into CSV), which is ignored."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone

from .errors import ArchiveError, Refusal

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_PATTERNS = [
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})" + _TIME + "$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?" + _TIME + "$"),
]
MIN_YEAR, MAX_YEAR = 1900, 2999   # archive material: anything outside is a typing error
BEIJING = timezone(timedelta(hours=8), "北京时间")   # UTC+8, no DST: the day users and deadlines mean


def today_beijing() -> date:
    """Today's date in 北京时间, whatever the server's own time zone (deadlines, default dates)."""
    return datetime.now(BEIJING).date()


def parse_date(value: str | date | None, error: type[ArchiveError] = Refusal) -> date | None:
    """A typed date → `date`; None/blank → None; anything else → `error('bad date', …)`
    (a Refusal for a file's date, a UsageError for a command-line option)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    for pattern in _PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                parsed = date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                break
            if MIN_YEAR <= parsed.year <= MAX_YEAR:
                return parsed
            break
    raise error("bad date", f"日期「{value}」无效，应为 YYYY-MM-DD 格式的真实日期")


def require_date(value, error: type[ArchiveError]) -> date:
    """Like parse_date, but blank is an error too (evaluation dates, search ranges)."""
    parsed = parse_date(value, error)
    if parsed is None:
        raise error("bad date", "缺少日期（应为 YYYY-MM-DD）")
    return parsed
