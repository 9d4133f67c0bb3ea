"""Small spreadsheets of this package (单位名录, 催办单, 排名): a title line, a header, rows.

Every cell is text or a number, never a formula (a unit name starting with "=" stays text)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from archive.package.xlsx import BORDER, FONT_NAME, HEADER_FILL, display_width, text_cell


def simple_sheet(title: str, subtitle: str | None, headers: list[str], rows: list[list],
                 widths: dict[int, int] | None = None) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    width = [display_width(h) + 2 for h in headers]
    for r in rows:
        for i, v in enumerate(r[:len(width)]):
            width[i] = min(max(width[i], display_width(v if v is not None else "") + 2), 60)
    for i, w in enumerate(width, start=1):
        ws.column_dimensions[get_column_letter(i)].width = (widths or {}).get(i, w)
    if subtitle is not None:
        c = text_cell(ws, subtitle)
        c.font = Font(name=FONT_NAME, bold=True, size=13)
        ws.append([c])
    head = []
    for h in headers:
        c = text_cell(ws, h)
        c.font = Font(name=FONT_NAME, bold=True)
        c.fill = HEADER_FILL
        c.border = BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        head.append(c)
    ws.append(head)
    for r in rows:
        out = []
        for v in r:
            c = text_cell(ws, v)
            c.font = Font(name=FONT_NAME)
            c.border = BORDER
            out.append(c)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
