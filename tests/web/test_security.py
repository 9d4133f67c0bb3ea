"""CSRF, path traversal, upload limits, security headers, Chinese error pages, tokens."""
from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest

from archive.core.config import Limits
from tests import filefactory
from tests.web.conftest import PASSWORD, _make_app, sign_in


def _csrf_token(client, url="/"):
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


# -- CSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url,data", [
    ("/items/{photo}/delete", {}),
    ("/items/{photo}/codes", {"code": "Ⅲ—2"}),
    ("/admin/users", {"name": "x1", "role": "auditor", "password": "abcdefgh1", "confirm_password": "abcdefgh1"}),
    ("/logout", {}),
    ("/password", {"old_password": PASSWORD, "new_password": "newpass123", "confirm_password": "newpass123"}),
])
def test_post_without_csrf_token_is_refused(csrf_login, items, instance, url, data):
    c = csrf_login("admin")
    r = c.post(url.format(photo=items["photo"]), data=data)
    assert r.status_code == 400
    assert "安全令牌" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT deleted_at FROM items WHERE id = ?", [items["photo"]]).fetchone()[0] is None
    assert instance.db.execute("SELECT count(*) FROM users WHERE name = 'x1'").fetchone()[0] == 0


def test_post_with_csrf_token_passes(csrf_login, items, instance):
    c = csrf_login("admin")
    token = _csrf_token(c)
    r = c.post(f"/items/{items['photo']}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    assert instance.db.execute("SELECT deleted_at FROM items WHERE id = ?", [items["photo"]]).fetchone()[0]


def test_wrong_csrf_token_is_refused(csrf_login, items):
    c = csrf_login("admin")
    _csrf_token(c)
    r = c.post(f"/items/{items['photo']}/delete", data={"csrf_token": "forged"})
    assert r.status_code == 400


def test_login_form_needs_csrf(csrf_app, users):
    c = csrf_app.test_client()
    r = c.post("/login", data={"name": "admin", "password": PASSWORD})
    assert r.status_code == 400
    token = _csrf_token(c, "/login")
    r = c.post("/login", data={"name": "admin", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302


def test_api_upload_needs_csrf_header_with_session(csrf_login, tmp_path):
    c = csrf_login("clerk")
    png = filefactory.make_png(tmp_path / "a.png")
    data = lambda: {"file": (io.BytesIO(png.read_bytes()), "a.png"), "code": "Ⅲ—5", "type": "实景图片"}
    r = c.post("/api/items", data=data())
    assert r.status_code == 400
    assert "安全令牌" in r.get_json()["error"]
    r = c.post("/api/items", data=data(), headers={"X-CSRFToken": _csrf_token(c)})
    assert r.status_code == 201


def test_api_token_skips_csrf_and_authenticates(csrf_app, users, instance, tmp_path):
    from archive.users import disable, issue_token

    token = issue_token(instance.db, users["reviewer"].id, by="test")
    c = csrf_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/items", headers=auth).status_code == 200
    png = filefactory.make_png(tmp_path / "b.png", color=(1, 2, 3))
    r = c.post("/api/items", headers=auth, data={"file": (io.BytesIO(png.read_bytes()), "b.png"),
                                                 "code": "Ⅲ—5", "type": "实景图片", "unit": "草场街街道"})
    assert r.status_code == 201, r.get_json()
    row = instance.db.execute("SELECT user, action FROM audit WHERE action = 'item.add' ORDER BY id DESC").fetchone()
    assert row == ("reviewer", "item.add")
    assert c.get("/api/items", headers={"Authorization": "Bearer nope"}).status_code == 401
    disable(instance.db, users["reviewer"].id, by="test")
    assert c.get("/api/items", headers=auth).status_code == 401
    # a token request never gets a session cookie
    assert "session=" not in (r.headers.get("Set-Cookie") or "")


def test_token_of_auditor_cannot_write(app, users, instance, tmp_path):
    from archive.users import issue_token

    token = issue_token(instance.db, users["auditor"].id, by="test")
    c = app.test_client()
    png = filefactory.make_png(tmp_path / "c.png", color=(9, 9, 9))
    r = c.post("/api/items", headers={"Authorization": f"Bearer {token}"},
               data={"file": (io.BytesIO(png.read_bytes()), "c.png"), "code": "Ⅲ—5", "type": "实景图片"})
    assert r.status_code == 403


# -- path traversal -------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/items/..%2F..%2Farchive.db/download",
    "/items/../../archive.db/download",
    "/items/{photo}/download/../../../../etc/passwd",
    "/items/{photo}/download?version=0",
    "/items/{photo}/download?version=99",
    "/items/{photo}/download?version=-1",
    "/items/{photo}/thumb?version=5",
    "/items/%2e%2e%2fsecret_key/thumb",
    "/items/-1/download",
    "/items/99999/download",
    "/static/../archive.db",
    "/static/..%2F..%2Finstance%2Fsecret_key",
    "/static/%2e%2e/%2e%2e/archive/users.py",
    "/indicators/..%2F..%2Fetc%2Fpasswd",
])
def test_path_traversal_is_404(login, items, url):
    r = login("auditor").get(url.format(photo=items["photo"]))
    assert r.status_code == 404, url
    r.close()


@pytest.mark.parametrize("query", ["?version=../../secret_key", "?name=../../archive.db",
                                   "?sha256=" + "0" * 64, "?path=/etc/passwd"])
def test_download_ignores_user_paths(login, items, instance, query):
    """Query strings cannot pick a file: the item's own stored file comes back."""
    row = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [items["photo"]]).fetchone()
    r = login("auditor").get(f"/items/{items['photo']}/download{query}")
    assert r.status_code == 200
    assert r.data == instance.store.path(row[0]).read_bytes()
    r.close()


def test_download_keeps_chinese_name(login, items):
    r = login("auditor").get(f"/items/{items['photo']}/download")
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment")
    assert "filename*=UTF-8''" + quote("宣传栏照片.jpg") in cd
    r.close()


# -- limits and error pages ---------------------------------------------------------------------

def test_upload_over_max_content_length_is_413_chinese(instance, users, items):
    app = _make_app(instance, LIMITS=Limits(max_request_bytes=4096))
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    c = app.test_client()
    sign_in(c, instance.db, users["clerk"])
    big = io.BytesIO(b"x" * 10_000)
    r = c.post(f"/items/{items['photo']}/replace", data={"file": (big, "大文件.pdf")})
    assert r.status_code == 413
    body = r.get_data(as_text=True)
    assert "文件太大" in body and "4 KB" in body
    r = c.post("/api/items", data={"file": (io.BytesIO(b"x" * 10_000), "大文件.pdf"), "code": "Ⅲ—1",
                                   "type": "规范文件"})
    assert r.status_code == 413
    assert "文件太大" in r.get_json()["error"]


def test_default_max_content_length_from_limits(app):
    assert app.config["MAX_CONTENT_LENGTH"] == Limits().max_request_bytes


def test_chinese_404_and_403_pages(login, users):
    r = login("clerk").get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)
    r = login("clerk").get("/admin/users")
    assert r.status_code == 403 and "没有权限" in r.get_data(as_text=True)
    r = login("clerk").get("/api/items/99999")
    assert r.status_code == 404 and r.get_json()["status"] == 404


def test_500_page_is_chinese(instance, users, monkeypatch):
    app = _make_app(instance, TESTING=False)
    import archive.web.evidence as ev

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(ev, "subtree_counts", boom)
    c = app.test_client()
    sign_in(c, instance.db, users["clerk"])
    r = c.get("/tree")
    assert r.status_code == 500 and "服务器内部错误" in r.get_data(as_text=True)


def test_security_headers(login, users):
    r = login("clerk").get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script(app):
    from pathlib import Path

    from archive.web import TEMPLATES_DIR

    for path in Path(TEMPLATES_DIR).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_json_is_not_ascii_escaped(login, users):
    r = login("clerk").get("/api/indicators?q=学习")
    assert "学习".encode() in r.data
    assert r.get_json()["leaves"][0]["code"] == "Ⅲ—1"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "\\\\evil.example", "javascript:alert(1)"])
def test_open_redirect_after_login_is_blocked(app, users, target):
    from urllib.parse import quote as q

    r = app.test_client().post("/login?next=" + q(target, safe=""), data={"name": "clerk", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_redirect_after_login_keeps_local_target(client, users):
    r = client.post("/login?next=/indicators/Ⅲ—1", data={"name": "clerk", "password": PASSWORD})
    from urllib.parse import unquote
    assert unquote(r.headers["Location"]) == "/indicators/Ⅲ—1"


def test_secret_key_persisted_0600(app, instance):
    import os
    import stat

    from archive.web import create_app

    path = instance.root / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = create_app({"INSTANCE": str(instance.root)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
