"""The parser registry: every kind declared once, and a new kind is one new module."""
from __future__ import annotations

import sys
import textwrap

import pytest

from archive.core.config import Limits
from archive.core.errors import Refusal
from archive.core.text import decode
from archive.extract import extract, registry, sniff, sniff_kind
from archive.web.previews import preview_kind
from tests import filefactory as ff


def test_every_parser_declares_what_the_others_read():
    seen_ext = set()
    for p in registry.parsers():
        assert p.kind and p.label and p.mime and p.family
        assert p.package_ext.startswith(".") and p.extensions
        for ext in p.extensions:
            assert ext == ext.lower() and ext.startswith(".") and ext not in seen_ext
            seen_ext.add(ext)
    assert sniff.KINDS == registry.kinds() == ("pdf", "ofd", "docx", "doc", "wps", "xlsx", "xls", "et", "csv",
                                               "jpeg", "png", "mp4", "mov")
    assert set(sniff.EXTENSIONS) == seen_ext


def test_previews_ocr_and_upload_read_the_registry():
    assert [k for k in registry.kinds() if registry.is_image(k)] == ["jpeg", "png"]
    assert preview_kind("pdf") == "pdf" and preview_kind("csv") == "ledger"
    # Kinds that are never accepted have no preview (the old table listed gif/webp/heic).
    assert preview_kind("gif") is None and preview_kind("heic") is None
    accept = registry.upload_accept().split(",")
    assert set(sniff.EXTENSIONS) <= set(accept) and "image/*" in accept
    assert registry.package_extensions()["jpeg"] == ".jpg"


NEW_KIND = '''
from archive.extract.registry import Extraction, Parser
from archive.core.errors import Refusal


class MdParser(Parser):
    kind = "md"
    label = "Markdown 文本"
    extensions = (".md",)
    mime = "text/markdown"
    package_ext = ".md"
    family = "mdtext"
    magic = (b"# ",)
    preview = "ledger"
    rank = 99

    def extract(self, path, limits):
        text = path.read_text("utf-8")
        if "坏" in text:
            raise Refusal("corrupt Markdown", "文件已损坏")
        return Extraction(text=text[2:])


PARSERS = [MdParser()]
'''


@pytest.fixture
def extra_kind(tmp_path, monkeypatch):
    """A parser module dropped into a folder the kinds package reads: nothing else edited."""
    from archive.extract import kinds

    folder = tmp_path / "morekinds"
    folder.mkdir()
    (folder / "zz_markdown.py").write_text(textwrap.dedent(NEW_KIND), "utf-8")
    monkeypatch.setattr(kinds, "__path__", [*kinds.__path__, str(folder)])
    monkeypatch.setattr(registry, "_parsers", None)
    yield
    sys.modules.pop("archive.extract.kinds.zz_markdown", None)
    registry._parsers = None


def test_a_new_kind_is_one_module(extra_kind, tmp_path):
    good = tmp_path / "说明.md"
    good.write_text("# 创建文明城市", "utf-8")
    assert sniff_kind(good, "说明.md") == "md"
    assert extract(good, "md", Limits()).text == "创建文明城市"
    assert registry.package_extensions()["md"] == ".md"
    assert ".md" in registry.upload_accept().split(",")
    assert preview_kind("md") == "ledger"
    # Its own refusals, and the mismatch message names it.
    bad = tmp_path / "坏.md"
    bad.write_text("# 坏", "utf-8")
    with pytest.raises(Refusal, match="corrupt Markdown"):
        extract(bad, "md", Limits())
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文"])
    with pytest.raises(Refusal) as info:
        sniff_kind(pdf, "a.md")
    assert "实际为 PDF 文档" in info.value.message_zh
    renamed = tmp_path / "x.pdf"
    renamed.write_text("# 标题", "utf-8")
    with pytest.raises(Refusal) as info:
        sniff_kind(renamed, "x.pdf")
    assert "实际为 Markdown 文本" in info.value.message_zh


def test_pixel_limit_is_checked_before_any_pixel_is_decoded(tmp_path, monkeypatch):
    """Pillow's lazy open gives the size from the header; load() must never run for a bomb."""
    from PIL import ImageFile

    def no_decode(self):
        raise AssertionError("pixels decoded before the pixel limit was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    for bomb in (ff.make_png_bomb(tmp_path / "b.png"), ff.make_jpeg_bomb(tmp_path / "b.jpg")):
        with pytest.raises(Refusal) as info:
            extract(bomb, sniff_kind(bomb), Limits())
        assert info.value.key == "image too large"


@pytest.mark.parametrize("data,text,encoding", [
    ("学校,人数".encode("utf-8"), "学校,人数", "utf-8"),
    (b"\xef\xbb\xbf" + "学校".encode("utf-8"), "学校", "utf-8-sig"),
    ("学校,人数".encode("gbk"), "学校,人数", "gb18030"),
    ("𠮷".encode("gb18030"), "𠮷", "gb18030"),
])
def test_decode_utf8_then_gb18030(data, text, encoding):
    assert decode(data) == (text, encoding)


def test_decode_partial_sample_and_failure():
    cut = "文明城市".encode("utf-8")[:-1]          # a character cut at the sample's end
    assert decode(cut, partial=True)[1] == "utf-8"
    assert decode(b"\xff\xfe\x00\x81") is None
