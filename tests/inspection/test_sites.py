"""点位 register: add, validate, list with counts, xlsx import/export."""
from __future__ import annotations

import pytest

from archive.core.errors import UsageError
from archive.inspection import sites as st
from tests import filefactory
from tests.inspection.helpers import count


def test_add_and_validate(instance):
    sid = st.add_site(instance, {"name": " 和平路 背街小巷 ", "kind": "背街小巷", "unit": "草场街街道",
                                 "lat": "36.1", "lon": "120.4"}, user="t")
    s = st.get_site(instance, sid)
    assert s["name"] == "和平路 背街小巷" and s["lat"] == 36.1
    assert st.find_site(instance, "和平路 背街小巷")["id"] == sid == st.find_site(instance, str(sid))["id"]
    for data, msg in [
        ({"name": "和平路 背街小巷", "kind": "背街小巷", "unit": "市教育局"}, "已存在"),
        ({"name": "a", "kind": "菜园", "unit": "市教育局"}, "未知的点位类型"),
        ({"name": "a", "kind": "学校", "unit": ""}, "未指定责任单位"),
        ({"name": "", "kind": "学校", "unit": "市教育局"}, "点位名称"),
        ({"name": "a", "kind": "学校", "unit": "市教育局", "lat": "91", "lon": "1"}, "超出范围"),
        ({"name": "a", "kind": "学校", "unit": "市教育局", "lat": "36"}, "同时"),
        ({"name": "a", "kind": "学校", "unit": "市教育局", "lat": "北纬", "lon": "1"}, "不是数字"),
    ]:
        with pytest.raises(UsageError, match=msg):
            st.add_site(instance, data, user="t")
    assert count(instance.db, "sites") == 1


def test_units_register_is_used_once_present(instance):
    """When the units table (issue 12) exists and holds rows, names must be registered."""
    instance.db.execute("CREATE TABLE IF NOT EXISTS units (id INTEGER PRIMARY KEY, name TEXT UNIQUE, "
                        "created_at TEXT, updated_at TEXT)")
    instance.db.execute("INSERT OR IGNORE INTO units (name, created_at, updated_at) "
                        "VALUES ('草场街街道', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')")
    st.add_site(instance, {"name": "甲", "kind": "学校", "unit": "草场街街道"}, user="t")
    with pytest.raises(UsageError, match="未知的单位"):
        st.add_site(instance, {"name": "乙", "kind": "学校", "unit": "不存在街道"}, user="t")


def test_import_export_roundtrip(instance, tmp_path):
    src = filefactory.make_xlsx(tmp_path / "点位.xlsx", [
        st.SITE_COLUMNS,
        ["东山农贸市场", "农贸市场", "东山路1号", 36.07, 120.39, "草场街街道", "王五", "13800000000"],
        ["-号公厕", "公共厕所", None, None, None, "市城管局", None, None],
    ])
    assert st.import_sites(instance, src, user="t") == {"added": 2, "updated": 0}
    st.add_site(instance, {"name": "=1+1", "kind": "学校", "unit": "市教育局"}, user="t")
    out = tmp_path / "out" / "点位名录.xlsx"
    assert st.export_sites(instance, out) == 3
    assert st.import_sites(instance, out, user="t") == {"added": 0, "updated": 3}
    names = sorted(s["name"] for s in st.list_sites(instance))
    assert names == sorted(["东山农贸市场", "-号公厕", "=1+1"])
    from openpyxl import load_workbook

    cells = {c.value: c.data_type for row in load_workbook(out).active.iter_rows() for c in row}
    assert cells["=1+1"] == "s" and cells["东山农贸市场"] == "s" and cells[36.07] == "n"


def test_import_bad_row_writes_nothing(instance, tmp_path):
    src = filefactory.make_xlsx(tmp_path / "坏.xlsx", [
        st.SITE_COLUMNS,
        ["好点位", "学校", None, None, None, "市教育局", None, None],
        ["坏点位", "菜园", None, None, None, "市教育局", None, None],
    ])
    with pytest.raises(UsageError, match="第 3 行: 未知的点位类型"):
        st.import_sites(instance, src, user="t")
    assert count(instance.db, "sites") == 0
    no_header = filefactory.make_xlsx(tmp_path / "无表头.xlsx", [["a", "b"]])
    with pytest.raises(UsageError, match="缺少列"):
        st.import_sites(instance, no_header, user="t")
    with pytest.raises(UsageError, match="不是可读取的 xlsx"):
        st.import_sites(instance, filefactory.make_pdf(tmp_path / "x.xlsx", ["x"]), user="t")
