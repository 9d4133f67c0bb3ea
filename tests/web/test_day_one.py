"""Issue 10 (day-one defects), the web side: each test failed before its fix."""
from __future__ import annotations

import json
import re

import pytest

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


# -- 17: 北京时间 everywhere; "today" in Asia/Shanghai ----------------------------------------

UTC_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_deletion_banner_and_map_history_in_beijing_time(login, items, instance):
    from archive.core.db import utcnow
    from archive.evidence import items as items_mod
    from archive.web.timefmt import localtime

    items_mod.soft_delete(instance, items["photo"], user="reviewer")
    page = login("auditor").get(f"/items/{items['photo']}").get_data(as_text=True)
    deleted_at = instance.db.execute("SELECT deleted_at FROM items WHERE id = ?", [items["photo"]]).fetchone()[0]
    assert localtime(deleted_at) in page and not UTC_STAMP.search(page)
    assert "(UTC)" not in page
    page = login("admin").get("/admin/map").get_data(as_text=True)
    assert not UTC_STAMP.search(page) and "(UTC)" not in page and "北京时间" in page
    assert "(UTC)" not in login("admin").get("/export").get_data(as_text=True)
    assert utcnow()   # the DB keeps UTC; only what people read changes


def test_default_evaluation_date_is_beijing_today(login, items, monkeypatch):
    import time
    from datetime import date

    import pytest
    from archive.core.dates import today_beijing

    monkeypatch.setenv("TZ", "Etc/GMT+12")       # a server far west of Beijing
    time.tzset()
    try:
        if date.today() == today_beijing():
            pytest.skip("the server's day and Beijing's agree at this hour")
        page = login("clerk").get("/").get_data(as_text=True)
        assert f'value="{today_beijing().isoformat()}"' in page
        page = login("clerk").get("/indicators/Ⅲ—1").get_data(as_text=True)
        assert f'name="date" value="{today_beijing().isoformat()}"' in page
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# -- 21: plain Chinese labels instead of raw keys -------------------------------------------

def test_audit_filter_and_item_history_show_labels(login, items, instance):
    from archive.core import audit
    from archive.core.db import transaction

    with transaction(instance.db):
        audit.log(instance.db, "ocr", "item.ocr", f"item:{items['photo']}", {"pages": [1]})
    page = login("auditor").get("/audit").get_data(as_text=True)
    assert "item.ocr（item.ocr）" not in page and ">文字识别（OCR）完成</option>" in page
    page = login("auditor").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "<code>item.add</code>" not in page and "材料入库" in page


def test_every_audit_action_in_the_code_has_a_label():
    from pathlib import Path

    from archive.core.audit import ACTION_LABELS

    root = Path(__file__).resolve().parents[2]
    written = set()
    for path in list((root / "archive").rglob("*.py")) + [root / "cli.py"]:
        text = path.read_text("utf-8")
        written |= set(re.findall(r'audit\.log\([^,]+,\s*[^,]+,\s*"([a-z_.]+)"', text))
        written |= set(re.findall(r'"(item\.(?:delete|restore))"', text))
        written |= {f"problem.{a}" for a in re.findall(r'action = "(\w+)" if .* else "\w+"', text)}
        written |= {f"problem.{a}" for a in re.findall(r'action = "\w+" if .* else "(\w+)"', text)}
    missing = written - set(ACTION_LABELS)
    assert written and not missing, f"add a Chinese label to archive/core/audit.ACTION_LABELS for: {sorted(missing)}"


def test_clerk_without_unit_error_has_no_cli_flag_on_the_web(login, users):
    r = login("admin").post(f"/admin/users/{users['clerk'].id}/edit", data={"role": "clerk", "unit": ""},
                            follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "资料员必须指定所属单位" in page and "--unit" not in page


# -- 2: a bad file gets its own reason even with the type left blank -------------------------

def _upload(client, path, **form):
    with open(path, "rb") as f:
        data = {"file": (f, path.name), "code": form.pop("code", "Ⅲ—1"), **form}
        return client.post("/api/items", data=data, content_type="multipart/form-data")


def test_bad_files_are_refused_for_what_they_are_not_for_the_blank_type(login, users, tmp_path):
    from tests import filefactory as ff

    empty = tmp_path / "空.pdf"
    empty.write_bytes(b"")
    exe = ff.make_exe(tmp_path / "通知.pdf")
    good = ff.make_pdf(tmp_path / "src.pdf", ["学习制度全文"])
    corrupt = ff.make_truncated(good, tmp_path / "截断.pdf")
    c = login("clerk")
    reasons = {}
    for p in (empty, exe, corrupt):
        r = _upload(c, p, type="")
        assert r.status_code == 422
        reasons[p.name] = r.get_json()["refused"][0]["reason"]
    assert "文件为空" in reasons["空.pdf"]
    assert "扩展名不符" in reasons["通知.pdf"] or "不支持" in reasons["通知.pdf"]
    assert "损坏" in reasons["截断.pdf"]
    assert not any("未知的材料类型" in r for r in reasons.values())
    # a good file with the type left blank is refused for that, by name
    r = _upload(c, good, type="")
    assert r.status_code == 422 and "未知的材料类型「」" in r.get_json()["refused"][0]["reason"]


# -- 5: undated material: said at upload, on the item page, listed on the dashboard ---------

def test_undated_upload_is_flagged_everywhere(login, users, tmp_path, instance):
    from tests import filefactory as ff

    c = login("clerk")
    r = _upload(c, ff.make_pdf(tmp_path / "通知.pdf", ["一份没有日期的通知"]), type="规范文件")
    assert r.status_code == 201
    row = r.get_json()["added"][0]
    assert "没有日期" in row["warning"]
    page = c.get(f"/items/{row['id']}").get_data(as_text=True)
    assert 'id="undated-note"' in page and "不会收入" in page
    dash = c.get("/").get_data(as_text=True)
    assert 'id="undated"' in dash and f"/items/{row['id']}" in dash
    # dated: no warning, not listed
    r = _upload(c, ff.make_pdf(tmp_path / "有日期.pdf", ["有日期的通知"]), type="规范文件", date="2026-03-01")
    dated = r.get_json()["added"][0]
    assert "warning" not in dated
    assert 'id="undated-note"' not in c.get(f"/items/{dated['id']}").get_data(as_text=True)
    assert f"/items/{dated['id']}\"" not in c.get("/").get_data(as_text=True)
    # another unit's clerk does not see this unit's undated item on their dashboard
    assert f"/items/{row['id']}" not in login("clerk_other").get("/").get_data(as_text=True)


# -- 1 and 4 through the web: edits re-queue, the page says so ------------------------------

def test_web_edit_of_returned_item_requeues_it(login, items, instance):
    from archive.evidence.review import review_item

    review_item(instance, items["photo"], "rejected", "日期不对", by="reviewer")
    c = login("clerk")
    page = c.get(f"/items/{items['photo']}").get_data(as_text=True)
    assert 'id="returned-note"' in page and "日期不对" in page
    c.post(f"/items/{items['photo']}/meta", data={"title": "宣传栏", "date": "2026-03-02", "type": "实景图片"})
    state = instance.db.execute("SELECT review_state FROM items WHERE id = ?", [items["photo"]]).fetchone()[0]
    assert state == "pending"
    assert f"/items/{items['photo']}" not in c.get("/review/returned").get_data(as_text=True)


# -- 19: 退回 with an empty reason: the error is at the field -------------------------------

def test_reject_without_reason_is_said_at_the_field(login, items, instance):
    c = login("reviewer")
    r = c.post(f"/review/{items['photo']}", data={"decision": "rejected", "comment": "  ", "state": "pending"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#item-{items['photo']}")
    page = c.get(r.headers["Location"].split("#")[0]).get_data(as_text=True)
    box = page[page.index(f'id="item-{items["photo"]}"'):]
    box = box[:box.index("</article>")]
    assert 'role="alert"' in box and "请写明退回原因" in box and "autofocus" in box
    other = page[page.index(f'id="item-{items["ledger"]}"'):]
    assert "请写明退回原因" not in other[:other.index("</article>")]
    state = instance.db.execute("SELECT review_state FROM items WHERE id = ?", [items["photo"]]).fetchone()[0]
    assert state == "pending"


# -- 20: downloads: a readable ASCII fallback beside the UTF-8 name -------------------------

def test_download_names_have_a_readable_ascii_fallback(login, items, instance):
    from urllib.parse import quote

    c = login("auditor")
    r = c.get(f"/items/{items['photo']}/download")
    cd = r.headers["Content-Disposition"]
    r.close()
    assert f'filename="item-{items["photo"]}.jpg"' in cd
    assert "filename*=UTF-8''" + quote("宣传栏照片.jpg") in cd
    r = c.get(f"/items/{items['photo']}/download?version=1")
    assert f'filename="item-{items["photo"]}-v1.jpg"' in r.headers["Content-Disposition"]
    r.close()


def test_ascii_names_stay_as_they_are():
    from flask import Response

    from archive.web.common import set_attachment

    cd = set_attachment(Response(), "IMG_0412.jpg", "item-1.jpg").headers["Content-Disposition"]
    assert 'filename="IMG_0412.jpg"' in cd
    cd = set_attachment(Response(), 'a"b.pdf', "item-2.pdf").headers["Content-Disposition"]
    assert 'filename="item-2.pdf"' in cd and "a%22b.pdf" in cd


def test_package_download_name_fallback(login, items):
    c = login("reviewer")
    r = c.post("/export", data={"date": "2026-07-15"})
    job_id = int(r.location.rsplit("/", 1)[-1])
    s = _wait_job(c, job_id)
    assert s["state"] == "done"
    r = c.get(f"/export/{job_id}/download")
    cd = r.headers["Content-Disposition"]
    r.close()
    assert f'filename="package-{job_id}-2026-07-15.zip"' in cd and "filename*=UTF-8''" in cd


# -- 18: an oversized request is answered in Chinese, whoever answers it ---------------------

@pytest.fixture
def small_server(instance, users):
    import threading

    from archive.core.config import Limits
    from archive.web import create_app
    from archive.web.server import create_server

    app = create_app({"INSTANCE": str(instance.root), "LIMITS": Limits(max_request_bytes=64 * 1024,
                                                                       max_file_bytes=64 * 1024)})
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    closing = threading.Event()

    def run():
        try:
            server.run()
        except (OSError, ValueError):   # the loop noticing the sockets closed under it
            if not closing.is_set():
                raise

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield server.effective_port
    closing.set()
    server.close()
    t.join(5)


def _post_bytes(port, path, size):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        try:
            conn.send(b"x" * size)
        except (BrokenPipeError, ConnectionResetError):
            pass                      # the server may answer and close before reading it all
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode("utf-8")
    finally:
        conn.close()


def test_far_oversized_request_gets_a_chinese_413(small_server):
    status, ctype, body = _post_bytes(small_server, "/upload", 1200 * 1024)
    assert status == 413 and ctype.startswith("text/html")
    assert "文件太大" in body and "上限 64 KB" not in body and "Request Entity Too Large" not in body
    status, ctype, body = _post_bytes(small_server, "/api/items", 1200 * 1024)
    assert status == 413 and ctype == "application/json" and "文件太大" in json.loads(body)["error"]


def test_slightly_oversized_request_is_answered_by_the_app_in_chinese(small_server):
    status, ctype, body = _post_bytes(small_server, "/api/items", 100 * 1024)
    assert status == 413 and "文件太大" in json.loads(body)["error"]


# -- 7: sessions end on logout, password change, role change, disabling ---------------------

def _login_form(app, name):
    from tests.web.conftest import PASSWORD

    c = app.test_client()
    r = c.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 302
    return c


def _cookie(c):
    return c.get_cookie("session").value


def _replay(app, cookie):
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c


def test_replayed_cookie_after_logout_is_refused(app, users, items, instance):
    c = _login_form(app, "clerk")
    stolen = _cookie(c)
    assert _replay(app, stolen).get("/upload").status_code == 200
    c.post("/logout")
    r = _replay(app, stolen).get("/upload")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = _replay(app, stolen).post(f"/items/{items['photo']}/meta", data={"title": "被篡改"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert instance.db.execute("SELECT title FROM items WHERE id = ?", [items["photo"]]).fetchone()[0] != "被篡改"


def test_password_change_ends_the_other_sessions_not_this_one(app, users):
    from tests.web.conftest import PASSWORD

    here, there = _login_form(app, "reviewer"), _login_form(app, "reviewer")
    r = here.post("/password", data={"old_password": PASSWORD, "new_password": "Neue-Kennung-7",
                                     "confirm_password": "Neue-Kennung-7"})
    assert r.status_code == 302
    assert here.get("/review").status_code == 200
    assert there.get("/review").status_code == 302


@pytest.mark.parametrize("change", ["role", "disable", "admin_password"])
def test_admin_changes_end_the_users_sessions(app, users, change):
    victim = _login_form(app, "clerk")
    assert victim.get("/upload").status_code == 200
    admin = _login_form(app, "admin")
    uid = users["clerk"].id
    if change == "role":
        admin.post(f"/admin/users/{uid}/edit", data={"role": "auditor", "unit": ""})
    elif change == "disable":
        admin.post(f"/admin/users/{uid}/disable")
    else:
        admin.post(f"/admin/users/{uid}/password", data={"password": "Reset-Kennung-8"})
    r = victim.get("/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert admin.get("/admin/users").status_code == 200      # the admin's own session lives on


# -- 8: weak passwords and unknown units are refused ----------------------------------------

@pytest.mark.parametrize("password", ["aaaaaaaa", "clerk1clerk1", "12345678", "password", "abcabcabc",
                                      "my-clerk1-pw"])
def test_weak_passwords_are_refused(instance, password):
    from archive import users as users_mod
    from archive.core.errors import UsageError

    with pytest.raises(UsageError) as e:
        users_mod.create_user(instance.db, "clerk1", "reviewer", None, password)
    assert e.value.key in ("weak password", "password too short")
    assert users_mod.get_user_by_name(instance.db, "clerk1") is None


def test_weak_password_on_the_password_page_and_cli(app, users, runner, instance):
    from cli import cli
    from tests.web.conftest import PASSWORD

    c = _login_form(app, "reviewer")
    r = c.post("/password", data={"old_password": PASSWORD, "new_password": "reviewerreviewer",
                                  "confirm_password": "reviewerreviewer"})
    assert r.status_code == 400 and "密码" in r.get_data(as_text=True) and "重复" in r.get_data(as_text=True)
    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "新人", "--role", "auditor",
                            "--password-stdin"], input="88888888\n")
    assert r.exit_code == 2 and "weak password" in r.output


def test_user_add_with_an_unknown_unit_is_refused(runner, instance, users):
    from cli import cli

    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "小王", "--role", "clerk",
                            "--unit", "不存在的街道", "--password-stdin"], input="Kennung-2026-x\n")
    assert r.exit_code == 2 and "未知的单位" in r.output and "unknown unit" in r.output
    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "小王", "--role", "clerk",
                            "--unit", "草场街街道", "--password-stdin"], input="Kennung-2026-x\n")
    assert r.exit_code == 0, r.output


def test_web_unit_change_to_unknown_unit_is_refused(login, users, instance):
    r = login("admin").post(f"/admin/users/{users['clerk'].id}/edit",
                            data={"role": "clerk", "unit": "草场街道"}, follow_redirects=True)
    assert "未知的单位「草场街道」" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT unit FROM users WHERE id = ?", [users["clerk"].id]).fetchone()[0] == "草场街街道"


def test_unit_check_uses_the_register_once_it_has_units(instance):
    from archive.core.errors import UsageError
    from archive.units.records import add_unit
    from archive.users import check_unit

    instance.db.execute("DELETE FROM unit_names")
    instance.db.execute("DELETE FROM units")
    check_unit(instance.db, "草场街街道")                     # a unit of the loaded map
    with pytest.raises(UsageError):
        check_unit(instance.db, "草场街道")                   # a typo of it
    add_unit(instance.db, "新设街道", {"kind": "街道"}, by="test")
    check_unit(instance.db, "新设街道")
    with pytest.raises(UsageError):
        check_unit(instance.db, "草场街道")



def test_sessions_end_after_thirty_days_and_admin_resetting_own_password_stays(app, users, instance):
    c = _login_form(app, "admin")
    r = c.post(f"/admin/users/{users['admin'].id}/password", data={"password": "Eigene-Kennung-9"})
    assert r.status_code == 302 and c.get("/admin/users").status_code == 200
    instance.db.execute("UPDATE web_sessions SET created_at = '2020-01-01T00:00:00Z'")
    r = c.get("/admin/users")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
