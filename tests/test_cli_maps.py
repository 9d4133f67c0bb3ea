"""The CLI for several maps, editions and cycles: map list/activate/retire/delete/migrate,
cycle add/list/show/start/close — JSON, exit codes, one-line Chinese errors."""
from __future__ import annotations

import json
from datetime import datetime

from cli import cli
from tests import filefactory as ff
from tests.conftest import DATA, MINI_MAP, ROOT

WCN_MAP = ROOT / "maps" / "wcn_sample.yaml"
V2 = DATA / "mini_map_v2.yaml"
MAPPING = DATA / "mini_v1_to_v2.csv"


def run(runner, inst_dir, *args):
    return runner.invoke(cli, ["--instance", str(inst_dir), *args])


def test_map_list_retire_activate_delete(runner, instance):
    d = instance.root
    assert run(runner, d, "map", "load", str(WCN_MAP)).exit_code == 0
    data = json.loads(run(runner, d, "map", "list", "--json").stdout)
    assert [(m["id"], m["active"]) for m in data["maps"]] == [("mini-test", True), ("wcn-2024-sample", True)]
    r = run(runner, d, "map", "retire", "wcn-2024-sample")
    assert r.exit_code == 0 and "已停用" in r.stdout
    assert "[已停用]" in run(runner, d, "map", "list").stdout
    assert "本已停用" in run(runner, d, "map", "retire", "wcn-2024-sample").stdout
    assert run(runner, d, "map", "activate", "wcn-2024-sample").exit_code == 0
    r = run(runner, d, "map", "activate", "nope")
    assert r.exit_code == 2 and "没有编号为「nope」的指标体系" in r.stderr and "(unknown map)" in r.stderr
    r = run(runner, d, "map", "delete", "wcn-2024-sample")
    assert r.exit_code == 0 and "已删除" in r.stdout


def test_map_migrate_dry_run_then_apply(runner, instance, tmp_path):
    d = instance.root
    pdf = ff.make_pdf(tmp_path / "三包.pdf", ["门前三包"])
    jpg = ff.make_jpeg(tmp_path / "市场.jpg", exif_date=datetime(2026, 2, 1, 9, 0))
    assert run(runner, d, "add", str(pdf), "--code", "Ⅲ—6", "--type", "规范文件", "--date", "2026-03-01").exit_code == 0
    assert run(runner, d, "add", str(jpg), "--code", "Ⅲ-4", "--code", "Ⅲ-5", "--type", "实景图片").exit_code == 0
    r = run(runner, d, "map", "migrate", str(V2), "--mapping", str(MAPPING), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "改号 Ⅲ—6 → Ⅲ—66" in r.stdout and "合并 Ⅲ—4 → Ⅲ—45" in r.stdout and "预演" in r.stdout
    plan = json.loads(run(runner, d, "map", "migrate", str(V2), "--mapping", str(MAPPING), "--dry-run", "--json").stdout)
    assert {it["title"]: it["new"] for it in plan["items"]} == {"三包": ["Ⅲ—66"], "市场": ["Ⅲ—45"]}
    r = run(runner, d, "map", "migrate", str(V2), "--mapping", str(MAPPING))
    assert r.exit_code == 0 and "已迁移到新版本" in r.stdout
    show = json.loads(run(runner, d, "show", "1", "--json").stdout)
    assert [c["code"] for c in show["codes"]] == ["Ⅲ—66"] and show["codes"][0]["name"] == "门前三包责任落实"


def test_map_migrate_bad_mapping_lists_lines_exit_2(runner, instance, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("old,new\nⅢ—9,Ⅲ—45\nⅢ—4,Ⅱ—3\n", encoding="utf-8")
    r = run(runner, instance.root, "map", "migrate", str(V2), "--mapping", str(bad))
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("bad.csv:2: ") and "(unknown old code)" in lines[0]
    assert lines[1].startswith("bad.csv:3: ") and "(level mismatch)" in lines[1]
    assert lines[-1].startswith("错误: ") and "(bad mapping)" in lines[-1]
    assert instance.db.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 1


def test_cycle_commands(runner, instance):
    d = instance.root
    r = run(runner, d, "cycle", "add", "2026年度测评", "--evaluation-date", "2026/7/15", "--json")
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)
    assert c["state"] == "current" and c["evaluation_date"] == "2026-07-15"
    r = run(runner, d, "cycle", "add", "2027年度测评", "--evaluation-date", "2027-07-15")
    assert r.exit_code == 0 and "[未开始]" in r.stdout
    listing = json.loads(run(runner, d, "cycle", "list", "--json").stdout)["cycles"]
    assert [c["name"] for c in listing] == ["2027年度测评", "2026年度测评"]
    shown = json.loads(run(runner, d, "cycle", "show", "--json").stdout)
    assert shown["name"] == "2026年度测评" and shown["coverage"]["mini-test"]["leaves"] == 6
    r = run(runner, d, "cycle", "start", "2027年度测评")
    assert r.exit_code == 0 and "2027年度测评" in r.stdout
    assert "已结束（只读）" in run(runner, d, "cycle", "show", "2026年度测评").stdout
    for args, key in ((["cycle", "add", "2026年度测评", "--evaluation-date", "2026-07-15"], "(cycle exists)"),
                      (["cycle", "add", "x", "--evaluation-date", "明天"], "(bad evaluation date)"),
                      (["cycle", "start", "2026年度测评"], "(cycle closed)"),
                      (["cycle", "show", "没有"], "(unknown cycle)"),
                      (["cycle", "add", "y", "--evaluation-date", "2026-07-15", "--map-date", "oops"], "(bad --map-date)")):
        r = run(runner, d, *args)
        assert r.exit_code == 2 and key in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_new_commands_have_chinese_help(runner):
    for path in (["map", "list"], ["map", "migrate"], ["map", "retire"], ["map", "activate"], ["map", "delete"],
                 ["cycle"], ["cycle", "add"], ["cycle", "list"], ["cycle", "show"], ["cycle", "start"],
                 ["cycle", "close"]):
        r = runner.invoke(cli, [*path, "--help"])
        assert r.exit_code == 0 and any("\u4e00" <= ch <= "\u9fff" for ch in r.output), path


def test_sample_set_two_maps_import_shared_files_and_both_packages(runner, tmp_path):
    """The sample set: ./indicator_map.yaml and maps/wcn_sample.yaml in one instance; one manifest
    files material into both (the same files serving both), each package is right on its own."""
    import zipfile

    d = tmp_path / "inst"
    assert run(runner, d, "init", "--map", str(ROOT / "indicator_map.yaml")).exit_code == 0
    r = run(runner, d, "map", "load", str(WCN_MAP))
    assert r.exit_code == 0 and "已新增指标体系" in r.stdout
    src = tmp_path / "材料"
    src.mkdir()
    ff.make_pdf(src / "少年宫管理制度.pdf", ["乡村学校少年宫管理制度"])
    ff.make_jpeg(src / "少年宫活动.jpg", exif_date=datetime(2026, 3, 1, 10, 0))
    ff.make_xlsx(src / "宣讲台账.xlsx", [["日期", "场次"], ["2026-02-01", 3]])
    (src / "清单.csv").write_text(
        "path,code,type,date,unit,title\n"
        "少年宫管理制度.pdf,wmcs-2024-sample:Ⅲ—6;wcn-2024-sample:Ⅲ—5,规范文件,2026-03-01,市文明办,\n"
        "少年宫活动.jpg,wmcs-2024-sample:Ⅲ-6;wcn-2024-sample:III-5,实景图片,,草场街街道,\n"
        "宣讲台账.xlsx,Ⅲ—2,工作台账,2026-02-01,市委宣传部,\n", encoding="utf-8")
    r = run(runner, d, "import", str(src / "清单.csv"), "--json")
    assert r.exit_code == 1                                          # the bare code: refused, the rest kept
    out = json.loads(r.stdout)
    assert len(out["added"]) == 2 and "请指定指标体系" in out["refused"][0]["reason"]
    assert out["added"][0]["codes"] == ["wmcs-2024-sample:Ⅲ—6", "wcn-2024-sample:Ⅲ—5"]
    r = run(runner, d, "import", str(src / "清单.csv"), "--map", "wmcs-2024-sample", "--json")
    assert r.exit_code == 0, r.output                               # the same files again: duplicates
    assert len(json.loads(r.stdout)["duplicates"]) == 2
    r = run(runner, d, "export", str(tmp_path / "x.zip"), "--evaluation-date", "2026-07-15")
    assert r.exit_code == 2 and "请指定指标体系" in r.stderr
    names = {}
    for m in ("wmcs-2024-sample", "wcn-2024-sample"):
        r = run(runner, d, "export", str(tmp_path / "out" / m), "--map", m, "--evaluation-date", "2026-07-15", "--json")
        assert r.exit_code == 0, r.output
        rep = json.loads(r.stdout)
        assert rep["excluded"] == [] and run(runner, d, "verify", rep["path"]).exit_code == 0
        with zipfile.ZipFile(rep["path"]) as zf:
            names[m] = sorted(n.split("/", 1)[1] for n in zf.namelist() if not n.endswith("/") and "/Ⅰ" in n)
    assert [n.rsplit("/", 1)[1] for n in names["wcn-2024-sample"]] == \
        ["001_规范文件_少年宫管理制度.pdf", "002_实景图片_少年宫活动.jpg"]
    assert all("/Ⅲ—5 乡村学校少年宫/" in n for n in names["wcn-2024-sample"])
    assert {n.rsplit("/", 1)[1] for n in names["wmcs-2024-sample"]} == \
        {"001_工作台账_宣讲台账.xlsx", "001_规范文件_少年宫管理制度.pdf", "002_实景图片_少年宫活动.jpg"}
    # coverage per map, and search with --map
    cov = json.loads(run(runner, d, "coverage", "--map", "wcn-2024-sample", "--evaluation-date", "2026-07-15",
                         "--json").stdout)
    assert cov["summary"]["leaves"] == 8
    hits = json.loads(run(runner, d, "search", "少年宫", "--map", "wcn-2024-sample", "--json").stdout)
    assert hits["total"] == 2
    assert json.loads(run(runner, d, "search", "宣讲台账", "--map", "wcn-2024-sample", "--json").stdout)["total"] == 0
    assert json.loads(run(runner, d, "search", "宣讲台账", "--json").stdout)["total"] == 1
    assert run(runner, d, "map", "show").exit_code == 2
    assert json.loads(run(runner, d, "map", "show", "--map", "wcn-2024-sample", "--json").stdout)["id"] == \
        "wcn-2024-sample"


def test_cli_cycle_package_rebuilds_byte_identical_after_migration(runner, instance, tmp_path):
    import hashlib

    d = instance.root
    pdf = ff.make_pdf(tmp_path / "三包.pdf", ["门前三包"])
    assert run(runner, d, "add", str(pdf), "--code", "Ⅲ—6", "--type", "规范文件", "--date", "2026-03-01").exit_code == 0
    assert run(runner, d, "cycle", "add", "2026年度测评", "--evaluation-date", "2026-07-15").exit_code == 0
    assert run(runner, d, "review", "1", "--approve", "--by", "甲").exit_code == 0
    r = run(runner, d, "export", str(tmp_path / "a.zip"), "--cycle", "2026年度测评", "--json")
    assert r.exit_code == 0, r.output
    first = hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()
    assert run(runner, d, "cycle", "add", "2027年度测评", "--evaluation-date", "2027-07-15", "--start").exit_code == 0
    assert run(runner, d, "map", "load", str(V2), "--mapping", str(MAPPING)).exit_code == 0
    assert run(runner, d, "review", "1", "--reject", "--comment", "重审", "--by", "乙").exit_code == 0
    r = run(runner, d, "export", str(tmp_path / "b.zip"), "--cycle", "2026年度测评")
    assert r.exit_code == 0, r.output
    assert hashlib.sha256((tmp_path / "b.zip").read_bytes()).hexdigest() == first
    cov = json.loads(run(runner, d, "coverage", "--cycle", "2026年度测评", "--json").stdout)
    assert cov["cycle"]["state"] == "closed" and {r["code"] for r in cov["indicators"]} >= {"Ⅲ—6"}
    r = run(runner, d, "export", str(tmp_path / "c.zip"))
    assert r.exit_code == 2 and "--evaluation-date" in r.stderr


def test_unknown_map_or_cycle_is_exit_2_one_line(runner, instance, tmp_path):
    d = instance.root
    for args, key in ((["export", str(tmp_path / "x.zip"), "--map", "nope", "--evaluation-date", "2026-07-15"], "(unknown map)"),
                      (["export", str(tmp_path / "x.zip"), "--cycle", "nope"], "(unknown cycle)"),
                      (["coverage", "--cycle", "nope"], "(unknown cycle)"),
                      (["coverage", "--map", "nope", "--evaluation-date", "2026-07-15"], "(unknown map)"),
                      (["search", "x", "--map", "nope"], "(unknown map)"),
                      (["map", "show", "--map", "nope"], "(unknown map)"),
                      (["map", "load", str(MINI_MAP), "--new"], "(map id exists)")):
        r = run(runner, d, *args)
        assert r.exit_code == 2 and key in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert not (tmp_path / "x.zip").exists()
