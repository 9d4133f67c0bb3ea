"""The formats Chinese offices send: .doc, .wps, .et, .ofd, .mp4, .mov. Each is sniffed, validated,
extracted, searchable, previewed where it can be and exported under its own extension; each has
its own refusals (corrupt, encrypted, another kind's content under its extension).

The Word and spreadsheet files were made by LibreOffice (tests/data/formats/README.md); OFD
packages and videos are made here (OFD by its XML schema, videos by ffmpeg)."""
from __future__ import annotations

import os
import shutil
import zipfile

import pytest

from archive.core.config import Limits
from archive.core.errors import Refusal
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.extract import extract, registry, sniff_kind
from archive.package.build import export_package
from archive.search import search
from archive.web.previews import thumbnail
from tests import filefactory as ff


def needs(tool: str):
    """Skip only where the tool is missing and cannot be installed (not root): as root,
    ./test installs it (scripts/setup.sh), so a missing tool there is a failure."""
    return pytest.mark.skipif(shutil.which(tool) is None and os.geteuid() != 0,
                              reason=f"{tool} 未安装（scripts/setup.sh 以 root 安装）")


def run(path, name=None, limits=Limits()):
    kind = sniff_kind(path, name or path.name, limits)
    return kind, extract(path, kind, limits)


def refusal(path, name=None, limits=Limits()) -> Refusal:
    with pytest.raises(Refusal) as info:
        run(path, name, limits)
    return info.value


def add(instance, path, code="Ⅲ—1", mtype="规范文件", date="2026-03-05"):
    res = ingest_files(instance, [IngestRequest(path=path, codes=[code], material_type=mtype, date=date)],
                       user="t")
    assert not res.refused, res.refused
    return res.added[0]["id"]


# ---------------------------------------------------------------- Word 97 and WPS

@needs("antiword")
@needs("catdoc")
def test_doc_and_wps_are_read_searched_and_exported(instance, tmp_path):
    doc = ff.copy_fixture("通知.doc", tmp_path / "通知.doc")
    wps = ff.copy_fixture("活动记录.wps", tmp_path / "活动记录.wps")
    kind, result = run(doc)
    assert kind == "doc" and "讲文明树新风" in result.text and "草场街街道" in result.text
    assert result.meta["reader"] == "antiword"
    kind, result = run(wps)
    # Too short for antiword ("text stream too small"): the catdoc fallback reads it.
    assert kind == "wps" and "新时代文明实践站活动记录" in result.text and result.meta["reader"] == "catdoc"
    doc_id, wps_id = add(instance, doc), add(instance, wps)
    assert [h["id"] for h in search(instance, "公益广告宣传")["hits"]] == [doc_id]
    assert [h["id"] for h in search(instance, "志愿服务活动")["hits"]] == [wps_id]
    names = _exported(instance, tmp_path)
    assert any(n.endswith("_规范文件_通知.doc") for n in names)
    assert any(n.endswith("_规范文件_活动记录.wps") for n in names)


@needs("antiword")
def test_doc_refusals(tmp_path):
    good = ff.copy_fixture("通知.doc", tmp_path / "good.doc")
    r = refusal(ff.make_encrypted_doc(good, tmp_path / "加密.doc"))
    assert (r.key, r.message_zh) == ("encrypted Word file", "Word 文件已加密，无法读取")
    assert refusal(ff.make_truncated(good, tmp_path / "坏.doc", 0.3)).key == "corrupt DOC"
    # An Excel 97 workbook under .doc is OLE2 too: only the Word readers can tell.
    assert refusal(ff.copy_fixture("台账.et", tmp_path / "表.doc")).key == "corrupt DOC"
    r = refusal(ff.make_docx(tmp_path / "新.doc", ["正文"]))
    assert r.key == "content does not match extension" and "Word 文档（DOCX）" in r.message_zh
    r = refusal(ff.copy_fixture("通知.doc", tmp_path / "通知.pdf"))
    assert "实际为 Office 97-2003 文档" in r.message_zh


@needs("catdoc")
def test_wps_refusals(tmp_path):
    good = ff.copy_fixture("活动记录.wps", tmp_path / "good.wps")
    r = refusal(ff.make_encrypted_doc(good, tmp_path / "加密.wps"))
    assert r.key == "encrypted Word file"
    assert refusal(ff.make_truncated(good, tmp_path / "坏.wps", 0.3)).key == "corrupt WPS"
    assert refusal(ff.make_pdf(tmp_path / "x.wps", ["正文"])).key == "content does not match extension"


# ---------------------------------------------------------------- WPS 表格

def test_et_is_a_ledger(instance, tmp_path):
    et = ff.copy_fixture("台账.et", tmp_path / "整改台账.et")
    kind, result = run(et)
    assert kind == "et" and "农贸市场\t已整改" in result.text and result.meta["sheets"] == ["台账"]
    item_id = add(instance, et, "Ⅲ—6", "工作台账")
    assert [h["id"] for h in search(instance, "背街小巷")["hits"]] == [item_id]
    assert registry.preview_kind("et") == "ledger"
    assert any(n.endswith("_工作台账_整改台账.et") for n in _exported(instance, tmp_path))


def test_et_refusals(tmp_path):
    good = ff.copy_fixture("台账.et", tmp_path / "good.et")
    bad = tmp_path / "坏.et"
    bad.write_bytes(good.read_bytes()[:600])
    assert refusal(bad).key == "corrupt ET"
    assert refusal(ff.make_xlsx(tmp_path / "新.et", [["a"]])).key == "content does not match extension"


# ---------------------------------------------------------------- OFD

def test_ofd_text_search_and_export(instance, tmp_path):
    ofd = ff.make_ofd(tmp_path / "通报.ofd", [["关于农贸市场整改情况的通报", "各街道办事处："],
                                              ["第二页：背街小巷环境整治"]], title="整改通报")
    kind, result = run(ofd)
    assert kind == "ofd" and result.meta["pages"] == 2 and result.meta["title"] == "整改通报"
    assert result.text.split("\f")[1] == "第二页：背街小巷环境整治"
    item_id = add(instance, ofd)
    assert [h["id"] for h in search(instance, "背街小巷环境整治")["hits"]] == [item_id]
    assert any(n.endswith("_规范文件_通报.ofd") for n in _exported(instance, tmp_path))


def test_ofd_refusals(tmp_path):
    r = refusal(ff.make_ofd(tmp_path / "加密.ofd", [["机密"]], encrypted=True))
    assert (r.key, r.message_zh) == ("encrypted OFD", "OFD 文件已加密，无法读取")
    good = ff.make_ofd(tmp_path / "good.ofd", [["正文"] * 200])
    assert refusal(ff.make_truncated(good, tmp_path / "坏.ofd", 0.5)).key == "corrupt OFD"
    broken = ff.make_with_member(good, tmp_path / "坏2.ofd", "Doc_0/Pages/Page_0/Content.xml", b"<ofd:Page><unclosed")
    assert refusal(broken).key == "corrupt OFD"
    r = refusal(ff.make_zip(tmp_path / "压缩包.ofd", {"a.txt": b"x"}))
    assert r.key == "content does not match extension" and "ZIP 压缩包" in r.message_zh
    r = refusal(ff.make_ofd(tmp_path / "x.docx", [["正文"]]))
    assert "实际为 OFD 版式文档" in r.message_zh


# ---------------------------------------------------------------- video

@needs("ffmpeg")
def test_mp4_and_mov_dates_thumbnails_and_export(instance, tmp_path):
    mp4 = ff.make_video(tmp_path / "志愿服务.mp4", creation_time="2026-03-15T17:30:00Z", title="志愿服务活动")
    mov = ff.make_video(tmp_path / "巡查.mov", creation_time=None)
    kind, result = run(mp4)
    assert kind == "mp4" and result.meta["duration_s"] == pytest.approx(1.0, abs=0.2)
    # creation_time is UTC; 17:30Z is 01:30 the next day in Beijing, the day the clerk filmed it.
    assert result.meta["media_date"] == "2026-03-16" and result.meta["width"] == 320
    assert run(mov)[0] == "mov"
    mp4_id = add(instance, mp4, "Ⅲ—5", "实景图片", date=None)
    mov_id = add(instance, mov, "Ⅲ—5", "实景图片", date="2026-03-20")
    row = instance.db.execute("SELECT date, date_source, kind, ocr_status FROM items WHERE id = ?", [mp4_id]).fetchone()
    assert tuple(row) == ("2026-03-16", "media", "mp4", "none")
    assert [h["id"] for h in search(instance, "志愿服务活动")["hits"]] == [mp4_id]   # its title tag
    for item_id, sha_kind in ((mp4_id, "mp4"), (mov_id, "mov")):
        sha = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [item_id]).fetchone()[0]
        thumb = thumbnail(instance, sha, sha_kind)
        assert thumb is not None and thumb.read_bytes()[:3] == b"\xff\xd8\xff"   # a JPEG poster
    names = _exported(instance, tmp_path)
    assert any(n.endswith("_实景图片_志愿服务.mp4") for n in names) and any(n.endswith(".mov") for n in names)


@needs("ffmpeg")
def test_video_refusals(tmp_path):
    good = ff.make_video(tmp_path / "good.mp4", seconds=2)
    assert refusal(ff.make_truncated(good, tmp_path / "坏.mp4", 0.6)).key == "corrupt video"
    r = refusal(ff.make_video(tmp_path / "加密.mp4", encrypt=True))
    assert (r.key, r.message_zh) == ("encrypted video", "视频已加密（DRM），无法读取")
    r = refusal(good, limits=Limits(max_video_bytes=1000))
    assert r.key == "video too large" and "大小上限" in r.message_zh
    r = refusal(ff.make_jpeg(tmp_path / "照片.mp4"))
    assert r.key == "content does not match extension" and "JPEG 图片" in r.message_zh
    r = refusal(good, "视频.jpg")
    assert "实际为 MP4 视频" in r.message_zh


# ---------------------------------------------------------------- helpers

def _exported(instance, tmp_path) -> list[str]:
    out = tmp_path / "pkg.zip"
    export_package(instance, out, "2026-07-15", include_out_of_window=True)
    with zipfile.ZipFile(out) as zf:
        return zf.namelist()
