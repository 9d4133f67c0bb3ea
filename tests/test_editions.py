"""Editions: a mapping (file or derived), `map diff` with moves, the migration's dry run and
applying it in one transaction (tests/data/mini_map_v2.yaml: renumbered, split, merged, dropped)."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from archive.evidence.ingest import IngestRequest, ingest_files
from archive.evidence.items import item_detail
from archive.maps.editions import MappingError, diff_editions, migrate, parse_mapping
from archive.maps.indicators import load_map
from archive.maps.loading import current_map
from archive.readiness.coverage import coverage
from tests import filefactory as ff
from tests.conftest import DATA, MINI_MAP

V2 = DATA / "mini_map_v2.yaml"
MAPPING = DATA / "mini_v1_to_v2.csv"


@pytest.fixture
def filed(instance, tmp_path):
    """One item per leaf of the mini map, one on two leaves."""
    made = {
        "制度": (ff.make_pdf(tmp_path / "制度.pdf", ["学习制度"]), ["Ⅲ—1"], "规范文件"),
        "宣传台账": (ff.make_xlsx(tmp_path / "宣传台账.xlsx", [["日期"], ["2026-01-01"]]), ["Ⅲ—2"], "工作台账"),
        "少年宫统计": (ff.make_xlsx(tmp_path / "少年宫统计.xlsx", [["人数"], [3]]), ["Ⅲ—3"], "统计表格"),
        "市场照片": (ff.make_jpeg(tmp_path / "市场照片.jpg", exif_date=datetime(2026, 2, 1, 9, 0)), ["Ⅲ—4", "Ⅲ—5"], "实景图片"),
        "门前三包": (ff.make_pdf(tmp_path / "门前三包.pdf", ["门前三包责任书"]), ["Ⅲ—6"], "规范文件"),
    }
    res = ingest_files(instance, [IngestRequest(p, codes, t, "2026-03-01", title=name)
                                  for name, (p, codes, t) in made.items()], user="t")
    assert res.ok, res.refused
    return {a["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]: a["id"] for a in res.added}


def codes_of(instance, item_id):
    return [c["code"] for c in item_detail(instance, item_id)["codes"]]


def test_diff_shows_moves_not_delete_and_add():
    rows = parse_mapping(MAPPING.read_bytes(), "m.csv")
    d = diff_editions(load_map(MINI_MAP), load_map(V2), rows)
    assert d["moved"] == [{"old_code": "Ⅲ—6", "code": "Ⅲ—66", "name": "门前三包责任落实"}]
    assert d["split"] == [{"old_code": "Ⅲ—2", "codes": ["Ⅲ—21", "Ⅲ—22"]}]
    assert d["merged"] == [{"old_codes": ["Ⅲ—4", "Ⅲ—5"], "code": "Ⅲ—45"}]
    assert d["dropped"] == [{"code": "Ⅲ—3", "name": "乡村学校少年宫建设"}]
    assert [r["code"] for r in d["removed"]] == ["Ⅱ—2", "Ⅲ—3"]
    assert d["added"] == []
    # without the file only the renumbered leaf (same name) is derived
    plain = diff_editions(load_map(MINI_MAP), load_map(V2))
    assert plain["moved"] == d["moved"] and plain["split"] == []
    assert {r["code"] for r in plain["removed"]} >= {"Ⅲ—2", "Ⅲ—4", "Ⅲ—5"}


def test_dry_run_lists_what_codes_become_and_changes_nothing(instance, filed):
    before = instance.db.execute("SELECT * FROM item_codes ORDER BY rowid").fetchall()
    audit_before = instance.db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    plan = migrate(instance, V2, MAPPING, dry_run=True, user="t")
    assert plan["applied"] is False
    by = {it["id"]: it for it in plan["items"]}
    assert by[filed["宣传台账"]]["new"] == ["Ⅲ—21", "Ⅲ—22"]
    assert by[filed["市场照片"]]["new"] == ["Ⅲ—45"]
    assert by[filed["门前三包"]]["new"] == ["Ⅲ—66"]
    assert by[filed["少年宫统计"]]["new"] == [] and by[filed["少年宫统计"]]["homeless"] == ["Ⅲ—3"]
    assert filed["制度"] not in by and plan["unchanged"] == 1
    assert [h["id"] for h in plan["homeless"]] == [filed["少年宫统计"]]
    assert instance.db.execute("SELECT * FROM item_codes ORDER BY rowid").fetchall() == before
    assert instance.db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == audit_before
    assert current_map(instance).edition == "测试用测评体系（迷你）"


def test_apply_moves_evidence_in_one_transaction_with_audit(instance, filed):
    plan = migrate(instance, V2, MAPPING, dry_run=False, user="审核员甲")
    assert plan["applied"] is True
    assert current_map(instance).edition == "测试用测评体系（迷你·第二版）"
    assert codes_of(instance, filed["门前三包"]) == ["Ⅲ—66"]      # renumbered: keeps its evidence
    assert codes_of(instance, filed["宣传台账"]) == ["Ⅲ—21", "Ⅲ—22"]
    assert codes_of(instance, filed["市场照片"]) == ["Ⅲ—45"]
    assert codes_of(instance, filed["少年宫统计"]) == ["Ⅲ—3"]      # no home: kept, listed
    rows = {r["code"]: r for r in coverage(instance, "2026-07-15")["indicators"]}
    assert rows["Ⅲ—66"]["present"] == ["规范文件"] and rows["Ⅲ—45"]["present"] == ["实景图片"]
    audit = instance.db.execute("SELECT user, action, target, detail FROM audit WHERE action IN "
                                "('map.migrate', 'item.codes') ORDER BY id").fetchall()
    assert [a[1] for a in audit] == ["item.codes"] * 4 + ["map.migrate"]
    assert all(a[0] == "审核员甲" for a in audit)
    assert json.loads(audit[-1][3])["homeless"] == [filed["少年宫统计"]]
    # applying again: the edition is current, nothing moves
    again = migrate(instance, V2, None, dry_run=True)
    assert again["items"] == [{"id": filed["少年宫统计"], "title": "少年宫统计", "deleted": False,
                               "old": ["Ⅲ—3"], "new": [], "homeless": ["Ⅲ—3"]}]


@pytest.mark.parametrize("csv_text, key, line", [
    ("old,new\nⅢ—9,Ⅲ—45\n", "unknown old code", 2),
    ("old,new\nⅢ—4,Ⅲ—99\n", "unknown new code", 2),
    ("old,new\nⅢ—4,Ⅱ—3\nⅢ—5,Ⅱ—3\n", "level mismatch", 2),
    ("old,new\nⅢ—4,Ⅲ—45\nⅢ-4,Ⅲ—66\n", "duplicate old code", 3),
])
def test_bad_mapping_is_refused_and_nothing_applied(instance, filed, tmp_path, csv_text, key, line):
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text, encoding="utf-8")
    before = instance.db.execute("SELECT * FROM item_codes ORDER BY rowid").fetchall()
    with pytest.raises(MappingError) as exc:
        migrate(instance, V2, bad, dry_run=False, user="t")
    assert [(p.key, p.line) for p in exc.value.problems][0] == (key, line)
    assert exc.value.lines()[0].startswith(f"bad.csv:{line}: ")
    assert instance.db.execute("SELECT * FROM item_codes ORDER BY rowid").fetchall() == before
    assert instance.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1


def test_mapping_in_gbk_and_a_map_that_is_not_loaded(instance, tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("old,new\nⅢ—6,Ⅲ—66\n".encode("gb18030"))
    assert parse_mapping(gbk.read_bytes()) == [(2, "Ⅲ—6", ["Ⅲ—66"])]
    other = tmp_path / "other.yaml"
    other.write_text(V2.read_text(encoding="utf-8").replace("id: mini-test", "id: other"), encoding="utf-8")
    with pytest.raises(Exception, match="没有编号为「other」的已载入指标体系"):
        migrate(instance, other, None)
