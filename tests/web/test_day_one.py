"""Issue 10 (day-one defects), the web side: each test failed before its fix."""
from __future__ import annotations

import re

from tests.web.test_report_pages import _wait_job


# -- 6: export with nothing in the window; no stale progress beside 失败 --------------------

def test_failed_job_page_shows_no_stale_progress(login, items):
    c = login("admin")
    r = c.post("/export", data={"date": "2026-07-15", "strict": "1"})
    s = _wait_job(c, int(r.location.rsplit("/", 1)[-1]))
    assert s["state"] == "failed" and not s["message"]
    page = c.get(f"/export/{s['id']}").get_data(as_text=True)
    assert re.search(r'id="job-message"\s+hidden', page)


def test_web_export_with_nothing_in_the_window_is_done(login, items):
    c = login("reviewer")
    r = c.post("/export", data={"date": "2028-07-15"})
    s = _wait_job(c, int(r.location.rsplit("/", 1)[-1]))
    assert s["state"] == "done", s
    page = c.get(f"/export/{s['id']}").get_data(as_text=True)
    assert "包内没有材料文件" in page
