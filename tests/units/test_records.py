"""Units as records: seeding from the map, add/update/rename/retire/delete, import/export."""
from __future__ import annotations

import json

import openpyxl
import pytest

from archive.core.errors import NotFound, Refusal, UsageError
from archive.units import records
from archive.units.duties import ensure_seeded, show_duties
from archive.units.tables import export_units, import_units


def audit_actions(db, prefix="unit."):
    return [r[0] for r in db.execute("SELECT action FROM audit WHERE action LIKE ? ORDER BY id", [prefix + "%"])]


def test_seeded_from_map_once(instance):
    ensure_seeded(instance)
    names = {u.name: u for u in records.list_units(instance.db)}
    assert set(names) == {"市委宣传部", "草场街街道", "市教育局", "市市场监管局", "市城管局"}
    assert names["草场街街道"].kind == "街道" and names["市教育局"].kind == "部门"
    duties = {r["code"]: r for r in show_duties(instance)}
    assert duties["Ⅲ—2"]["lead"] == "市委宣传部" and duties["Ⅲ—2"]["coops"] == ["草场街街道"]
    assert duties["Ⅲ—6"]["lead"] == "市城管局"
    # A second call (and a deleted unit) is not re-seeded from the same map version.
    records.set_active(instance.db, "市教育局", False, by="t")
    ensure_seeded(instance)
    assert len(records.list_units(instance.db)) == 5
    assert instance.db.execute("SELECT count(*) FROM audit WHERE action = 'duty.seed'").fetchone()[0] == 1


def test_add_rejects_bad_input_and_writes_nothing(instance):
    db = instance.db
    ensure_seeded(instance)
    before = db.execute("SELECT count(*) FROM units").fetchone()[0]
    with pytest.raises(UsageError, match="已存在"):
        records.add_unit(db, " 草场街 街道 ", by="t")
    with pytest.raises(UsageError, match="单位类型"):
        records.add_unit(db, "新单位", {"kind": "衙门"}, by="t")
    with pytest.raises(NotFound, match="上级单位"):
        records.add_unit(db, "新社区", {"parent": "不存在的街道"}, by="t")
    with pytest.raises(UsageError, match="电话"):
        records.add_unit(db, "新社区", {"contact_phone": "call me"}, by="t")
    assert db.execute("SELECT count(*) FROM units").fetchone()[0] == before
    u = records.add_unit(db, "和平社区", {"parent": "草场街街道", "contact_name": "王芳",
                                         "contact_phone": "0532-8888 1234"}, by="t")
    assert (u.kind, u.parent, u.contact_phone) == ("社区", "草场街街道", "0532-8888 1234")
    # Personal data never lands in the audit log (auditors read it).
    detail = db.execute("SELECT detail FROM audit WHERE action = 'unit.add' AND target = '和平社区'").fetchone()[0]
    assert "王芳" not in detail and "8888" not in detail


def test_parent_cycle_refused(instance):
    db = instance.db
    records.add_unit(db, "甲街道", by="t")
    records.add_unit(db, "乙社区", {"parent": "甲街道"}, by="t")
    with pytest.raises(UsageError, match="下级"):
        records.update_unit(db, "甲街道", {"parent": "乙社区"}, by="t")


def test_rename_rewrites_items_users_keeps_old_name(instance, add_item):
    from archive.search.engine import search
    from archive.users import create_user

    ensure_seeded(instance)
    db = instance.db
    item = add_item("Ⅲ—5", "实景图片", "草场街街道")
    create_user(db, "clerk1", "clerk", "草场街街道", "long-enough-pw", by="t")
    u = records.rename_unit(db, "草场街街道", "草场街道办事处", by="t")
    assert u.former_names == ("草场街街道",)
    assert db.execute("SELECT unit FROM items WHERE id = ?", [item]).fetchone()[0] == "草场街道办事处"
    assert db.execute("SELECT unit FROM users WHERE name = 'clerk1'").fetchone()[0] == "草场街道办事处"
    assert records.get_unit(db, "草场街街道").id == u.id          # the old name still finds it
    assert records.unit_id_for(db, "草场街街道") == u.id
    hits = search(instance, "草场街道办事处")["hits"]           # the search row was rewritten too
    assert [h["id"] for h in hits] == [item]
    # The old name cannot be taken by a new unit; duties followed the unit (by id).
    with pytest.raises(UsageError, match="曾用名"):
        records.add_unit(db, "草场街街道", by="t")
    assert "草场街道办事处" in {r["unit"] for r in show_duties(instance, unit="草场街道办事处")[0]["duties"]}
    assert "unit.rename" in audit_actions(db)


def test_delete_refused_while_owing_then_allowed(instance, add_item, review):
    from archive.units.removal import delete_unit

    ensure_seeded(instance)
    db = instance.db
    with pytest.raises(Refusal, match="未报送或未通过"):
        delete_unit(instance, "市教育局", by="t")
    assert records.get_unit(db, "市教育局")
    review(add_item("Ⅲ—3", "统计表格", "市教育局"), "approved")
    r = delete_unit(instance, "市教育局", by="t")
    assert r["duties"] == 1
    with pytest.raises(NotFound):
        records.get_unit(db, "市教育局")
    assert db.execute("SELECT count(*) FROM duties WHERE code = 'Ⅲ—3'").fetchone()[0] == 0


def _xlsx(path, rows, merge=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    if merge:
        ws.merge_cells(merge)
    wb.save(path)
    return path


HEADER = ["名称", "类型", "上级单位", "责任领导", "领导电话", "联系人", "联系电话", "状态"]


def test_import_xlsx_then_export_round_trip(instance, tmp_path):
    rows = [HEADER, ["和平社区", "社区", "东城街道", "", "", "李四", "13900000001", "在用"],
            ["东城街道", "街道", "", "张三", "13800000000", "", "", ""],
            ["草场街街道", "街道", "", "赵六", "", "", "", ""]]
    src = _xlsx(tmp_path / "名录.xlsx", rows)
    r = import_units(instance, src, by="t")
    assert sorted(r["added"]) == ["东城街道", "和平社区"] and r["updated"] == ["草场街街道"]
    u = records.get_unit(instance.db, "和平社区")
    assert (u.parent, u.contact_phone) == ("东城街道", "13900000001")
    out = tmp_path / "out" / "名录.xlsx"
    assert export_units(instance.db, out) == 7
    back = [list(r) for r in openpyxl.load_workbook(out).active.iter_rows(values_only=True)]
    assert back[0] == HEADER
    assert ["和平社区", "社区", "东城街道", None, None, "李四", "13900000001", "在用"] in back
    # The export imports again unchanged.
    again = import_units(instance, out, by="t")
    assert again["added"] == [] and again["updated"] == [] and len(again["unchanged"]) == 7


def test_import_csv_gbk(instance, tmp_path):
    src = tmp_path / "名录.csv"
    src.write_bytes("名称,类型\n西城街道,街道\n市民政局,部门\n".encode("gbk"))
    assert sorted(import_units(instance, src, by="t")["added"]) == ["市民政局", "西城街道"]


@pytest.mark.parametrize("rows,merge,message", [
    ([["名称", "联系人"], ["东城街道", "张三"]], None, "缺少列：类型"),
    ([HEADER, ["东城街道", "街道"], ["东城街道", "街道"]], None, "第 3 行：单位「东城街道」与第 2 行重复"),
    ([HEADER, ["东城街道", "街道"], ["北城街道", "街道"]], "A2:A3", "合并单元格（A2:A3）"),
    ([HEADER, ["和平社区", "社区", "不存在街道"]], None, "上级单位「不存在街道」"),
    ([HEADER, ["东城街道", "衙门"]], None, "第 2 行：单位类型「衙门」无效"),
    ([HEADER, ["东城街道", "街道", "", "", "", "", "abc"]], None, "第 2 行：电话「abc」"),
])
def test_import_bad_files_write_nothing(instance, tmp_path, rows, merge, message):
    ensure_seeded(instance)
    db = instance.db
    before = db.execute("SELECT count(*), group_concat(name) FROM units").fetchone()
    audit_before = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    src = _xlsx(tmp_path / "bad.xlsx", rows, merge)
    with pytest.raises(UsageError) as e:
        import_units(instance, src, by="t")
    assert message in str(e.value)
    assert db.execute("SELECT count(*), group_concat(name) FROM units").fetchone() == before
    assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == audit_before


def test_import_not_a_spreadsheet(instance, tmp_path):
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UsageError, match="已损坏"):
        import_units(instance, bad, by="t")
    txt = tmp_path / "x.txt"
    txt.write_text("名称,类型\n", encoding="utf-8")
    with pytest.raises(UsageError, match=".xlsx 或 .csv"):
        import_units(instance, txt, by="t")


def test_as_json_hides_personal_data(instance):
    u = records.add_unit(instance.db, "东城街道", {"leader_name": "张三", "leader_phone": "13800000000"}, by="t")
    shown = json.dumps(u.as_json(personal=False), ensure_ascii=False)
    assert "张三" not in shown and "13800000000" not in shown
    assert u.as_json()["leader_name"] == "张三"


def test_new_map_version_seeds_new_leaves_keeps_edited_duties(instance, tmp_path):
    from archive.maps.loading import load_map_into
    from archive.units.duties import set_duty
    from tests.conftest import MINI_MAP

    ensure_seeded(instance)
    set_duty(instance, "Ⅲ—1", lead="市教育局", by="t")            # an admin's change
    records.rename_unit(instance.db, "市城管局", "市城市管理局", by="t")
    text = MINI_MAP.read_text(encoding="utf-8").replace(
        "            units: [市城管局, 草场街街道]\n",
        "            units: [市城管局, 草场街街道]\n"
        "          - code: Ⅲ—7\n            name: 新增测评内容\n            methods: [材料审核]\n"
        "            requires: [情况说明]\n            units: [市城管局, 新设街道]\n")
    new_map = tmp_path / "map2.yaml"
    new_map.write_text(text, encoding="utf-8")
    load_map_into(instance, new_map, user="t")
    ensure_seeded(instance)
    duties = {r["code"]: r for r in show_duties(instance)}
    assert duties["Ⅲ—1"]["lead"] == "市教育局"                     # kept, not re-seeded
    assert duties["Ⅲ—7"]["lead"] == "市城市管理局"                  # the former name found the unit
    assert duties["Ⅲ—7"]["coops"] == ["新设街道"]
    assert records.get_unit(instance.db, "新设街道").kind == "街道"


def test_accounts_must_name_a_known_unit(runner, instance):
    from archive.users import create_user, update_user
    from cli import cli

    base = ["--instance", str(instance.root), "user", "add"]
    r = runner.invoke(cli, base + ["甲", "--role", "clerk", "--unit", "不存在的街道", "--password-stdin"],
                      input="password-123\n")
    assert r.exit_code == 2 and "未知的单位「不存在的街道」" in r.output
    assert instance.db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    r = runner.invoke(cli, base + ["乙", "--role", "clerk", "--unit", "草场街街道", "--password-stdin"],
                      input="password-123\n")
    assert r.exit_code == 0, r.output        # seeded from the map on the way
    records.rename_unit(instance.db, "市教育局", "市教育和体育局", by="t")
    with pytest.raises(UsageError, match="已改名为「市教育和体育局」"):
        create_user(instance.db, "丙", "clerk", "市教育局", "password-123")
    records.set_active(instance.db, "市城管局", False, by="t")
    with pytest.raises(UsageError, match="已撤销"):
        create_user(instance.db, "丁", "clerk", "市城管局", "password-123")
    u = create_user(instance.db, "戊", "reviewer", None, "password-123")
    with pytest.raises(UsageError, match="未知的单位"):
        update_user(instance.db, u.id, "clerk", "火星办")
