"""CLI: round import/list/show/rank/problems and ledger --xlsx / --file."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from cli import cli
from tests import filefactory
from tests.inspection.helpers import scene_jpeg

FUTURE = (date.today() + timedelta(days=20)).isoformat()


@pytest.fixture
def E(runner, instance):
    def invoke(*args):
        return runner.invoke(cli, ["--instance", str(instance.root), *map(str, args)])
    return invoke


def test_round_commands(E, tmp_path):
    sheet = filefactory.make_xlsx(tmp_path / "评分.xlsx", [["代码", "满分", "得分", "扣分原因"],
                                                         ["Ⅲ-4", 5, 3, "占道"], ["Ⅲ-6", 3, 2.5, "未公示"], ["Ⅲ-1", 2, 2, None]])
    r = E("round", "import", sheet, "--name", "第一次", "--date", "2026-06-01", "--evaluator", "第三方", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["lost"] == 2.5
    assert "市市场监管局  丢分 2" in E("round", "rank").output
    ranked = json.loads(E("round", "rank", "--round", "第一次", "--json").output)
    assert [u["unit"] for u in ranked["units"]][:2] == ["市市场监管局", "市城管局"]
    assert E("round", "rank", "--by", "leaf").output.splitlines()[0].startswith("  1. Ⅲ—4")
    shown = json.loads(E("round", "show", "第一次", "--json").output)
    assert {s["code"]: s["lost"] for s in shown["scores"]} == {"Ⅲ—1": 0, "Ⅲ—4": 2, "Ⅲ—6": 0.5}
    r = E("round", "problems", "第一次", "--deadline", FUTURE, "--json")
    assert r.exit_code == 0 and len(json.loads(r.output)["opened"]) == 2
    assert "跳过 Ⅲ—4" in E("round", "problems", "1", "--deadline", FUTURE).output
    assert json.loads(E("round", "list", "--json").output)["rounds"][0]["problems"] == 2
    bad = filefactory.make_xlsx(tmp_path / "坏.xlsx", [["代码", "满分", "得分"], ["Ⅲ-4", 5, 6], ["Ⅸ-1", 1, 1]])
    r = E("round", "import", bad, "--name", "坏", "--date", "2026-06-01", "--evaluator", "自查")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "高于满分" in r.output
    assert len(json.loads(E("round", "list", "--json").output)["rounds"]) == 1
    assert E("round", "show", "不存在").exit_code == 2


def test_ledger_commands(E, tmp_path, instance):
    from openpyxl import load_workbook

    before = scene_jpeg(tmp_path / "b.jpg", seed=1)
    r = E("problem", "add", "--desc", "占道", "--unit", "草场街街道", "--deadline", FUTURE, "--code", "Ⅲ-4",
          "--photo", before, "--json")
    pid = json.loads(r.output)["id"]
    assert E("problem", "rectify", pid, "--photo", scene_jpeg(tmp_path / "a.jpg", seed=2)).exit_code == 0
    E("problem", "add", "--desc", "另一单位", "--unit", "市教育局", "--deadline", FUTURE)
    assert E("ledger").exit_code == 2
    out = tmp_path / "out" / "问题整改台账.xlsx"
    r = E("ledger", "--xlsx", out, "--unit", "草场街街道")
    assert r.exit_code == 0 and "1 个问题，2 张照片" in r.output
    ws = load_workbook(out).active
    assert ws.max_row == 4 and len(ws._images) == 2
    assert E("ledger", "--xlsx", tmp_path).exit_code == 2
    r = E("ledger", "--file-default")
    assert r.exit_code == 2 and "整改" in r.output
    r = E("ledger", "--file", "Ⅲ-6", "--unit", "草场街街道", "--json")
    assert r.exit_code == 0, r.output
    filed = json.loads(r.output)["filed"]
    assert filed["codes"] == ["Ⅲ—6"] and len(filed["added"]) == 3
    types = sorted(t for (t,) in instance.db.execute("SELECT material_type FROM items"))
    assert types == ["实景图片", "实景图片", "工作台账"]
    r = E("ledger", "--file", "Ⅲ-6", "--unit", "草场街街道", "--json")
    # filing again the same day changes nothing: the ledger bytes are the same, so all three are duplicates
    assert len(json.loads(r.output)["filed"]["duplicates"]) == 3 and json.loads(r.output)["filed"]["added"] == []
