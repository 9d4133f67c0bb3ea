"""PDF text a phrase search can trust: every 6-character Han phrase of the source is found in
the extracted text (whitespace removed), on PDFs whose drawing order is not their reading order.

The same files through the old pypdf path lose phrases (quotes moved to the line's end, columns
and table cells interleaved): that variant must fail, or this test could not tell them apart."""
from __future__ import annotations

import re
import shutil

import pytest

from archive.core.config import Limits
from archive.extract.kinds.pdf import extract_pdf
from tests import filefactory as ff

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils 未安装")

SOURCE = [
    "深入学习“讲文明树新风”活动精神，大力弘扬社会主义核心价值观，推进“创城”工作常态化长效化。",
    "各街道办事处要实现“创城”之梦，坚持问题导向，对背街小巷、农贸市场、城乡结合部开展常态化督查。",
    "志愿服务站点应当公示服务项目和联系电话，新时代文明实践站每月至少组织两次主题活动并归档。",
    "公交站台候车亭广告位优先刊播“社会主义核心价值观”主题公益广告，做到内容规范画面整洁。",
]


def phrases(text: str) -> set[str]:
    return {run[i:i + 6] for run in re.findall(r"[\u4e00-\u9fff]+", text) for i in range(len(run) - 5)}


def recall(paths, engine: str) -> float:
    want = found = 0
    for path in paths:
        text = re.sub(r"\s+", "", extract_pdf(path, Limits(), engine=engine).text)
        source = phrases("".join(SOURCE))
        want += len(source)
        found += sum(1 for p in source if p in text)
    return found / want


@pytest.fixture(scope="module")
def layout_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layouts")
    return [ff.make_layout_pdf(folder / f"{layout}.pdf", SOURCE, layout, chars_per_line=cpl)
            for layout, cpl in (("quotes", 28), ("quotes", 17), ("columns", 28), ("table", 30))]


@pytest.mark.parametrize("engine", [
    "pdftotext",
    pytest.param("pypdf", marks=pytest.mark.xfail(strict=True, reason="pypdf reads drawing order")),
])
def test_phrase_recall_is_complete(layout_pdfs, engine):
    assert recall(layout_pdfs, engine) == 1.0


def test_default_engine_is_pdftotext_and_marks_its_version(layout_pdfs):
    result = extract_pdf(layout_pdfs[0], Limits())
    assert result.text_version == 2
    assert "社会主义核心价值观" in re.sub(r"\s+", "", result.text)
    assert extract_pdf(layout_pdfs[0], Limits(), engine="pypdf").text_version == 1


def test_pages_and_scanned_pages_line_up(tmp_path):
    path = ff.make_pdf(tmp_path / "a.pdf", ["第一页正文", "扫描页", "第三页正文"], image_only_pages=[2])
    result = extract_pdf(path, Limits())
    assert result.meta["pages"] == 3 and result.ocr_pages == [2]
    assert result.text.split("\f") == ["第一页正文", "", "第三页正文"]
