"""Evaluation cycles: own review decisions, the current one by default, earlier ones read-only,
and their packages rebuilt byte-identical after a new edition has migrated the evidence."""
from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from archive.core.errors import NotFound, Refusal, UsageError
from archive.cycles.cycles import add_cycle, current_cycle, current_evaluation_date, get_cycle, list_cycles, \
    start_cycle
from archive.cycles.packages import cycle_coverage, cycle_export
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.evidence.review import review_item
from archive.maps.editions import migrate
from archive.maps.loading import delete_map
from archive.package import export_package
from tests import filefactory as ff
from tests.conftest import DATA

V2 = DATA / "mini_map_v2.yaml"
MAPPING = DATA / "mini_v1_to_v2.csv"


def sha(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def filed(instance, tmp_path):
    made = [
        (ff.make_pdf(tmp_path / "门前三包.pdf", ["门前三包责任书"]), ["Ⅲ—6"], "规范文件", "2026-03-01"),
        (ff.make_xlsx(tmp_path / "三包台账.xlsx", [["日期"], ["2026-01-01"]]), ["Ⅲ—6"], "工作台账", "2026-01-05"),
        (ff.make_jpeg(tmp_path / "市场.jpg", exif_date=datetime(2026, 2, 1, 9, 0)), ["Ⅲ—4", "Ⅲ—5"], "实景图片", None),
        (ff.make_xlsx(tmp_path / "宣传.xlsx", [["场次"], [3]]), ["Ⅲ—2"], "工作台账", "2025-12-01"),
    ]
    res = ingest_files(instance, [IngestRequest(p, c, t, d) for p, c, t, d in made], user="t")
    assert res.ok, res.refused
    return [a["id"] for a in res.added]


def test_first_cycle_is_current_and_adopts_earlier_reviews(instance, filed):
    review_item(instance, filed[0], "approved", None, "审核员甲")
    c = add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    assert c["state"] == "current" and c["maps"][0]["map_id"] == "mini-test"
    assert current_cycle(instance.db)["name"] == "2026年度测评"
    assert current_evaluation_date(instance.db, "mini-test") == "2026-07-15"
    assert instance.db.execute("SELECT cycle_id FROM reviews").fetchall() == [(c["id"],)]
    review_item(instance, filed[1], "rejected", "缺页", "审核员甲")
    assert instance.db.execute("SELECT COUNT(*) FROM reviews WHERE cycle_id = ?", [c["id"]]).fetchone()[0] == 2
    assert list_cycles(instance.db)[0]["reviews"] == 2


def test_new_cycle_has_its_own_decisions_and_the_old_one_is_read_only(instance, filed, tmp_path):
    c26 = add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    review_item(instance, filed[0], "approved", None, "审核员甲")
    review_item(instance, filed[1], "rejected", "缺页", "审核员甲")
    c27 = add_cycle(instance, "2027年度测评", "2027-07-15", user="t")
    assert c27["state"] == "planned"       # a cycle is current already: the new one waits
    start_cycle(instance, "2027年度测评", user="t")
    assert get_cycle(instance.db, c26["id"])["state"] == "closed"
    states = dict(instance.db.execute("SELECT id, review_state FROM items").fetchall())
    assert states[filed[0]] == "pending" and states[filed[1]] == "pending"   # 2027 has decided nothing yet
    old = cycle_coverage(instance, "2026年度测评")
    assert old["cycle"]["state"] == "closed"
    row = {r["code"]: r for r in old["indicators"]}["Ⅲ—6"]
    assert row["rejected"] == 1 and row["approved"] == 1
    with pytest.raises(Refusal, match="已结束"):
        start_cycle(instance, "2026年度测评", user="t")


def test_earlier_cycle_package_rebuilds_byte_identical_after_migration(instance, filed, tmp_path):
    add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    review_item(instance, filed[0], "approved", None, "审核员甲")
    review_item(instance, filed[3], "rejected", "日期不在窗口内", "审核员甲")
    first = cycle_export(instance, "2026年度测评", tmp_path / "a" / "2026.zip")
    live = export_package(instance, tmp_path / "b" / "2026.zip", "2026-07-15")
    assert sha(first["path"]) == sha(live["path"])     # the cycle's package is the package
    add_cycle(instance, "2027年度测评", "2027-07-15", start=True, user="t")
    plan = migrate(instance, V2, MAPPING, dry_run=False, user="t")
    assert plan["applied"]
    pdf = ff.make_pdf(tmp_path / "新材料.pdf", ["新的一年"])
    assert ingest_files(instance, [IngestRequest(pdf, ["Ⅲ—66"], "规范文件", "2027-03-01")], user="t").ok
    review_item(instance, filed[0], "rejected", "新年度重审", "审核员乙")
    instance.db.execute("UPDATE items SET title = '改过的标题' WHERE id = ?", [filed[1]])
    again = cycle_export(instance, "2026年度测评", tmp_path / "c" / "2026.zip")
    assert sha(again["path"]) == sha(first["path"])
    assert again["cycle"]["state"] == "closed"
    # the new cycle's package is built from the new edition
    new = cycle_export(instance, "2027年度测评", tmp_path / "d" / "2027.zip")
    assert "Ⅲ—66" in str(new) or new["included"] >= 1
    with pytest.raises(UsageError, match="测评日期是 2026-07-15"):
        cycle_export(instance, "2026年度测评", tmp_path / "e.zip", evaluation_date="2026-08-01")


def test_bad_cycle_input(instance, filed):
    add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    with pytest.raises(UsageError, match="已存在"):
        add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    with pytest.raises(UsageError, match="测评日期"):
        add_cycle(instance, "坏日期", "2026-13-45", user="t")
    with pytest.raises(NotFound, match="没有编号为「nope」"):
        add_cycle(instance, "x", "2026-07-15", maps=["nope"], user="t")
    with pytest.raises(NotFound, match="没有名为「无此周期」的测评周期"):
        get_cycle(instance.db, "无此周期")
    assert [c["name"] for c in list_cycles(instance.db)] == ["2026年度测评"]


def test_a_map_used_by_a_cycle_is_not_deleted(instance):
    add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    with pytest.raises(Refusal, match="仍被测评周期使用：2026年度测评"):
        delete_map(instance, "mini-test", user="t")
    assert instance.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1


def test_the_current_cycle_sets_the_date_reviewers_work_to(instance):
    """Photo window checks read the instance's evaluation date: it is the current cycle's."""
    from archive.core.settings import EVALUATION_DATE, get_setting

    add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    assert get_setting(instance.db, EVALUATION_DATE) == "2026-07-15"
    add_cycle(instance, "2027年度测评", "2027-07-15", user="t")           # planned: nothing changes
    assert get_setting(instance.db, EVALUATION_DATE) == "2026-07-15"
    start_cycle(instance, "2027年度测评", user="t")
    assert get_setting(instance.db, EVALUATION_DATE) == "2027-07-15"
    row = instance.db.execute("SELECT user, action, target FROM audit WHERE action = 'settings.set' "
                              "ORDER BY id DESC LIMIT 1").fetchone()
    assert row == ("t", "settings.set", EVALUATION_DATE)
