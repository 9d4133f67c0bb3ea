"""Every route × every role → the expected status (roles enforced on the server)."""
from __future__ import annotations

import io
import re

import pytest

from tests import filefactory
from tests.conftest import MINI_MAP

ROLES = ["anon", "clerk", "clerk_other", "reviewer", "auditor", "admin"]
ALL = {"clerk": 200, "clerk_other": 200, "reviewer": 200, "auditor": 200, "admin": 200}
ANON_PAGE = 302     # redirect to the login page
ANON_API = 401


def expect(ok: int, allowed, default: int = 403, anon: int = ANON_PAGE) -> dict:
    out = {"anon": anon}
    for role in ROLES[1:]:
        out[role] = ok if role in allowed else default
    return out


EDITORS_OF_PHOTO = ("clerk", "reviewer", "admin")   # the photo belongs to 草场街街道 = clerk's unit
EDIT_ROLES = ("clerk", "clerk_other", "reviewer", "admin")
EVERYONE = ("clerk", "clerk_other", "reviewer", "auditor", "admin")
REVIEWERS = ("reviewer", "admin")
EXPORT_VIEWERS = ("reviewer", "auditor", "admin")   # auditors may look and download, never build

# (method, url, form data or callable, expected statuses by role)
ROUTES = [
    ("GET", "/", None, expect(200, EVERYONE)),
    ("GET", "/tree", None, expect(200, EVERYONE)),
    ("GET", "/indicators/Ⅲ—2", None, expect(200, EVERYONE)),
    ("GET", "/indicators/Ⅰ—1", None, expect(200, EVERYONE)),
    ("GET", "/upload", None, expect(200, EDIT_ROLES)),
    ("GET", "/items/{photo}", None, expect(200, EVERYONE)),
    ("GET", "/items/{photo}/download", None, expect(200, EVERYONE)),
    ("GET", "/items/{photo}/thumb", None, expect(200, EVERYONE)),
    ("POST", "/items/{photo}/codes", {"code": "Ⅲ—2"}, expect(302, EDITORS_OF_PHOTO)),
    ("POST", "/items/{photo}/meta", {"title": "宣传栏（改）"}, expect(302, EDITORS_OF_PHOTO)),
    ("POST", "/items/{photo}/replace", {}, expect(302, EDITORS_OF_PHOTO)),
    ("POST", "/items/{photo}/delete", {}, expect(302, EDITORS_OF_PHOTO)),
    ("POST", "/items/{photo}/restore", {}, expect(302, EDITORS_OF_PHOTO)),
    ("POST", "/items/{ledger}/delete", {}, expect(302, ("clerk_other", "reviewer", "admin"))),
    ("GET", "/admin/users", None, expect(200, ("admin",))),
    ("POST", "/admin/users", {"name": "新用户", "role": "auditor", "password": "abcdefgh12",
                              "confirm_password": "abcdefgh12"}, expect(302, ("admin",))),
    ("POST", "/admin/users/{victim}/disable", {}, expect(302, ("admin",))),
    ("POST", "/admin/users/{victim}/enable", {}, expect(302, ("admin",))),
    ("POST", "/admin/users/{victim}/edit", {"role": "reviewer", "unit": ""}, expect(302, ("admin",))),
    ("POST", "/admin/users/{victim}/password", {"password": "another-pass-1"}, expect(302, ("admin",))),
    ("POST", "/admin/users/{victim}/token", {}, expect(200, ("admin",))),
    ("POST", "/admin/users/{victim}/token/revoke", {}, expect(302, ("admin",))),
    ("GET", "/admin/map", None, expect(200, ("admin",))),
    ("POST", "/admin/map", "map", expect(200, ("admin",))),
    ("GET", "/audit", None, expect(200, ("auditor", "admin"))),
    ("GET", "/password", None, expect(200, EVERYONE)),
    ("POST", "/password", {"old_password": "wrong", "new_password": "x", "confirm_password": "x"},
     expect(400, EVERYONE)),
    ("POST", "/logout", {}, expect(302, EVERYONE)),
    ("GET", "/api/indicators?q=学习", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/api/items", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/api/items/{photo}", None, expect(200, EVERYONE, anon=ANON_API)),
    ("POST", "/api/items", "upload", expect(201, EDIT_ROLES, anon=ANON_API)),
    # dashboard, search, review and export (archive/web/{dashboard,search_views,review_views,export_views}.py)
    ("GET", "/dashboard", None, expect(200, EVERYONE)),
    ("GET", "/api/coverage", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/search?q=宣传", None, expect(200, EVERYONE)),
    ("GET", "/api/search?q=宣传", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/review", None, expect(200, REVIEWERS)),
    ("POST", "/review/{photo}", {"decision": "approved"}, expect(302, REVIEWERS)),
    ("GET", "/review/returned", None, expect(200, EVERYONE)),
    ("GET", "/photos/reuse", None, expect(200, REVIEWERS)),
    ("POST", "/settings/evaluation-date", {"evaluation_date": "2026-07-15"}, expect(302, REVIEWERS)),
    ("GET", "/export", None, expect(200, EXPORT_VIEWERS)),
    # no evaluation date: allowed roles are sent back to the form with an error, no build starts
    ("POST", "/export", {"date": ""}, expect(302, REVIEWERS)),
    # no such job: allowed roles pass the role check and get 404, the others 403
    ("GET", "/export/999", None, expect(404, EXPORT_VIEWERS)),
    ("GET", "/export/999/status", None, expect(404, EXPORT_VIEWERS)),
    ("GET", "/export/999/download", None, expect(404, EXPORT_VIEWERS)),
    # several maps and cycles (archive/web/maps_views.py)
    ("POST", "/maps/pick", {"map_id": "mini-test"}, expect(302, EVERYONE)),
    ("GET", "/maps", None, expect(200, EVERYONE)),
    ("POST", "/maps/mini-test/state", {"action": "activate"}, expect(303, ("admin",))),
    ("GET", "/cycles", None, expect(200, EVERYONE)),
]


def _upload_data(tmp_path, role):
    png = filefactory.make_png(tmp_path / f"{role}.png", color=(ROLES.index(role) * 40, 10, 10))
    return {"file": (io.BytesIO(png.read_bytes()), f"{role} 照片.png"), "code": "Ⅲ—5", "type": "实景图片"}


@pytest.mark.parametrize("method,url,data,expected", ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES])
def test_route_roles(login, items, users, instance, tmp_path, method, url, data, expected):
    from archive.users import create_user

    victim = create_user(instance.db, "victim", "auditor", None, "strong-pass-1")
    real_url = url.format(photo=items["photo"], ledger=items["ledger"], victim=victim.id)
    got = {}
    for role in ROLES:
        c = login(None if role == "anon" else role)
        if method == "GET":
            r = c.get(real_url)
        else:
            if data == "upload":
                payload = _upload_data(tmp_path, role)
            elif data == "map":
                payload = {"map": (io.BytesIO(MINI_MAP.read_bytes()), "mini_map.yaml"), "action": "check"}
            else:
                payload = dict(data)
            r = c.post(real_url, data=payload)
        got[role] = r.status_code
        r.close()
    assert got == expected


def test_every_route_is_in_the_table_and_guarded(app):
    """A new route without `roles_required` (or `public`) fails here, and so does one missing
    from ROUTES above."""
    from tests.inspection.test_web import ROUTES as INSPECTION_ROUTES
    from tests.web.test_report_pages import ROUTES as REPORT_ROUTES  # dashboard/search/review/export

    from tests.units.test_web import ROUTES as UNITS_ROUTES    # units, duties, 催办, ranking

    covered = {(m, u.split("?")[0]) for m, u, _, _ in ROUTES + REPORT_ROUTES + INSPECTION_ROUTES + UNITS_ROUTES}
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "roles", None) or getattr(view, "public", False), rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            rules.append((method, rule))
    public = {"auth.login"}
    missing = []
    for method, rule in rules:
        if rule.endpoint in public:
            continue
        # '/items/<int:item_id>/codes' matches '/items/{photo}/codes'
        pattern = re.sub(r"<[^>]+>", "*", rule.rule)     # any converter: <int:problem_id>, <code> …
        import fnmatch
        if not any(m == method and fnmatch.fnmatch(re.sub(r"\{\w+\}", "1", u).replace("999", "1"), pattern)
                for m, u in covered):
            missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes missing from the role table: {missing}"


def test_login_page_is_public(client):
    assert client.get("/login").status_code == 200


def test_auditor_sees_no_edit_forms(login, items):
    page = login("auditor").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "/delete" not in page and "替换文件" not in page
    page = login("clerk").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "/delete" in page


def test_clerk_other_unit_sees_no_edit_forms(login, items):
    page = login("clerk_other").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "替换文件" not in page


def test_nav_by_role(login, users):
    assert "用户管理" in login("admin").get("/").get_data(as_text=True)
    clerk_page = login("clerk").get("/").get_data(as_text=True)
    assert "用户管理" not in clerk_page and "审计日志" not in clerk_page and "上传材料" in clerk_page
    auditor_page = login("auditor").get("/").get_data(as_text=True)
    assert "审计日志" in auditor_page and "上传材料" not in auditor_page


def test_disabled_user_session_ends(login, users, instance):
    from archive.users import disable

    c = login("clerk")
    assert c.get("/").status_code == 200
    disable(instance.db, users["clerk"].id, by="test")
    assert c.get("/").status_code == 302
