"""Photo checks in Chromium: a reviewer sets the evaluation date; a clerk uploading a photo taken
before the window, and a copy of another unit's photo, sees the warnings at once; the reviewer
sees both in the queue and the pair on the reuse page. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

from datetime import datetime

import pytest

from archive.evidence.ingest import IngestRequest
from tests import filefactory
from tests.browser.conftest import ingest
from tests.photo_scenes import copies, scene

pytestmark = pytest.mark.browser


def test_clerk_sees_photo_warnings_at_once_and_reviewer_in_the_queue(page, tmp_path, tag):
    from selenium.webdriver.common.keys import Keys

    src = tmp_path / "src"
    im = scene(41, family=5)
    theirs = filefactory.make_scene_jpeg(src / f"市教育局_校门口_{tag}.jpg", image=im, exif_date=datetime(2026, 3, 8, 10))
    ingest(page.instance, [IngestRequest(theirs, ["Ⅲ—3"], "实景图片", unit="市教育局", title=f"校门口 {tag}")])
    copy = filefactory.make_scene_jpeg(src / f"背街小巷_{tag}_翻拍.jpg", image=copies(im)["resized+recompressed+cropped"],
                                       exif_date=datetime(2026, 3, 8, 10))
    old = filefactory.make_scene_jpeg(src / f"背街小巷_{tag}_去年.jpg", seed=42, family=3,
                                      exif_date=datetime(2025, 4, 20, 9))

    # the reviewer sets the evaluation date once, on the review page
    page.login("reviewer")
    page.go("/review")
    field = page.css("#eval-date-form input[name=evaluation_date]")
    page.d.execute_script("arguments[0].value = '2026-07-15'", field)
    page.submit("#eval-date-form button[type=submit]")
    page.wait(lambda d: page.all(".flash-success"))
    assert "测评日期已设为 2026-07-15" in page.css(".flash-success").text
    page.shot("photo_01_review_evaluation_date")

    # the clerk uploads both photos and sees each warning on its row
    page.login("clerk")
    page.go("/upload")
    picker = page.css("#picker-input")
    picker.send_keys("背街")
    page.wait(lambda d: [i.get_attribute("data-code") for i in page.all(".picker-results li.picker-item")
                         if i.is_displayed()][:1] == ["Ⅲ—5"])
    picker.send_keys(Keys.ENTER)
    page.wait(lambda d: page.all('.picker .chip[data-code="Ⅲ—5"]'))
    page.css("#file-input").send_keys(f"{copy}\n{old}")
    page.wait(lambda d: len(page.all("#upload-table tbody tr")) == 2)
    page.css("#start-btn").click()
    page.wait(lambda d: all({"state-added", "state-refused", "state-error"} & set((r.get_attribute("class") or "").split())
                            for r in page.all("#upload-table tbody tr")), timeout=30)
    rows = {r.find_element("css selector", ".filename").text.split("\n")[0]: r for r in page.all("#upload-table tbody tr")}
    copy_msg = rows[copy.name].find_element("css selector", ".msg").text
    old_msg = rows[old.name].find_element("css selector", ".msg").text
    assert "已入库" in copy_msg and "几乎相同" in copy_msg and "市教育局" in copy_msg, copy_msg
    assert "已入库" in old_msg and "拍摄日期 2025-04-20 不在材料时间窗口 2025-07-01 至 2026-06-30 内" in old_msg, old_msg
    page.shot("photo_02_upload_warnings")

    # the reviewer sees both in the queue, and the pair on the reuse page
    db = page.instance.db
    ids = {n: i for i, n in db.execute("SELECT id, original_name FROM items WHERE original_name LIKE ?", [f"%{tag}%"])}
    page.login("reviewer")
    # the unit's queue narrowed to the leaf: its first page (50) must not depend on how many
    # other tests of the shared instance left 草场街街道 items pending
    page.go("/review?unit=草场街街道&code=Ⅲ—5")
    for name, text in ((copy.name, "几乎相同"), (old.name, "不在材料时间窗口")):
        card = page.css(f"#item-{ids[name]}")
        assert text in card.find_element("css selector", ".photo-warnings").text, name
    page.d.execute_script("arguments[0].scrollIntoView()", page.css(f"#item-{ids[copy.name]}"))
    page.shot("photo_03_review_queue_warnings")
    page.go("/photos/reuse")
    pair = page.css(f"#pair-{ids[theirs.name]}-{ids[copy.name]}")
    assert "跨单位" in pair.text and "市教育局" in pair.text and "草场街街道" in pair.text
    page.shot("photo_04_reuse_page", full=True)
    page.go(f"/items/{ids[copy.name]}")
    assert "几乎相同" in page.css("#photo-checks").text
    page.shot("photo_05_item_page")
