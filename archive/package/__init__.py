"""Declaration packages (CONTRACT.md "The declaration package"): the public API.

    export_package(instance, out, evaluation_date, ...) -> report      (build.py)
    verify_package(path) -> [problem, ...]                            (verify.py)
    diff_packages(old, new) -> {...}                                  (verify.py)
    coverage_xlsx(report, out)   the 测评材料审核记录表 of `coverage --xlsx` (xlsx.py)

Callers import from here; the modules below are the package's own business.
"""
from .build import ExportCancelled, PackageRefused, export_package
from .layout import CATALOGUE, FORMATS, MANIFEST, PACKAGE_FILES, REVIEW_SHEET, SUMS
from .verify import PackageUnreadable, diff_packages, open_package, read_manifest, verify_package
from .xlsx import coverage_xlsx

__all__ = ["export_package", "verify_package", "diff_packages", "coverage_xlsx", "open_package",
           "read_manifest", "PackageRefused", "PackageUnreadable", "ExportCancelled", "CATALOGUE",
           "REVIEW_SHEET", "MANIFEST", "SUMS", "PACKAGE_FILES", "FORMATS"]
