"""Issue 10 items 1 and 4: a decided item that changes goes back to 待审核, with an audit row
saying why — through the domain (web edits call it), and through the CLI's `add` of a
duplicate with new codes."""
from __future__ import annotations

import json

import pytest

from archive.evidence import items as items_mod
from archive.evidence.review import review_item
from cli import cli
from tests import filefactory as ff
from tests.package_helpers import add


@pytest.fixture
def pdf(tmp_path):
    return ff.make_pdf(tmp_path / "学习制度.pdf", ["理论学习中心组学习制度"])


def _state(instance, item_id):
    return instance.db.execute("SELECT review_state FROM items WHERE id = ?", [item_id]).fetchone()[0]


def _resets(instance, item_id):
    return [json.loads(r[0]) for r in instance.db.execute(
        "SELECT detail FROM audit WHERE action = 'item.review.reset' AND target = ? ORDER BY id",
        [f"item:{item_id}"])]


@pytest.mark.parametrize("edit, changed", [
    (lambda inst, i: items_mod.set_codes(inst, i, ["Ⅲ—2", "Ⅲ—3"], user="clerk"), ["codes"]),
    (lambda inst, i: items_mod.update_metadata(inst, i, date="2026-04-01", user="clerk"), ["date"]),
    (lambda inst, i: items_mod.update_metadata(inst, i, material_type="情况说明", user="clerk"), ["material_type"]),
    (lambda inst, i: items_mod.update_metadata(inst, i, unit="市教育局", user="clerk"), ["unit"]),
])
def test_editing_an_approved_item_sends_it_back_to_pending(instance, pdf, edit, changed):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", review="approved")
    edit(instance, item_id)
    assert _state(instance, item_id) == "pending"
    (reset,) = _resets(instance, item_id)
    assert reset["from"] == "approved" and reset["changed"] == changed and "重新待审核" in reset["reason"]


def test_replacing_the_file_of_an_approved_item_says_why(instance, pdf, tmp_path):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", review="approved")
    other = ff.make_pdf(tmp_path / "新版.pdf", ["新版学习制度"])
    items_mod.replace_file(instance, item_id, other, user="clerk")
    assert _state(instance, item_id) == "pending"
    assert _resets(instance, item_id)[0]["changed"] == ["file"]


def test_title_or_same_codes_keep_an_approved_item_approved(instance, pdf):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", review="approved")
    items_mod.update_metadata(instance, item_id, title="新标题", user="clerk")
    items_mod.set_codes(instance, item_id, ["iii-1"], user="clerk")       # the same leaf, spelled loosely
    items_mod.update_metadata(instance, item_id, date="2026/1/5", user="clerk")   # the same day
    assert _state(instance, item_id) == "approved" and _resets(instance, item_id) == []


def test_a_returned_item_fixed_by_any_edit_is_requeued(instance, pdf):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05")
    review_item(instance, item_id, "rejected", "标题不规范", by="reviewer")
    items_mod.update_metadata(instance, item_id, title="关于健全学习制度的通知", user="clerk")
    assert _state(instance, item_id) == "pending"
    assert _resets(instance, item_id)[0]["from"] == "rejected"


def test_a_pending_item_edit_writes_no_reset_row(instance, pdf):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05")
    items_mod.update_metadata(instance, item_id, date="2026-02-01", user="clerk")
    assert _state(instance, item_id) == "pending" and _resets(instance, item_id) == []


def test_cli_add_of_a_duplicate_with_new_codes_requeues_an_approved_item(instance, pdf, runner):
    item_id = add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", review="approved")
    r = runner.invoke(cli, ["--instance", str(instance.root), "add", str(pdf), "--code", "Ⅲ—2",
                            "--type", "规范文件", "--json"])
    assert r.exit_code == 0, r.output
    assert _state(instance, item_id) == "pending"
    assert _resets(instance, item_id)[0]["changed"] == ["codes"]
    # the same file and codes again: nothing changed, it stays as decided
    review_item(instance, item_id, "approved", by="reviewer")
    runner.invoke(cli, ["--instance", str(instance.root), "add", str(pdf), "--code", "Ⅲ—2", "--type", "规范文件"])
    assert _state(instance, item_id) == "approved"
