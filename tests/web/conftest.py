"""Web fixtures: `app` (CSRF off), `csrf_app` (CSRF on), `client`, `users` (one account per
role plus a clerk of another unit), `login(role)` → a logged-in test client, and `items`
(real files ingested through archive.ingest: a photo of unit 草场街街道, a ledger of 市教育局).

Passwords in tests are hashed with a cheap pbkdf2 so the role tables stay fast; the real
hashing is exercised in test_users.py.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from werkzeug.security import generate_password_hash

from tests import filefactory

PASSWORD = "correct-horse-9"
UNITS = {"clerk": "草场街街道", "clerk_other": "市教育局"}
ROLE_OF = {"clerk": "clerk", "clerk_other": "clerk", "reviewer": "reviewer", "auditor": "auditor",
           "admin": "admin"}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    import archive.users as users_mod

    monkeypatch.setattr(users_mod, "generate_password_hash",
                        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"))


def _make_app(instance, **extra):
    from archive.web import create_app

    config = {"TESTING": True, "INSTANCE": str(instance.root), "WTF_CSRF_ENABLED": False}
    config.update(extra)
    return create_app(config)


@pytest.fixture
def app(instance):
    return _make_app(instance)


@pytest.fixture
def csrf_app(instance):
    return _make_app(instance, WTF_CSRF_ENABLED=True)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def users(instance):
    """name → archive.users.User for: clerk, clerk_other, reviewer, auditor, admin."""
    from archive.users import create_user

    out = {}
    for name, role in ROLE_OF.items():
        out[name] = create_user(instance.db, name, role, UNITS.get(name), PASSWORD, by="test")
    return out


def sign_in(client, db, user) -> None:
    """Puts a logged-in session for `user` into the test client's cookie, as the login page
    would (a server-side session row and its token), without an HTTP login or audit row."""
    from archive.users import open_session

    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
        sess["sid"] = open_session(db, user.id)


@pytest.fixture
def login(app, users, instance):
    """login("reviewer") → a new test client whose session is that user (no HTTP login, no
    audit row); login(None) → an anonymous client."""

    def _login(name: str | None):
        c = app.test_client()
        if name is not None:
            sign_in(c, instance.db, users[name])
        return c

    return _login


def form_login(client, name: str, password: str = PASSWORD):
    return client.post("/login", data={"name": name, "password": password})


@pytest.fixture
def items(instance, tmp_path, users):
    """Real items via the one ingest pipeline: {"photo": id (草场街街道, Ⅲ—2, EXIF date, GPS,
    orientation 6), "ledger": id (市教育局, Ⅲ—3, CSV)}."""
    from archive.evidence.ingest import IngestRequest, ingest_files

    photo = filefactory.make_jpeg(tmp_path / "src" / "宣传栏照片.jpg", size=(320, 200),
                                  exif_date=datetime(2026, 3, 5, 9, 30), gps=(36.06, 120.38),
                                  orientation=6, seed=7)
    ledger = filefactory.make_csv(tmp_path / "src" / "少年宫活动台账.csv",
                                  [["日期", "活动", "人数"], ["2026-01-10", "书法课", "32"],
                                   ["2026-02-14", "科技小制作", "28"]])
    result = ingest_files(instance, [
        IngestRequest(photo, ["Ⅲ—2"], "实景图片", unit="草场街街道", title="宣传栏"),
        IngestRequest(ledger, ["Ⅲ—3"], "统计表格", date="2026-02-20", unit="市教育局", title="少年宫台账"),
    ], user="test")
    assert not result.refused, result.refused
    return {"photo": result.added[0]["id"], "ledger": result.added[1]["id"]}


@pytest.fixture
def csrf_login(csrf_app, users, instance):
    """A client logged in as `name` on the app with CSRF checks ON (no token sent by default)."""
    def _login(name):
        c = csrf_app.test_client()
        sign_in(c, instance.db, users[name])
        return c
    return _login
