"""Units in a real browser, as people would: the admin imports 60 units from Excel and sets
deadlines; a clerk sees what their unit owes and uploads into it, and the obligation turns
submitted then approved; another unit goes overdue and shows in 催办 and in its 催办单.xlsx;
the ranking page draws its chart. Screenshots: artifacts/screenshots/units_*.png."""
from __future__ import annotations

from datetime import datetime, timedelta

import openpyxl
import pytest

from archive.core.dates import today_beijing
from tests import filefactory
from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _set_date(page, selector: str, value: str) -> None:
    # Typing into <input type=date> depends on the browser's locale; set the value directly.
    page.d.execute_script("arguments[0].value = arguments[1]", page.css(selector), value)


def _state(page, code: str, mtype: str) -> str:
    return page.css(f'#obligations tr[data-code="{code}"][data-type="{mtype}"]').get_attribute("data-state")


def test_units_campaign_end_to_end(page, tmp_path, tag, downloads_dir):
    from selenium.webdriver.support.ui import Select

    from archive.units.duties import set_duty, show_duties
    from archive.users import create_user

    inst = page.instance
    street, late = f"测试街道{tag}", f"逾期局{tag}"
    today = today_beijing()

    # 1. The admin imports 60 units from an Excel register.
    book = tmp_path / f"单位名录_{tag}.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "类型", "上级单位", "责任领导", "领导电话", "联系人", "联系电话"])
    wb.active.append([street, "街道", "", "周主任", "13800000001", "吴干事", "13900000001"])
    wb.active.append([late, "部门", "", "郑局长", "13800000002", "", ""])
    for i in range(58):
        wb.active.append([f"社区{i:02d}_{tag}", "社区", street, "", "", "", ""])
    wb.save(book)
    page.login("admin")
    page.go("/units")
    page.css("#import-file").send_keys(str(book))
    page.submit("#import-form button[type=submit]")
    page.wait(lambda d: page.all(".flash-success"))
    assert "新增 60 个" in page.css(".flash-success").text
    assert page.all(f'#units-table tr[data-unit="{street}"]')
    page.shot("units_01_imported", full=True)

    # Duties for the new units (cooperating on 背街小巷 Ⅲ—5 and 少年宫 Ⅲ—3), as an admin sets them.
    for code, unit in (("Ⅲ—5", street), ("Ⅲ—3", late)):
        coops = show_duties(inst, code=code)[0]["coops"]
        set_duty(inst, code, coops=coops + [unit], by="admin")

    # 2. Deadlines: a round from 30 days ago to 10 days ahead; 逾期局 owed Ⅲ—3 by yesterday.
    page.go("/deadlines")
    page.css("#dl-round").send_keys(f"第一轮{tag}")
    _set_date(page, "#dl-starts", (today - timedelta(days=30)).isoformat())
    _set_date(page, "#dl-due", (today + timedelta(days=10)).isoformat())
    page.submit("#deadline-form button[type=submit]")
    page.wait(lambda d: page.all(".flash-success"))
    page.css("#dl-round").send_keys(f"第一轮{tag}")
    _set_date(page, "#dl-due", (today - timedelta(days=1)).isoformat())
    Select(page.css("#dl-code")).select_by_value("Ⅲ—3")
    Select(page.css("#dl-unit")).select_by_visible_text(late)
    page.submit("#deadline-form button[type=submit]")
    page.wait(lambda d: page.all(".flash-success"))
    assert late in page.css("#deadlines-table").text
    page.shot("units_02_deadlines")
    # A deadline before the round starts: one clear message, nothing saved.
    n_rows = len(page.all("#deadlines-table tbody tr"))
    page.css("#dl-round").send_keys(f"第一轮{tag}")
    _set_date(page, "#dl-due", (today - timedelta(days=60)).isoformat())
    Select(page.css("#dl-code")).select_by_value("Ⅲ—5")
    page.submit("#deadline-form button[type=submit]")
    page.wait(lambda d: page.all(".flash-error"))
    assert "早于报送轮次" in page.css(".flash-error").text
    assert len(page.all("#deadlines-table tbody tr")) == n_rows

    # 3. The street's clerk sees what it owes and uploads into the right leaf and type.
    create_user(inst.db, f"clerk_{tag}", "clerk", street, PASSWORD, by="test")
    page.login(f"clerk_{tag}")
    page.go("/my")
    assert f"{street} · 应报材料" in page.css("h1").text
    assert _state(page, "Ⅲ—5", "实景图片") == "owed"
    assert "10 天" in page.css('#obligations tr[data-code="Ⅲ—5"] td.days').text
    page.shot("units_03_clerk_home")
    page.css('#obligations tr[data-code="Ⅲ—5"][data-type="实景图片"] a.upload-btn').click()
    page.wait(lambda d: page.all('.picker .chip[data-code="Ⅲ—5"]'))
    assert Select(page.css("#all-type")).first_selected_option.text == "实景图片"
    photo = filefactory.make_jpeg(tmp_path / f"背街小巷_{tag}.jpg", exif_date=datetime(2026, 3, 9, 10, 0), seed=31)
    page.css("#file-input").send_keys(str(photo))
    page.wait(lambda d: len(page.all("#upload-table tbody tr")) == 1)
    page.css("#start-btn").click()
    page.wait(lambda d: page.all("#upload-table tbody tr")[0].get_attribute("class") == "state-added", timeout=30)
    page.go("/my")
    assert _state(page, "Ⅲ—5", "实景图片") == "submitted"

    # The reviewer approves it; the clerk sees it approved.
    item_id = inst.db.execute("SELECT id FROM items WHERE unit = ? ORDER BY id DESC", [street]).fetchone()[0]
    page.login("reviewer")
    page.go("/review")
    assert page.post(f"/review/{item_id}", {"decision": "approved"}) == 302
    page.login(f"clerk_{tag}")
    page.go("/my?all=1")
    assert _state(page, "Ⅲ—5", "实景图片") == "approved"
    assert int(page.css("#n-approved").text) == 1
    page.shot("units_04_clerk_approved")

    # 4. 逾期局 is overdue: it shows in 催办, is reminded, and its 催办单.xlsx lists Ⅲ—3.
    page.login("reviewer")
    page.go("/urge")
    row = page.css(f'#urge-table tr[data-unit="{late}"]')
    assert row.find_element("css selector", "td.num.bad").text == "1"
    box = row.find_element("css selector", "input[type=checkbox]")
    assert box.is_selected()          # overdue units are ticked by default
    page.shot("units_05_urge", full=True)
    for other in page.all("#urge-table input[type=checkbox]"):
        if other.is_selected() and other != box:
            other.click()
    page.css("#urge-send").click()
    page.d.switch_to.alert.accept()
    page.wait(lambda d: page.all(".flash-success"))
    assert f"已记录催办 1 个单位：{late}" in page.css(".flash-success").text
    assert inst.db.execute("SELECT r.by FROM reminders r JOIN units u ON u.id = r.unit_id WHERE u.name = ?",
                           [late]).fetchone()[0] == "reviewer"
    for old in downloads_dir.glob(f"*{tag}*"):
        old.unlink()
    page.css(f'#urge-table tr[data-unit="{late}"] a.urge-xlsx').click()
    sheet = _wait_named(downloads_dir, late)
    rows = list(openpyxl.load_workbook(sheet).active.iter_rows(values_only=True))
    assert rows[0][0].startswith(f"催办单：{late}")
    assert rows[2][1] == "Ⅲ—3" and rows[2][3] == "统计表格" and rows[2][4] == "已逾期" and rows[2][7] == 1
    page.css(f'#urge-table tr[data-unit="{late}"] a[href$="/urge/' + sheet_unit_id(inst, late) + '"]').click()
    page.wait(lambda d: page.all("#urge-sheet"))
    assert "Ⅲ—3" in page.css("#urge-sheet").text and "郑局长" in page.css("#urge-sheet").text
    page.shot("units_06_urge_sheet", full=True)

    # 5. The ranking page draws its bars and the trend line.
    page.go("/ranking")
    page.wait(lambda d: page.all("#rank-bars svg g.bar"))
    assert len(page.all("#rank-bars svg g.bar")) >= 4
    assert page.all(f'#rank-bars svg g.bar[data-unit="{street}"]')
    assert page.all("#trend-line svg circle")
    page.shot("units_07_ranking", full=True)

    # Auditors see no contact data anywhere on the units pages.
    page.login("auditor")
    page.go("/units")
    assert "13800000001" not in page.d.page_source and "周主任" not in page.d.page_source


def sheet_unit_id(inst, name: str) -> str:
    from archive.units.records import get_unit

    return str(get_unit(inst.db, name).id)


def _wait_named(directory, part: str):
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = [p for p in directory.iterdir() if part in p.name and p.name.endswith(".xlsx")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no 催办单 for {part} in {list(directory.iterdir())}")
