"""督查整改 in real Chromium: an inspector (reviewer account) reports a problem with a photo at a
点位 from a phone-sized window (390×844), the unit's clerk sees it with its deadline and sends
after photos (the same photo first: refused), a reviewer closes it, another goes overdue, the
ledger xlsx downloads with both photos in the row; a 600-leaf 模拟测评 sheet imports on its own
instance and the ranking and chart show the lost points. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from tests.browser.conftest import PASSWORD, Page, wait_for_file
from tests.inspection.helpers import big_map, scene_jpeg

pytestmark = pytest.mark.browser
PHONE = (390, 844)


def _reveal(page, selector):
    """File inputs on the phone page sit behind a big label; make one reachable for send_keys."""
    page.d.execute_script("document.querySelector(arguments[0]).style.display = 'block'", selector)
    return page.css(selector)


def test_report_rectify_close_overdue_ledger(page, tmp_path, tag, downloads_dir):
    from openpyxl import load_workbook

    from archive.inspection.sites import add_site

    inst = page.instance
    site_name = f"草场街农贸市场{tag}"
    sid = add_site(inst, {"name": site_name, "kind": "农贸市场", "unit": "草场街街道", "lat": 36.0671,
                          "lon": 120.3826, "person": "王片长"}, user="test")
    # a phone photo: 3000×2000 with EXIF time and GPS at the site (shrunk on the phone before upload)
    before = scene_jpeg(tmp_path / "IMG_0001.jpg", seed=hash(tag) % 997, size=(3000, 2000),
                        exif_date=datetime(2026, 3, 1, 9, 30))
    # 1. the inspector, on a phone
    page.d.set_window_size(*PHONE)
    page.login("reviewer")
    page.go("/inspection/m")
    page.shot("insp_01_phone_empty")
    from selenium.webdriver.support.ui import Select

    Select(page.css("#f-site")).select_by_value(str(sid))
    page.css("#f-description").send_keys(f"东门摊位占道经营 {tag}")
    # a tired inspector picks a PDF: one clear line, nothing recorded, the form keeps its text
    from tests import filefactory

    pdf = filefactory.make_pdf(tmp_path / "通知.pdf", ["不是照片"])
    _reveal(page, "#f-photos").send_keys(str(pdf))
    page.css("#submit-btn").click()
    page.wait(lambda d: "不是照片" in page.css("#status").text)
    assert "error" in page.css("#status").get_attribute("class")
    page.shot("insp_02a_phone_not_a_photo")
    assert not inst.db.execute("SELECT 1 FROM problems WHERE description LIKE ?", [f"%{tag}%"]).fetchone()
    assert tag in page.css("#f-description").get_attribute("value")
    page.d.execute_script("document.querySelector('#f-photos').value = ''")   # picks again, as a person would
    _reveal(page, "#f-photos").send_keys(str(before))
    page.wait(lambda d: len(page.all("#previews img")) == 1)
    page.shot("insp_02_phone_filled")
    page.css("#submit-btn").click()
    page.wait(lambda d: "已登记问题" in page.css("#status").text)
    page.shot("insp_03_phone_done")
    pid = inst.db.execute("SELECT id FROM problems WHERE description LIKE ?", [f"%{tag}%"]).fetchone()[0]
    ph = inst.db.execute("SELECT taken_at, lat, lon, sha256 FROM problem_photos WHERE problem_id = ?", [pid]).fetchone()
    assert ph[0] == "2026-03-01T09:30:00" and abs(ph[1] - 36.0671) < 1e-4 and abs(ph[2] - 120.3826) < 1e-4
    stored = inst.store.path(ph[3]).stat().st_size
    assert stored < before.stat().st_size / 2, "the phone page shrinks photos before upload"
    from PIL import Image

    with Image.open(inst.store.path(ph[3])) as img:
        assert max(img.size) <= 1600
    # 2. the unit's clerk, at a desk: sees it with its deadline, sends after photos
    page.d.set_window_size(1366, 768)
    page.login("clerk")
    page.go("/inspection/problems")
    row = page.css(f'#problems tr[data-id="{pid}"]')
    assert "待整改" in row.text and site_name in row.text
    assert inst.db.execute("SELECT deadline FROM problems WHERE id = ?", [pid]).fetchone()[0] in row.text
    page.shot("insp_04_clerk_list")
    page.go(f"/inspection/problems/{pid}")
    page.css("#r-photos").send_keys(str(before))
    page.css("#rectify-form button[type=submit]").click()
    page.wait(lambda d: "整改照片与整改前相同" in page.css(".flash-error").text)
    page.shot("insp_05_same_photo_refused")
    after = scene_jpeg(tmp_path / "IMG_0002.jpg", seed=(hash(tag) + 1) % 997)
    page.css("#r-photos").send_keys(str(after))
    page.css("#r-note").send_keys("已清理占道摊位")
    page.css("#rectify-form button[type=submit]").click()
    page.wait(lambda d: "已提交整改" in page.css(".flash-success").text)
    assert "已整改待复核" in page.css(".pagehead").text
    # 3. the reviewer closes it
    page.login("reviewer")
    page.go(f"/inspection/problems/{pid}")
    page.shot("insp_06_review", full=True)
    page.css("#close-form button").click()
    page.wait(lambda d: "已销号" in page.css(".pagehead").text)
    # 4. another problem goes overdue (its deadline passes: written as time passing would)
    from archive.core.dates import today_beijing
    from archive.inspection import problems as pr

    # Beijing's today, as the deadline check has it (from 16:00 UTC it is already tomorrow there)
    today = today_beijing()
    late = pr.report_problem(inst, pr.Actor("reviewer", "reviewer"), pr.NewProblem(
        description=f"公厕无洗手液 {tag}", unit=None, deadline=today.isoformat(), site=sid))
    inst.db.execute("UPDATE problems SET deadline = ? WHERE id = ?",
                    [(today - timedelta(days=3)).isoformat(), late])
    page.go("/inspection")
    unit_row = page.css('#by-unit tr[data-unit="草场街街道"]')
    assert int(unit_row.find_elements("css selector", "td")[2].text) >= 1
    page.shot("insp_07_dashboard", full=True)
    page.go("/inspection/problems?unit=&state=overdue")
    assert page.css(f'#problems tr[data-id="{late}"]').get_attribute("data-state") == "overdue"
    # 5. the ledger for this site downloads with both photos in the closed problem's row
    page.go(f"/inspection/ledger?unit=草场街街道&site={sid}")
    page.shot("insp_08_ledger_page", full=True)
    for old in downloads_dir.glob("*.xlsx"):
        old.unlink()
    page.go(f"/inspection/ledger.xlsx?unit=&site={sid}")
    xlsx = wait_for_file(downloads_dir, ".xlsx")
    ws = load_workbook(xlsx).active
    rows = {ws.cell(r, 2).value: r for r in range(4, ws.max_row + 1)}
    anchors = {(img.anchor._from.row + 1, img.anchor._from.col) for img in ws._images}
    assert (rows[pid], 12) in anchors and (rows[pid], 13) in anchors
    assert (rows[late], 12) not in anchors


def test_round_of_600_leaves(browser, tmp_path):
    """A 600-leaf map on an instance of its own (the shared one keeps the mini map)."""
    from waitress.server import create_server

    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into
    from archive.users import create_user
    from archive.web import create_app
    from tests import filefactory

    inst = Instance(tmp_path / "big-instance")
    inst.create()
    load_map_into(inst, big_map(tmp_path / "big.yaml", 600), user="test")
    create_user(inst.db, "reviewer", "reviewer", None, PASSWORD, by="test")
    rows = [["2026年第2次模拟测评（第三方）"], ["序号", "代码", "测评内容", "满分", "得分", "扣分原因"]]
    rows += [[i, f"C{i}", f"内容{i}", 2, 2 - (i % 3) * 0.5, f"原因{i}" if i % 3 else None] for i in range(1, 601)]
    sheet = filefactory.make_xlsx(tmp_path / "评分表.xlsx", rows)
    app = create_app({"INSTANCE": str(inst.root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="evidence-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        page = Page(browser, f"http://127.0.0.1:{server.effective_port}", inst)
        browser.set_window_size(1366, 768)
        page.login("reviewer")
        page.go("/inspection/rounds")
        page.css('#round-form input[name="name"]').send_keys("第2次模拟测评")
        page.css("#round-file").send_keys(str(sheet))
        page.css("#round-form button[type=submit]").click()
        page.wait(lambda d: "/inspection/rounds/" in d.current_url)
        assert page.css("#total-lost").text == "300"
        assert len(page.all("#scores tbody tr")) == 600
        top = page.all("#rank-units tbody tr")[0]
        assert top.get_attribute("data-unit").startswith("单位") and "50" in top.text
        page.go("/inspection/rounds")
        bars = page.all("#roundchart g.bar")
        assert len(bars) == 1 and bars[0].get_attribute("data-lost") == "300"
        page.shot("insp_09_rounds", full=True)
        page.d.set_window_size(*PHONE)
        page.go("/inspection/rounds")
        page.shot("insp_10_rounds_phone")
    finally:
        browser.set_window_size(1366, 768)
        server.close()
        thread.join(timeout=5)
        inst.close()
