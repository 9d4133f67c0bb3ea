"""OCR with Debian's tesseract (chi_sim): scanned PDFs and photographed documents become searchable."""
from __future__ import annotations

import json
import shutil
import threading

import pytest

from archive.extract.ocr import needs_ocr, ocr_available, rapidocr_available
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.jobs.ocr import run_pending, worker_pool
from archive.search import search
from cli import cli
from tests import filefactory as ff

needs_engine = pytest.mark.skipif(not ocr_available(),
                                  reason="tesseract-ocr + tesseract-ocr-chi-sim not installed (./test installs them as root)")


def add(instance, path, code, material_type):
    return ingest_files(instance, [IngestRequest(path=path, codes=[code], material_type=material_type)],
                        user="t")


def test_what_is_queued():
    assert needs_ocr("pdf", [2])
    assert not needs_ocr("pdf", [])
    assert needs_ocr("jpeg", []) and needs_ocr("png", [])   # every photo: signs and banners are evidence
    assert not needs_ocr("docx", []) and not needs_ocr("mp4", [])


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
def test_photographed_document_and_site_photo_are_both_read(instance, tmp_path):
    doc = ff.make_text_image(tmp_path / "通知照片.jpg", ["门前三包责任书"])
    site = ff.make_text_image(tmp_path / "现场.jpg", ["文明实践站"])
    doc_id = add(instance, doc, "Ⅲ—6", "规范文件").added[0]["id"]
    site_id = add(instance, site, "Ⅲ—5", "实景图片").added[0]["id"]
    assert run_pending(instance)["done"] == [doc_id, site_id]
    assert [h["id"] for h in search(instance, "门前三包")["hits"]] == [doc_id]
    assert [h["id"] for h in search(instance, "文明实践站")["hits"]] == [site_id]


@needs_engine
def test_board_photo_is_found_by_its_slogan_in_worker_processes(instance, tmp_path):
    """An auditor searching 讲文明树新风 finds the photo of the board that says it, read in an
    OCR worker process; the hit says the text was read from the image."""
    photo = ff.make_sign_photo(tmp_path / "IMG_0412.jpg", "讲文明树新风")
    other = ff.make_sign_photo(tmp_path / "IMG_0413.jpg", "垃圾分类")
    photo_id = add(instance, photo, "Ⅲ—5", "实景图片").added[0]["id"]
    add(instance, other, "Ⅲ—5", "实景图片")
    assert search(instance, "讲文明树新风")["total"] == 0
    with worker_pool(1) as pool:
        assert len(run_pending(instance, pool=pool)["done"]) == 2
    hits = search(instance, "讲文明树新风")["hits"]
    assert [h["id"] for h in hits] == [photo_id]
    assert hits[0]["from_image"] is True and "讲文明树新风" in hits[0]["snippet"]
    meta = json.loads(instance.db.execute("SELECT meta FROM items WHERE id = ?", [photo_id]).fetchone()[0])
    assert meta["ocr"]["engine"] in ("rapidocr", "tesseract")


@needs_engine
def test_a_stopping_server_records_nothing_more_and_leaves_the_rest_pending(instance, tmp_path):
    """`evidence serve` stopping (SIGTERM) sets the worker's stop event: the batch it handed to the
    pool is cancelled, nothing is marked failed, and the next run reads every file."""
    ids = [add(instance, ff.make_sign_photo(tmp_path / f"IMG_{i}.jpg", text), "Ⅲ—5", "实景图片").added[0]["id"]
           for i, text in enumerate(["讲文明树新风", "垃圾分类", "文明实践站"])]
    stop = threading.Event()
    stop.set()
    with worker_pool(1) as pool:
        assert run_pending(instance, pool=pool, stop=stop) == {"done": [], "failed": []}
    states = [r[0] for r in instance.db.execute(
        f"SELECT ocr_status FROM items WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id", ids)]
    assert states == ["pending"] * 3
    assert run_pending(instance)["done"] == ids


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


@pytest.mark.skipif(not rapidocr_available(), reason="rapidocr-onnxruntime 未安装")
def test_rapidocr_runs_offline_and_writes_nothing_under_home(tmp_path):
    """onnxruntime writes a device id under ~/.cache and may send telemetry unless told not
    to: a recognition in a fresh process with an empty HOME leaves that HOME empty."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    image = ff.make_text_image(tmp_path / "通知.png", ["创建全国文明城市"])
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    code = ("import sys; from pathlib import Path; from archive.extract.ocr import ocr_file; "
            "print(ocr_file(Path(sys.argv[1]), 'png', engine='rapidocr')[1])")
    r = subprocess.run([sys.executable, "-W", "error", "-c", code, str(image)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "创建全国文明城市" in r.stdout.replace(" ", "")
    assert list(home.rglob("*")) == []


def test_photos_kept_before_photo_ocr_join_the_queue(instance, tmp_path):
    """Migration 0022: photos that the old rule left out of the queue (ocr_status 'none') are
    queued once; other kinds and deleted photos are left alone."""
    from archive.core.db import migrate, transaction
    from archive.core.instance import Instance

    photo = add(instance, ff.make_jpeg(tmp_path / "现场.jpg", seed=1), "Ⅲ—5", "实景图片").added[0]["id"]
    gone = add(instance, ff.make_jpeg(tmp_path / "删除.jpg", seed=2), "Ⅲ—5", "实景图片").added[0]["id"]
    pdf = add(instance, ff.make_pdf(tmp_path / "a.pdf", ["正文"]), "Ⅲ—1", "规范文件").added[0]["id"]
    db = instance.db
    with transaction(db):   # as the old code left them
        db.execute("UPDATE items SET ocr_status = 'none'")
        db.execute("UPDATE items SET deleted_at = '2026-03-01T00:00:00Z' WHERE id = ?", [gone])
        db.execute("DELETE FROM migrations WHERE version = 22")
    assert migrate(db) == ["ocr_photos"]
    status = dict(db.execute("SELECT id, ocr_status FROM items").fetchall())
    assert (status[photo], status[gone], status[pdf]) == ("pending", "none", "none")
    assert Instance.open(instance.root).create() == []     # applied once
