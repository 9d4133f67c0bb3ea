"""The two spreadsheets of a declaration package, written with stable bytes.

- 测评材料审核记录表 (one row per leaf): also what `coverage --xlsx` writes.
- 目录 (one row per file in the package).

openpyxl stamps "now" into docProps/core.xml and into every zip entry's time; `stable_xlsx`
rewrites both to a fixed instant (the evaluation date, 00:00) so the same state gives the
same bytes.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from archive.core.errors import UsageError
from archive.core.output import cannot_write, make_dirs
from archive.evidence.review import STATES
from archive.readiness.coverage import STATUS_ZH

STATUS_FILL = {"complete": "C6EFCE", "partial": "FFEB9C", "empty": "FFC7CE"}
STATUS_FONT = {"complete": "006100", "partial": "9C5700", "empty": "9C0006"}
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
FONT_NAME = "宋体"


def display_width(text) -> int:
    """Columns a string needs: CJK / full-width characters count double.

    Approximated from the UTF-8 length (3-byte characters are the wide ones), which is
    C-speed; exact enough for column widths."""
    text = str(text)
    n = len(text)
    if text.isascii():
        return n
    extra = len(text.encode("utf-8")) - n
    return n + extra // 2


_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_clean(value):
    """Characters XML 1.0 cannot carry (openpyxl refuses them) become '?'; others unchanged."""
    if isinstance(value, str) and _ILLEGAL_XML.search(value):
        return _ILLEGAL_XML.sub("?", value)
    return value


def text_cell(ws, value) -> WriteOnlyCell:
    """A write-only cell holding `value` as data, never as a formula: openpyxl turns any
    string starting with "=" into a formula (a title `=HYPERLINK(...)` would be live in the
    package's spreadsheets), so such strings are forced back to string cells."""
    c = WriteOnlyCell(ws, value=xml_clean(value))
    if c.data_type == "f":
        c.data_type = "s"
    return c


def fixed_instant(d: date | str) -> datetime:
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return datetime(max(d.year, 1980), d.month, d.day)


def stable_xlsx(wb: Workbook, when: datetime, tail_rows=None, first_tail_row: int = 0, out=None) -> bytes | None:
    """Save `wb` and rewrite it so the bytes depend only on its content and `when`; returns
    the bytes, or writes them to the binary file `out` (seekable) and returns None.

    `tail_rows`: more rows for the (only) sheet, appended after the rows openpyxl wrote,
    styled like openpyxl's last row and written here as plain XML — openpyxl spends ~0.2 ms
    per cell, this ~0.01 ms, which matters for a 目录 of tens of thousands of files."""
    wb.properties.creator = "创文资料档案 Evidence Archive"
    wb.properties.lastModifiedBy = None
    wb.properties.created = when
    wb.properties.modified = when
    raw = io.BytesIO()
    wb.save(raw)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    into = io.BytesIO() if out is None else out
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.create_system = 3
            zi.external_attr = 0o644 << 16
            if info.filename == "docProps/core.xml":
                text = src.read(info.filename).decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: m.group(1) + stamp + m.group(3), text)
                dst.writestr(zi, text.encode("utf-8"))
                continue
            if tail_rows is not None and info.filename.startswith("xl/worksheets/sheet"):
                _write_sheet_with_tail(src.read(info.filename), tail_rows, first_tail_row, dst, zi)
                continue
            # streamed: a 50,000-row sheet is ~60 MB of XML
            zi.file_size = info.file_size
            with src.open(info) as fin, dst.open(zi, "w") as fout:
                for chunk in iter(lambda: fin.read(1 << 20), b""):
                    fout.write(chunk)
    return into.getvalue() if out is None else None


def _write_sheet_with_tail(xml: bytes, rows, first_row: int, dst: zipfile.ZipFile, zi: zipfile.ZipInfo) -> None:
    head, sep, tail = xml.partition(b"</sheetData>")
    last_row = head[head.rindex(b"<row "):]
    styles = [m.group(1).decode() for m in re.finditer(rb'<c r="[A-Z]+\d+" s="(\d+)"', last_row)]
    letters = [get_column_letter(c) for c in range(1, len(styles) + 1)]
    zi.file_size = len(xml) + 200 * len(rows) * max(len(styles), 1)   # only decides zip64
    with dst.open(zi, "w") as out:
        out.write(head)
        buf = []
        for n, row in enumerate(rows, start=first_row):
            cells = []
            for letter, style, value in zip(letters, styles, row):
                ref = f"{letter}{n}"
                if value is None or value == "":
                    cells.append(f'<c r="{ref}" s="{style}"/>')
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    cells.append(f'<c r="{ref}" s="{style}" t="n"><v>{value}</v></c>')
                else:
                    text = xml_escape(xml_clean(str(value)))
                    space = ' xml:space="preserve"' if text != text.strip() else ""
                    cells.append(f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
            buf.append(f'<row r="{n}">{"".join(cells)}</row>')
            if len(buf) >= 1000:
                out.write("".join(buf).encode("utf-8"))
                buf = []
        out.write("".join(buf).encode("utf-8"))
        out.write(sep + tail)


def _head(rows, n: int) -> list:
    out = []
    for row in rows:
        if len(out) >= n:
            break
        out.append(row)
    return out


class _LazyRows:
    """Rows built on demand from records (anything with len() that can be iterated any
    number of times: a list, or the plan's PlanFiles reading its temporary database), so a
    large 目录 never exists as a list of lists."""

    def __init__(self, records, make, skip: int = 0):
        self.records, self.make, self.skip = records, make, skip

    def __len__(self):
        return max(len(self.records) - self.skip, 0)   # an empty package: no rows past the first

    def __iter__(self):
        for i, record in enumerate(self.records):
            if i >= self.skip:
                yield self.make(i, record)

    def tail(self, skip: int) -> "_LazyRows":
        return _LazyRows(self.records, self.make, self.skip + skip)


def _sheet(title: str, subtitle: str, headers: list[str], rows: list[list],
           max_widths: dict[int, int] | None = None, status_col: int | None = None,
           openpyxl_rows: int | None = None) -> Workbook:
    """A one-sheet workbook, written in openpyxl's write-only mode: rows stream to a temp
    file instead of living as cell objects, so a 50,000-row 目录 stays small in memory."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ncol = len(headers)
    # column widths must be known before the first row is written
    max_widths = max_widths or {}
    caps = [max_widths.get(c, 40) for c in range(1, ncol + 1)]
    widths = [display_width(h) for h in headers]
    open_cols = [c for c in range(ncol) if widths[c] < caps[c]]
    for row in rows:
        if not open_cols:
            break
        for c in open_cols:
            value = row[c]
            if value is not None:
                longest = max(display_width(x) for x in str(value).split("\n"))
                if longest > widths[c]:
                    widths[c] = longest
        if any(widths[c] >= caps[c] for c in open_cols):
            open_cols = [c for c in open_cols if widths[c] < caps[c]]
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(max(w, 4), caps[c - 1]) + 2
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    if rows:
        ws.auto_filter.ref = f"A3:{get_column_letter(ncol)}{len(rows) + 3}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9   # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    last = get_column_letter(ncol)
    ws.merged_cells.add(f"A1:{last}1")
    ws.merged_cells.add(f"A2:{last}2")

    def cell(value, font=None, fill=None, alignment=None, border=None):
        c = text_cell(ws, value)
        if font is not None:
            c.font = font
        if fill is not None:
            c.fill = fill
        if alignment is not None:
            c.alignment = alignment
        if border is not None:
            c.border = border
        return c

    title_cell = cell(title, Font(name=FONT_NAME, size=16, bold=True),
                      alignment=Alignment(horizontal="center", vertical="center"))
    ws.row_dimensions[1].height = 28
    ws.append([title_cell])
    ws.append([cell(subtitle, Font(name=FONT_NAME, size=10))])
    head_font = Font(name=FONT_NAME, bold=True)
    head_align = Alignment(wrap_text=True, horizontal="center", vertical="center")
    ws.append([cell(h, head_font, HEADER_FILL, head_align, BORDER) for h in headers])
    # Style one prototype cell per look and share its style array: setting font/fill/border
    # on every cell hashes the style objects each time (20 s for a 50,000-row 目录).
    body = cell(None, Font(name=FONT_NAME, size=10), None, Alignment(wrap_text=True, vertical="top"), BORDER)
    by_status = {v: k for k, v in STATUS_ZH.items()}
    status_protos = {k: cell(None, Font(name=FONT_NAME, size=10, bold=True, color=STATUS_FONT[k]),
                             PatternFill("solid", fgColor=STATUS_FILL[k]),
                             Alignment(horizontal="center", vertical="top"), BORDER) for k in STATUS_FILL}
    for row in (rows if openpyxl_rows is None else _head(rows, openpyxl_rows)):
        out = []
        for c, value in enumerate(row, start=1):
            key = by_status.get(value) if c == status_col else None
            new = text_cell(ws, value)
            new._style = (status_protos[key] if key else body)._style
            out.append(new)
        ws.append(out)
    return wb


REVIEW_HEADERS = ["序号", "测评项目 / 测评指标", "编码", "测评内容", "测评方法", "必备材料", "已有材料",
                  "缺少材料", "材料数", "窗口外", "待审核", "已通过", "已退回", "状态", "审核人",
                  "审核意见", "责任单位"]


def review_sheet_bytes(report: dict) -> bytes:
    """测评材料审核记录表 for a coverage report: one row per leaf."""
    rows = []
    for i, ind in enumerate(report["indicators"], start=1):
        rows.append([
            i, "\n".join(ind.get("path", [])), ind["code"], ind["name"], "、".join(ind["methods"]),
            "、".join(ind["required"]) or "（无需材料）", "、".join(ind["present"]),
            "、".join(ind["missing"]), ind["evidence"], ind["out_of_window"], ind["pending"],
            ind.get("approved", 0), ind["rejected"], STATUS_ZH[ind["status"]],
            "、".join(ind.get("reviewers", [])), "\n".join(ind.get("comments", [])),
            "、".join(ind.get("units", [])),
        ])
    s = report["summary"]
    parts = []
    if report.get("edition"):
        parts.append(report["edition"])
    parts.append(f"测评日期 {report['evaluation_date']}")
    parts.append(f"材料时间窗口 {report['window']['from']} 至 {report['window']['to']}")
    if report.get("unit"):
        parts.append(f"责任单位 {report['unit']}")
    parts.append(f"共 {s['leaves']} 项：齐全 {s['complete']}，不全 {s['partial']}，缺失 {s['empty']}")
    wb = _sheet("测评材料审核记录表", "　".join(parts), REVIEW_HEADERS, rows,
                max_widths={2: 30, 4: 30, 16: 40, 17: 24}, status_col=14)
    return stable_xlsx(wb, fixed_instant(report["evaluation_date"]))


CATALOGUE_HEADERS = ["序号", "指标编码", "测评内容", "材料类型", "标题", "责任单位", "日期", "路径",
                     "SHA-256", "材料编号", "审核状态"]


def catalogue_bytes(files, subtitle: str, evaluation_date: str, root: str = "") -> bytes:
    """00_目录.xlsx as bytes (see write_catalogue)."""
    out = io.BytesIO()
    write_catalogue(files, subtitle, evaluation_date, out, root=root)
    return out.getvalue()


def write_catalogue(files, subtitle: str, evaluation_date: str, out, root: str = "") -> None:
    """00_目录.xlsx into the binary file `out`: one row per evidence file in the package, in
    package order (路径 is `root/` + the file's path). `files`: a list of file dicts or the
    plan's PlanFiles (iterated three times: column widths, first row, the rest)."""
    prefix = f"{root}/" if root else ""

    def make(i, f):
        return [i + 1, "；".join(f["codes"]), f["leaf_name"], f["type"], f["title"], f["unit"] or None,
                f["date"] or None, prefix + f["path"], f["sha256"], f["item_id"],
                STATES.get(f["review_state"], f["review_state"])]

    rows = _LazyRows(files, make)
    wb = _sheet("目录", subtitle, CATALOGUE_HEADERS, rows, max_widths={3: 24, 5: 40, 8: 60, 9: 66},
                openpyxl_rows=1)
    stable_xlsx(wb, fixed_instant(evaluation_date), tail_rows=rows.tail(1), first_tail_row=5, out=out)


def coverage_xlsx(report: dict, out) -> Path:
    """Write the 测评材料审核记录表 for `report` (a `coverage()` result) to `out`; stable bytes.

    Missing parent folders are created (a clerk typing `--xlsx 报表/审核记录表.xlsx` expects
    the folder to appear); anything else that stops the write is UsageError "cannot write
    output", and no temporary file is left behind."""
    out = Path(out)
    data = review_sheet_bytes(report)
    if out.is_dir():
        raise UsageError("cannot write output", f"无法写入输出位置 {out}：是一个文件夹")
    make_dirs(out.parent, [])
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise cannot_write(out, e) from None
    return out
