"""Ledgers and statistics tables: XLSX (openpyxl), XLS (python-calamine), CSV (UTF-8/BOM/GBK).

Text is every cell: tabs between cells, newlines between rows, each sheet headed by its name,
so any cell value is searchable."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from archive.core.text import decode
from .._util import corrupt, encrypted_ooxml, is_ooxml, quiet, rows_text
from ..ziplimits import check_zip

# The csv module refuses fields over 128 KiB by default; a long remark cell is not damage.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


def _result(sheets: list[tuple[str, str, int]]):

    parts = [f"{name}\n{text}" if text else name for name, text, _ in sheets]
    meta = {"sheets": [name for name, _, _ in sheets], "rows": sum(n for _, _, n in sheets),
            "rows_per_sheet": {name: n for name, _, n in sheets}}
    return Extraction(text="\n\n".join(parts), meta=meta, ocr_pages=[])


def extract_xlsx(path: Path, limits: Limits):
    check_zip(path, limits, "XLSX")
    try:
        import openpyxl

        # Our own handle: openpyxl leaves its file open when a damaged workbook fails to load.
        with quiet(), open(path, "rb") as fh:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
            try:
                sheets = []
                for ws in wb.worksheets:
                    # A wrong <dimension> (A1:XFD1048576 is common) would pad every row with
                    # empty cells; without it read-only mode yields the rows as stored.
                    ws.reset_dimensions()
                    text, n = rows_text(ws.iter_rows(values_only=True))
                    sheets.append((ws.title, text, n))
            finally:
                wb.close()  # read-only mode keeps the zip open until closed
    except Refusal:
        raise
    except Exception:
        raise corrupt("XLSX") from None
    return _result(sheets)


def extract_xls(path: Path, limits: Limits, label: str = "XLS"):
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        if not wb.sheet_names:
            # A workbook always has a sheet; none readable means the Workbook stream is damaged
            # (calamine then reports an empty workbook instead of an error).
            raise corrupt(label)
        sheets = []
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            text, n = rows_text(rows)
            sheets.append((name, text, n))
    except Refusal:
        raise
    except Exception:  # calamine raises its own error types, and ValueError/OSError
        raise corrupt(label) from None
    return _result(sheets)


def extract_csv(path: Path, limits: Limits):
    decoded = decode(path.read_bytes())
    if decoded is None:
        raise Refusal("corrupt CSV", "文件已损坏或编码无法识别（支持 UTF-8、GBK）")
    content, encoding = decoded
    try:
        # Only comma or tab (Excel's "CSV" and "Unicode text" in a Chinese locale) is sniffed:
        # a wider set lets a column of "a;b" remarks pass for semicolon-separated data.
        try:
            delimiter = csv.Sniffer().sniff(content[:8192], delimiters=",\t").delimiter
        except csv.Error:
            delimiter = ","
        rows = list(csv.reader(io.StringIO(content, newline=""), csv.excel, delimiter=delimiter))
    except csv.Error:
        raise corrupt("CSV") from None

    text, n = rows_text(rows)
    return Extraction(text=text, meta={"rows": n, "encoding": encoding, "delimiter": delimiter},
                      ocr_pages=[])


class XlsxParser(Parser):
    kind = "xlsx"
    label = "Excel 表格（XLSX）"
    extensions = (".xlsx",)
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    package_ext = ".xlsx"
    family = "zip"
    magic = (b"PK\x03\x04", b"PK\x05\x06")
    preview = "ledger"
    rank = 30

    def claims(self, sample, expected):
        return sample.family == "zip" and is_ooxml(sample.zip_names, "xl")

    def mismatch(self, actual, path):
        return encrypted_ooxml(actual, path)

    def extract(self, path, limits):
        return extract_xlsx(path, limits)


class XlsParser(Parser):
    kind = "xls"
    label = "Excel 97-2003 表格（XLS）"
    extensions = (".xls",)
    mime = "application/vnd.ms-excel"
    package_ext = ".xls"
    family = "ole2"
    magic = (bytes.fromhex("D0CF11E0A1B11AE1"),)
    preview = "ledger"
    rank = 40

    def claims(self, sample, expected):
        # .doc vs .xls needs the OLE2 directory; extraction refuses a non-workbook.
        return sample.family == "ole2" and expected

    def extract(self, path, limits):
        return extract_xls(path, limits)


class CsvParser(Parser):
    kind = "csv"
    label = "文本文件"
    extensions = (".csv",)
    mime = "text/csv"
    package_ext = ".csv"
    family = "text"
    preview = "ledger"
    rank = 50

    def extract(self, path, limits):
        return extract_csv(path, limits)


PARSERS = [XlsxParser(), XlsParser(), CsvParser()]
