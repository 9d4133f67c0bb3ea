"""模拟测评 rounds: xlsx import (600 leaves), checks, lost points on lead units, ranking,
opening problems for lost points in one step."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from archive.core.errors import NotFound, UsageError
from archive.inspection import rounds as rd
from archive.inspection.problems import Actor, ProblemFilter, list_problems
from tests import filefactory
from tests.inspection.helpers import big_map, count

FUTURE = (date.today() + timedelta(days=20)).isoformat()
REVIEWER = Actor("审核员甲", "reviewer")
HEADER = ["序号", "代码", "测评内容", "满分", "得分", "扣分", "扣分原因"]


def sheet(tmp_path, rows, name="评分表.xlsx"):
    return filefactory.make_xlsx(tmp_path / name, [["2026年第一次模拟测评评分表"], HEADER] + rows)


def test_import_scores_and_rank(instance, tmp_path):
    path = sheet(tmp_path, [
        [1, "Ⅲ-1", "健全学习制度", 2, 2, None, None],
        [2, "III-2", "开展宣传教育", 4, None, 1.5, "宣传栏破损"],      # 得分 from 扣分
        [3, "Ⅲ—4", "农贸市场", 5, 3, 2, "占道经营"],
        [4, "Ⅲ—6", "门前三包", 3, 2, None, "未公示"],
    ])
    rid = rd.import_round(instance, path, "第一次模拟测评", "2026/6/1", "第三方", user="t")
    scores = {s["code"]: s for s in rd.round_scores(instance, rid)}
    assert scores["Ⅲ—2"]["score"] == 2.5 and scores["Ⅲ—2"]["lost"] == 1.5
    assert scores["Ⅲ—2"]["lead"] == "市委宣传部" and scores["Ⅲ—2"]["coop"] == ["草场街街道"]
    rank = rd.ranking(instance, rid)
    assert [(u["unit"], u["lost"]) for u in rank["units"][:3]] == [
        ("市市场监管局", 2.0), ("市委宣传部", 1.5), ("市城管局", 1.0)]
    by = {u["unit"]: u for u in rank["units"]}
    assert by["草场街街道"]["lost"] == 0 and by["草场街街道"]["coop_leaves"] == 2
    assert [l["code"] for l in rank["leaves"]] == ["Ⅲ—4", "Ⅲ—2", "Ⅲ—6"]
    listed = rd.list_rounds(instance)[0]
    assert (listed["full"], listed["score"], listed["lost"], listed["leaves_lost"]) == (14, 9.5, 4.5, 3)
    # a second round: ranking over all rounds adds up
    rd.create_round(instance, "第二次", "2026-07-01", "市级", [rd.ScoreIn("Ⅲ—4", 5, 4)], user="t")
    assert rd.ranking(instance)["units"][0] == {"unit": "市市场监管局", "lost": 3.0, "leaves": 2, "coop_leaves": 0}


@pytest.mark.parametrize("rows,message", [
    ([[1, "Ⅲ—1", "", 2, 3, None, None]], "高于满分"),
    ([[1, "Ⅲ—1", "", 2, -1, None, None]], "负数"),
    ([[1, "Ⅲ—1", "", 2, "两分", None, None]], "不是数字"),
    ([[1, "Ⅲ—1", "", None, 1, None, None]], "缺少满分"),
    ([[1, "Ⅲ—1", "", 2, 1, 0.5, None]], "≠ 扣分"),
    ([[1, "Ⅲ—1", "", 2, 1, None, None], [2, "Ⅲ-1", "", 2, 1, None, None]], "重复"),
    ([[1, "Ⅲ—1", "", 2, 1, None, None], [2, "Ⅸ—9", "", 2, 1, None, None],
      [3, "Ⅱ—1", "", 2, 1, None, None], [4, "XX", "", 1, 1, None, None]], "第 4 行「Ⅸ—9」、第 5 行「Ⅱ—1」、第 6 行「XX」"),
])
def test_bad_sheets_write_nothing(instance, tmp_path, rows, message):
    with pytest.raises(UsageError, match=message) as e:
        rd.import_round(instance, sheet(tmp_path, rows), "坏表", "2026-06-01", "自查", user="t")
    assert "\n" not in str(e.value)
    assert count(instance.db, "rounds") == 0 and count(instance.db, "round_scores") == 0


def test_bad_round_fields(instance, tmp_path):
    ok = sheet(tmp_path, [[1, "Ⅲ—1", "", 2, 1, None, None]])
    for args, message in [(("", "2026-06-01", "自查"), "名称"), (("x", "不是日期", "自查"), "日期"),
                          (("x", "2026-06-01", "路人"), "测评方")]:
        with pytest.raises(UsageError, match=message):
            rd.import_round(instance, ok, *args, user="t")
    with pytest.raises(UsageError, match="找不到「代码」列"):
        rd.import_round(instance, filefactory.make_xlsx(tmp_path / "x.xlsx", [["a", "b"], [1, 2]]), "x", "2026-06-01", "自查")
    with pytest.raises(UsageError, match="不是可读取的 xlsx"):
        rd.import_round(instance, filefactory.make_pdf(tmp_path / "y.xlsx", ["x"]), "x", "2026-06-01", "自查")
    rd.import_round(instance, ok, "同名", "2026-06-01", "自查")
    with pytest.raises(UsageError, match="已存在"):
        rd.import_round(instance, ok, "同名", "2026-06-01", "自查")


def test_set_scores_on_page(instance):
    rid = rd.create_round(instance, "自查", "2026-06-01", "自查", user="t")
    assert rd.set_scores(instance, rid, [rd.ScoreIn("iii-5", "3", "1", reason="垃圾未清")], user="t") == 1
    rd.set_scores(instance, rid, [rd.ScoreIn("Ⅲ—5", "3", "2")], user="t")        # a correction
    assert [(s["code"], s["score"]) for s in rd.round_scores(instance, rid)] == [("Ⅲ—5", 2.0)]
    with pytest.raises(UsageError, match="高于满分"):
        rd.set_scores(instance, rid, [rd.ScoreIn("Ⅲ—5", "3", "4")], user="t")
    with pytest.raises(NotFound):
        rd.set_scores(instance, 999, [rd.ScoreIn("Ⅲ—5", "3", "2")], user="t")


def test_open_problems_for_lost_points(instance, tmp_path):
    rid = rd.create_round(instance, "第一次", "2026-06-01", "第三方", [
        rd.ScoreIn("Ⅲ—1", 2, 2), rd.ScoreIn("Ⅲ—4", 5, 3, reason="占道经营"), rd.ScoreIn("Ⅲ—6", 3, 2)], user="t")
    with pytest.raises(UsageError, match="已过"):
        rd.open_problems(instance, REVIEWER, rid, "2020-01-01")
    result = rd.open_problems(instance, REVIEWER, rid, FUTURE)
    assert len(result["opened"]) == 2 and result["skipped"] == []
    got = list_problems(instance, ProblemFilter(round_id=rid))["problems"]
    assert sorted((p["unit"], p["codes"][0], p["source"]) for p in got) == [
        ("市城管局", "Ⅲ—6", "模拟测评"), ("市市场监管局", "Ⅲ—4", "模拟测评")]
    assert any("扣 2 分：占道经营" in p["description"] for p in got)
    again = rd.open_problems(instance, REVIEWER, rid, FUTURE)
    assert again["opened"] == [] and len(again["skipped"]) == 2
    assert rd.list_rounds(instance)[0]["problems"] == 2


def test_six_hundred_leaves(instance, tmp_path):
    from archive.maps.loading import load_map_into

    map_path = big_map(tmp_path / "big.yaml", 600)
    load_map_into(instance, map_path, user="t", replaces="mini-test")   # one map active (docs/maps.md)
    rows = [[i, f"C{i}", f"内容{i}", None, 2 - (i % 3) * 0.5, None, f"原因{i}" if i % 3 else None]
            for i in range(1, 601)]
    rid = rd.import_round(instance, sheet(tmp_path, rows, "600.xlsx"), "600项", "2026-06-01", "第三方")
    assert count(instance.db, "round_scores") == 600
    r = rd.list_rounds(instance)[0]
    assert r["full"] == 1200 and r["lost"] == 200 * 0.5 + 200 * 1.0
    rank = rd.ranking(instance, rid)
    assert sum(u["lost"] for u in rank["units"]) == 300
    assert len(rank["units"]) == 12 and rank["units"][0]["lost"] == 50
