"""The CLI shell: unit, duty, deadline, owed — JSON, exit codes, one-line Chinese errors."""
from __future__ import annotations

import json

import openpyxl
import pytest

from cli import cli


def run(runner, instance, *args, input=None):
    return runner.invoke(cli, ["--instance", str(instance.root), *args], input=input)


def test_every_units_command_has_help(runner, instance):
    for args in (["unit"], ["unit", "add"], ["unit", "list"], ["unit", "import"], ["unit", "export"],
                 ["unit", "set"], ["unit", "rename"], ["unit", "retire"], ["unit", "restore"],
                 ["unit", "delete"], ["duty"], ["duty", "set"], ["duty", "show"], ["deadline"],
                 ["deadline", "set"], ["deadline", "list"], ["owed"]):
        r = run(runner, instance, *args, "--help")
        assert r.exit_code == 0 and len(r.output) > 40, args


def test_unit_lifecycle_json(runner, instance, tmp_path):
    r = run(runner, instance, "unit", "add", "和平社区", "--parent", "草场街街道", "--contact", "王芳",
            "--contact-phone", "13900000000")
    assert r.exit_code == 0, r.output
    r = run(runner, instance, "unit", "list", "--json")
    data = json.loads(r.output)
    assert "\\u" not in r.output
    peace = next(u for u in data["units"] if u["name"] == "和平社区")
    assert (peace["kind"], peace["parent"], peace["contact_phone"]) == ("社区", "草场街街道", "13900000000")
    out = tmp_path / "名录.xlsx"
    assert run(runner, instance, "unit", "export", str(out)).exit_code == 0
    assert openpyxl.load_workbook(out).active.max_row == 7
    r = run(runner, instance, "unit", "add", "和平社区")
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "已存在 (unit exists)" in r.output
    r = run(runner, instance, "unit", "rename", "和平社区", "和平里社区")
    assert r.exit_code == 0 and "曾用名：和平社区" in r.output


def test_unit_delete_refused_exit_1(runner, instance):
    r = run(runner, instance, "unit", "delete", "市教育局")
    assert r.exit_code == 1 and "refused:" in r.output and "(unit still owes material)" in r.output
    r = run(runner, instance, "unit", "delete", "不存在的局")
    assert r.exit_code == 2 and "未知的单位" in r.output


def test_import_missing_columns_exit_2(runner, instance, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称", "电话"])
    wb.active.append(["东城街道", "123"])
    wb.save(tmp_path / "a.xlsx")
    r = run(runner, instance, "unit", "import", str(tmp_path / "a.xlsx"))
    assert r.exit_code == 2 and "缺少列：类型" in r.output


def test_duty_deadline_owed(runner, instance):
    r = run(runner, instance, "duty", "set", "iii-5", "--coop", "市城管局", "--person", "市城管局=李强")
    assert r.exit_code == 0, r.output
    r = run(runner, instance, "duty", "show", "--code", "Ⅲ—5", "--json")
    d = json.loads(r.output)["duties"][0]
    assert (d["lead"], d["coops"]) == ("草场街街道", ["市城管局"])
    r = run(runner, instance, "duty", "set", "Ⅲ—5", "--person", "李强")
    assert r.exit_code == 2 and "单位=姓名" in r.output
    assert run(runner, instance, "deadline", "set", "--round", "第一轮", "--starts", "2020-03-01",
               "--due", "2020-05-31").exit_code == 0
    r = run(runner, instance, "deadline", "set", "--round", "第一轮", "--code", "Ⅲ—1", "--due", "2020-01-01")
    assert r.exit_code == 2 and "早于报送轮次" in r.output
    r = run(runner, instance, "deadline", "list", "--json")
    assert json.loads(r.output)["deadlines"][0]["due_on"] == "2020-05-31"
    r = run(runner, instance, "owed", "--unit", "市城管局", "--json")
    data = json.loads(r.output)
    assert {(o["code"], o["type"], o["state"]) for o in data["obligations"]} == {
        ("Ⅲ—5", "实景图片", "overdue"), ("Ⅲ—6", "规范文件", "overdue"), ("Ⅲ—6", "工作台账", "overdue")}
    r = run(runner, instance, "owed", "--overdue")
    assert r.exit_code == 0 and "已逾期" in r.output
    r = run(runner, instance, "owed", "--unit", "火星办")
    assert r.exit_code == 2 and "未知的单位「火星办」" in r.output
