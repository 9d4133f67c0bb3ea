"""Coverage: readiness per leaf for an evaluation date (CONTRACT.md "Coverage")."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from archive.package import coverage_xlsx
from archive.readiness.coverage import coverage
from archive.core.errors import UsageError
from cli import cli
from tests import filefactory as ff
from tests.package_helpers import EVIL, add, assert_text_not_formula, load_mini_map_with_edition

EVAL = "2026-07-15"     # default window 2025-07-01 .. 2026-06-30; 统计表格 2024-07-01 .. 2026-06-30


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("coverage_src")
    return {
        "rule": ff.make_pdf(d / "学习制度.pdf", ["理论学习中心组学习制度 第一号"]),
        "note_old": ff.make_pdf(d / "情况说明.pdf", ["情况说明 去年"]),
        "photo": ff.make_jpeg(d / "宣传栏.jpg", exif_date=datetime(2026, 2, 1, 10, 0), seed=1),
        "rejected": ff.make_pdf(d / "退回.pdf", ["门前三包 规范文件 被退回"]),
        "stats": ff.make_xlsx(d / "少年宫统计.xlsx", [["学校", "人数"], ["一小", 30]]),
        "ledger_edge": ff.make_xlsx(d / "台账.xlsx", [["日期", "活动"], ["2026-06-30", "宣讲"]]),
        "ledger_late": ff.make_xlsx(d / "台账七月.xlsx", [["日期", "活动"], ["2026-07-01", "宣讲"]]),
        "deleted": ff.make_pdf(d / "删除.pdf", ["已删除的材料"]),
    }


@pytest.fixture
def archive(instance, files):
    ids = {
        "rule": add(instance, files["rule"], ["Ⅲ—1"], "规范文件", date="2026-01-05"),
        "note_old": add(instance, files["note_old"], ["Ⅲ—1", "Ⅲ-6"], "情况说明", date="2025-06-30"),
        "photo": add(instance, files["photo"], ["Ⅲ—2", "Ⅲ—5"], "实景图片", review="approved"),
        "rejected": add(instance, files["rejected"], ["Ⅲ—6"], "规范文件", date="2026-03-01", review="rejected"),
        "stats": add(instance, files["stats"], ["Ⅲ—3"], "统计表格", date="2024-07-01"),
        "ledger_edge": add(instance, files["ledger_edge"], ["Ⅲ—2"], "工作台账", date="2026-06-30"),
        "ledger_late": add(instance, files["ledger_late"], ["Ⅲ—6"], "工作台账", date="2026-07-01"),
        "deleted": add(instance, files["deleted"], ["Ⅲ—6"], "工作台账", date="2026-01-01"),
    }
    instance.db.execute("UPDATE items SET deleted_at = '2026-07-01T00:00:00Z' WHERE id = ?", [ids["deleted"]])
    return ids


def leaf(report, code):
    return next(r for r in report["indicators"] if r["code"] == code)


def test_contract_shape_and_window(archive, instance):
    report = coverage(instance, EVAL)
    assert report["evaluation_date"] == EVAL
    assert report["window"] == {"from": "2025-07-01", "to": "2026-06-30"}
    assert report["windows"]["统计表格"] == {"from": "2024-07-01", "to": "2026-06-30"}
    assert [r["code"] for r in report["indicators"]] == ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"]
    for r in report["indicators"]:
        assert {"code", "name", "methods", "required", "present", "missing", "evidence", "out_of_window",
                "pending", "rejected", "status"} <= set(r)
    assert report["summary"] == {"leaves": 6, "complete": 4, "partial": 1, "empty": 1}


def test_statuses_and_counts(archive, instance):
    report = coverage(instance, EVAL)
    r1 = leaf(report, "Ⅲ—1")   # 规范文件 in window; 情况说明 dated 2025-06-30 = one day before the window
    assert r1["present"] == ["规范文件"] and r1["missing"] == ["情况说明"] and r1["status"] == "partial"
    assert (r1["evidence"], r1["out_of_window"], r1["pending"], r1["rejected"]) == (2, 1, 2, 0)
    r2 = leaf(report, "Ⅲ—2")   # photo (EXIF date 2026-02-01) + ledger on the window's last day
    assert r2["present"] == ["实景图片", "工作台账"] and r2["status"] == "complete"
    assert r2["approved"] == 1 and r2["reviewers"] == ["审核员甲"]
    assert leaf(report, "Ⅲ—3")["status"] == "complete"   # 统计表格: 24-month window, first day
    r4 = leaf(report, "Ⅲ—4")   # 实地考察 only: requires nothing, so nothing is missing
    assert r4["required"] == [] and r4["missing"] == [] and r4["status"] == "complete"
    r6 = leaf(report, "Ⅲ—6")   # rejected 规范文件, ledger in the evaluation month, deleted ledger
    assert r6["present"] == [] and r6["missing"] == ["规范文件", "工作台账"] and r6["status"] == "empty"
    assert (r6["evidence"], r6["out_of_window"], r6["pending"], r6["rejected"]) == (3, 2, 2, 1)


def test_window_edges_move_with_the_evaluation_date(archive, instance):
    # a month later the 2026-07-01 ledger is in, the 2025-07-xx edge moves to 2025-08-01
    report = coverage(instance, "2026-08-01")
    assert report["window"] == {"from": "2025-08-01", "to": "2026-07-31"}
    assert "工作台账" in leaf(report, "Ⅲ—6")["present"]
    # statistics 2024-07-01 drop out of their 24-month window
    assert leaf(report, "Ⅲ—3")["status"] == "empty"
    # the evaluation day itself does not matter within a month
    assert coverage(instance, "2026-07-01")["window"] == coverage(instance, "2026-07-31")["window"]


def test_unit_filter(archive, instance):
    report = coverage(instance, EVAL, unit="草场街街道")
    assert [r["code"] for r in report["indicators"]] == ["Ⅲ—2", "Ⅲ—5", "Ⅲ—6"]
    assert report["summary"]["leaves"] == 3 and report["unit"] == "草场街街道"
    assert coverage(instance, EVAL, unit="不存在的单位")["summary"]["leaves"] == 0


def test_bad_date_is_usage_error(instance):
    with pytest.raises(UsageError):
        coverage(instance, "2026-02-30")


def test_accepts_date_objects(archive, instance):
    assert coverage(instance, date(2026, 7, 15)) == coverage(instance, EVAL)


def test_xlsx_is_the_review_record(archive, instance, tmp_path):
    report = coverage(instance, EVAL)
    out = coverage_xlsx(report, tmp_path / "审核记录表.xlsx")
    ws = load_workbook(out).active
    assert ws.title == "测评材料审核记录表"
    assert ws.freeze_panes == "A4"
    header = [c.value for c in ws[3]]
    assert header[:8] == ["序号", "测评项目 / 测评指标", "编码", "测评内容", "测评方法", "必备材料", "已有材料", "缺少材料"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    assert [r[2] for r in rows] == ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"]
    status = header.index("状态")
    assert [r[status] for r in rows] == ["不全", "齐全", "齐全", "齐全", "齐全", "缺失"]
    assert rows[0][7] == "情况说明"
    assert rows[3][5] == "（无需材料）"
    # coloured status, wrapped text, Chinese-wide columns
    assert ws.cell(row=9, column=status + 1).fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.cell(row=4, column=4).alignment.wrap_text
    assert ws.column_dimensions["D"].width >= len("乡村学校少年宫建设") * 2
    # stable bytes
    again = coverage_xlsx(coverage(instance, EVAL), tmp_path / "again.xlsx")
    assert out.read_bytes() == again.read_bytes()


def test_cli_coverage_json_text_and_xlsx(archive, instance, runner, tmp_path):
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", EVAL, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == coverage(instance, EVAL)
    assert "健全学习制度" in res.output   # not ASCII-escaped
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", EVAL,
                              "--unit", "市教育局", "--xlsx", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 0, res.output
    assert "[齐全] Ⅲ—3 乡村学校少年宫建设" in res.output and "Ⅲ—1" not in res.output
    assert (tmp_path / "x.xlsx").is_file()
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", "明天"])
    assert res.exit_code == 2


def test_coverage_xlsx_writes_formula_like_text_as_text(archive, instance, runner, tmp_path):
    """An edition or reviewer name starting with "=" stays text: openpyxl would write a live
    formula (=HYPERLINK to a foreign site) into the 测评材料审核记录表."""
    from archive.evidence.review import review_item

    load_mini_map_with_edition(instance, EVIL)
    review_item(instance, archive["rule"], "approved", comment="=1+1", by="=CMD()")
    out = tmp_path / "审核记录表.xlsx"
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", EVAL,
                              "--xlsx", str(out)])
    assert res.exit_code == 0, res.output
    assert_text_not_formula(out, EVIL)          # the subtitle starts with the edition
    assert_text_not_formula(out, "=CMD()")       # reviewer column of Ⅲ—1
    assert_text_not_formula(out, "=1+1")


def test_coverage_xlsx_into_a_missing_folder_creates_it(archive, instance, runner, tmp_path):
    out = tmp_path / "报表" / "七月" / "审核记录表.xlsx"
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", EVAL,
                              "--xlsx", str(out)])
    assert res.exit_code == 0, res.output
    assert load_workbook(out).active.title == "测评材料审核记录表"
    assert [p.name for p in out.parent.iterdir()] == ["审核记录表.xlsx"]    # no temp file left
    # a file where the folder should be: usage error, one line, no traceback
    (tmp_path / "pf").write_text("x")
    res = runner.invoke(cli, ["--instance", str(instance.root), "coverage", "--evaluation-date", EVAL,
                              "--xlsx", str(tmp_path / "pf" / "x.xlsx")])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "cannot write output" in res.stderr and "无法写入输出位置" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_counted_in_sql_equals_item_by_item(archive, instance, files, tmp_path):
    """The dashboard's SQL counts (load_counts) give the very report the per-item path gives:
    windows per type, states, deleted items, several codes, latest review comments."""
    from archive.evidence.review import review_item
    from archive.maps.loading import current_map
    from archive.readiness.coverage import compute, live_report, load_counts, load_items, snapshot

    review_item(instance, archive["rule"], "rejected", comment="缺盖章", by="审核员乙")
    review_item(instance, archive["rule"], "approved", comment="已补盖章", by="审核员丙")
    review_item(instance, archive["stats"], "approved", comment=None, by="审核员甲")
    extra = add(instance, ff.make_pdf(tmp_path / "无日期.pdf", ["没有日期的材料"]), ["Ⅲ—2", "Ⅲ—6"], "规范文件")
    imap = current_map(instance)
    for day in ("2026-07-15", "2026-01-10", "2027-08-01", "2024-07-01"):
        d = date.fromisoformat(day)
        for unit in (None, "区委宣传部", "没有这个单位"):
            with snapshot(instance.db) as db:
                assert load_counts(db, imap, d) is not None
                counted = live_report(db, imap, d, unit)
                by_item = compute(imap, load_items(db, map_id=imap.id), d, unit)
            assert counted == by_item, (day, unit)
    with snapshot(instance.db) as db:
        by_item = compute(imap, load_items(db, map_id=imap.id), date.fromisoformat(EVAL))
    r2 = leaf(by_item, "Ⅲ—2")
    assert r2["evidence"] == 3 and r2["out_of_window"] == 1    # the undated item is out of window
    r1 = leaf(by_item, "Ⅲ—1")
    assert r1["reviewers"] == ["审核员丙"] and f"#{archive['rule']} 已补盖章" in r1["comments"]
    assert extra


def test_a_stored_code_in_another_spelling_falls_back_to_items(archive, instance):
    """Two stored codes of one item that name one leaf count once (the per-item path)."""
    from archive.maps.loading import current_map
    from archive.readiness.coverage import live_report, load_counts, snapshot

    imap = current_map(instance)
    instance.db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at) VALUES (?, ?, 'Ⅲ-2', '2026-01-01T00:00:00Z')",
                        [archive["photo"], imap.id])
    d = date.fromisoformat(EVAL)
    with snapshot(instance.db) as db:
        assert load_counts(db, imap, d) is None
        report = live_report(db, imap, d)
    assert leaf(report, "Ⅲ—2")["evidence"] == 2     # the photo once, the ledger once


def test_subtree_counts_of_one_node_match_the_whole_tree(archive, instance):
    """An indicator page counts only its own subtree; the figures are the tree's, also for a
    code stored in another spelling and an item filed on two leaves of one branch."""
    from archive.maps.loading import current_map, evidence_counts

    imap = current_map(instance)
    instance.db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at) "
                        "VALUES (?, ?, 'Ⅲ-3', '2026-01-01T00:00:00Z')", [archive["rule"], imap.id])
    full = evidence_counts(instance.db, imap)
    assert full["Ⅲ—3"] == 2
    branches = [n for n in imap.nodes.values() if not n.is_leaf]
    assert branches
    for node in branches:
        part = evidence_counts(instance.db, imap, node)
        assert part == {code: full[code] for code in part}
        assert set(part) == {node.code, *(n.code for n in node.leaves())} | {
            n.code for n in imap.nodes.values() if node.code in [a.code for a in n.ancestors()]}
