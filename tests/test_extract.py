"""archive.extract: sniffing, one refusal per reason, extraction from real files made on disk."""
from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from archive.core.config import Limits
from archive.core.errors import Refusal
from archive.extract import Extraction, extract, sniff_kind
from tests import filefactory as ff

LIMITS = Limits()


def run(path, name=None, limits=LIMITS) -> Extraction:
    kind = sniff_kind(path, name or Path(path).name, limits)
    return extract(path, kind, limits)


def refusal(path, name=None, limits=LIMITS) -> Refusal:
    with pytest.raises(Refusal) as info:
        run(path, name, limits)
    return info.value


# ---------------------------------------------------------------- sniffing

@pytest.mark.parametrize("maker,name,kind", [
    (lambda p: ff.make_pdf(p, ["正文"]), "a.pdf", "pdf"),
    (lambda p: ff.make_docx(p, ["正文"]), "a.docx", "docx"),
    (lambda p: ff.make_xlsx(p, [["a"]]), "a.xlsx", "xlsx"),
    (lambda p: ff.make_xls(p, [["a"]]), "a.xls", "xls"),
    (lambda p: ff.make_csv(p, [["学校"]], encoding="gbk"), "a.csv", "csv"),
    (lambda p: ff.make_jpeg(p), "a.JPG", "jpeg"),
    (lambda p: ff.make_jpeg(p), "a.jpeg", "jpeg"),
    (lambda p: ff.make_png(p), "a.png", "png"),
])
def test_sniff_kinds(tmp_path, maker, name, kind):
    path = maker(tmp_path / name)
    assert sniff_kind(path, name, LIMITS) == kind


def test_sniff_uses_the_original_name_not_the_temp_name(tmp_path):
    path = ff.make_pdf(tmp_path / "upload-1234.tmp", ["正文"])
    assert sniff_kind(path, "通知.pdf", LIMITS) == "pdf"


def test_refuses_empty_file(tmp_path):
    path = tmp_path / "空.pdf"
    path.write_bytes(b"")
    r = refusal(path)
    assert (r.key, r.message_zh) == ("empty file", "文件为空")
    assert str(r) == "文件为空 (empty file)"


def test_refuses_exe_named_pdf(tmp_path):
    r = refusal(ff.make_exe(tmp_path / "通知.pdf"))
    assert r.key == "content does not match extension"
    assert r.message_zh == "文件内容与扩展名不符：扩展名为 .pdf，实际为 Windows 可执行程序"


@pytest.mark.parametrize("maker,name,actual", [
    (lambda p: ff.make_png(p), "photo.jpg", "PNG 图片"),
    (lambda p: ff.make_pdf(p, ["正文"]), "table.xlsx", "PDF 文档"),
    (lambda p: ff.make_docx(p, ["正文"]), "table.xlsx", "Word 文档（DOCX）"),
    (lambda p: ff.make_zip(p, {"a.txt": b"x"}), "report.docx", "ZIP 压缩包"),
    (lambda p: ff.make_csv(p, [["a", "b"]]), "scan.pdf", "文本文件"),
    (lambda p: ff.make_jpeg(p), "ledger.csv", "JPEG 图片"),
])
def test_refuses_other_mismatches(tmp_path, maker, name, actual):
    path = maker(tmp_path / ("src-" + name))
    r = refusal(path, name)
    assert r.key == "content does not match extension"
    assert r.message_zh.endswith("实际为 " + actual)


def test_html_table_named_xls_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "导出.xls"
    path.write_text("<html><body><table><tr><td>点位</td></tr></table></body></html>", encoding="utf-8")
    r = refusal(path)
    assert r.key == "content does not match extension"
    assert "HTML" in r.message_zh and "另存为 .xlsx" in r.message_zh


def test_refuses_password_protected_office_file(tmp_path):
    r = refusal(ff.make_encrypted_office(tmp_path / "加密.docx"))
    assert (r.key, r.message_zh) == ("encrypted Office file", "Office 文件已加密，无法读取")


def test_utf16_csv_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "统计.csv"
    path.write_bytes("学校,人数\r\n".encode("utf-16"))
    r = refusal(path)
    assert r.key == "content does not match extension"
    assert "UTF-16" in r.message_zh


def test_refuses_unsupported_type(tmp_path):
    path = tmp_path / "notes.xyz"
    path.write_text("内容", encoding="utf-8")
    r = refusal(path)
    assert (r.key, r.message_zh) == ("unsupported file type", "不支持的文件类型 .xyz")
    noext = tmp_path / "README"
    noext.write_text("内容", encoding="utf-8")
    assert refusal(noext).key == "unsupported file type"


def test_refuses_file_over_size_limit(tmp_path):
    path = ff.make_pdf(tmp_path / "大.pdf", ["很长的正文" * 200])
    small = Limits(max_file_bytes=1024 * 1024 // 2)
    big = tmp_path / "big.pdf"
    big.write_bytes(path.read_bytes() + b"\n%" + b"x" * (1024 * 1024))
    r = refusal(big, limits=small)
    assert (r.key, r.message_zh) == ("file too large", "文件超过大小上限 0.5 MB")
    assert refusal(big, limits=Limits(max_file_bytes=1024 * 1024)).message_zh == "文件超过大小上限 1 MB"


# ---------------------------------------------------------------- corrupt and truncated

@pytest.mark.parametrize("maker,name,key", [
    (lambda p: ff.make_pdf(p, ["正文内容"] * 3), "坏.pdf", "corrupt PDF"),
    (lambda p: ff.make_docx(p, ["情况说明正文"] * 20), "坏.docx", "corrupt DOCX"),
    (lambda p: ff.make_xlsx(p, [["序号", "内容"], [1, "台账"]]), "坏.xlsx", "corrupt XLSX"),
    (lambda p: ff.make_jpeg(p), "坏.jpg", "corrupt JPEG"),
    (lambda p: ff.make_png(p), "坏.png", "corrupt PNG"),
])
@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9, 0.98])
def test_refuses_truncated_files(tmp_path, maker, name, key, fraction):
    good = maker(tmp_path / ("good-" + name))
    assert isinstance(run(good, name), Extraction)
    bad = ff.make_truncated(good, tmp_path / name, fraction)
    r = refusal(bad)
    assert r.key == key
    assert r.message_zh in ("文件已损坏", "图片已损坏")


@pytest.mark.parametrize("maker,name,member,key", [
    (lambda p: ff.make_docx(p, ["正文"]), "坏.docx", "word/document.xml", "corrupt DOCX"),
    (lambda p: ff.make_xlsx(p, [["a"]]), "坏.xlsx", "xl/worksheets/sheet1.xml", "corrupt XLSX"),
    (lambda p: ff.make_xlsx(p, [["a"]]), "坏2.xlsx", "xl/workbook.xml", "corrupt XLSX"),
])
def test_office_file_with_broken_xml_is_refused(tmp_path, maker, name, member, key):
    src = maker(tmp_path / ("src-" + name))
    bad = ff.make_with_member(src, tmp_path / name, member, b"<w:document><unclosed")
    assert refusal(bad).key == key


def test_pdf_missing_only_its_eof_marker_is_refused(tmp_path):
    good = ff.make_pdf(tmp_path / "a.pdf", ["正文"]).read_bytes()
    bad = tmp_path / "b.pdf"
    bad.write_bytes(good[: good.rindex(b"%%EOF")])
    assert refusal(bad).key == "corrupt PDF"


def test_pdf_with_garbage_body_is_refused(tmp_path):
    path = tmp_path / "假.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"garbage " * 200 + b"\n%%EOF\n")
    r = refusal(path)
    assert (r.key, r.message_zh) == ("corrupt PDF", "文件已损坏")


def test_truncated_xls_is_refused(tmp_path):
    good = ff.make_xls(tmp_path / "good.xls", [["序号", "内容"], [1, "台账"]])
    bad = tmp_path / "坏.xls"
    bad.write_bytes(good.read_bytes()[:600])
    assert refusal(bad).key == "corrupt XLS"


def test_word_97_document_named_xls_is_refused(tmp_path):
    path = ff.make_ole2(tmp_path / "x.xls", {"WordDocument": b"\x00" * 100})
    assert refusal(path).key == "corrupt XLS"


def test_xls_with_a_zeroed_workbook_stream_is_refused(tmp_path, instance):
    """calamine reads a zeroed Workbook stream as a workbook with no sheets; a real workbook
    always has one, so this is damage, refused by extract and by the real ingest."""
    path = ff.make_ole2(tmp_path / "清零.xls", {"Workbook": b"\x00" * 4096})
    r = refusal(path)
    assert (r.key, r.message_zh) == ("corrupt XLS", "文件已损坏")
    from archive.evidence.ingest import IngestRequest, ingest_files

    res = ingest_files(instance, [IngestRequest(path=path, codes=["Ⅲ—1"], material_type="工作台账",
                                                date="2026-01-05")], user="tester")
    assert not res.added and len(res.refused) == 1 and "corrupt XLS" in str(res.refused[0])
    # an xls with one empty sheet is still fine
    empty = run(ff.make_xls(tmp_path / "空表.xls", []))
    assert empty.meta["sheets"] == ["台账"]


def test_encrypted_pdf_is_refused(tmp_path):
    r = refusal(ff.make_pdf(tmp_path / "加密.pdf", ["机密"], encrypt="secret"))
    assert (r.key, r.message_zh) == ("encrypted PDF", "PDF 已加密，无法读取")


def test_permission_only_pdf_opens(tmp_path):
    """Locked against copying but no password to open (common for government PDFs): accepted."""
    import pypdf

    src = ff.make_pdf(tmp_path / "src.pdf", ["限制复制的文件"])
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(src))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    assert "限制复制的文件" in run(path).text


# ---------------------------------------------------------------- bombs

def test_png_pixel_bomb_is_refused_before_decoding(tmp_path):
    bomb = ff.make_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 1024 * 1024
    r = refusal(bomb)
    assert (r.key, r.message_zh) == ("image too large", "图片像素超过上限，疑似解压炸弹")


def test_jpeg_pixel_bomb_is_refused(tmp_path):
    assert refusal(ff.make_jpeg_bomb(tmp_path / "bomb.jpg")).key == "image too large"


def test_pixel_limit_comes_from_limits(tmp_path):
    path = ff.make_jpeg(tmp_path / "a.jpg", size=(640, 480))
    assert refusal(path, limits=Limits(max_image_pixels=640 * 480 - 1)).key == "image too large"
    assert run(path, limits=Limits(max_image_pixels=640 * 480)).meta["width"] == 640


def test_image_over_pillows_own_limit_never_warns(tmp_path):
    """A limit above Pillow's built-in one: Pillow's DecompressionBombWarning stays inside
    (pytest runs with -W error, so a leaked warning fails this test)."""
    from PIL import Image

    side = int(Image.MAX_IMAGE_PIXELS ** 0.5) + 200
    path = ff.make_png_bomb(tmp_path / "big.png", size=(side, side))  # 1-bit: cheap to decode
    result = run(path, limits=Limits(max_image_pixels=side * side))
    assert result.meta["width"] == side


@pytest.mark.parametrize("maker,name", [(ff.make_docx_bomb, "bomb.docx"), (ff.make_xlsx_bomb, "bomb.xlsx")])
def test_office_zip_bomb_is_refused(tmp_path, maker, name):
    bomb = maker(tmp_path / name)
    assert bomb.stat().st_size < 1024 * 1024
    r = refusal(bomb)
    assert (r.key, r.message_zh) == ("zip bomb", "压缩包解压后过大，疑似压缩炸弹")


def test_zip_limits_total_size_and_entry_count(tmp_path):
    path = ff.make_docx(tmp_path / "a.docx", ["正文"] * 50)
    assert run(path).text
    inflated = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    assert refusal(path, limits=Limits(max_zip_inflated_bytes=inflated - 1)).key == "zip bomb"
    entries = len(zipfile.ZipFile(path).infolist())
    assert refusal(path, limits=Limits(max_zip_entries=entries - 1)).key == "zip bomb"


# ---------------------------------------------------------------- extraction

def test_pdf_text_pages_and_metadata(tmp_path):
    path = ff.make_pdf(tmp_path / "制度.pdf", ["理论学习中心组学习制度", "第2页 红马甲志愿服务队 TZ00012"],
                       title="学习制度汇编")
    result = run(path)
    assert "理论学习中心组学习制度" in result.text
    assert "第2页 红马甲志愿服务队 TZ00012" in result.text
    assert result.text.split("\f")[1].startswith("第2页")
    assert result.meta["pages"] == 2
    assert result.meta["title"] == "学习制度汇编"
    assert result.ocr_pages == []


def test_image_only_pdf_pages_are_queued_for_ocr(tmp_path):
    path = ff.make_pdf(tmp_path / "扫描件.pdf", ["第一页文字", "（扫描页）", "第三页文字"], image_only_pages=[2])
    result = run(path)
    assert result.ocr_pages == [2]
    assert "第一页文字" in result.text and "第三页文字" in result.text
    assert "扫描页" not in result.text
    assert result.meta["pages"] == 3


def test_docx_paragraphs_and_table_cells(tmp_path):
    path = ff.make_docx(tmp_path / "说明.docx", ["关于背街小巷整治的情况说明", "一、工作开展情况"],
                        table=[["点位", "问题", "整改"], ["草场街街道", "乱堆乱放", "已整改"]], title="情况说明")
    result = run(path)
    assert "关于背街小巷整治的情况说明" in result.text
    assert "草场街街道\t乱堆乱放\t已整改" in result.text
    assert result.meta["tables"] == 1
    assert result.meta["title"] == "情况说明"


def test_docx_text_box_and_header(tmp_path):
    path = ff.make_docx(tmp_path / "红头.docx", ["正文第一段"], textbox="中共某某市委宣传部文件",
                        header="某某市创建全国文明城市工作指挥部")
    text = run(path).text
    assert "中共某某市委宣传部文件" in text
    assert "某某市创建全国文明城市工作指挥部" in text
    assert "正文第一段" in text


def test_xlsx_every_cell_is_text(tmp_path):
    path = ff.make_xlsx(tmp_path / "台账.xlsx",
                        [["编号", "事项", "数量", "日期"], ["TZ00001", "门前三包检查", 12, datetime(2026, 3, 1)],
                         [None, None, None, None], ["TZ00002", "公益广告", 3.5, None]],
                        more_sheets={"汇总": [["合计", 15.5]]})
    result = run(path)
    assert "TZ00001\t门前三包检查\t12\t2026-03-01" in result.text
    assert "TZ00002\t公益广告\t3.5" in result.text
    assert "合计\t15.5" in result.text
    assert result.meta["sheets"] == ["台账", "汇总"]
    assert result.meta["rows"] == 4


def test_xls_every_cell_is_text(tmp_path):
    path = ff.make_xls(tmp_path / "旧台账.xls", [["序号", "单位", "数量"], [1, "草场街街道", 3.5], [2, "市城管局", None]])
    result = run(path)
    assert "序号\t单位\t数量" in result.text
    assert "1\t草场街街道\t3.5" in result.text
    assert "2\t市城管局" in result.text
    assert result.meta["sheets"] == ["台账"]
    assert result.meta["rows"] == 3


@pytest.mark.parametrize("encoding,reported", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")])
def test_csv_encodings(tmp_path, encoding, reported):
    rows = [["学校", "少年宫", "备注"], ["第一小学", "1", "含,逗号"], ["育才中学", "0", "志愿服务"]]
    path = ff.make_csv(tmp_path / "统计.csv", rows, encoding=encoding)
    result = run(path)
    assert result.text.splitlines()[0] == "学校\t少年宫\t备注"  # no BOM left on the first cell
    assert "第一小学\t1\t含,逗号" in result.text
    assert result.meta["encoding"] == reported
    assert result.meta["rows"] == 3


def test_csv_with_semicolons_in_cells_stays_comma_separated(tmp_path):
    path = ff.make_csv(tmp_path / "s.csv", [["备注"], ["早;晚"], ["上;下"]])
    assert run(path).text.splitlines() == ["备注", "早;晚", "上;下"]


def test_csv_with_a_long_cell(tmp_path):
    path = ff.make_csv(tmp_path / "l.csv", [["说明"], ["文明" * 100_000]])
    assert len(run(path).text) > 200_000


def test_tab_separated_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("单位\t人数\n市文明办\t5\n", encoding="utf-8")
    assert "市文明办\t5" in run(path).text


def test_csv_that_is_binary_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x00\x01\x02\x03" * 100)
    assert refusal(path).key == "content does not match extension"


def test_jpeg_exif_date_gps_orientation_camera(tmp_path):
    path = ff.make_jpeg(tmp_path / "IMG_0001.jpg", exif_date=datetime(2026, 4, 18, 9, 30, 5),
                        gps=(39.9042, 116.4074), orientation=6, make="HUAWEI", model="P60 Pro")
    meta = run(path).meta
    assert meta["exif_date"] == "2026-04-18"
    assert meta["exif_datetime"] == "2026-04-18T09:30:05"
    assert meta["gps"] == pytest.approx({"lat": 39.9042, "lon": 116.4074}, abs=1e-5)
    assert meta["orientation"] == 6
    assert meta["camera"] == "HUAWEI P60 Pro"
    assert (meta["width"], meta["height"]) == (640, 480)


def test_jpeg_southern_western_gps(tmp_path):
    path = ff.make_jpeg(tmp_path / "a.jpg", gps=(-33.8688, -70.6693))
    assert run(path).meta["gps"] == pytest.approx({"lat": -33.8688, "lon": -70.6693}, abs=1e-5)


def test_jpeg_without_exif_has_size_only(tmp_path):
    meta = run(ff.make_jpeg(tmp_path / "a.jpg", size=(320, 200))).meta
    assert meta == {"width": 320, "height": 200}


def test_png_meta(tmp_path):
    result = run(ff.make_png(tmp_path / "a.png", size=(100, 50)))
    assert result.meta == {"width": 100, "height": 50}
    assert result.text == "" and result.ocr_pages == []


def test_cjk_font_helper_finds_a_font():
    assert ff.cjk_font().is_file()
    assert ff.latin_font().is_file()
