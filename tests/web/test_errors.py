"""The one ArchiveError handler (archive/web/errors.py): pages, JSON for /api and scripts,
and forms whose error goes back to their page."""
from __future__ import annotations

import pytest

from tests.web.conftest import _make_app, sign_in


@pytest.fixture
def no_map_login(tmp_path, instance):
    """A logged-in client (a reviewer) of an instance without a loaded map."""
    from archive.core.instance import Instance
    from archive.users import create_user

    bare = Instance(tmp_path / "bare")
    bare.create()
    user = create_user(bare.db, "reviewer", "reviewer", None, "correct-horse-9", by="test")
    app = _make_app(bare)

    def _login():
        c = app.test_client()
        sign_in(c, bare.db, user)
        return c

    yield _login
    bare.close()


def test_archive_error_is_a_chinese_page_not_a_500(no_map_login):
    r = no_map_login().get("/upload")
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "尚未载入指标体系" in body and "请求有误" in body and "Traceback" not in body


def test_archive_error_is_json_for_api_and_xhr(no_map_login):
    c = no_map_login()
    r = c.get("/api/coverage")
    assert r.status_code == 400
    assert r.get_json() == {"error": "尚未载入指标体系，请运行 evidence map load PATH (no indicator map)",
                            "status": 400}
    r = c.get("/upload", headers={"X-Requested-With": "XMLHttpRequest"})
    assert r.status_code == 400 and r.get_json()["status"] == 400
    assert "尚未载入指标体系" in r.get_json()["error"]


def test_not_found_is_404_page_and_json(login, items):
    r = login("auditor").get("/items/424242")
    assert r.status_code == 404
    assert "页面不存在" in r.get_data(as_text=True) and "找不到材料 #424242" in r.get_data(as_text=True)
    r = login("auditor").get("/api/items/424242")
    assert r.status_code == 404 and r.get_json()["status"] == 404
    assert "找不到材料 #424242" in r.get_json()["error"]
    r = login("reviewer").get("/export/424242/status", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.get_json()["status"] == 404


def test_form_error_goes_back_to_its_page(login, items, instance):
    c = login("reviewer")
    item_id = items["photo"]
    r = c.post(f"/items/{item_id}/codes", data={"code": "Ⅸ—99"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/items/{item_id}")
    page = c.get(f"/items/{item_id}").get_data(as_text=True)
    assert "未知的指标代码" in page
    # A missing item stays a 404, not a flash on a page that does not exist.
    assert c.post("/items/424242/codes", data={"code": "Ⅲ—1"}).status_code == 404


def test_review_error_goes_back_to_the_queue_with_its_filters(login, items, instance):
    from archive.evidence import items as items_mod

    items_mod.soft_delete(instance, items["photo"], user="test")
    c = login("reviewer")
    r = c.post(f"/review/{items['photo']}", data={"decision": "approved", "state": "pending",
                                                   "unit": "草场街街道"})
    assert r.status_code == 302 and "/review?" in r.headers["Location"] and "unit=" in r.headers["Location"]
    assert "已删除，不能审核" in c.get(r.headers["Location"]).get_data(as_text=True)
