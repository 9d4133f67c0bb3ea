"""Upload endpoint, indicator and item pages, previews, edits, audit rows, login throttle over HTTP."""
from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from tests import filefactory
from tests.web.conftest import PASSWORD, form_login


def _file(path, name=None):
    return (io.BytesIO(path.read_bytes()), name or path.name)


def test_upload_one_file_json(login, users, instance, tmp_path):
    photo = filefactory.make_jpeg(tmp_path / "背街小巷.jpg", seed=3)
    c = login("clerk")
    r = c.post("/api/items", data={"file": _file(photo, "背街小巷 整治后.jpg"), "code": ["iii-5"],
                                   "type": "实景图片", "date": "2026-03-01", "unit": "市教育局", "title": ""})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["refused"] == [] and body["added"][0]["codes"] == ["Ⅲ—5"]
    item_id = body["added"][0]["id"]
    assert body["added"][0]["url"] == f"/items/{item_id}"
    row = instance.db.execute("SELECT unit, original_name, title, date, created_by FROM items WHERE id = ?",
                              [item_id]).fetchone()
    # a clerk's upload always carries the clerk's own unit, whatever the form says
    assert tuple(row) == ("草场街街道", "背街小巷 整治后.jpg", "背街小巷 整治后", "2026-03-01", "clerk")
    audit = instance.db.execute("SELECT user, ip, target FROM audit WHERE action = 'item.add'").fetchone()
    assert tuple(audit) == ("clerk", "127.0.0.1", f"item:{item_id}")
    # the same bytes again: a duplicate, new code added
    r = c.post("/api/items", data={"file": _file(photo), "code": "Ⅲ—2", "type": "实景图片"})
    assert r.status_code == 200
    assert r.get_json()["duplicates"][0]["id"] == item_id


def test_clerk_reupload_of_another_units_file_changes_nothing(login, items, instance, tmp_path):
    """The ledger belongs to 市教育局; a 草场街街道 clerk uploading the same bytes must not add
    codes to it (or restore it): it is reported as a duplicate, untouched."""
    data = instance.store.path(instance.db.execute(
        "SELECT sha256 FROM items WHERE id = ?", [items["ledger"]]).fetchone()[0]).read_bytes()
    r = login("clerk").post("/api/items", data={"file": (io.BytesIO(data), "台账.csv"),
                                                "code": "Ⅲ—6", "type": "统计表格"})
    assert r.status_code == 200
    dup = r.get_json()["duplicates"][0]
    assert dup["id"] == items["ledger"] and "codes_added" not in dup and "市教育局" in dup["note"]
    codes = [c for (c,) in instance.db.execute("SELECT code FROM item_codes WHERE item_id = ?", [items["ledger"]])]
    assert codes == ["Ⅲ—3"]
    # A reviewer may add the code.
    r = login("reviewer").post("/api/items", data={"file": (io.BytesIO(data), "台账.csv"),
                                                   "code": "Ⅲ—6", "type": "统计表格"})
    assert r.get_json()["duplicates"][0]["codes_added"] == ["Ⅲ—6"]


@pytest.mark.parametrize("name,data,form,key", [
    ("空文件.pdf", b"", {"code": "Ⅲ—1", "type": "规范文件"}, "empty"),
    ("假图片.jpg", b"MZ\x90\x00" + b"\x00" * 200, {"code": "Ⅲ—5", "type": "实景图片"}, None),
    ("ok.png", None, {"code": "Ⅸ—99", "type": "实景图片"}, None),
    ("ok.png", None, {"code": "Ⅲ—5", "type": "不存在的类型"}, None),
    ("ok.png", None, {"code": "Ⅲ—5", "type": "实景图片", "date": "2026-13-45"}, "bad date"),
])
def test_upload_refused_with_reason(login, users, instance, tmp_path, name, data, form, key):
    if data is None:
        data = filefactory.make_png(tmp_path / "ok.png").read_bytes()
    r = login("clerk").post("/api/items", data={"file": (io.BytesIO(data), name), **form})
    assert r.status_code == 422
    refused = r.get_json()["refused"]
    assert refused[0]["path"] == name and refused[0]["reason"]
    if key:
        assert f"({key}" in refused[0]["reason"]
    row = instance.db.execute("SELECT user, ip, detail FROM audit WHERE action = 'item.refused'").fetchone()
    assert row[0] == "clerk" and row[1] == "127.0.0.1" and name in row[2]


def test_upload_without_file_is_400(login, users):
    r = login("clerk").post("/api/items", data={"code": "Ⅲ—1"})
    assert r.status_code == 400 and "file" in r.get_json()["error"]


def test_upload_strips_client_folders_from_name(login, users, instance, tmp_path):
    png = filefactory.make_png(tmp_path / "x.png", color=(5, 6, 7))
    r = login("reviewer").post("/api/items", data={"file": _file(png, "../照片/../现场 1.png"),
                                                   "code": "Ⅲ—5", "type": "实景图片"})
    item_id = r.get_json()["added"][0]["id"]
    assert instance.db.execute("SELECT original_name FROM items WHERE id = ?", [item_id]).fetchone()[0] == "现场 1.png"


def test_upload_page(login, users):
    page = login("clerk").get("/upload?code=Ⅲ—5").get_data(as_text=True)
    assert 'id="dropzone"' in page and "upload.js" in page
    assert "&#34;Ⅲ—5&#34;" in page or '"Ⅲ—5"' in page
    assert "实景图片" in page


def test_indicator_picker_search(login, users):
    c = login("clerk")
    by_code = c.get("/api/indicators?q=iii-3").get_json()["leaves"]
    assert by_code[0]["code"] == "Ⅲ—3"
    by_name = c.get("/api/indicators?q=背街").get_json()["leaves"]
    assert [leaf["code"] for leaf in by_name] == ["Ⅲ—5"]
    assert by_name[0]["path"] == ["Ⅰ—2 舒适便利的生活环境", "Ⅱ—3 市容环境卫生"]
    by_parent = c.get("/api/indicators?q=未成年人").get_json()["leaves"]
    assert [leaf["code"] for leaf in by_parent] == ["Ⅲ—3"]
    assert len(c.get("/api/indicators").get_json()["leaves"]) == 6
    assert c.get("/api/indicators?q=没有这个").get_json()["leaves"] == []


def test_indicator_page(login, items):
    c = login("clerk")
    page = c.get("/indicators/Ⅲ—2").get_data(as_text=True)
    assert "开展宣传教育" in page and "宣传栏" in page
    assert "✔ 实景图片" in page and "✘ 工作台账" in page and "尚缺：工作台账" in page
    assert "/upload?code=" in page
    # lenient code in the URL redirects to the map's spelling
    r = c.get("/indicators/III-2")
    assert r.status_code == 302 and "/indicators/" in r.headers["Location"]
    assert c.get("/indicators/Ⅸ—9").status_code == 404
    parent = c.get("/indicators/Ⅱ—1").get_data(as_text=True)
    assert "健全学习制度" in parent and "宣传栏" in parent


def test_tree_counts(login, items):
    page = login("auditor").get("/tree").get_data(as_text=True)
    assert "测试用测评体系" in page and "Ⅲ—6" in page


def test_item_page_shows_metadata_exif_gps(login, items):
    page = login("auditor").get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "宣传栏照片.jpg" in page and "2026-03-05" in page and "取自照片 EXIF" in page
    assert "GPS" in page and "36.06" in page
    assert f"/items/{items['photo']}/thumb" in page


def test_photo_thumb_applies_exif_orientation(login, items, instance):
    r = login("auditor").get(f"/items/{items['photo']}/thumb")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(r.data)) as im:
        assert im.size == (200, 320)   # 320×200 stored with Orientation 6 → upright portrait
    r.close()
    assert list(instance.thumbs_dir.rglob("*.jpg"))
    shutil.rmtree(instance.thumbs_dir)  # derived: deleting loses nothing
    r = login("auditor").get(f"/items/{items['photo']}/thumb")
    assert r.status_code == 200
    r.close()


def test_ledger_preview_table(login, items):
    r = login("auditor").get(f"/items/{items['ledger']}")
    page = r.get_data(as_text=True)
    assert "书法课" in page and "科技小制作" in page
    assert login("auditor").get(f"/items/{items['ledger']}/thumb").status_code == 404


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed")
def test_pdf_first_page_thumb(login, users, instance, tmp_path):
    try:
        pdf = filefactory.make_pdf(tmp_path / "制度.pdf", ["理论学习中心组学习制度", "第二页"])
    except FileNotFoundError as e:
        pytest.skip(str(e))
    c = login("clerk")
    r = c.post("/api/items", data={"file": _file(pdf), "code": "Ⅲ—1", "type": "规范文件"})
    assert r.status_code == 201, r.get_json()
    item_id = r.get_json()["added"][0]["id"]
    r = c.get(f"/items/{item_id}/thumb")
    assert r.status_code == 200
    with Image.open(io.BytesIO(r.data)) as im:
        assert im.height > im.width    # an A4 page
    r.close()


def test_edit_codes_meta_replace_delete_restore(login, items, instance, tmp_path):
    c = login("clerk")
    pid = items["photo"]
    r = c.post(f"/items/{pid}/codes", data={"code": ["Ⅲ—2", "iii-5"]}, follow_redirects=True)
    assert "指标编号已更新" in r.get_data(as_text=True)
    assert [x[0] for x in instance.db.execute("SELECT code FROM item_codes WHERE item_id = ? ORDER BY code", [pid])] \
        == ["Ⅲ—2", "Ⅲ—5"]
    r = c.post(f"/items/{pid}/codes", data={"code": "Ⅸ—9"}, follow_redirects=True)
    assert r.status_code == 200 and "Ⅸ—9" in r.get_data(as_text=True)
    c.post(f"/items/{pid}/meta", data={"title": "新标题", "date": "2026-04-01", "type": "实景图片",
                                        "unit": "市教育局"})
    row = instance.db.execute("SELECT title, date, unit FROM items WHERE id = ?", [pid]).fetchone()
    assert tuple(row) == ("新标题", "2026-04-01", "草场街街道")   # clerk cannot move the unit
    new_photo = filefactory.make_jpeg(tmp_path / "新照片.jpg", seed=99)
    r = c.post(f"/items/{pid}/replace", data={"file": _file(new_photo, "新版 照片.jpg")}, follow_redirects=True)
    assert "已上传新版本" in r.get_data(as_text=True)
    page = c.get(f"/items/{pid}").get_data(as_text=True)
    assert "宣传栏照片.jpg" in page and "新版 照片.jpg" in page
    old = c.get(f"/items/{pid}/download?version=1")
    assert old.status_code == 200 and "%E5%AE%A3%E4%BC%A0%E6%A0%8F" in old.headers["Content-Disposition"]
    old.close()
    c.post(f"/items/{pid}/delete")
    assert instance.db.execute("SELECT deleted_by FROM items WHERE id = ?", [pid]).fetchone()[0] == "clerk"
    assert "已删除" in c.get(f"/items/{pid}").get_data(as_text=True)
    c.post(f"/items/{pid}/restore")
    assert instance.db.execute("SELECT deleted_at FROM items WHERE id = ?", [pid]).fetchone()[0] is None
    actions = [r[0] for r in instance.db.execute(
        "SELECT action FROM audit WHERE target = ? AND user = 'clerk' ORDER BY id", [f"item:{pid}"])]
    assert actions == ["item.codes", "item.edit", "item.replace", "item.download", "item.delete", "item.restore"]
    ips = {r[0] for r in instance.db.execute("SELECT ip FROM audit WHERE user = 'clerk'")}
    assert ips == {"127.0.0.1"}


def test_reviewer_may_move_unit(login, items, instance):
    login("reviewer").post(f"/items/{items['photo']}/meta", data={"unit": "市教育局"})
    assert instance.db.execute("SELECT unit FROM items WHERE id = ?", [items["photo"]]).fetchone()[0] == "市教育局"


def test_api_items_list_and_detail(login, items):
    c = login("auditor")
    listed = c.get("/api/items?code=Ⅰ—1").get_json()["items"]
    assert {i["id"] for i in listed} == {items["photo"], items["ledger"]}
    assert [i["id"] for i in c.get("/api/items?code=Ⅲ—3").get_json()["items"]] == [items["ledger"]]
    assert c.get("/api/items?code=nope").status_code == 400
    detail = c.get(f"/api/items/{items['photo']}").get_json()
    assert detail["codes"][0] == {"code": "Ⅲ—2", "name": "开展宣传教育"}


# -- login over HTTP ---------------------------------------------------------------------------

def test_login_logout_audited(app, users, instance):
    c = app.test_client()
    r = form_login(c, "reviewer")
    assert r.status_code == 302
    assert c.get("/").status_code == 200
    c.post("/logout")
    assert c.get("/").status_code == 302
    actions = [tuple(r) for r in instance.db.execute(
        "SELECT user, action, ip FROM audit WHERE action IN ('login', 'logout') ORDER BY id")]
    assert actions == [("reviewer", "login", "127.0.0.1"), ("reviewer", "logout", "127.0.0.1")]


def test_login_rate_limited_per_ip_and_name(app, users, instance):
    c = app.test_client()
    for _ in range(5):
        r = form_login(c, "clerk", "wrong-password")
        assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = form_login(c, "clerk")           # correct password, but locked
    assert r.status_code == 429 and "登录失败次数过多" in r.get_data(as_text=True)
    assert c.get("/").status_code == 302
    other_ip = app.test_client()
    other_ip.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert form_login(other_ip, "clerk").status_code == 302
    assert form_login(c, "reviewer").status_code == 302    # other names from the same IP are not locked
    fails = instance.db.execute("SELECT count(*) FROM audit WHERE action = 'login.failed' AND user = 'clerk'").fetchone()[0]
    assert fails == 5


def test_disabled_user_cannot_log_in(app, users, instance):
    from archive.users import disable

    disable(instance.db, users["auditor"].id, by="test")
    assert form_login(app.test_client(), "auditor").status_code == 401


def test_change_password(app, users):
    c = app.test_client()
    form_login(c, "clerk")
    r = c.post("/password", data={"old_password": PASSWORD, "new_password": "brand-new-pw",
                                  "confirm_password": "brand-new-pw"})
    assert r.status_code == 302
    assert form_login(app.test_client(), "clerk", "brand-new-pw").status_code == 302
    r = c.post("/password", data={"old_password": "brand-new-pw", "new_password": "short",
                                  "confirm_password": "short"})
    assert r.status_code == 400 and "至少需要 8 个字符" in r.get_data(as_text=True)


# -- admin and audit pages -------------------------------------------------------------------------

def test_admin_creates_user_and_token(login, users, instance):
    c = login("admin")
    r = c.post("/admin/users", data={"name": "新资料员", "role": "clerk", "unit": "", "password": "abcdefgh12",
                                     "confirm_password": "abcdefgh12"})
    assert r.status_code == 400 and "资料员必须指定所属单位" in r.get_data(as_text=True)
    r = c.post("/admin/users", data={"name": "新资料员", "role": "clerk", "unit": "市城管局",
                                     "password": "abcdefgh12", "confirm_password": "abcdefgh12"},
               follow_redirects=True)
    assert "已创建账号 新资料员" in r.get_data(as_text=True)
    r = c.post("/admin/users", data={"name": "新资料员", "role": "clerk", "unit": "市城管局",
                                     "password": "abcdefgh12", "confirm_password": "abcdefgh12"})
    assert "已存在" in r.get_data(as_text=True)
    uid = instance.db.execute("SELECT id FROM users WHERE name = '新资料员'").fetchone()[0]
    page = c.post(f"/admin/users/{uid}/token").get_data(as_text=True)
    token = page.split('<pre class="token" id="token">')[1].split("</pre>")[0]
    assert login(None).get("/api/items", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = c.post(f"/admin/users/{users['admin'].id}/disable", follow_redirects=True)
    assert "不能停用自己的账号" in r.get_data(as_text=True)
    row = instance.db.execute("SELECT user, action, target FROM audit WHERE action = 'user.create' "
                              "ORDER BY id DESC").fetchone()
    assert tuple(row) == ("admin", "user.create", "新资料员")


def test_audit_page_filters(login, items, instance):
    c = login("auditor")
    page = c.get("/audit").get_data(as_text=True)
    assert "item.add" in page and "user.create" in page
    page = c.get("/audit?action=item").get_data(as_text=True)
    assert "item.add" in page and ">user.create</code>" not in page
    page = c.get("/audit?user=nobody").get_data(as_text=True)
    assert "没有符合条件的记录" in page
    page = c.get("/audit?from=2000-01-01&to=2000-01-02").get_data(as_text=True)
    assert "共 0 条" in page
    r = c.get("/audit?from=not-a-date")
    assert r.status_code == 400 and "无法识别" in r.get_data(as_text=True)
    page = c.get(f"/audit?target=item:{items['photo']}").get_data(as_text=True)
    assert "共 1 条" in page


def test_admin_map_check_and_load(login, items, instance):
    from tests.conftest import MINI_MAP

    c = login("admin")
    page = c.get("/admin/map").get_data(as_text=True)
    assert "测试用测评体系（迷你）" in page and "mini-test" in page
    bad = MINI_MAP.read_text(encoding="utf-8").replace("requires: [统计表格]", "requires: [不存在类型]")
    r = c.post("/admin/map", data={"map": (io.BytesIO(bad.encode()), "bad.yaml"), "action": "load"})
    assert r.status_code == 400
    assert "bad.yaml:" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT count(*) FROM maps").fetchone()[0] == 1
    # drop leaf Ⅲ—3 (which holds the ledger) and rename Ⅲ—1
    lines = MINI_MAP.read_text(encoding="utf-8")
    start = lines.index("      - code: Ⅱ—2")
    end = lines.index("  - code: Ⅰ—2")
    new = (lines[:start] + lines[end:]).replace("name: 健全学习制度", "name: 健全学习制度（新）")
    r = c.post("/admin/map", data={"map": (io.BytesIO(new.encode()), "new.yaml"), "action": "check"})
    assert r.status_code == 200 and "检查通过" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT count(*) FROM maps").fetchone()[0] == 1
    r = c.post("/admin/map", data={"map": (io.BytesIO(new.encode()), "new.yaml"), "action": "load"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "已载入新的指标体系" in body
    assert "Ⅲ—3" in body and "1 份材料" in body
    assert instance.db.execute("SELECT count(*) FROM maps").fetchone()[0] == 2
    assert instance.db.execute("SELECT count(*) FROM items WHERE id = ?", [items["ledger"]]).fetchone()[0] == 1
    assert "健全学习制度（新）" in c.get("/tree").get_data(as_text=True)   # the app sees the new edition at once
    row = instance.db.execute("SELECT user, action FROM audit WHERE action = 'map.load' ORDER BY id DESC").fetchone()
    assert tuple(row) == ("admin", "map.load")


def test_indicator_page_pages(login, items, monkeypatch):
    import archive.web.evidence as ev

    monkeypatch.setattr(ev, "ITEMS_PAGE", 1)
    c = login("auditor")
    first = c.get("/indicators/Ⅰ—1").get_data(as_text=True)
    assert "材料（2）" in first and "第 1 页" in first and "下一页" in first
    second = c.get("/indicators/Ⅰ—1?page=2").get_data(as_text=True)
    assert "上一页" in second and "下一页" not in second
    titles = [("宣传栏" in p, "少年宫台账" in p) for p in (first, second)]
    assert sorted(titles) == [(False, True), (True, False)]


def test_admin_edits_role_and_unit(login, users, items, instance):
    c = login("admin")
    uid = users["clerk"].id
    r = c.post(f"/admin/users/{uid}/edit", data={"role": "clerk", "unit": ""}, follow_redirects=True)
    assert "资料员必须指定所属单位" in r.get_data(as_text=True)
    c.post(f"/admin/users/{uid}/edit", data={"role": "clerk", "unit": "市城管局"})
    assert instance.db.execute("SELECT unit FROM users WHERE id = ?", [uid]).fetchone()[0] == "市城管局"
    r = c.post(f"/admin/users/{users['admin'].id}/edit", data={"role": "auditor"}, follow_redirects=True)
    assert "不能取消自己的管理员角色" in r.get_data(as_text=True)
    # the clerk's session sees the new unit at once: the photo of 草场街街道 is no longer theirs
    assert login("clerk").post(f"/items/{items['photo']}/delete").status_code == 403


def test_indicator_page_judges_presence_in_the_window(login, instance, tmp_path, users):
    """Ⅲ—1 requires 规范文件 + 情况说明. An out-of-window 情况说明 or a rejected one does not count,
    exactly as the dashboard and the package judge it."""
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.evidence.review import review_item

    rule = filefactory.make_pdf(tmp_path / "制度.pdf", ["学习制度"])
    old_note = filefactory.make_pdf(tmp_path / "旧说明.pdf", ["去年的情况说明"])
    result = ingest_files(instance, [IngestRequest(rule, ["Ⅲ—1"], "规范文件", date="2026-03-01"),
                                     IngestRequest(old_note, ["Ⅲ—1"], "情况说明", date="2025-05-01")], user="t")
    c = login("auditor")
    page = c.get("/indicators/Ⅲ—1?date=2026-07-15").get_data(as_text=True)
    assert "尚缺：情况说明" in page and "窗口外或无日期 1" in page
    assert "2025-07-01 至 2026-06-30" in page
    # evaluated in April, the window 2025-04-01..2026-03-31 holds both, so nothing is missing
    page = c.get("/indicators/Ⅲ—1?date=2026-04-15").get_data(as_text=True)
    assert "必备材料类型均已具备" in page and "尚缺" not in page
    # a rejected rule no longer counts
    review_item(instance, result.added[0]["id"], "rejected", "模糊", by="r")
    page = c.get("/indicators/Ⅲ—1?date=2026-04-15").get_data(as_text=True)
    assert "尚缺：规范文件" in page
    # a bad date is a message, not an error page
    r = c.get("/indicators/Ⅲ—1?date=去年")
    assert r.status_code == 200 and "无法识别" in r.get_data(as_text=True)


@pytest.mark.parametrize("name, sees_audit", [("clerk", False), ("clerk_other", False), ("reviewer", False),
                                              ("auditor", True), ("admin", True)])
def test_item_audit_history_only_for_auditor_and_admin(login, items, instance, name, sees_audit):
    """The audit log (who downloaded what, from which IP) is for auditors and admins; the
    review history stays visible to everyone."""
    from archive.evidence.review import review_item

    review_item(instance, items["photo"], "rejected", "照片模糊请重拍", by="reviewer", ip="10.9.8.7")
    r = login("auditor").get(f"/items/{items['photo']}/download", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    r.close()
    c = login(name)
    page = c.get(f"/items/{items['photo']}").get_data(as_text=True)
    assert "照片模糊请重拍" in page                      # review history: everyone
    assert ("item.download" in page) is sees_audit
    assert ("10.1.2.3" in page) is sees_audit and ("10.9.8.7" in page) is sees_audit
    assert ("操作记录" in page) is sees_audit
    data = c.get(f"/api/items/{items['photo']}").get_json()
    assert data["reviews"][0]["comment"] == "照片模糊请重拍"
    assert ("history" in data) is sees_audit
    if sees_audit:
        assert {"item.download", "item.review.rejected"} <= {h["action"] for h in data["history"]}
        assert "10.1.2.3" in {h["ip"] for h in data["history"]}
    else:
        assert "10.1.2.3" not in c.get(f"/api/items/{items['photo']}").get_data(as_text=True)


def test_upload_form_accepts_what_the_registry_accepts(login):
    from archive.extract import registry

    page = login("clerk").get("/upload").get_data(as_text=True)
    assert f'accept="{registry.upload_accept()}"' in page
    for ext in (".pdf", ".ofd", ".docx", ".doc", ".wps", ".xlsx", ".xls", ".et", ".csv", ".jpg", ".png", ".mp4",
                ".mov", "image/*"):
        assert ext in registry.upload_accept().split(",")
