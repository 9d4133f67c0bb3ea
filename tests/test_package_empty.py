"""Issue 10 item 6: an evaluation date whose window holds no material builds the (empty)
package — every leaf's folder, the 目录 with headers only — instead of crashing in the 目录
writer; CLI and web job alike."""
from __future__ import annotations

import json
import threading
import zipfile

import pytest
from openpyxl import load_workbook

from cli import cli
from tests import filefactory as ff
from tests.package_helpers import add


@pytest.fixture
def one_item(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "学习制度.pdf", ["理论学习中心组学习制度"])
    return add(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", title="学习制度")


@pytest.mark.parametrize("evaluation_date", ["2028-07-15", "1900-01-01"])
def test_export_with_nothing_in_the_window_builds_the_empty_package(instance, one_item, runner, tmp_path,
                                                                     evaluation_date):
    out = tmp_path / "out"
    r = runner.invoke(cli, ["--instance", str(instance.root), "export", str(out), "--evaluation-date",
                            evaluation_date, "--json"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    zips = list(out.glob("*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as zf:
        names = zf.namelist()
        root = names[0].split("/")[0]
        manifest = json.loads(zf.read(f"{root}/manifest.json"))
        assert manifest["files"] == []
        assert any(n.endswith("Ⅲ—1 健全学习制度/") for n in names)     # the leaf's folder is still there
        zf.extract(f"{root}/00_目录.xlsx", tmp_path / "x")
    ws = load_workbook(tmp_path / "x" / root / "00_目录.xlsx").active
    assert [c.value for c in ws[3]][:2] == ["序号", "指标编码"] and ws.max_row == 3   # headers, no rows
    r = runner.invoke(cli, ["--instance", str(instance.root), "verify", str(zips[0])])
    assert r.exit_code == 0, r.output


def test_web_job_with_nothing_in_the_window_is_done_and_shows_no_stale_progress(instance, one_item):
    from archive.jobs import export as jobs

    job_id = jobs.start_job(instance, "2028-07-15", {}, "reviewer")
    for t in threading.enumerate():
        if t.name == f"export-{job_id}":
            t.join(60)
    job = jobs.get_job(instance, job_id)
    assert job["state"] == "done", job
    assert job["report"]["included"] == 0
