"""Two maps and two cycles in real Chromium: the map picker in the top bar switches the map and
the choice survives navigation; the cycles page; an earlier cycle's dashboard is read-only.
Runs its own server over its own instance (the shared one keeps a single map)."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from tests.browser.conftest import ACCOUNTS, PASSWORD, ROOT, SHOTS, Page


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    from waitress.server import create_server

    from archive.core.instance import Instance
    from archive.cycles.cycles import add_cycle
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.evidence.review import review_item
    from archive.maps.loading import load_map_into
    from archive.users import create_user
    from archive.web import create_app
    from tests import filefactory as ff

    root = tmp_path_factory.mktemp("multimap") / "instance"
    inst = Instance(root)
    inst.create()
    load_map_into(inst, ROOT / "indicator_map.yaml", user="test")
    load_map_into(inst, ROOT / "maps" / "wcn_sample.yaml", user="test")
    for name, (role, unit) in ACCOUNTS.items():
        create_user(inst.db, name, role, unit, PASSWORD, by="test")
    src = tmp_path_factory.mktemp("multimap_src")
    pdf = ff.make_pdf(src / "少年宫管理制度.pdf", ["乡村学校少年宫管理制度"])
    jpg = ff.make_jpeg(src / "少年宫活动.jpg", exif_date=datetime(2026, 3, 1, 10, 0))
    res = ingest_files(inst, [
        IngestRequest(pdf, ["wmcs-2024-sample:Ⅲ—6", "wcn-2024-sample:Ⅲ—5"], "规范文件", "2026-03-01",
                      unit="草场街街道"),
        IngestRequest(jpg, ["wcn-2024-sample:Ⅲ—5"], "实景图片", unit="草场街街道")], user="test")
    assert res.ok, res.refused
    add_cycle(inst, "2026年度测评", "2026-07-15", user="test")
    review_item(inst, res.added[0]["id"], "approved", None, "reviewer")
    add_cycle(inst, "2027年度测评", "2027-07-15", start=True, user="test")
    app = create_app({"INSTANCE": str(root)})
    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="evidence-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", inst
    server.close()
    thread.join(timeout=5)
    inst.close()


def test_picker_cycles_and_read_only_cycle(browser, multi):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, inst = multi
    page = Page(browser, base, inst)
    page.login("clerk")
    page.go("/")
    assert "全国文明城市测评体系" in page.css(".pagehead").text
    assert "2027-07-15" == page.css("#dash-date").get_attribute("value")     # the current cycle's date
    browser.save_screenshot(str(SHOTS / "maps-1-dashboard-first-map.png"))
    Select(page.css("#mappicker select")).select_by_value("wcn-2024-sample")
    page.css("#mappicker button").click()
    page.wait(lambda d: "未成年人" in d.find_element(By.CSS_SELECTOR, ".pagehead").text)
    browser.save_screenshot(str(SHOTS / "maps-2-dashboard-picked-wcn.png"))
    page.go("/tree")                                                          # remembered
    assert "乡村学校少年宫" in browser.page_source and "健全学习制度" not in browser.page_source
    page.go("/indicators/Ⅲ—5")
    assert "少年宫活动" in browser.page_source and "少年宫管理制度" in browser.page_source
    page.go("/cycles")
    rows = page.all("#cycles tbody tr")
    assert len(rows) == 2 and "已结束（只读）" in rows[1].text and "进行中" in rows[0].text
    browser.save_screenshot(str(SHOTS / "maps-3-cycles.png"))
    rows[1].find_element(By.LINK_TEXT, "准备情况（wmcs-2024-sample）").click()
    page.wait(lambda d: d.find_elements(By.ID, "cycle-readonly"))
    assert page.css("#dash-date").get_attribute("disabled") is not None
    assert not page.all(".gaplink")            # read-only: no "补充材料" links into an earlier cycle
    assert "2026-07-15" in page.css("#cycle-readonly").text or "2026-07-15" in browser.page_source
    browser.save_screenshot(str(SHOTS / "maps-4-earlier-cycle-read-only.png"))


def test_admin_maps_page(browser, multi):
    base, inst = multi
    page = Page(browser, base, inst)
    page.login("admin")
    page.go("/maps")
    rows = page.all("#maps tbody tr")
    assert len(rows) == 2
    counts = [r.find_elements("css selector", "td.num")[1].text for r in rows]
    assert counts == ["1", "2"]          # items filed in each map (the shared PDF counts in both)
    browser.save_screenshot(str(SHOTS / "maps-5-admin-maps.png"))
