"""In Chromium: a clerk uploads the formats offices send (.doc, .ofd, .mp4, a photo of a 公益广告
board) with a bad file among them; after OCR an auditor finds the photo by its slogan, marked as
read from the image, and the item pages show the recognised text and the video's poster frame."""
from __future__ import annotations

import re
import shutil

import pytest

from archive.extract.ocr import ocr_available
from archive.jobs.ocr import run_pending
from tests import filefactory

pytestmark = pytest.mark.browser


@pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("antiword") is None or not ocr_available(),
                    reason="ffmpeg, antiword or an OCR engine missing (scripts/setup.sh installs them as root)")
def test_clerk_uploads_office_formats_and_auditor_finds_board_photo(page, tmp_path, tag):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    src = tmp_path / "src"
    doc = filefactory.copy_fixture("通知.doc", src / f"公益广告通知_{tag}.doc")
    ofd = filefactory.make_ofd(src / f"整改通报_{tag}.ofd", [[f"关于背街小巷整改情况的通报 {tag}"]])
    video = filefactory.make_video(src / f"志愿服务_{tag}.mp4", creation_time="2026-03-15T02:30:00Z")
    photo = filefactory.make_sign_photo(src / f"宣传牌_{tag}.jpg", "讲文明树新风", style=1, seed=3)
    renamed = src / f"新版通知_{tag}.doc"          # a DOCX someone renamed to .doc
    filefactory.make_docx(renamed, ["正文"])

    page.login("clerk")
    page.go("/upload")
    picker = page.css("#picker-input")
    picker.send_keys("背街")   # as tests/browser/test_flows.py: one result, chosen with the keyboard

    def only_result(d):
        items = page.all(".picker-results li.picker-item")
        return len(items) == 1 and items[0].is_displayed() and items[0].get_attribute("data-code") == "Ⅲ—5"

    page.wait(only_result)
    picker.send_keys(Keys.ENTER)
    page.wait(lambda d: page.all('.picker .chip[data-code="Ⅲ—5"]'))
    files = [doc, ofd, video, photo, renamed]
    page.css("#file-input").send_keys("\n".join(str(p) for p in files))
    page.wait(lambda d: len(page.all("#upload-table tbody tr")) == len(files))
    rows = page.all("#upload-table tbody tr")
    for row, kind in zip(rows, ["规范文件", "规范文件", "实景图片", "实景图片", "规范文件"]):
        Select(row.find_element("css selector", "select")).select_by_visible_text(kind)
    page.css("#start-btn").click()
    page.wait(lambda d: all(r.get_attribute("class") in ("state-added", "state-duplicate", "state-refused", "state-error")
                            for r in page.all("#upload-table tbody tr")), timeout=60)
    rows = page.all("#upload-table tbody tr")
    assert [r.get_attribute("class") for r in rows] == ["state-added"] * 4 + ["state-refused"], [r.text for r in rows]
    refused = rows[-1].find_element("css selector", ".msg").text
    assert "文件内容与扩展名不符" in refused and "DOCX" in refused, refused
    page.shot("20_upload_formats")

    db = page.instance.db
    ids = dict(db.execute("SELECT kind, id FROM items WHERE original_name LIKE ?", [f"%{tag}%"]).fetchall())
    assert set(ids) == {"doc", "ofd", "mp4", "jpeg"}
    assert ids["jpeg"] in run_pending(page.instance)["done"]    # the photo, read by the OCR queue (with any other pending)

    page.login("auditor")
    page.go("/search?q=" + "讲文明树新风")
    page.visible("#result-count")
    hit = page.css(f'.hit[data-id="{ids["jpeg"]}"]')
    assert "图中文字" in hit.find_element("css selector", ".snippet").text
    assert "讲文明树新风" in [m.text for m in hit.find_elements("css selector", ".snippet mark")]
    page.shot("21_search_board_photo")

    page.go(f"/items/{ids['jpeg']}")
    ocr = page.visible("#ocr-text")
    assert "讲文明树新风" in re.sub(r"\s+", "", ocr.text)
    page.shot("22_item_photo_ocr", full=True)

    page.go(f"/items/{ids['mp4']}")
    img = page.visible(".preview img.thumb")
    page.wait(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    assert "视频封面" in page.css(".preview").text and "取自视频创建时间" in page.css("body").text
    page.shot("23_item_video")

    page.go(f"/items/{ids['ofd']}")
    assert f"关于背街小巷整改情况的通报 {tag}" in page.css("body").get_attribute("innerHTML")
    page.shot("24_item_ofd")
