"""The web app in a real browser (Debian chromium + chromedriver, headless): login, upload
with a refused file, the code picker, search with a highlighted Chinese phrase, the review
queue by keyboard, dashboard numbers moving, building and downloading a package, and the
refusals for auditors and for clerks of another unit. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

import re
import zipfile
from datetime import datetime

import pytest

from archive.evidence.ingest import IngestRequest
from tests import filefactory
from tests.browser.conftest import PASSWORD, ingest, wait_for_file

pytestmark = pytest.mark.browser


def _stat(page, name: str) -> int:
    return int(page.css(f"#n-{name}").text)


def _leaf_status(page, code: str) -> str:
    return page.css(f'#readiness tr.leafrow[data-code="{code}"]').get_attribute("data-status")


def test_login_refuses_bad_password_then_lands(page):
    page.d.delete_all_cookies()
    page.go("/dashboard")
    page.wait(lambda d: "/login" in d.current_url)
    page.shot("01_login")
    page.login("reviewer", "wrong-password")
    assert "/login" in page.d.current_url
    assert "密码" in page.css(".flash-error").text or "用户名" in page.css(".flash-error").text
    page.login("reviewer")
    assert "/login" not in page.d.current_url
    assert "reviewer" in page.css(".usermenu .who").text
    nav = page.css(".mainnav").text
    assert "准备情况" in nav and "审核" in nav and "材料包" in nav and "用户管理" not in nav


def test_upload_mixed_batch_with_picker_and_refusal(page, tmp_path, tag):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    src = tmp_path / "src"
    photo1 = filefactory.make_jpeg(src / f"背街小巷清扫_{tag}_1.jpg", exif_date=datetime(2026, 3, 2, 9, 0), seed=11)
    photo2 = filefactory.make_jpeg(src / f"背街小巷清扫_{tag}_2.jpg", exif_date=datetime(2026, 3, 3, 9, 0), seed=12)
    pdf = filefactory.make_pdf(src / f"门前三包制度_{tag}.pdf", [f"门前三包责任制度 {tag} 草场街街道"])
    docx = filefactory.make_docx(src / f"情况说明_{tag}.docx", [f"背街小巷整治情况说明 {tag}"])
    xlsx = filefactory.make_xlsx(src / f"保洁台账_{tag}.xlsx", [["日期", "路段", "人数"], ["2026-03-01", "草场街", 6]])
    bad = src / f"损坏的文件_{tag}.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf")

    page.login("clerk")

    def evidence_counts():
        page.go("/dashboard?date=2026-07-15&unit=")
        return {c: int(page.css(f'#readiness tr[data-code="{c}"] td.num').text) for c in ("Ⅲ—5", "Ⅲ—6")}

    before = evidence_counts()
    page.go("/upload")
    # the tree picker: search by Chinese name, choose with the keyboard
    picker = page.css("#picker-input")
    picker.send_keys("背街")

    def first_result(d):
        items = page.all(".picker-results li.picker-item")
        return items[0].get_attribute("data-code") if items and items[0].is_displayed() else None

    page.wait(lambda d: first_result(d) == "Ⅲ—5" and len(page.all(".picker-results li.picker-item")) == 1)
    picker.send_keys(Keys.ENTER)
    page.wait(lambda d: page.all('.picker .chip[data-code="Ⅲ—5"]'))
    # and by code, with the mouse
    picker.send_keys("III-6")
    page.wait(lambda d: first_result(d) == "Ⅲ—6")
    page.shot("02_upload_picker")
    page.css('.picker-results li.picker-item[data-code="Ⅲ—6"]').click()
    page.wait(lambda d: page.all('.picker .chip[data-code="Ⅲ—6"]'))
    assert [c.get_attribute("data-code") for c in page.all(".picker .chip")] == ["Ⅲ—5", "Ⅲ—6"]

    files = [photo1, photo2, pdf, docx, xlsx, bad]
    page.css("#file-input").send_keys("\n".join(str(p) for p in files))
    page.wait(lambda d: len(page.all("#upload-table tbody tr")) == len(files))
    rows = page.all("#upload-table tbody tr")
    for row, kind in zip(rows[2:], ["规范文件", "情况说明", "工作台账", "规范文件"]):
        Select(row.find_element("css selector", "select")).select_by_visible_text(kind)
    page.shot("02_upload_ready")
    page.css("#start-btn").click()
    page.wait(lambda d: all(r.get_attribute("class") in ("state-added", "state-duplicate", "state-refused", "state-error")
                            for r in page.all("#upload-table tbody tr")), timeout=30)
    rows = page.all("#upload-table tbody tr")
    states = [r.get_attribute("class") for r in rows]
    assert states == ["state-added"] * 5 + ["state-refused"], [r.text for r in rows]
    refused = rows[-1].find_element("css selector", ".msg").text
    assert refused.startswith("拒收：") and "(" in refused, refused
    assert "损坏的文件" in rows[-1].text
    assert "拒收 1" in page.css("#summary").text and "已入库 5" in page.css("#summary").text
    for r in rows[:5]:
        assert r.find_element("css selector", ".msg a").get_attribute("href")
    page.shot("03_upload_done")
    # every kept file counts on the dashboard at once (each was mapped to both leaves)
    assert evidence_counts() == {c: n + 5 for c, n in before.items()}

    db = page.instance.db
    got = db.execute("SELECT original_name, unit, material_type FROM items WHERE original_name LIKE ?",
                     [f"%{tag}%"]).fetchall()
    assert len(got) == 5 and {u for _, u, _ in got} == {"草场街街道"}
    assert {t for n, _, t in got if n.endswith(".jpg")} == {"实景图片"}
    ids = [r[0] for r in db.execute("SELECT id FROM items WHERE original_name LIKE ?", [f"%{tag}%"])]
    codes = {r[0] for r in db.execute(f"SELECT DISTINCT code FROM item_codes WHERE item_id IN ({','.join('?' * len(ids))})", ids)}
    assert codes == {"Ⅲ—5", "Ⅲ—6"}


def test_search_chinese_phrase_highlighted(page, tmp_path, tag):
    phrase = "新时代文明实践站"
    pdf = filefactory.make_pdf(tmp_path / "实践站.pdf",
                               [f"关于{phrase}建设情况的说明 {tag}", "每周开展志愿服务活动，群众参与踊跃。"])
    ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—2"], "情况说明", date="2026-04-01", unit="市委宣传部",
                                         title=f"实践站情况说明 {tag}")])
    page.login("auditor")
    page.go("/search")
    box = page.css("#q")
    box.send_keys(f"{phrase} {tag}")
    page.css("#search-form button[type=submit]").click()
    page.visible("#result-count")
    assert re.search(r"共找到\s*1\s*条", page.css("#result-count").text)
    marks = [m.text for m in page.all(".hit .snippet mark")]
    assert phrase in marks
    assert page.css(".hit-title a").text == f"实践站情况说明 {tag}"
    page.shot("04_search")
    # a malformed query: the message on the page, not an error page
    page.go("/search?q=" + "(实践站")
    assert "括号" in page.css("#search-error").text
    assert page.all("#q")


@pytest.mark.parametrize("role", ["clerk", "reviewer", "auditor", "admin"])
def test_search_marks_a_phrase_deep_in_a_long_document_for_every_role(page, tmp_path, tag, role):
    """Terms first met far into a long PDF (the snippet is made from a slice around them): every
    role sees the hit with both terms marked in a snippet that starts with …"""
    filler = "创建工作领导小组召开会议，研究部署年度重点任务，各成员单位按照分工抓好落实。"
    mark = "".join(chr(0x5F00 + int(c, 16) * 16 + k) for k, c in enumerate(tag))  # this test's own ideographs
    lines = [f"{filler}{k}" for k in range(30)] + [f"街道{mark}完善新时代文明实践站志愿服务台账制度。"]
    pdf = filefactory.make_pdf(tmp_path / f"长文{role}.pdf", lines)
    ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—2"], "工作台账", date="2026-05-01", unit="草场街街道",
                                         title=f"长文台账 {tag}")])
    page.login(role)
    page.go(f"/search?q=新时代文明实践站 {mark}")   # ideographs only: the snippet comes from a slice
    page.visible("#result-count")
    assert re.search(r"共找到\s*1\s*条", page.css("#result-count").text)
    snippet = page.css(".hit .snippet")
    assert {"新时代文明实践站", mark} <= {m.text for m in snippet.find_elements("css selector", "mark")}
    assert snippet.text.startswith("…") and "创建工作领导小组召开会议，研究部署年度重点任务" not in snippet.text[:10]
    page.shot(f"04_search_long_{role}")


def _ingest_counted(page, tmp_path, tag, role, said: str, label: str):
    """Four items saying `said` 1, 5, 3 and 7 times in eight lines, the last under Ⅲ—4."""
    filler = "创建工作领导小组召开会议研究部署年度重点任务"
    reqs = []
    for times, code in ((1, "Ⅲ—2"), (5, "Ⅲ—2"), (3, "Ⅲ—2"), (7, "Ⅲ—4")):
        lines = [filler + (said if k < times else "各单位抓好落实") for k in range(8)]
        pdf = filefactory.make_pdf(tmp_path / f"{label}{times}{role}.pdf", lines)
        reqs.append(IngestRequest(pdf, [code], "工作台账", date="2026-05-01", unit="草场街街道",
                                  title=f"{label}{times}次 {tag}"))
    ingest(page.instance, reqs)


def _three_hits_most_first(page, tag, role, query: str, label: str):
    """`query` with code:Ⅲ—2 as `role`: the three Ⅲ—2 items, the one saying it most first."""
    page.login(role)
    page.go(f"/search?q={query} code:Ⅲ—2")
    page.visible("#result-count")
    assert re.search(r"共找到\s*3\s*条", page.css("#result-count").text)
    titles = [e.text for e in page.d.find_elements("css selector", ".hit .hit-title")]
    assert [n for n in (5, 3, 1) for x in titles if f"{label}{n}次 {tag}" in x] == [5, 3, 1], titles


@pytest.mark.parametrize("role", ["clerk", "reviewer", "auditor", "admin"])
def test_one_term_with_a_code_filter_lists_the_most_relevant_first_for_every_role(page, tmp_path, tag, role):
    """One Chinese term and a code filter (scored without bm25's document count)."""
    mark = "".join(chr(0x6100 + int(c, 16) * 16 + k) for k, c in enumerate(tag))   # this test's own ideographs
    _ingest_counted(page, tmp_path, tag, role, mark, "一词")
    _three_hits_most_first(page, tag, role, mark, "一词")
    page.shot(f"04_search_one_term_code_{role}")


@pytest.mark.parametrize("role", ["clerk", "reviewer", "auditor", "admin"])
def test_a_four_character_term_with_a_code_filter_from_its_rarest_bigrams_for_every_role(page, tmp_path, tag, role):
    """A 4-character term and a code filter: candidates from its rarest bigrams and the code's
    tokens (engine._rare_phrase), checked on their texts, most relevant first."""
    four = "".join(chr(0x6700 + int(c, 16) * 16 + k) for k, c in enumerate(tag[:4]))   # this test's own ideographs
    _ingest_counted(page, tmp_path, tag, role, four, "四字")
    _three_hits_most_first(page, tag, role, four, "四字")
    marks = [m.text for m in page.all(".hit .snippet mark")]
    assert four in marks and all(m in four for m in marks)   # (a mark at a window's edge is cut there)
    page.shot(f"04_search_four_chars_code_{role}")


@pytest.mark.parametrize("role", ["clerk", "reviewer", "auditor", "admin"])
def test_two_terms_with_a_code_filter_ranked_from_kept_counts_for_every_role(page, tmp_path, tag, role,
                                                                            monkeypatch):
    """Two Chinese terms and a code filter, ranked from kept document counts (the path a large
    archive takes; forced here): by ea_rank where it is built, else in Python."""
    from archive.search import engine, keep_doc_counts

    two = "".join(chr(0x6300 + int(c, 16) * 16 + k) for k, c in enumerate(tag[:2]))   # this test's own ideographs
    three = "".join(chr(0x6500 + int(c, 16) * 16 + k) for k, c in enumerate(tag[2:5]))
    _ingest_counted(page, tmp_path, tag, role, two + "和" + three, "两词")
    keep_doc_counts(page.instance)
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)
    monkeypatch.setattr(engine, "MULTI_HIT_S", 0.0)
    used = []
    real = engine._multi_terms
    monkeypatch.setattr(engine, "_multi_terms", lambda *a: (lambda got: (used.append(got[0] is not None or got[2] is not None), got)[1])(real(*a)))
    _three_hits_most_first(page, tag, role, f"{two} {three}", "两词")
    assert used and all(used)
    page.shot(f"04_search_two_terms_code_{role}")


@pytest.mark.parametrize("role", ["clerk", "reviewer", "auditor", "admin"])
def test_next_page_of_a_huge_result_counts_an_upload_in_without_counting_again(page, tmp_path, tag, role,
                                                                              monkeypatch):
    """A result past RECENT_MIN_HITS (lowered here) is listed newest first; a clerk uploads one
    more item holding the term; 下一页 shows the grown total, taken from the kept one plus the
    new hit (the rest of the result is not counted again)."""
    from archive.search import engine
    from archive.web import search_views

    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 3)
    monkeypatch.setattr(search_views, "PAGE_SIZE", 2)
    term = "".join(chr(0x6700 + int(c, 16) * 16 + k) for k, c in enumerate(tag[:3]))   # this test's own ideographs

    def upload(n):
        pdf = filefactory.make_pdf(tmp_path / f"多{n}{role}.pdf", [f"创建工作{term}第{n}份台账"])
        # its own unit: other tests' review queues (草场街街道) stay as they were
        return ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—2"], "工作台账", date="2026-05-01",
                                                     unit=f"检索单位{tag}", title=f"多份{n} {tag}")])
    for n in range(5):
        upload(n)
    page.login(role)
    page.go(f"/search?q={term}")
    page.visible("#result-count")
    assert re.search(r"共找到\s*5\s*条", page.css("#result-count").text)
    assert "按入库时间倒序" in page.css("#result-order").text
    assert [e.text for e in page.d.find_elements("css selector", ".hit .hit-title")][0].startswith("多份4")
    upload(5)
    counted = []
    real = engine.count_rest
    monkeypatch.setattr(engine, "count_rest", lambda *a: (counted.append(a), real(*a))[1])
    page.css("a[rel=next]").click()
    page.wait(lambda d: "page=2" in d.current_url)
    assert re.search(r"共找到\s*6\s*条", page.css("#result-count").text)
    titles = [e.text for e in page.d.find_elements("css selector", ".hit .hit-title")]
    assert [t.split()[0] for t in titles] == ["多份3", "多份2"], titles
    assert counted == []
    page.shot(f"04_search_next_page_after_upload_{role}")


def test_review_queue_by_keyboard_and_dashboard_moves(page, tmp_path, tag):
    """Items for Ⅲ—6 dated 2031, seen from evaluation date 2032-01-15, so no other test's
    material (dated 2026) falls in this window."""
    from selenium.webdriver.common.keys import Keys

    unit = f"测试单位{tag}"
    reg = filefactory.make_pdf(tmp_path / "规范.pdf", [f"门前三包管理办法 {tag}"])
    ledger = filefactory.make_xlsx(tmp_path / "台账.xlsx", [["日期", "商户", "检查"], ["2031-03-01", f"商户{tag}", "合格"]])
    photo = filefactory.make_jpeg(tmp_path / "门前.jpg", exif_date=datetime(2031, 3, 2, 10, 0), seed=hash(tag) % 1000)

    page.login("reviewer")
    page.go("/dashboard")
    page.d.execute_script("document.getElementById('dash-date').value = '2032-01-15'")
    page.css("#dash-form button[type=submit]").click()
    page.wait(lambda d: "date=2032-01-15" in d.current_url)
    assert _leaf_status(page, "Ⅲ—6") == "empty"
    complete0, empty0 = _stat(page, "complete"), _stat(page, "empty")

    ids = ingest(page.instance, [
        IngestRequest(reg, ["Ⅲ—6"], "规范文件", date="2031-03-01", unit=unit, title=f"门前三包办法 {tag}"),
        IngestRequest(ledger, ["Ⅲ—6"], "工作台账", date="2031-03-01", unit=unit, title=f"门前三包台账 {tag}"),
        IngestRequest(photo, ["Ⅲ—5"], "实景图片", unit=unit, title=f"门前照片 {tag}"),
    ])
    page.d.refresh()
    assert _leaf_status(page, "Ⅲ—6") == "complete" and _leaf_status(page, "Ⅲ—5") == "complete"
    assert _stat(page, "complete") == complete0 + 2 and _stat(page, "empty") == empty0 - 2
    page.shot("05_dashboard", full=True)

    page.go(f"/review?unit={unit}")
    cards = page.all(".rv-item")
    assert [int(c.get_attribute("data-id")) for c in cards] == sorted(ids, reverse=True)[:3] or len(cards) == 3
    page.shot("06_review_queue")
    order = [int(c.get_attribute("data-id")) for c in cards]
    page.wait(lambda d: page.all(".rv-item.current"))
    body = page.css("body")
    # j moves to the second card; a approves it
    body.send_keys("j")
    page.wait(lambda d: "current" in page.all(".rv-item")[1].get_attribute("class"))
    page.d.switch_to.active_element.send_keys("a")
    page.wait(lambda d: len(page.all(".rv-item")) == 2 and page.all(".rv-item.current"))  # review.js ran
    assert "已通过" in page.css(".flash-success").text
    # r focuses the reason of the current (first) card; Enter sends it back
    page.d.switch_to.active_element.send_keys("r")
    active = page.d.switch_to.active_element
    assert active.tag_name == "textarea"
    active.send_keys("缺少单位盖章，请补充后重新上传")
    active.send_keys(Keys.ENTER)
    page.wait(lambda d: len(page.all(".rv-item")) == 1)
    states = dict(page.instance.db.execute(
        f"SELECT id, review_state FROM items WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall())
    assert states[order[1]] == "approved" and states[order[0]] == "rejected"
    assert list(states.values()).count("pending") == 1

    # the rejected one no longer counts: its leaf drops out of 齐全
    rejected_code = page.instance.db.execute("SELECT code FROM item_codes WHERE item_id = ?", [order[0]]).fetchone()[0]
    page.go("/dashboard?date=2032-01-15")
    assert _leaf_status(page, rejected_code) in ("partial", "empty")
    assert _stat(page, "complete") == complete0 + 1

    # the clerk of that unit would see it under 退回材料 (the reviewer sees all)
    page.go("/review/returned")
    assert "缺少单位盖章" in page.css("#returned").text


def test_build_and_download_package(page, downloads_dir, tmp_path, tag):
    pdf = filefactory.make_pdf(tmp_path / "学习制度.pdf", [f"理论学习中心组学习制度 {tag}"])
    ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—1"], "规范文件", date="2026-02-01", unit="市委宣传部",
                                         title=f"学习制度 {tag}")])
    for old in downloads_dir.iterdir():
        old.unlink()
    page.login("reviewer")
    page.go("/export")
    page.d.execute_script("document.getElementById('export-date').value = '2026-07-15'")
    page.css("#export-start").click()
    page.wait(lambda d: re.search(r"/export/\d+$", d.current_url))
    page.visible("#download-link")
    page.visible("#manifest")
    assert "已完成" in page.css("#job-state").text
    assert f"学习制度 {tag}" in page.css("#manifest").text or tag in page.css("#manifest").text
    page.shot("07_export_job", full=True)
    page.css("#download-link").click()
    z = wait_for_file(downloads_dir, ".zip", timeout=20)
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
    assert any(n.endswith("/manifest.json") for n in names) and any(n.endswith("/SHA256SUMS") for n in names)
    assert any(tag in n for n in names)
    page.go("/export")
    assert page.all("#jobs a.download")
    page.shot("08_export_list")


def test_auditor_cannot_change_anything(page, tmp_path, tag):
    photo = filefactory.make_jpeg(tmp_path / "a.jpg", exif_date=datetime(2026, 2, 2, 8, 0), seed=200 + len(tag))
    (item_id,) = ingest(page.instance, [IngestRequest(photo, ["Ⅲ—5"], "实景图片", unit="草场街街道",
                                                      title=f"审计员看 {tag}")])
    page.login("auditor")
    for path in ("/dashboard", f"/items/{item_id}", "/search?q=" + tag, "/export", "/review/returned",
                 "/audit"):
        page.go(path)
        forms = [f.get_attribute("action") for f in page.all("form[method=post]")]
        assert all(a.endswith("/logout") for a in forms), (path, forms)
        if path.startswith("/items"):
            assert not page.all("input[type=file]") and "删除" not in page.css("main").text
            page.shot("09_item_auditor")
    nav = page.css(".mainnav").text
    assert "上传材料" not in nav and "审核" not in nav.replace("审计", "")
    page.go("/review")
    assert "没有权限" in page.css("main").text
    page.go(f"/items/{item_id}")
    for path, data in [(f"/items/{item_id}/delete", {}), (f"/items/{item_id}/meta", {"title": "改"}),
                       (f"/review/{item_id}", {"decision": "approved"}), ("/export", {"date": "2026-07-15"})]:
        assert page.post(path, data) == 403, path
    row = page.instance.db.execute("SELECT title, deleted_at, review_state FROM items WHERE id = ?", [item_id]).fetchone()
    assert row == (f"审计员看 {tag}", None, "pending")


def test_clerk_cannot_touch_another_units_items(page, tmp_path, tag):
    xlsx = filefactory.make_xlsx(tmp_path / "台账.xlsx", [["学校", "活动"], [f"实验小学{tag}", "书法"]])
    (item_id,) = ingest(page.instance, [IngestRequest(xlsx, ["Ⅲ—3"], "统计表格", date="2026-03-01",
                                                      unit="市教育局", title=f"少年宫台账 {tag}")])
    page.login("clerk")                        # 草场街街道
    page.go(f"/items/{item_id}")
    assert page.css("h1").text.startswith(f"少年宫台账 {tag}")
    assert not page.all("form[action$='/delete']") and not page.all("form[action$='/meta']")
    assert not page.all("form[action$='/replace']") and not page.all("form[action$='/codes']")
    for path, data in [(f"/items/{item_id}/delete", {}), (f"/items/{item_id}/meta", {"title": "改掉"}),
                       (f"/items/{item_id}/codes", {"code": "Ⅲ—5"}), (f"/review/{item_id}", {"decision": "approved"})]:
        assert page.post(path, data) == 403, path
    row = page.instance.db.execute("SELECT title, deleted_at, review_state FROM items WHERE id = ?", [item_id]).fetchone()
    assert row == (f"少年宫台账 {tag}", None, "pending")
    assert page.instance.db.execute("SELECT code FROM item_codes WHERE item_id = ?", [item_id]).fetchall() == [("Ⅲ—3",)]
    # the other unit's clerk can
    page.login("clerk_other")
    page.go(f"/items/{item_id}")
    assert page.all("form[action$='/meta']")
    page.go("/dashboard")
    page.shot("10_dashboard_clerk")
    page.d.set_window_size(390, 844)   # a phone
    try:
        page.go("/review/returned")
        page.shot("11_returned_phone")
        page.go("/dashboard")
        page.shot("12_dashboard_phone")
    finally:
        page.d.set_window_size(1366, 768)
