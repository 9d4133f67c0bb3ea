"""Issue 10 items 2–5 as a clerk does them in Chromium: a batch with documents and the type
left blank, a refused row fixed in place, a returned item fixed by editing, and an undated
document flagged at upload, on its page and on the dashboard. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

from datetime import datetime

import pytest
from selenium.webdriver.support.ui import Select

from archive.evidence.ingest import IngestRequest
from tests import filefactory
from tests.browser.conftest import ingest

pytestmark = pytest.mark.browser


def _pick(page, code):
    from selenium.webdriver.common.keys import Keys

    picker = page.css("#picker-input")
    picker.send_keys(code)

    def first(d):
        items = page.all(".picker-results li.picker-item")
        return items and items[0].is_displayed() and items[0].get_attribute("data-code") == code

    page.wait(first)
    picker.send_keys(Keys.ENTER)
    page.wait(lambda d: page.all(f'.picker .chip[data-code="{code}"]'))


def _rows(page):
    return page.all("#upload-table tbody tr")


def _settled(page):
    return all(r.get_attribute("class").split()[0:1] and r.get_attribute("class").split()[0] in
               ("state-added", "state-duplicate", "state-refused", "state-error") for r in _rows(page))


def test_documents_need_a_type_and_bad_files_get_their_own_reason(page, tmp_path, tag):
    """Item 2: with the type left at its default, photos go as 实景图片 and documents are not
    sent until they have a type (asked for, on the page); a bad file gets its own reason."""
    src = tmp_path / "src"
    photo = filefactory.make_jpeg(src / f"现场_{tag}.jpg", exif_date=datetime(2026, 3, 2, 9, 0), seed=31)
    pdf = filefactory.make_pdf(src / f"管理办法_{tag}.pdf", [f"门前三包管理办法 {tag}"])
    xlsx = filefactory.make_xlsx(src / f"台账_{tag}.xlsx", [["日期", "路段"], ["2026-03-01", "草场街"]])
    exe = filefactory.make_exe(src / f"通知_{tag}.pdf")
    empty = src / f"空白_{tag}.pdf"
    empty.write_bytes(b"")

    page.login("clerk")
    page.go("/upload")
    _pick(page, "Ⅲ—6")
    page.css("#file-input").send_keys("\n".join(str(p) for p in (photo, pdf, xlsx, exe, empty)))
    page.wait(lambda d: len(_rows(page)) == 5)
    rows = _rows(page)
    assert "文件为空" in rows[4].text                              # judged on the spot
    page.css("#start-btn").click()
    problem = page.visible("#upload-problem")
    assert "3 个文件还没有材料类型" in problem.text
    assert [("missing" in (r.find_element("css selector", "select").get_attribute("class") or "")) for r in rows[:4]] \
        == [False, True, True, True]
    assert page.instance.db.execute("SELECT count(*) FROM items WHERE title LIKE ?", [f"%{tag}%"]).fetchone()[0] == 0
    assert not rows[0].find_element("css selector", "button[aria-label$='重试']").is_displayed()
    page.shot("20_upload_needs_type", full=True)

    Select(rows[1].find_element("css selector", "select")).select_by_visible_text("规范文件")
    Select(rows[2].find_element("css selector", "select")).select_by_visible_text("工作台账")
    Select(rows[3].find_element("css selector", "select")).select_by_visible_text("规范文件")
    page.css("#start-btn").click()
    page.wait(lambda d: _settled(page), timeout=30)
    rows = _rows(page)
    states = [r.get_attribute("class").split()[0] for r in rows]
    assert states == ["state-added"] * 3 + ["state-refused"] * 2, [r.text for r in rows]
    assert "扩展名不符" in rows[3].text or "不支持" in rows[3].text
    assert "未知的材料类型" not in page.css("#upload-table").text
    assert page.css("#upload-problem").get_attribute("hidden") is not None
    page.shot("21_upload_done_with_reasons", full=True)
    types = dict(page.instance.db.execute("SELECT original_name, material_type FROM items WHERE original_name LIKE ?",
                                          [f"%{tag}%"]).fetchall())
    assert types == {photo.name: "实景图片", pdf.name: "规范文件", xlsx.name: "工作台账"}


def test_refused_row_is_fixed_in_place_and_retried(page, tmp_path, tag):
    """Item 3: a refused row stays editable with 重试; adding the file again (fixed, same name)
    replaces the refused row instead of being ignored or listed twice."""
    src = tmp_path / "src"
    broken = src / f"情况说明_{tag}.pdf"
    src.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nnot really a pdf")
    page.login("clerk")
    page.go("/upload")
    _pick(page, "Ⅲ—6")
    Select(page.css("#all-type")).select_by_visible_text("情况说明")
    page.css("#file-input").send_keys(str(broken))
    page.wait(lambda d: len(_rows(page)) == 1)
    page.css("#start-btn").click()
    page.wait(lambda d: _settled(page), timeout=30)
    row = _rows(page)[0]
    assert "state-refused" in row.get_attribute("class") and "损坏" in row.text
    retry = row.find_element("css selector", "button[aria-label$='重试']")
    assert retry.is_displayed()
    date = row.find_element("css selector", "input[type=date]")
    assert date.is_enabled()                                         # fixable in place
    page.d.execute_script("arguments[0].value = '2026-03-05'; arguments[0].dispatchEvent(new Event('change'))", date)
    page.wait(lambda d: "已修改" in _rows(page)[0].text)
    assert page.css("#start-btn").is_enabled()
    page.shot("22_upload_refused_row_editable")

    # the clerk repairs the file and adds it again: same name, one row, it goes in
    filefactory.make_pdf(broken, [f"背街小巷整治情况说明 {tag}"])
    page.css("#file-input").send_keys(str(broken))
    page.wait(lambda d: len(_rows(page)) == 1 and "待上传" in _rows(page)[0].text)
    assert _rows(page)[0].find_element("css selector", "input[type=date]").get_attribute("value") == "2026-03-05"
    page.css("#start-btn").click()
    page.wait(lambda d: _settled(page), timeout=30)
    assert "state-added" in _rows(page)[0].get_attribute("class"), _rows(page)[0].text
    row = page.instance.db.execute("SELECT date, material_type FROM items WHERE original_name = ?",
                                   [broken.name]).fetchone()
    assert tuple(row) == ("2026-03-05", "情况说明")
    page.shot("23_upload_refused_row_fixed")


def test_returned_item_fixed_by_editing_is_requeued(page, tmp_path, tag):
    """Item 4: the clerk corrects the date of a returned item; it is back in the queue."""
    from archive.evidence.review import review_item

    pdf = filefactory.make_pdf(tmp_path / "制度.pdf", [f"学习制度 {tag}"])
    (item_id,) = ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—1"], "规范文件", date="2024-01-01",
                                                      unit="草场街街道", title=f"学习制度 {tag}")])
    review_item(page.instance, item_id, "rejected", "日期不在测评周期内，请核对落款日期", by="reviewer")
    page.login("clerk")
    page.go("/review/returned")
    assert f"学习制度 {tag}" in page.css("main").text
    page.go(f"/items/{item_id}")
    assert "日期不在测评周期内" in page.css("#returned-note").text
    page.shot("24_item_returned", full=True)
    date = page.css("form input[name=date]")
    page.d.execute_script("arguments[0].value = '2026-03-05'", date)
    page.submit(date.find_element("xpath", "./ancestor::form").find_element("css selector", "button[type=submit]"))
    page.wait(lambda d: page.all(".flash-success"))
    assert "待审核" in page.css(".headactions").text and not page.all("#returned-note")
    page.go("/review/returned")
    assert f"学习制度 {tag}" not in page.css("main").text
    reset = page.instance.db.execute("SELECT detail FROM audit WHERE action = 'item.review.reset' AND target = ?",
                                     [f"item:{item_id}"]).fetchone()
    assert reset and "日期" in reset[0]


def test_undated_document_is_flagged_at_upload_item_page_and_dashboard(page, tmp_path, tag):
    """Item 5."""
    pdf = filefactory.make_pdf(tmp_path / f"无日期通知_{tag}.pdf", [f"关于开展志愿服务的通知 {tag}"])
    page.login("clerk")
    page.go("/upload")
    _pick(page, "Ⅲ—1")
    Select(page.css("#all-type")).select_by_visible_text("规范文件")
    page.css("#file-input").send_keys(str(pdf))
    page.wait(lambda d: len(_rows(page)) == 1)
    page.css("#start-btn").click()
    page.wait(lambda d: _settled(page), timeout=30)
    row = _rows(page)[0]
    assert "没有日期" in row.text
    page.shot("25_upload_undated_warning")
    item_id = page.instance.db.execute("SELECT id FROM items WHERE original_name = ?", [pdf.name]).fetchone()[0]
    page.go(f"/items/{item_id}")
    assert "没有日期" in page.css("#undated-note").text
    page.shot("26_item_undated", full=True)
    page.go("/")
    undated = page.css("#undated")
    assert f"无日期通知_{tag}" in undated.text
    page.shot("27_dashboard_undated", full=True)
