"""Web pages for units: roles on every route, personal data only where it belongs, CSRF, bad
input as one Chinese message with nothing written, the clerk's home, 催办, ranking."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest

from tests.web.test_roles import ROLES, expect

EVERYONE = ("clerk", "clerk_other", "reviewer", "auditor", "admin")
REVIEWERS = ("reviewer", "admin")
ADMIN = ("admin",)

# (method, url, form data, expected statuses by role); {unit} = 草场街街道's id
ROUTES = [
    ("GET", "/units", None, expect(200, EVERYONE)),
    ("POST", "/units", {"name": "新单位甲"}, expect(302, ADMIN)),
    ("POST", "/units/import", {}, expect(302, ADMIN)),
    ("GET", "/units/export.xlsx", None, expect(200, REVIEWERS)),
    ("GET", "/units/export.csv", None, expect(200, REVIEWERS)),
    ("GET", "/units/{unit}", None, expect(200, EVERYONE)),
    ("POST", "/units/{unit}/edit", {"contact_name": "王芳"}, expect(302, ADMIN)),
    ("POST", "/units/{unit}/rename", {"new_name": ""}, expect(302, ADMIN)),
    ("POST", "/units/{unit}/retire", {}, expect(302, ADMIN)),
    ("POST", "/units/{unit}/restore", {}, expect(302, ADMIN)),
    ("POST", "/units/{unit}/delete", {}, expect(302, ADMIN)),
    ("GET", "/duties", None, expect(200, EVERYONE)),
    ("POST", "/duties/Ⅲ—5", {"lead": "草场街街道"}, expect(302, ADMIN)),
    ("GET", "/deadlines", None, expect(200, EVERYONE)),
    ("POST", "/deadlines", {"round": "第一轮", "starts_on": "2026-03-01", "due_on": "2026-05-31"},
     expect(302, REVIEWERS)),
    ("GET", "/my", None, expect(200, EVERYONE)),
    ("GET", "/urge", None, expect(200, REVIEWERS)),
    ("POST", "/urge/send", {}, expect(302, REVIEWERS)),
    ("POST", "/urge/webhook", {"url": ""}, expect(302, ADMIN)),
    ("GET", "/urge/{unit}", None, expect(200, REVIEWERS)),
    ("GET", "/urge/{unit}.xlsx", None, expect(200, REVIEWERS)),
    ("GET", "/ranking", None, expect(200, EVERYONE)),
    ("GET", "/ranking.xlsx", None, expect(200, EVERYONE)),
]


def unit_id(instance, name="草场街街道"):
    from archive.units.duties import ensure_seeded
    from archive.units.records import get_unit

    ensure_seeded(instance)
    return get_unit(instance.db, name).id


@pytest.mark.parametrize("method,url,data,expected", ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES])
def test_units_route_roles(login, users, instance, method, url, data, expected):
    real = url.format(unit=unit_id(instance))
    got = {}
    for role in ROLES:
        c = login(None if role == "anon" else role)
        r = c.get(real) if method == "GET" else c.post(real, data=dict(data))
        got[role] = r.status_code
        r.close()
    assert got == expected


@pytest.fixture
def with_contacts(instance):
    from archive.units.records import update_unit

    unit_id(instance)
    update_unit(instance.db, "草场街街道", {"leader_name": "张处长", "leader_phone": "13800138000",
                                           "contact_name": "李干事", "contact_phone": "13900139000"}, by="t")


@pytest.mark.parametrize("who,sees", [("reviewer", True), ("admin", True), ("clerk", True),
                                      ("clerk_other", False), ("auditor", False)])
def test_personal_data_only_for_those_who_need_it(login, users, instance, with_contacts, who, sees):
    uid = unit_id(instance)
    for url in ("/units", f"/units/{uid}"):
        page = login(who).get(url).get_data(as_text=True)
        assert ("13800138000" in page) == sees, (who, url)
        assert ("李干事" in page) == sees, (who, url)


def test_forms_need_csrf(csrf_login, users, instance):
    c = csrf_login("admin")
    r = c.post("/units", data={"name": "无令牌单位"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT count(*) FROM units WHERE name = '无令牌单位'").fetchone()[0] == 0
    page = c.get("/units").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/units", data={"name": "有令牌单位", "csrf_token": token}).status_code == 302


def _xlsx_upload(rows, merge=None):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    if merge:
        wb.active.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def test_import_from_web_and_bad_files(login, users, instance):
    c = login("admin")
    rows = [["名称", "类型", "上级单位"]] + [[f"测试{i:02d}街道", "街道", ""] for i in range(60)]
    r = c.post("/units/import", data={"file": (_xlsx_upload(rows), "名录.xlsx")}, follow_redirects=True)
    assert "新增 60 个" in r.get_data(as_text=True)
    before = instance.db.execute("SELECT count(*) FROM units").fetchone()[0]
    for upload, message in [
        ((_xlsx_upload([["名称"], ["甲街道"]]), "缺列.xlsx"), "缺少列：类型"),
        ((_xlsx_upload([["名称", "类型"], ["甲街道", "街道"], ["乙街道", "街道"]], "A2:A3"), "合并.xlsx"), "合并单元格"),
        ((io.BytesIO(b"PK\x03\x04 broken"), "坏.xlsx"), "已损坏"),
        ((io.BytesIO(b"hello"), "名录.txt"), "不是 .xlsx 或 .csv"),
    ]:
        page = c.post("/units/import", data={"file": upload}, follow_redirects=True).get_data(as_text=True)
        assert message in page, message
        assert "名录.xlsx" not in page or message != "已损坏"
    assert instance.db.execute("SELECT count(*) FROM units").fetchone()[0] == before


def test_bad_deadline_and_unknown_unit_messages(login, users, instance):
    c = login("admin")
    page = c.post("/deadlines", data={"round": "第一轮", "starts_on": "2026-03-01", "due_on": "2026-02-01"},
                  follow_redirects=True).get_data(as_text=True)
    assert "截止日期 2026-02-01 早于本轮开始日期 2026-03-01" in page
    assert instance.db.execute("SELECT count(*) FROM deadlines").fetchone()[0] == 0
    r = c.get("/my?unit=火星办")
    assert r.status_code == 404 and "未知的单位「火星办」" in r.get_data(as_text=True)
    page = c.post(f"/units/{unit_id(instance)}/delete", follow_redirects=True).get_data(as_text=True)
    assert "还有 5 项材料未报送或未通过，不能删除" in page


def test_clerk_without_unit(login, users, instance):
    instance.db.execute("UPDATE users SET unit = NULL WHERE name = 'clerk'")
    r = login("clerk").get("/my")
    assert r.status_code == 400 and "没有所属单位" in r.get_data(as_text=True)


def test_clerk_home_lists_own_unit_with_upload_links(login, users, instance):
    from archive.units.deadlines import set_deadline

    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")
    c = login("clerk")
    page = c.get("/my").get_data(as_text=True)
    assert "草场街街道 · 应报材料" in page
    assert page.count('class="badge ob-') >= 5
    assert "/upload?code=%E2%85%A2%E2%80%945&amp;type=%E5%AE%9E%E6%99%AF%E5%9B%BE%E7%89%87" in page
    assert c.get("/my?unit=市教育局").status_code == 403
    # The upload page preselects the type it was sent with.
    up = c.get("/upload?code=Ⅲ—5&type=实景图片").get_data(as_text=True)
    assert re.search(r"<option selected>实景图片</option>", up)


def test_urge_send_records_and_sheet(login, users, instance):
    from archive.units.deadlines import set_deadline

    set_deadline(instance, "第一轮", "2020-05-31", starts_on="2020-03-01", by="t")
    c = login("reviewer")
    page = c.get("/urge").get_data(as_text=True)
    assert "草场街街道" in page and "市教育局" in page
    uid = unit_id(instance, "市教育局")
    r = c.post("/urge/send", data={"unit_id": [str(uid)]}, follow_redirects=True)
    assert "已记录催办 1 个单位：市教育局" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT by FROM reminders WHERE unit_id = ?", [uid]).fetchone()[0] == "reviewer"
    sheet = c.get(f"/urge/{uid}").get_data(as_text=True)
    assert "催 办 单" in sheet and "Ⅲ—3" in sheet
    x = c.get(f"/urge/{uid}.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(x.data)).active.iter_rows(values_only=True))
    assert rows[2][1] == "Ⅲ—3" and rows[2][10].startswith("http://localhost/upload?code=")


def test_ranking_page_draws_charts(login, users, instance):
    c = login("auditor")
    page = c.get("/ranking?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert page.count('<g class="bar"') == 4 and '<svg xmlns="http://www.w3.org/2000/svg" class="chart line"' in page
    assert 'style="' not in page.split("<svg", 1)[1]
    r = c.get("/ranking?from=2026-12-31&to=2026-01-01")
    assert r.status_code == 400 and "早于开始日期" in r.get_data(as_text=True)
    x = c.get("/ranking.xlsx?from=2026-01-01&to=2026-12-31")
    assert x.status_code == 200 and x.data[:2] == b"PK"


def test_dashboard_card_for_clerks(login, users, instance):
    from archive.units.deadlines import set_deadline

    set_deadline(instance, "第一轮", "2020-05-31", starts_on="2020-03-01", by="t")
    page = login("clerk").get("/").get_data(as_text=True)
    assert 'id="clerk-tasks"' in page and "5 项已逾期" in page
    assert 'id="clerk-tasks"' not in login("reviewer").get("/").get_data(as_text=True)


def test_duty_form_names_its_map(login, users, instance):
    page = login("admin").get("/duties").get_data(as_text=True)
    assert 'action="/duties/mini-test:%E2%85%A2%E2%80%945"' in page
    r = login("admin").post("/duties/mini-test:Ⅲ—5", data={"lead": "草场街街道", "coops": "市城管局"})
    assert r.status_code == 302
    from archive.units.duties import show_duties
    assert show_duties(instance, code="Ⅲ—5")[0]["coops"] == ["市城管局"]
