"""Obligations computed from items, duties and deadlines (北京时间 days)."""
from __future__ import annotations

from datetime import date

import pytest

from archive.core.errors import NotFound, UsageError
from archive.units.deadlines import list_deadlines, set_deadline
from archive.units.duties import set_duty
from archive.units.service import owed_report

D = date(2026, 5, 20)


def states(instance, unit, today=D):
    rows = owed_report(instance, unit=unit, today=today)["obligations"]
    return {(r["code"], r["type"]): r["state"] for r in rows}


def test_obligations_follow_items_and_reviews(instance, add_item, review):
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    s = states(instance, "草场街街道")
    # 草场街街道: Ⅲ—2 (coop: 实景图片, 工作台账), Ⅲ—5 (实景图片), Ⅲ—6 (coop: 规范文件, 工作台账).
    assert s == {("Ⅲ—2", "实景图片"): "owed", ("Ⅲ—2", "工作台账"): "owed", ("Ⅲ—5", "实景图片"): "owed",
                 ("Ⅲ—6", "规范文件"): "owed", ("Ⅲ—6", "工作台账"): "owed"}
    item = add_item("Ⅲ—5", "实景图片", "草场街街道")
    add_item("Ⅲ—5", "实景图片", "市教育局")          # another unit's item does not count
    assert states(instance, "草场街街道")[("Ⅲ—5", "实景图片")] == "submitted"
    review(item, "rejected", "照片模糊")
    assert states(instance, "草场街街道")[("Ⅲ—5", "实景图片")] == "returned"
    assert states(instance, "草场街街道", today=date(2026, 6, 1))[("Ⅲ—5", "实景图片")] == "overdue"
    again = add_item("Ⅲ—5", "实景图片", "草场街街道")
    review(again, "approved")
    assert states(instance, "草场街街道", today=date(2026, 6, 1))[("Ⅲ—5", "实景图片")] == "approved"
    # Deadline day itself is not overdue; the day after is.
    assert states(instance, "草场街街道", today=date(2026, 5, 31))[("Ⅲ—2", "工作台账")] == "owed"
    assert states(instance, "草场街街道", today=date(2026, 6, 1))[("Ⅲ—2", "工作台账")] == "overdue"


def test_deleted_items_and_retired_units(instance, add_item):
    from archive.evidence.items import soft_delete
    from archive.units.records import set_active

    item = add_item("Ⅲ—3", "统计表格", "市教育局")
    assert states(instance, "市教育局") == {("Ⅲ—3", "统计表格"): "submitted"}
    soft_delete(instance, item, user="t")
    assert states(instance, "市教育局") == {("Ⅲ—3", "统计表格"): "owed"}
    set_active(instance.db, "市教育局", False, by="t")
    assert states(instance, "市教育局") == {}


def test_most_specific_deadline_wins(instance):
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    set_deadline(instance, "第一轮", "2026-04-30", code="Ⅲ-2", by="t")           # lenient code
    set_deadline(instance, "第一轮", "2026-05-15", unit="草场街街道", by="t")
    set_deadline(instance, "第一轮", "2026-04-10", code="Ⅲ—2", unit="草场街街道", by="t")
    rows = owed_report(instance, today=D)["obligations"]
    due = {(r["unit"], r["code"], r["type"]): r["due_on"] for r in rows}
    assert due[("草场街街道", "Ⅲ—2", "实景图片")] == "2026-04-10"
    assert due[("市委宣传部", "Ⅲ—2", "实景图片")] == "2026-04-30"
    assert due[("草场街街道", "Ⅲ—5", "实景图片")] == "2026-05-15"
    assert due[("市教育局", "Ⅲ—3", "统计表格")] == "2026-05-31"
    # Overdue first, then by deadline; days_left counted in days.
    assert rows[0]["state"] == "overdue" and rows[0]["due_on"] == "2026-04-10"
    assert rows[0]["days_left"] == -40
    assert [r["scope"] for r in list_deadlines(instance.db)] == ["round", "unit", "leaf", "leaf_unit"]


def test_deadline_bad_input(instance):
    db = instance.db
    with pytest.raises(UsageError, match="需要开始日期"):
        set_deadline(instance, "第一轮", "2026-05-31", by="t")
    with pytest.raises(UsageError, match="早于本轮开始日期"):
        set_deadline(instance, "第一轮", "2026-02-01", starts_on="2026-03-01", by="t")
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    with pytest.raises(UsageError, match="早于报送轮次「第一轮」的开始日期 2026-03-01"):
        set_deadline(instance, "第一轮", "2026-02-28", code="Ⅲ—1", by="t")
    with pytest.raises(NotFound, match="没有报送轮次"):
        set_deadline(instance, "第二轮", "2026-05-31", code="Ⅲ—1", by="t")
    with pytest.raises(NotFound, match="未知的单位"):
        set_deadline(instance, "第一轮", "2026-05-31", unit="不存在的街道", by="t")
    with pytest.raises(NotFound, match="未知的指标代码"):
        set_deadline(instance, "第一轮", "2026-05-31", code="Ⅲ—99", by="t")
    with pytest.raises(UsageError, match="不是末级指标"):
        set_deadline(instance, "第一轮", "2026-05-31", code="Ⅱ—1", by="t")
    with pytest.raises(UsageError, match="日期"):
        set_deadline(instance, "第一轮", "5月底", code="Ⅲ—1", by="t")
    set_deadline(instance, "第一轮", "2026-04-01", code="Ⅲ—1", by="t")
    with pytest.raises(UsageError, match="早于 2026-04-15"):   # moving the start past a leaf deadline
        set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-04-15", by="t")
    assert len(list_deadlines(db)) == 2


def test_round_in_force_by_day(instance):
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    set_deadline(instance, "第二轮", "2026-09-30", starts_on="2026-07-01", by="t")
    assert owed_report(instance, today=date(2026, 2, 1))["round"]["name"] == "第一轮"
    assert owed_report(instance, today=date(2026, 6, 30))["round"]["name"] == "第一轮"
    assert owed_report(instance, today=date(2026, 7, 1))["round"]["name"] == "第二轮"
    r = owed_report(instance, today=date(2026, 7, 1), round_name="第一轮")
    assert r["round"]["name"] == "第一轮" and r["summary"]["overdue"] == r["summary"]["total"]


def test_duty_set_changes_obligations(instance):
    before = states(instance, "市教育局")
    assert ("Ⅲ—1", "规范文件") not in before
    r = set_duty(instance, "Ⅲ-1", coops=["市教育局"], persons={"市教育局": "刘老师"}, by="t")
    assert r["lead"] == "市委宣传部" and r["coops"] == ["市教育局"]
    assert [d["person"] for d in r["duties"] if d["unit"] == "市教育局"] == ["刘老师"]
    assert states(instance, "市教育局")[("Ⅲ—1", "规范文件")] == "owed"
    r = set_duty(instance, "Ⅲ—1", lead="市教育局", by="t")       # the old lead is dropped
    assert (r["lead"], r["coops"]) == ("市教育局", [])
    with pytest.raises(UsageError, match="没有牵头单位"):
        set_duty(instance, "Ⅲ—2", remove=["市委宣传部"], by="t")
    with pytest.raises(NotFound, match="未知的单位"):
        set_duty(instance, "Ⅲ—2", coops=["不存在的局"], by="t")
    with pytest.raises(UsageError, match="不承担"):
        set_duty(instance, "Ⅲ—2", persons={"市教育局": "刘老师"}, by="t")
    assert instance.db.execute("SELECT count(*) FROM audit WHERE action = 'duty.set'").fetchone()[0] == 2


def test_filters_and_snapshot(instance, add_item):
    set_deadline(instance, "第一轮", "2026-05-25", starts_on="2026-03-01", by="t")
    set_deadline(instance, "第一轮", "2026-05-10", code="Ⅲ—1", by="t")
    add_item("Ⅲ—3", "统计表格", "市教育局")
    r = owed_report(instance, overdue=True, today=D)
    assert {x["code"] for x in r["obligations"]} == {"Ⅲ—1"}
    r = owed_report(instance, due_within=5, today=D)
    assert all(x["days_left"] <= 5 and x["state"] != "submitted" for x in r["obligations"])
    assert {x["code"] for x in r["obligations"]} >= {"Ⅲ—1", "Ⅲ—2"}
    db = instance.db
    snap = dict(db.execute("SELECT u.name, s.submitted FROM owed_snapshots s JOIN units u ON u.id = s.unit_id "
                           "WHERE day = ?", [D.isoformat()]).fetchall())
    assert snap["市教育局"] == 1 and snap["市委宣传部"] == 0
    n = db.execute("SELECT count(*) FROM owed_snapshots").fetchone()[0]
    owed_report(instance, today=D)          # idempotent per day
    assert db.execute("SELECT count(*) FROM owed_snapshots").fetchone()[0] == n


def test_first_upload_day_is_a_beijing_day():
    from archive.units.obligations import _beijing_day

    assert _beijing_day("2026-05-31T15:59:59Z") == "2026-05-31"
    assert _beijing_day("2026-05-31T16:00:00Z") == "2026-06-01"   # midnight in Beijing
    assert _beijing_day("2026-12-31T23:00:00Z") == "2027-01-01"
    assert _beijing_day(None) is None
