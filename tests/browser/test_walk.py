"""Every main page as every role, in Chromium: the page a role may see renders (no error page,
no script error), the ones it may not are a Chinese 403. Screenshots: artifacts/screenshots/walk_*."""
from __future__ import annotations

import pytest

from archive.evidence.ingest import IngestRequest
from tests import filefactory
from tests.browser.conftest import ACCOUNTS, ingest

pytestmark = pytest.mark.browser

PAGES = {  # name: (path, roles that may see it)
    "dashboard": ("/", set(ACCOUNTS)),
    "upload": ("/upload", {"clerk", "clerk_other", "reviewer", "admin"}),
    "item": ("/items/{item}", set(ACCOUNTS)),
    "review": ("/review", {"reviewer", "admin"}),
    "returned": ("/review/returned", set(ACCOUNTS)),
    "export": ("/export", {"reviewer", "auditor", "admin"}),
    "audit": ("/audit", {"auditor", "admin"}),
}


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_walk_main_pages_as_each_role(page, tmp_path, tag, role):
    pdf = filefactory.make_pdf(tmp_path / "说明.pdf", [f"情况说明 {tag}"])
    (item,) = ingest(page.instance, [IngestRequest(pdf, ["Ⅲ—1"], "情况说明", date="2026-03-01",
                                                   unit="草场街街道", title=f"巡查说明 {tag}")])
    page.login(role)
    for name, (path, allowed) in PAGES.items():
        page.go(path.format(item=item))
        text = page.css("main").text
        assert "服务器内部错误" not in text and "Traceback" not in page.d.page_source, (role, name)
        if role in allowed:
            assert "没有权限" not in text, (role, name)
        else:
            assert "没有权限" in text, (role, name)
            continue
        page.shot(f"walk_{role}_{name}", full=name in ("dashboard", "item"))
