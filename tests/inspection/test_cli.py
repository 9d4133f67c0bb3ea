"""The inspection CLI end to end: site, problem add/list/show/rectify/close/reopen; exit codes."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from cli import cli
from tests.inspection.helpers import scene_jpeg

FUTURE = (date.today() + timedelta(days=20)).isoformat()


@pytest.fixture
def E(runner, instance):
    def invoke(*args):
        return runner.invoke(cli, ["--instance", str(instance.root), *map(str, args)])
    return invoke


def test_help_everywhere(E):
    for group in ("site", "problem"):
        r = E(group, "--help")
        assert r.exit_code == 0
        for line in r.output.split("Commands:")[1].strip().splitlines():
            sub = line.split()[0]
            assert E(group, sub, "--help").exit_code == 0, (group, sub)


def test_cli_walk(E, tmp_path, instance):
    from archive.users import create_user

    create_user(instance.db, "clerk1", "clerk", "草场街街道", "password-123", by="t")
    create_user(instance.db, "clerk2", "clerk", "市教育局", "password-123", by="t")
    r = E("site", "add", "草场街农贸市场", "--kind", "农贸市场", "--unit", "草场街街道",
          "--lat", "36.0671", "--lon", "120.3826", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["name"] == "草场街农贸市场"
    before = scene_jpeg(tmp_path / "b.jpg", seed=1)
    r = E("problem", "add", "--desc", "摊位占道", "--site", "草场街农贸市场", "--deadline", FUTURE,
          "--code", "III-4", "--photo", before, "--by", "clerk1", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)
    assert p["codes"] == ["Ⅲ—4"] and p["found_by"] == "clerk1" and p["photos"][0]["taken_at"]
    pid = p["id"]
    listed = json.loads(E("problem", "list", "--json", "--state", "open").output)
    assert listed["total"] == 1 and listed["problems"][0]["state_label"] == "待整改"
    # refused steps exit 1 with one line
    r = E("problem", "rectify", pid, "--photo", before, "--by", "clerk1")
    assert r.exit_code == 1 and "整改照片与整改前相同" in r.output and len(r.output.strip().splitlines()) == 1
    after = scene_jpeg(tmp_path / "a.jpg", seed=2)
    r = E("problem", "rectify", pid, "--photo", after, "--by", "clerk2")
    assert r.exit_code == 1 and "refused:" in r.output
    assert E("problem", "rectify", pid, "--photo", after, "--note", "已清理", "--by", "clerk1").exit_code == 0
    r = E("problem", "close", pid, "--by", "clerk1")
    assert r.exit_code == 1 and "只有审核员" in r.output
    assert E("problem", "reopen", pid, "--reason", "没扫干净").exit_code == 0
    assert E("problem", "rectify", pid, "--photo", scene_jpeg(tmp_path / "c.jpg", seed=3)).exit_code == 0
    assert E("problem", "close", pid).exit_code == 0
    shown = E("problem", "show", pid)
    assert "已销号" in shown.output and "退回" in shown.output and "36.0671,120.3826" in shown.output
    r = E("site", "list", "--json")
    assert json.loads(r.output)["sites"][0]["total"] == 1


@pytest.mark.parametrize("args,message", [
    (["--desc", "x", "--unit", "市教育局"], "未指定整改期限"),
    (["--desc", "x", "--deadline", FUTURE], "未指定责任单位"),
    (["--desc", "x", "--unit", "市教育局", "--deadline", "2001-01-01"], "已过"),
    (["--desc", "x", "--unit", "市教育局", "--deadline", FUTURE, "--code", "Ⅸ-1"], "未知的指标代码"),
    (["--desc", "x", "--unit", "市教育局", "--deadline", FUTURE, "--by", "nobody"], "没有可用的账号"),
])
def test_usage_errors_exit_2(E, args, message):
    r = E("problem", "add", *args)
    assert r.exit_code == 2 and message in r.output
    assert r.output.count("\n") == 1
    assert json.loads(E("problem", "list", "--json").output)["total"] == 0


def test_not_an_image_exits_1(E, tmp_path):
    bad = tmp_path / "照片.jpg"
    bad.write_bytes(b"MZ" + b"\0" * 500)
    r = E("problem", "add", "--desc", "x", "--unit", "市教育局", "--deadline", FUTURE, "--photo", bad)
    assert r.exit_code == 1 and "不是照片" in r.output and "照片.jpg" in r.output
