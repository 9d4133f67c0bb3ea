"""Two active maps with colliding codes: duties, deadlines and obligations per (map_id, code)."""
from __future__ import annotations

from datetime import date

import pytest

from archive.core.errors import UsageError
from archive.units.deadlines import set_deadline
from archive.units.duties import set_duty, show_duties
from archive.units.service import owed_report
from tests.conftest import MINI_MAP


@pytest.fixture
def two_maps(instance, tmp_path):
    from archive.maps.loading import load_map_into

    text = MINI_MAP.read_text(encoding="utf-8").replace("id: mini-test", "id: minors").replace(
        "edition: 测试用测评体系（迷你）", "edition: 未成年人测评（迷你）").replace(
        "units: [市教育局]", "units: [市教育局, 草场街街道]")
    second = tmp_path / "minors.yaml"
    second.write_text(text, encoding="utf-8")
    load_map_into(instance, second, user="t", new=True)
    return instance


def test_obligations_in_both_maps(two_maps, add_item):
    inst = two_maps
    rows = owed_report(inst, unit="市教育局", today=date(2026, 5, 1))["obligations"]
    assert {(r["map_id"], r["code"]) for r in rows} == {("mini-test", "Ⅲ—3"), ("minors", "Ⅲ—3")}
    duties = {(d["map_id"], d["code"]): d for d in show_duties(inst)}
    assert duties[("minors", "Ⅲ—3")]["coops"] == ["草场街街道"]
    assert duties[("mini-test", "Ⅲ—3")]["coops"] == []
    with pytest.raises(UsageError, match="多个指标体系"):
        set_duty(inst, "Ⅲ—3", coops=["市委宣传部"], by="t")
    set_duty(inst, "minors:Ⅲ—3", coops=["市委宣传部"], by="t")
    assert {(d["map_id"], d["code"]): d for d in show_duties(inst)}[("minors", "Ⅲ—3")]["coops"] == ["市委宣传部"]
    set_deadline(inst, "第一轮", "2026-05-31", starts_on="2026-03-01", map_id="minors", by="t")
    rows = owed_report(inst, unit="市教育局", today=date(2026, 6, 1))["obligations"]
    due = {r["map_id"]: r["due_on"] for r in rows}
    assert due == {"minors": "2026-05-31", "mini-test": None}
