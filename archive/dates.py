"""Parsing the dates clerks type: 2026-07-01, 2026/7/1, 2026.07.01, 20260701, 2026年7月1日."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from .errors import Refusal

_PATTERNS = [
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
]


def parse_date(value: str | date | None) -> date | None:
    """A clerk's date → `date`; None/blank → None; anything else → Refusal('bad date')."""
    if value is None or isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    for pattern in _PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                break
    raise Refusal("bad date", f"日期「{value}」无效，应为 YYYY-MM-DD 格式的真实日期")
