"""A fixed archive whose package bytes are known (tests/test_package_bytes.py).

Everything that enters the package is fixed: the file bytes are literal (no PDF/JPEG library
that stamps a time or changes its encoder between versions), rows are written with
package_helpers.insert_direct (no extraction), review decisions and comments are fixed.
Timestamps the DB records (created_at, reviewed_at) never reach the package.

Run as a script (`python -m tests.fixed_archive OUT.zip`) to print the package's SHA-256 with
whatever `archive` is importable: that is how the pinned value was taken at commit 0ca529c.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

MINI_MAP = Path(__file__).resolve().parent / "data" / "mini_map.yaml"
EVAL = "2026-07-15"

# (name, bytes, codes, material type, date, title, unit, review)
_PDF = b"%%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n%% %s\n%%%%EOF\n"
FILES = [
    ("学习制度.pdf", _PDF % "学习制度".encode(), ["Ⅲ—1"], "规范文件", "2026-01-05", "学习制度", "市委宣传部", None),
    ("说明.pdf", _PDF % "说明".encode(), ["Ⅲ—1", "Ⅲ—6"], "情况说明", "2025-07-01", "情况说明", None, "approved"),
    ("旧说明.pdf", _PDF % "旧说明".encode(), ["Ⅲ—1"], "情况说明", "2025-06-30", "旧说明（窗口外）", None, None),
    ("IMG_0001.jpg", b"\xff\xd8\xff\xe0" + b"photo-1" * 40 + b"\xff\xd9", ["Ⅲ—2", "Ⅲ—5"], "实景图片",
     "2026-02-01", "宣传栏", "草场街街道", "approved"),
    ("退回.pdf", _PDF % "退回".encode(), ["Ⅲ—6"], "规范文件", "2026-03-01", "退回的文件", None, "rejected"),
    ("统计.csv", "学校,人数\n一小,30\n".encode("utf-8"), ["Ⅲ—3"], "统计表格", "2024-07-01", "少年宫统计",
     None, None),
    ("台账.csv", "日期,活动\n2026-06-30,宣讲\n".encode("utf-8"), ["Ⅲ—2", "Ⅲ—6"], "工作台账", "2026-06-30",
     "活动台账: 第1期/第2期?", None, None),
    ("删除.pdf", _PDF % "删除".encode(), ["Ⅲ—2"], "规范文件", "2026-04-01", "已删除的材料", None, None),
    ("长标题.pdf", _PDF % "长标题".encode(), ["Ⅲ—2"], "规范文件", "2026-05-20", "关于" + "开展宣传教育" * 30 + "的通知",
     None, "approved"),
]


def build(instance_dir: Path):
    """Create the instance at `instance_dir` and fill it; returns the open Instance."""
    from archive.core.db import transaction
    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into
    from tests.package_helpers import insert_direct

    inst = Instance(instance_dir)
    inst.create()
    load_map_into(inst, MINI_MAP, user="test")
    src = Path(instance_dir).parent / "fixed_src"
    src.mkdir(exist_ok=True)
    for n, (name, data, codes, mtype, date, title, unit, review) in enumerate(FILES, start=1):
        path = src / name
        path.write_bytes(data)
        item_id = insert_direct(inst, path, codes, mtype, date=date, title=title, unit=unit)
        assert item_id == n
        if review:
            from archive.evidence.review import review_item

            review_item(inst, item_id, review, comment=f"{review}：第{n}份", by="审核员甲")
    with transaction(inst.db):   # "删除.pdf" is deleted: listed as excluded, not in the package
        inst.db.execute("UPDATE items SET deleted_at = '2026-05-01T00:00:00Z' WHERE title = '已删除的材料'")
    return inst


def package_sha256(out_zip: Path) -> str:
    h = hashlib.sha256()
    with open(out_zip, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pinned_outputs(inst, tmp: Path) -> dict:
    """SHA-256 of each output whose bytes are pinned: the default zip, a zip with options,
    and `coverage --xlsx`."""
    try:
        from archive.package import coverage_xlsx, export_package
    except ImportError:   # before the package/ API (commit 0ca529c)
        from archive.package.build import export_package
        from archive.readiness.coverage import coverage_xlsx
    from archive.readiness.coverage import coverage

    export_package(inst, tmp / "default.zip", EVAL)
    export_package(inst, tmp / "options.zip", EVAL, approved_only=True, include_out_of_window=True)
    coverage_xlsx(coverage(inst, EVAL), tmp / "coverage.xlsx")
    return {name: package_sha256(tmp / name) for name in ("default.zip", "options.zip", "coverage.xlsx")}


if __name__ == "__main__":
    import json

    with tempfile.TemporaryDirectory() as tmp:
        inst = build(Path(tmp) / "instance")
        print(json.dumps(pinned_outputs(inst, Path(tmp)), indent=1))
