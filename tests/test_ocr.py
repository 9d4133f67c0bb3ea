"""OCR with Debian's tesseract (chi_sim): scanned PDFs and photographed documents become searchable."""
from __future__ import annotations

import json
import shutil

import pytest

from archive.extract.ocr import ocr_available
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.jobs.ocr import needs_ocr, run_pending
from archive.search import search
from cli import cli
from tests import filefactory as ff

needs_engine = pytest.mark.skipif(not ocr_available(),
                                  reason="tesseract-ocr + tesseract-ocr-chi-sim not installed (./test installs them as root)")


def add(instance, path, code, material_type):
    return ingest_files(instance, [IngestRequest(path=path, codes=[code], material_type=material_type)],
                        user="t")


def test_what_is_queued():
    assert needs_ocr("pdf", "规范文件", [2])
    assert not needs_ocr("pdf", "规范文件", [])
    assert needs_ocr("jpeg", "规范文件", [])            # a photographed document
    assert not needs_ocr("jpeg", "实景图片", [])        # an on-site photo


def test_scanned_pdf_is_queued_with_its_pages(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "混合.pdf", ["第一页有文字层", "扫描页"], image_only_pages=[2])
    item_id = add(instance, pdf, "Ⅲ—1", "规范文件").added[0]["id"]
    status, meta = instance.db.execute("SELECT ocr_status, meta FROM items WHERE id = ?", [item_id]).fetchone()
    assert status == "pending" and json.loads(meta)["ocr_pages"] == [2]


@needs_engine
def test_scanned_pdf_becomes_searchable_after_ocr(instance, tmp_path, runner):
    scan = ff.make_scan_pdf(tmp_path / "扫描件.pdf", [["关于成立红马甲志愿服务队的通知"]])
    item_id = add(instance, scan, "Ⅲ—1", "规范文件").added[0]["id"]
    assert search(instance, "志愿服务队")["total"] == 0          # nothing to find before OCR
    r = runner.invoke(cli, ["--instance", str(instance.root), "ocr", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["done"] == [item_id]
    hits = search(instance, "志愿服务队")["hits"]
    assert [h["id"] for h in hits] == [item_id]
    assert instance.db.execute("SELECT ocr_status FROM items WHERE id = ?", [item_id]).fetchone()[0] == "done"
    # Nothing left to do: a second run is a no-op.
    assert run_pending(instance) == {"done": [], "failed": []}


@needs_engine
def test_photographed_document_is_read_but_site_photo_is_not(instance, tmp_path):
    doc = ff.make_text_image(tmp_path / "通知照片.jpg", ["门前三包责任书"])
    site = tmp_path / "现场.jpg"
    shutil.copy(ff.make_text_image(tmp_path / "x.jpg", ["文明实践站"]), site)
    doc_id = add(instance, doc, "Ⅲ—6", "规范文件").added[0]["id"]
    site_id = add(instance, site, "Ⅲ—5", "实景图片").added[0]["id"]
    assert run_pending(instance)["done"] == [doc_id]
    assert [h["id"] for h in search(instance, "门前三包")["hits"]] == [doc_id]
    assert instance.db.execute("SELECT ocr_status FROM items WHERE id = ?", [site_id]).fetchone()[0] == "none"


@needs_engine
def test_unreadable_file_is_marked_failed_and_queue_goes_on(instance, tmp_path):
    bad = ff.make_scan_pdf(tmp_path / "a.pdf", [["第一份通知"]])
    good = ff.make_scan_pdf(tmp_path / "b.pdf", [["第二份通知"]])
    bad_id = add(instance, bad, "Ⅲ—1", "规范文件").added[0]["id"]
    good_id = add(instance, good, "Ⅲ—1", "规范文件").added[0]["id"]
    # Ask for a page the file does not have: pdftoppm fails for this item only.
    instance.db.execute("UPDATE items SET meta = json_set(meta, '$.ocr_pages', json('[99]')) WHERE id = ?", [bad_id])
    result = run_pending(instance)
    assert result["done"] == [good_id]
    assert [f["id"] for f in result["failed"]] == [bad_id]
    assert instance.db.execute("SELECT ocr_status FROM items WHERE id = ?", [bad_id]).fetchone()[0] == "failed"


def test_ocr_command_without_engine_is_usage_error(instance, runner, monkeypatch):
    monkeypatch.setattr("archive.extract.ocr.ocr_available", lambda: False)
    monkeypatch.setattr("archive.jobs.ocr.ocr_available", lambda: False)
    r = runner.invoke(cli, ["--instance", str(instance.root), "ocr"])
    assert r.exit_code == 2
    assert "tesseract-ocr-chi-sim" in r.stderr


@needs_engine
def test_missing_store_file_fails_that_item_only(instance, tmp_path):
    lost = ff.make_text_image(tmp_path / "丢失.png", ["第一份通知"])
    kept = ff.make_text_image(tmp_path / "保留.png", ["文明交通劝导"])
    lost_id = add(instance, lost, "Ⅲ—1", "规范文件").added[0]
    kept_id = add(instance, kept, "Ⅲ—1", "规范文件").added[0]["id"]
    instance.store.path(lost_id["sha256"]).unlink()
    result = run_pending(instance)
    assert result["done"] == [kept_id]
    assert [f["id"] for f in result["failed"]] == [lost_id["id"]]
    assert "FileNotFoundError" in result["failed"][0]["error"]
