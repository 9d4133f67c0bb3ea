"""The fixed names of a declaration package (shared by build and verify)."""
from __future__ import annotations

FORMATS = ("zip", "dir", "bagit")
CATALOGUE = "00_目录.xlsx"
REVIEW_SHEET = "00_材料审核记录表.xlsx"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
PACKAGE_FILES = (CATALOGUE, REVIEW_SHEET, MANIFEST, SUMS)
MANIFEST_FORMAT = "evidence-archive-package/1"
