"""Photo checks on the web: warnings in the upload JSON, on the item page and in the review
queue; the reviewers' reuse page; the evaluation-date form (roles, CSRF, bad input)."""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from archive.readiness.photochecks import evaluation_date_for_checks, set_evaluation_date
from tests import filefactory as ff
from tests.photo_scenes import copies, scene


@pytest.fixture
def shots(tmp_path):
    im = scene(11, family=1)
    return {
        "orig": ff.make_scene_jpeg(tmp_path / "原图.jpg", image=im, exif_date=datetime(2026, 3, 1, 9)),
        "copy": ff.make_scene_jpeg(tmp_path / "翻拍.jpg", image=copies(im)["resized+recompressed+cropped"],
                                   exif_date=datetime(2026, 3, 1, 9)),
        "old": ff.make_scene_jpeg(tmp_path / "去年.jpg", seed=12, family=2, exif_date=datetime(2025, 4, 2, 9)),
    }


def _upload(c, path, code, **form):
    with open(path, "rb") as f:
        return c.post("/api/items", data={"file": (f, path.name), "code": code, "type": "实景图片", **form},
                      content_type="multipart/form-data")


def test_upload_json_item_page_and_queue_show_the_warnings(login, users, instance, shots):
    set_evaluation_date(instance.db, "2026-07-15", by="reviewer")
    other = login("clerk_other")
    r = _upload(other, shots["orig"], "Ⅲ—3")
    assert r.status_code == 201 and "warnings" not in r.get_json()["added"][0]
    orig_id = r.get_json()["added"][0]["id"]
    clerk = login("clerk")
    r = _upload(clerk, shots["copy"], "Ⅲ—5")
    row = r.get_json()["added"][0]
    assert r.status_code == 201 and [w["key"] for w in row["warnings"]] == ["reused"]
    assert "市教育局" in row["warnings"][0]["message"] and row["warnings"][0]["item_id"] == orig_id
    r = _upload(clerk, shots["old"], "Ⅲ—5")
    old = r.get_json()["added"][0]
    assert [w["key"] for w in old["warnings"]] == ["out of window"]
    assert "2025-04-02 不在材料时间窗口 2025-07-01 至 2026-06-30 内" in old["warnings"][0]["message"]

    page = clerk.get(f"/items/{row['id']}").get_data(as_text=True)
    assert 'id="photo-checks"' in page and f"查看 #{orig_id}" in page
    page = clerk.get(f"/items/{old['id']}").get_data(as_text=True)
    assert "不在材料时间窗口" in page
    queue = login("reviewer").get("/review").get_data(as_text=True)
    for item_id, text in ((row["id"], "几乎相同"), (old["id"], "不在材料时间窗口")):
        card = queue[queue.index(f'id="item-{item_id}"'):]
        card = card[:card.index("</article>")]
        assert "photo-warnings" in card and text in card, item_id
    assert 'id="eval-date-form"' in queue and 'value="2026-07-15"' in queue


def test_reuse_page_for_reviewers_and_admins_only(login, users, instance, shots):
    c = login("clerk")
    a = _upload(c, shots["orig"], "Ⅲ—5").get_json()["added"][0]["id"]
    b = _upload(login("clerk_other"), shots["copy"], "Ⅲ—3").get_json()["added"][0]["id"]
    for name in ("reviewer", "admin"):
        r = login(name).get("/photos/reuse")
        page = r.get_data(as_text=True)
        assert r.status_code == 200 and re.search(r'id="n-pairs">1<', page)
        assert f'id="pair-{a}-{b}"' in page and "跨单位" in page and "跨测评内容" in page
    for name in ("clerk", "auditor"):
        assert login(name).get("/photos/reuse").status_code == 403
    assert login(None).get("/photos/reuse").status_code in (302, 401)
    assert login("reviewer").get("/photos/reuse?page=99999999999").status_code == 200


def test_evaluation_date_form(csrf_login, login, users, instance):
    c = csrf_login("reviewer")
    assert c.post("/settings/evaluation-date", data={"evaluation_date": "2026-07-15"}).status_code == 400   # no token
    assert evaluation_date_for_checks(instance.db) is None
    r = login("reviewer").post("/settings/evaluation-date", data={"evaluation_date": "2026-07-15", "next": "reuse"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/photos/reuse")
    assert evaluation_date_for_checks(instance.db).isoformat() == "2026-07-15"
    r = login("admin").post("/settings/evaluation-date", data={"evaluation_date": "2026年13月1日",
                                                                "next": "https://evil.example/"},
                            follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "测评日期「2026年13月1日」无效" in page and "材料审核" in page
    assert evaluation_date_for_checks(instance.db).isoformat() == "2026-07-15"   # nothing half-written
    for name in ("clerk", "auditor"):
        assert login(name).post("/settings/evaluation-date", data={"evaluation_date": ""}).status_code == 403
    login("reviewer").post("/settings/evaluation-date", data={"evaluation_date": ""})
    assert evaluation_date_for_checks(instance.db) is None
