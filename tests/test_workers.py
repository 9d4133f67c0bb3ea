"""Extraction in worker processes (the web app's path): same results and refusals as in-process,
a timeout refuses the file and the next one gets a fresh worker."""
from __future__ import annotations

import pytest

from archive.core.config import Limits
from archive.core.errors import Refusal
from archive.extract import workers
from tests import filefactory as ff


@pytest.fixture
def pool():
    workers.enable(1)
    yield
    workers.enable(0)
    if workers._pool is not None:
        workers._reset(workers._pool)


def test_worker_extracts_and_refuses_like_in_process(pool, tmp_path):
    pdf = ff.make_pdf(tmp_path / "通知.pdf", ["关于开展志愿服务的通知"])
    result = workers.extract_file(pdf, "pdf", Limits())
    assert "志愿服务" in result.text and result.text_version == 2
    bad = tmp_path / "坏.pdf"
    bad.write_bytes(pdf.read_bytes()[:200])
    with pytest.raises(Refusal) as info:
        workers.extract_file(bad, "pdf", Limits())
    assert (info.value.key, info.value.message_zh) == ("corrupt PDF", "文件已损坏")


def test_timeout_refuses_and_the_next_file_gets_a_fresh_worker(pool, tmp_path):
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文"])
    with pytest.raises(Refusal) as info:
        workers.extract_file(pdf, "pdf", Limits(), timeout=0.001)
    assert info.value.key == "extraction timeout" and "超时" in info.value.message_zh
    assert "正文" in workers.extract_file(pdf, "pdf", Limits()).text
