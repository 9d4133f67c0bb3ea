"""Text read from a photo by OCR is marked as such: a 图中文字 tag on the search hit and its own
section on the item page (the recognised text itself comes from tests/test_ocr.py's engine run;
here it is written as the OCR queue writes it)."""
from __future__ import annotations

from archive.core.db import transaction
from archive.extract.ocr import OCR_SEPARATOR
from archive.search import index_item


def _ocr_done(instance, item_id: int, recognised: str) -> None:
    with transaction(instance.db):
        instance.db.execute("UPDATE items SET text = text || ?, ocr_status = 'done' WHERE id = ?",
                            [OCR_SEPARATOR + recognised, item_id])
        index_item(instance.db, item_id)


def test_search_hit_says_the_text_was_read_from_the_image(login, items, instance):
    _ocr_done(instance, items["photo"], "讲文明树新风\n2026-03-05")
    page = login("auditor").get("/search?q=讲文明树新风").get_data(as_text=True)
    assert f'data-id="{items["photo"]}"' in page
    assert "图中文字</span>" in page and "<mark>讲文明树新风</mark>" in page
    # A hit in the file's own text carries no such tag.
    page = login("auditor").get("/search?q=书法课").get_data(as_text=True)
    assert f'data-id="{items["ledger"]}"' in page and "图中文字</span>" not in page
    api = login("auditor").get("/api/search?q=讲文明树新风").get_json()
    assert api["hits"][0]["from_image"] is True


def test_item_page_shows_the_recognised_text_apart(login, items, instance):
    _ocr_done(instance, items["photo"], "讲文明树新风")
    page = login("clerk").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert 'id="ocr-text"' in page and "图中文字（OCR 从图片中识别，可检索）" in page
    assert "讲文明树新风" in page and "[OCR]" not in page
    page = login("clerk").get(f"/items/{items['ledger']}").get_data(as_text=True)
    assert 'id="ocr-text"' not in page
