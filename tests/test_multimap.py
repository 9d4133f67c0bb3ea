"""Several maps active at once: the 文明城市 sample and the 未成年人思想道德建设 sample, whose
codes collide (both have Ⅲ—1). Files shared between them are stored once; each map's
coverage and package are right on its own."""
from __future__ import annotations

import json
import zipfile
from datetime import datetime

import pytest

from archive.core.errors import NotFound, UsageError
from archive.core.instance import Instance
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.evidence.items import item_detail, set_codes
from archive.maps.loading import (NoMapSelected, active_maps, current_map, delete_map, get_map, list_maps,
                                  load_map_into, load_map_text_into, resolve_code, set_active)
from archive.package import export_package, verify_package
from archive.readiness.coverage import coverage
from archive.search import search
from tests import filefactory as ff
from tests.conftest import ROOT, SAMPLE_MAP

WCN_MAP = ROOT / "maps" / "wcn_sample.yaml"
WMCS, WCN = "wmcs-2024-sample", "wcn-2024-sample"
EVAL = "2026-07-15"


@pytest.fixture
def two(instance_dir):
    inst = Instance(instance_dir)
    inst.create()
    load_map_into(inst, SAMPLE_MAP, user="t")
    report = load_map_into(inst, WCN_MAP, user="t")
    assert report["added"] and report["changed"]
    yield inst
    inst.close()


@pytest.fixture
def material(two, tmp_path):
    """A shared 制度 PDF in both maps, a photo only in wcn, a ledger only in wmcs."""
    shared = ff.make_pdf(tmp_path / "少年宫管理制度.pdf", ["乡村学校少年宫管理制度 2026年印发"])
    photo = ff.make_jpeg(tmp_path / "少年宫活动.jpg", exif_date=datetime(2026, 3, 1, 10, 0))
    ledger = ff.make_xlsx(tmp_path / "宣讲台账.xlsx", [["日期", "场次"], ["2026-02-01", 3]])
    res = ingest_files(two, [
        IngestRequest(shared, [f"{WMCS}:Ⅲ—6", f"{WCN}:Ⅲ-5"], "规范文件", "2026-03-01", unit="市文明办"),
        IngestRequest(photo, [f"{WCN}:III-5"], "实景图片"),
        IngestRequest(ledger, [f"{WMCS}:Ⅲ—2"], "工作台账", "2026-02-01"),
    ], user="t")
    assert res.ok, res.refused
    return {r["path"].rsplit("/", 1)[-1]: r for r in res.added}


def test_both_maps_active_and_bare_codes_need_a_map(two):
    assert [m.id for m in active_maps(two)] == [WMCS, WCN]
    with pytest.raises(NoMapSelected) as exc:
        current_map(two)
    assert "请指定指标体系" in str(exc.value) and WMCS in str(exc.value) and WCN in str(exc.value)
    assert current_map(two, WCN).edition.startswith("未成年人")
    imap, node = resolve_code(two, "wcn-2024-sample：iii-1")
    assert (imap.id, node.code, node.name) == (WCN, "Ⅲ—1", "开展主题教育活动")
    imap, node = resolve_code(two, "Ⅲ-1", map_id=WMCS)
    assert (imap.id, node.name) == (WMCS, "健全学习制度")
    two.map_id = WCN     # what --map and the web picker do
    assert current_map(two).id == WCN and resolve_code(two, "Ⅲ—1")[1].name == "开展主题教育活动"
    with pytest.raises(NotFound, match="没有编号为「nope」的指标体系"):
        get_map(two, "nope")


def test_shared_file_is_stored_once_with_codes_in_both_maps(two, material, tmp_path):
    shared = material["少年宫管理制度.pdf"]
    assert shared["codes"] == [f"{WMCS}:Ⅲ—6", f"{WCN}:Ⅲ—5"]
    assert two.db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 3
    detail = item_detail(two, shared["id"])
    assert [c["name"] for c in detail["codes"]] == ["新时代文明实践中心建设", "乡村学校少年宫"]
    # the same bytes again under a bare code: refused while no map is named, kept when one is
    again = tmp_path / "again.pdf"
    again.write_bytes((tmp_path / "少年宫管理制度.pdf").read_bytes())
    res = ingest_files(two, [IngestRequest(again, ["Ⅲ—1"], "规范文件")], user="t")
    assert res.refused and "请指定指标体系" in res.refused[0]["reason"]
    two.map_id = WCN
    res = ingest_files(two, [IngestRequest(again, ["Ⅲ—1"], "规范文件")], user="t")
    assert res.duplicates[0]["codes_added"] == [f"{WCN}:Ⅲ—1"]


def test_coverage_is_per_map(two, material):
    wmcs = coverage(two, EVAL, map_id=WMCS)
    wcn = coverage(two, EVAL, map_id=WCN)
    assert wmcs["summary"]["leaves"] == 60 and wcn["summary"]["leaves"] == 8
    by = {r["code"]: r for r in wcn["indicators"]}
    # wcn Ⅲ—5 needs 规范文件, 实景图片, 工作台账: the shared PDF and the photo count there
    assert by["Ⅲ—5"]["present"] == ["规范文件", "实景图片"] and by["Ⅲ—5"]["missing"] == ["工作台账"]
    # wcn's Ⅲ—1 is not wmcs' Ⅲ—1, nor is wcn's Ⅲ—2 touched by the wmcs ledger on wmcs Ⅲ—2
    assert by["Ⅲ—1"]["evidence"] == 0 and by["Ⅲ—2"]["evidence"] == 0
    wby = {r["code"]: r for r in wmcs["indicators"]}
    assert wby["Ⅲ—2"]["present"] == ["工作台账"] and wby["Ⅲ—5"]["evidence"] == 0
    assert wby["Ⅲ—6"]["present"] == ["规范文件"]


def test_each_package_is_right_on_its_own(two, material, tmp_path):
    reports = {m: export_package(two, tmp_path / f"{m}.zip", EVAL, map_id=m) for m in (WMCS, WCN)}
    for m, report in reports.items():
        assert verify_package(report["path"]) == []
        assert report["excluded"] == []
    with zipfile.ZipFile(reports[WCN]["path"]) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read(f"{WCN}_网上申报_{EVAL}/manifest.json"))
    files = sorted(n.split("/", 1)[1] for n in names if not n.endswith("/") and "/Ⅰ" in n)
    assert files == ["Ⅰ—2 校外活动场所与社会文化环境/Ⅱ—3 校外活动场所建设/Ⅲ—5 乡村学校少年宫/001_规范文件_少年宫管理制度.pdf",
                     "Ⅰ—2 校外活动场所与社会文化环境/Ⅱ—3 校外活动场所建设/Ⅲ—5 乡村学校少年宫/002_实景图片_少年宫活动.jpg"]
    assert manifest["map"] == {"id": WCN, "edition": "未成年人思想道德建设工作测评体系（示例）"}
    assert len([f for f in manifest["folders"] if f.count("/") == 2]) == 8
    with zipfile.ZipFile(reports[WMCS]["path"]) as zf:
        wfiles = sorted(n.rsplit("/", 1)[-1] for n in zf.namelist() if not n.endswith("/") and "/Ⅰ" in n)
    assert wfiles == ["001_工作台账_宣讲台账.xlsx", "001_规范文件_少年宫管理制度.pdf"]
    # without a map named, export refuses with 请指定指标体系
    with pytest.raises(NoMapSelected):
        export_package(two, tmp_path / "x.zip", EVAL)


def test_search_map_filter_and_qualified_code(two, material):
    assert search(two, "少年宫")["total"] == 2
    assert {h["title"] for h in search(two, "map:wmcs-2024-sample")["hits"]} == {"少年宫管理制度", "宣讲台账"}
    assert search(two, "少年宫 map:wcn-2024-sample")["total"] == 2
    assert search(two, "少年宫 map:wmcs-2024-sample")["total"] == 1
    assert search(two, "code:wcn-2024-sample:Ⅲ—5")["total"] == 2
    assert search(two, "少年宫 map:WCN-2024-sample")["total"] == 2          # the id in any case
    with pytest.raises(UsageError, match="没有编号为「nope」的指标体系"):
        search(two, "少年宫 map:nope")
    # a bare code with no map named matches that code in every active map
    assert {h["title"] for h in search(two, "code:Ⅲ-2")["hits"]} == {"宣讲台账"}
    hit = search(two, "管理制度")["hits"][0]
    assert hit["codes"] == [f"{WMCS}:Ⅲ—6", f"{WCN}:Ⅲ—5"]


def test_set_codes_replaces_only_the_maps_in_play(two, material):
    item = material["少年宫管理制度.pdf"]["id"]
    two.map_id = WCN
    assert set_codes(two, item, ["Ⅲ—6"], user="t") == [f"{WCN}:Ⅲ—6"]
    assert item_detail(two, item)["codes"][0]["code"] == f"{WMCS}:Ⅲ—6"   # the other map's code stays
    assert [c["code"] for c in item_detail(two, item)["codes"]] == [f"{WMCS}:Ⅲ—6", f"{WCN}:Ⅲ—6"]


def test_retire_activate_delete(two, material, tmp_path):
    assert set_active(two, WCN, False, user="t")["changed"]
    assert [m.id for m in active_maps(two)] == [WMCS]
    assert current_map(two).id == WMCS        # one active again: bare codes work
    rows = {m["id"]: m for m in list_maps(two)}
    assert rows[WCN]["active"] is False and rows[WCN]["items"] == 2 and rows[WMCS]["items"] == 2
    # codes of the retired map show qualified; the active map's bare
    detail = item_detail(two, material["少年宫管理制度.pdf"]["id"])
    assert [c["code"] for c in detail["codes"]] == ["Ⅲ—6", f"{WCN}:Ⅲ—5"]
    # a map with evidence is not deleted
    with pytest.raises(Exception, match="仍有 2 份材料"):
        delete_map(two, WCN, user="t")
    assert set_active(two, WCN, True, user="t")["changed"]
    actions = [r[0] for r in two.db.execute("SELECT action FROM audit WHERE action LIKE 'map.%' ORDER BY id")]
    assert actions[-2:] == ["map.retire", "map.activate"]


def test_activating_a_map_whose_types_do_not_fit_is_refused(two, material):
    text = WCN_MAP.read_text(encoding="utf-8").replace(
        "material_types: [规范文件, 情况说明, 实景图片, 统计表格, 工作台账]",
        "material_types: [规范文件, 情况说明, 统计表格, 工作台账]").replace("requires: [情况说明, 实景图片]", "requires: [情况说明]") \
        .replace("requires: [规范文件, 实景图片, 工作台账]", "requires: [规范文件, 工作台账]") \
        .replace("requires: [实景图片, 工作台账]", "requires: [工作台账]")
    before = two.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0]
    with pytest.raises(UsageError, match="实景图片（1 份）"):
        load_map_text_into(two, text, "wcn_no_photos.yaml", user="t")
    assert two.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == before


def test_new_map_whose_id_collides_is_refused(two):
    text = WCN_MAP.read_text(encoding="utf-8").replace("edition: 未成年人思想道德建设工作测评体系（示例）",
                                                       "edition: 另一个体系")
    with pytest.raises(UsageError, match="编号「wcn-2024-sample」已被") as exc:
        load_map_text_into(two, text, "other.yaml", user="t", new=True)
    assert exc.value.key == "map id exists"
    bad = text.replace("id: wcn-2024-sample", 'id: "wcn：2024"')   # a full-width colon
    with pytest.raises(UsageError, match="不能含冒号"):
        load_map_text_into(two, bad, "other.yaml", user="t")
    assert two.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 2


def test_a_map_with_no_material_still_exports(two, tmp_path):
    """The second map before anything is filed in it: every leaf an empty folder, a valid package."""
    report = export_package(two, tmp_path / "empty.zip", EVAL, map_id=WCN)
    assert report["included"] == 0 and verify_package(report["path"]) == []
    with zipfile.ZipFile(report["path"]) as zf:
        assert sum(1 for n in zf.namelist() if n.endswith("/") and n.count("/") == 4) == 8
