"""WPS 表格 (.et): WPS Office's spreadsheet, an OLE2 workbook in the Excel 97 (BIFF8) format,
read like .xls by python-calamine. A WPS file in a newer private layout is refused as corrupt:
the clerk can save it as .xlsx from WPS."""
from __future__ import annotations

from ..registry import Parser
from .ledger import extract_xls


class EtParser(Parser):
    kind = "et"
    label = "WPS 表格（ET）"
    extensions = (".et",)
    mime = "application/vnd.ms-excel"
    package_ext = ".et"
    family = "ole2"
    magic = (bytes.fromhex("D0CF11E0A1B11AE1"),)
    preview = "ledger"
    rank = 45

    def claims(self, sample, expected):
        return sample.family == "ole2" and expected

    def extract(self, path, limits):
        return extract_xls(path, limits, label="ET")


PARSERS = [EtParser()]
