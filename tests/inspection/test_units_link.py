"""Inspection records and the units register (issue 12): unit_id set on write, records made
before a unit was registered linked when it is, names kept current on a rename."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from archive.core.errors import UsageError
from archive.inspection import problems as pr
from archive.inspection.sites import add_site, get_site
from archive.units.records import add_unit, rename_unit

FUTURE = (date.today() + timedelta(days=9)).isoformat()
REVIEWER = pr.Actor("审核员", "reviewer")


def unit_ids(instance, table):
    return [tuple(r) for r in instance.db.execute(f"SELECT unit, unit_id FROM {table} ORDER BY id")]


def test_records_follow_the_register(instance):
    # register empty: any name is taken, no id yet
    early = pr.report_problem(instance, REVIEWER, pr.NewProblem("井盖缺失", "新区街道", FUTURE))
    assert unit_ids(instance, "problems") == [("新区街道", None)]
    uid = add_unit(instance.db, "新区街道", by="t").id
    other = add_unit(instance.db, "市教育局", by="t").id
    assert unit_ids(instance, "problems") == [("新区街道", uid)]          # linked when registered
    sid = add_site(instance, {"name": "一中", "kind": "学校", "unit": "市教育局"}, user="t")
    later = pr.report_problem(instance, REVIEWER, pr.NewProblem("门口占道", None, FUTURE, site=sid))
    assert get_site(instance, sid)["unit_id"] == other
    assert pr.problem_detail(instance, later)["unit_id"] == other
    with pytest.raises(UsageError, match="未知的单位"):
        pr.report_problem(instance, REVIEWER, pr.NewProblem("x", "没有的单位", FUTURE))
    # a rename reaches every record in the same transaction; the old name still resolves
    rename_unit(instance.db, uid, "新城街道", by="t")
    assert pr.problem_detail(instance, early)["unit"] == "新城街道"
    assert pr.list_problems(instance, pr.ProblemFilter(unit="新城街道"))["total"] == 1
    again = pr.report_problem(instance, REVIEWER, pr.NewProblem("又缺井盖", "新区街道", FUTURE))
    assert pr.problem_detail(instance, again)["unit"] == "新城街道"
    # the renamed unit's clerk (users.unit follows the rename) still acts on its problems
    clerk = pr.Actor("片长", "clerk", "新城街道")
    pr.report_problem(instance, clerk, pr.NewProblem("路灯不亮", None, FUTURE))
