"""Maps inside an instance (archive/maps.py) and the CLI: init, map check/show/load/diff."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from archive.core.db import transaction, utcnow
from archive.maps.indicators import MapError
from archive.core.instance import Instance
from archive.maps.loading import evidence_counts, load_map_into, map_tree
from cli import cli
from tests.conftest import MINI_MAP, SAMPLE_MAP
from archive.maps.loading import NoMapSelected, current_map


def add_item(inst: Instance, codes: list[str], n: int, deleted: bool = False) -> int:
    """An item row straight in SQL (the ingest pipeline is not under test here)."""
    sha = f"{n:064x}"
    now = utcnow()
    with transaction(inst.db) as db:
        db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', ?)",
                   [sha, now])
        cur = db.execute(
            "INSERT INTO items (sha256, kind, material_type, title, original_name, size, "
            "created_at, updated_at, deleted_at) VALUES (?, 'pdf', '规范文件', ?, ?, 1, ?, ?, ?)",
            [sha, f"材料{n}", f"材料{n}.pdf", now, now, now if deleted else None])
        item_id = cur.lastrowid
        for code in codes:
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, ?)",
                       [item_id, code, now])
    return item_id


def edited_mini(tmp_path: Path, *replacements: tuple[str, str], name="new_map.yaml") -> Path:
    text = MINI_MAP.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# Drops Ⅲ—6 (and renames Ⅲ—5 and rewrites Ⅲ—3's spelling).
def new_edition(tmp_path: Path) -> Path:
    return edited_mini(
        tmp_path,
        ("""          - code: Ⅲ—6
            name: 门前三包责任落实
            methods: [材料审核]
            requires: [规范文件, 工作台账]
            units: [市城管局, 草场街街道]
""", ""),
        ("name: 背街小巷环境整洁", "name: 背街小巷环境整治"),
        ("code: Ⅲ—3", "code: Ⅲ-3"),
        ("edition: 测试用测评体系（迷你）", "edition: 测试用测评体系（迷你·第二版）"))


def audit_rows(inst: Instance) -> list[tuple]:
    return inst.db.execute("SELECT user, action, target, detail FROM audit ORDER BY id").fetchall()


# ---------------------------------------------------------------- load_map_into
def test_conftest_instance_has_the_mini_map(instance):
    imap = current_map(instance)
    assert imap.id == "mini-test" and imap.level_counts() == [2, 3, 6]
    row = instance.db.execute("SELECT map_id, edition, yaml, source_path, loaded_by FROM maps").fetchall()
    assert len(row) == 1
    assert row[0][:3] == ("mini-test", "测试用测评体系（迷你）", MINI_MAP.read_text(encoding="utf-8"))
    assert row[0][3] == str(MINI_MAP.resolve()) and row[0][4] == "test"
    (user, action, target, detail), = audit_rows(instance)
    assert (user, action, target) == ("test", "map.load", "mini-test")
    assert json.loads(detail)["counts"] == [2, 3, 6]


def test_same_map_again_changes_nothing(instance):
    report = load_map_into(instance, MINI_MAP, user="test")
    assert report["changed"] is False
    assert instance.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1
    assert len(audit_rows(instance)) == 1


def test_new_edition_reports_vanished_and_keeps_evidence(instance, tmp_path):
    a = add_item(instance, ["Ⅲ—6"], 1)
    add_item(instance, ["Ⅲ—6", "Ⅲ—5"], 2)
    add_item(instance, ["Ⅲ—6"], 3, deleted=True)
    add_item(instance, ["Ⅲ—3"], 4)
    report = load_map_into(instance, new_edition(tmp_path), user="审核员甲")
    assert report["changed"] is True
    assert report["vanished"] == [{"code": "Ⅲ—6", "item_count": 2, "deleted_count": 1}]
    assert report["respelled"] == [{"old_code": "Ⅲ—3", "code": "Ⅲ-3", "item_count": 1}]
    assert report["diff"]["removed"] == [{"code": "Ⅲ—6", "name": "门前三包责任落实"}]
    assert [r["code"] for r in report["diff"]["renamed"]] == ["Ⅲ—5"]
    # evidence stays, also on the vanished code
    assert instance.db.execute("SELECT COUNT(*) FROM item_codes WHERE code = 'Ⅲ—6'").fetchone()[0] == 3
    assert instance.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4
    assert instance.db.execute(
        "SELECT code FROM item_codes WHERE item_id = ? ORDER BY code", [a]).fetchall() == [("Ⅲ—6",)]
    # the DB now writes Ⅲ-3 as the new map does
    assert instance.db.execute("SELECT code FROM item_codes WHERE item_id = 4").fetchall() == [("Ⅲ-3",)]
    assert current_map(instance).edition == "测试用测评体系（迷你·第二版）"
    user, action, target, detail = audit_rows(instance)[-1]
    assert (user, action, target) == ("审核员甲", "map.load", "mini-test")
    assert json.loads(detail)["vanished"] == ["Ⅲ—6"]


def test_code_that_becomes_a_parent_is_reported(instance, tmp_path):
    add_item(instance, ["Ⅲ—4"], 1)
    path = edited_mini(tmp_path, ("""          - code: Ⅲ—4
            name: 农贸市场管理规范
            methods: [实地考察]
            units: [市市场监管局]
""", """          - code: Ⅲ—4
            name: 农贸市场管理规范
            children:
              - code: Ⅳ—1
                name: 划行归市
                methods: [实地考察]
"""))
    report = load_map_into(instance, path, user="test")
    assert report["not_leaf"] == [{"code": "Ⅲ—4", "item_count": 1}]
    assert report["vanished"] == []


def test_invalid_map_is_refused_and_nothing_changes(instance, tmp_path):
    bad = edited_mini(tmp_path, ("code: Ⅲ—2", "code: Ⅲ-1"))
    with pytest.raises(MapError) as exc:
        load_map_into(instance, bad, user="test")
    assert [(p.line, p.key) for p in exc.value.problems] == [(25, "duplicate code")]
    assert instance.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1
    assert current_map(instance).id == "mini-test"


def test_evidence_counts_leaves_and_distinct_subtrees(instance):
    add_item(instance, ["Ⅲ—1", "Ⅲ—2"], 1)        # one item on two leaves of one branch
    add_item(instance, ["Ⅲ—2"], 2)
    add_item(instance, ["Ⅲ—4"], 3)
    add_item(instance, ["Ⅲ—4"], 4, deleted=True)  # deleted items do not count
    counts = evidence_counts(instance.db, current_map(instance))
    assert counts["Ⅲ—1"] == 1 and counts["Ⅲ—2"] == 2 and counts["Ⅲ—3"] == 0
    assert counts["Ⅱ—1"] == 2 and counts["Ⅰ—1"] == 2
    assert counts["Ⅲ—4"] == 1 and counts["Ⅱ—3"] == 1 and counts["Ⅰ—2"] == 1
    tree = map_tree(instance)
    assert tree["indicators"][0]["evidence"] == 2 and tree["counts"] == [2, 3, 6]


# ---------------------------------------------------------------- CLI: init
def invoke(runner, instance_dir, *args):
    return runner.invoke(cli, ["--instance", str(instance_dir), *args])


def test_init_creates_instance_and_loads_map(runner, instance_dir):
    result = invoke(runner, instance_dir, "init", "--map", str(SAMPLE_MAP))
    assert result.exit_code == 0, result.output
    assert "已创建实例" in result.output
    assert "测评项目 10 项" in result.output and "测评内容 60 项" in result.output
    assert (instance_dir / "archive.db").is_file() and (instance_dir / "files").is_dir()
    inst = Instance.open(instance_dir)
    assert current_map(inst).id == "wmcs-2024-sample"
    inst.close()


def test_init_is_idempotent(runner, instance_dir):
    assert invoke(runner, instance_dir, "init", "--map", str(MINI_MAP)).exit_code == 0
    again = invoke(runner, instance_dir, "init", "--map", str(MINI_MAP))
    assert again.exit_code == 0, again.output
    assert "已初始化" in again.output and "未重新载入" in again.output
    # without --map, a map loaded from elsewhere stays as it is
    third = invoke(runner, instance_dir, "init")
    assert third.exit_code == 0 and "保持不变" in third.output
    inst = Instance.open(instance_dir)
    assert inst.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1
    inst.close()


def test_init_default_map_and_edited_default(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "indicator_map.yaml").write_text(MINI_MAP.read_text(encoding="utf-8"), encoding="utf-8")
    first = runner.invoke(cli, ["--instance", "inst", "init"])
    assert first.exit_code == 0, first.output
    assert "测评内容 6 项" in first.output
    # the user edits ./indicator_map.yaml: re-running init loads the new text
    edited_mini(tmp_path, ("id: mini-test", "id: mini-test-b"), name="indicator_map.yaml")
    second = runner.invoke(cli, ["--instance", "inst", "init"])
    assert second.exit_code == 0, second.output
    assert "mini-test-b" in second.output
    inst = Instance.open(tmp_path / "inst")
    assert current_map(inst).id == "mini-test-b"
    inst.close()


def test_init_with_bad_map_creates_nothing(runner, instance_dir, tmp_path):
    bad = edited_mini(tmp_path, ("months: 12", "months: 0"))
    result = invoke(runner, instance_dir, "init", "--map", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:6: " in result.stderr and "(bad window)" in result.stderr
    assert not (instance_dir / "archive.db").exists()


def test_init_missing_default_map(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["--instance", "inst", "init"])
    assert result.exit_code == 2
    assert "(map file not found)" in result.stderr


# ---------------------------------------------------------------- CLI: map check
def test_map_check_sample(runner, tmp_path):
    result = runner.invoke(cli, ["map", "check", str(SAMPLE_MAP)])
    assert result.exit_code == 0, result.output
    assert "校验通过" in result.output
    assert "测评项目 10 项" in result.output and "测评指标 21 项" in result.output
    assert "测评内容 60 项" in result.output


def test_map_check_broken_map(runner, tmp_path):
    bad = edited_mini(
        tmp_path,
        ("code: Ⅲ—2", "code: iii-1"),
        ("            requires: [统计表格]\n", ""),
        ("requires: [实景图片]", "requires: [照片]"),
        ("by_type: {统计表格: 24}", "by_type: {统计表格: 两年}"),
        ("methods: [实地考察]", "methods: [暗访]"),
        name="indicator_map.yaml")
    result = runner.invoke(cli, ["map", "check", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[:5] == [
        f"{bad}:7: window.by_type.统计表格 必须是 1 到 600 之间的整数（月数），而不是 两年 (bad window)",
        f"{bad}:25: 编码 iii-1 与第 19 行的 Ⅲ—1 重复（忽略破折号、全半角与大小写后相同） (duplicate code)",
        f"{bad}:35: Ⅲ—3 的测评方法含材料审核，但未列出 requires（所需材料类型） (missing requires)",
        f"{bad}:45: Ⅲ—4 的测评方法 暗访 未知（可用: 听取汇报、材料审核、问卷调查、网络调查、实地考察、整体观察） (unknown method)",
        f"{bad}:50: Ⅲ—5 要求的材料类型 照片 未在 material_types 中定义（可用: 规范文件、情况说明、实景图片、统计表格、工作台账） (unknown material type)",
    ]
    assert "5 处错误" in lines[5]
    assert result.stdout == ""


def test_map_check_json(runner, tmp_path):
    ok = runner.invoke(cli, ["map", "check", str(MINI_MAP), "--json"])
    assert ok.exit_code == 0
    data = json.loads(ok.output)
    assert data["valid"] is True and data["counts"] == [2, 3, 6]
    bad = edited_mini(tmp_path, ("months: 12", "months: -1"))
    result = runner.invoke(cli, ["map", "check", str(bad), "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["problems"][0]["line"] == 6
    assert "必须是" in result.stdout   # not ASCII-escaped


def test_map_check_missing_file(runner, tmp_path):
    result = runner.invoke(cli, ["map", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "(map file not found)" in result.stderr


def test_map_check_yaml_syntax_error(runner, tmp_path):
    bad = edited_mini(tmp_path, ("name: 健全学习制度", "name: [健全学习制度"))
    result = runner.invoke(cli, ["map", "check", str(bad)])
    assert result.exit_code == 2
    assert "(YAML syntax error)" in result.stderr and f"{bad}:" in result.stderr


# ---------------------------------------------------------------- CLI: map show / load / diff
def test_map_show_json(runner, instance, instance_dir):
    add_item(instance, ["Ⅲ—1", "Ⅲ—2"], 1)
    add_item(instance, ["Ⅲ—5"], 2)
    result = invoke(runner, instance_dir, "map", "show", "--json")
    assert result.exit_code == 0, result.output
    assert "中央文明委重点工作" in result.output      # ensure_ascii=False
    data = json.loads(result.output)
    assert data["id"] == "mini-test" and data["counts"] == [2, 3, 6]
    first = data["indicators"][0]
    assert (first["code"], first["evidence"]) == ("Ⅰ—1", 1)
    leaf = first["children"][0]["children"][0]
    assert leaf == {"code": "Ⅲ—1", "name": "健全学习制度", "level": 3, "evidence": 1,
                    "methods": ["材料审核"], "requires": ["规范文件", "情况说明"],
                    "units": ["市委宣传部"], "standard": "建立健全理论学习中心组学习制度"}
    assert data["indicators"][1]["evidence"] == 1


def test_map_show_text(runner, instance, instance_dir):
    add_item(instance, ["Ⅲ—1"], 1)
    result = invoke(runner, instance_dir, "map", "show")
    assert result.exit_code == 0, result.output
    assert "Ⅰ—1 中央文明委重点工作  [材料 1]" in result.output
    assert "    Ⅲ—1 健全学习制度  [材料 1]  方法: 材料审核；需: 规范文件、情况说明" in result.output


def test_map_show_needs_instance(runner, tmp_path):
    result = invoke(runner, tmp_path / "none", "map", "show")
    assert result.exit_code == 2 and "(instance not initialised)" in result.stderr


def test_map_load_lists_vanished_codes(runner, instance, instance_dir, tmp_path):
    add_item(instance, ["Ⅲ—6"], 1)
    add_item(instance, ["Ⅲ—6", "Ⅲ—1"], 2)
    instance.close()
    result = invoke(runner, instance_dir, "map", "load", str(new_edition(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "编码 Ⅲ—6 已不在新体系中：仍有 2 份材料" in result.output
    assert "材料保留未删除" in result.output
    again = invoke(runner, instance_dir, "map", "load", str(new_edition(tmp_path)))
    assert again.exit_code == 0 and "未重新载入" in again.output
    inst = Instance.open(instance_dir)
    assert inst.db.execute("SELECT COUNT(*) FROM item_codes WHERE code='Ⅲ—6'").fetchone()[0] == 2
    inst.close()


def test_map_load_json_and_invalid(runner, instance, instance_dir, tmp_path):
    add_item(instance, ["Ⅲ—6"], 1)
    instance.close()
    result = invoke(runner, instance_dir, "map", "load", str(new_edition(tmp_path)), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["vanished"] == [
        {"code": "Ⅲ—6", "item_count": 1, "deleted_count": 0}]
    bad = edited_mini(tmp_path, ("requires: [统计表格]", "requires: []"), name="bad.yaml")
    refused = invoke(runner, instance_dir, "map", "load", str(bad))
    assert refused.exit_code == 2
    assert f"{bad}:35: " in refused.stderr and "(missing requires)" in refused.stderr


def test_map_diff(runner, tmp_path):
    new = new_edition(tmp_path)
    result = runner.invoke(cli, ["map", "diff", str(MINI_MAP), str(new)])
    assert result.exit_code == 0, result.output
    assert "删除 Ⅲ—6 门前三包责任落实" in result.output
    assert "改名 Ⅲ—5 背街小巷环境整洁 → 背街小巷环境整治" in result.output
    data = json.loads(runner.invoke(cli, ["map", "diff", str(MINI_MAP), str(new), "--json"]).output)
    assert data["removed"] == [{"code": "Ⅲ—6", "name": "门前三包责任落实"}]
    assert data["added"] == [] and data["requirements_changed"] == []
    same = runner.invoke(cli, ["map", "diff", str(MINI_MAP), str(MINI_MAP)])
    assert same.exit_code == 0 and "没有差别" in same.output
    bad = edited_mini(tmp_path, ("months: 12", "months: x"), name="bad.yaml")
    refused = runner.invoke(cli, ["map", "diff", str(MINI_MAP), str(bad)])
    assert refused.exit_code == 2 and f"{bad}:6: " in refused.stderr


# ---------------------------------------------------------------- help
def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))


def test_every_command_has_chinese_help(runner):
    commands = list(all_commands(cli))
    names = {" ".join(path) for path, _ in commands}
    assert {"init", "map", "map check", "map show", "map load", "map diff"} <= names
    for path, cmd in commands:
        assert cmd.help and any("\u4e00" <= ch <= "\u9fff" for ch in cmd.help), path
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, (path, param.name)


def test_load_map_text_into(instance):
    from archive.maps.loading import load_map_text_into

    text = MINI_MAP.read_text(encoding="utf-8").replace("id: mini-test", "id: uploaded")
    report = load_map_text_into(instance, text, "上传的体系.yaml", user="admin", ip="10.0.0.9")
    assert report["changed"] and report["map_id"] == "uploaded" and report["added"]
    # a new id is a second map, active beside the first: a bare code now needs a map
    assert current_map(instance, "uploaded").id == "uploaded"
    with pytest.raises(NoMapSelected, match="请指定指标体系"):
        current_map(instance)
    row = instance.db.execute("SELECT source_path, loaded_by FROM maps ORDER BY id DESC").fetchone()
    assert row == ("上传的体系.yaml", "admin")
    assert instance.db.execute("SELECT ip FROM audit ORDER BY id DESC").fetchone() == ("10.0.0.9",)
    with pytest.raises(MapError) as exc:
        load_map_text_into(instance, text.replace("months: 12", "months: 0"), "坏.yaml", user="admin")
    assert exc.value.lines() == ["坏.yaml:6: window.months 必须是 1 到 600 之间的整数（月数），而不是 0 (bad window)"]
