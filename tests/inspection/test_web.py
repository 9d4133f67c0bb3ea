"""Inspection pages through the Flask test client: every route × every role, and the flows
(report with a photo, rectify, refusals, close, ledger xlsx, filing, sites, rounds)."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from tests import filefactory
from tests.inspection.helpers import SITE_GPS, scene_jpeg
from tests.web.test_roles import EVERYONE, REVIEWERS, ROLES, expect

FUTURE = (date.today() + timedelta(days=10)).isoformat()
REPORTERS = ("clerk", "clerk_other", "reviewer", "admin")
UNIT_EDITORS = ("clerk", "reviewer", "admin")        # the problem belongs to 草场街街道 = clerk's unit

# (method, url, form data, expected statuses by role); {problem} {photo} {site} {round} filled in
ROUTES = [
    ("GET", "/inspection", None, expect(200, EVERYONE)),
    ("GET", "/inspection/problems?unit=", None, expect(200, EVERYONE)),
    ("GET", "/inspection/problems/new", None, expect(200, REPORTERS)),
    ("POST", "/inspection/problems", {"description": "路面破损", "unit": "草场街街道", "deadline": FUTURE},
     expect(302, REPORTERS)),
    ("GET", "/inspection/problems/{problem}", None, expect(200, EVERYONE)),
    ("POST", "/inspection/problems/{problem}/rectify", {"note": "x"}, expect(302, UNIT_EDITORS)),
    ("POST", "/inspection/problems/{problem}/close", {}, expect(302, REVIEWERS)),
    ("POST", "/inspection/problems/{problem}/return", {"reason": "未整改"}, expect(302, REVIEWERS)),
    ("GET", "/inspection/photos/{photo}", None, expect(200, EVERYONE)),
    ("GET", "/inspection/photos/{photo}/thumb", None, expect(200, EVERYONE)),
    ("GET", "/inspection/m", None, expect(200, REPORTERS)),
    ("GET", "/inspection/sites", None, expect(200, EVERYONE)),
    ("POST", "/inspection/sites", {"name": "新点位", "kind": "学校", "unit": "市教育局"}, expect(302, REVIEWERS)),
    ("POST", "/inspection/sites/import", {}, expect(302, REVIEWERS)),
    ("GET", "/inspection/sites/export.xlsx", None, expect(200, REVIEWERS)),
    ("GET", "/inspection/sites/{site}", None, expect(200, EVERYONE)),
    ("GET", "/inspection/rounds", None, expect(200, EVERYONE)),
    ("POST", "/inspection/rounds", {"name": "", "held_on": "2026-06-01", "evaluator": "自查"}, expect(302, REVIEWERS)),
    ("GET", "/inspection/rounds/{round}", None, expect(200, EVERYONE)),
    ("POST", "/inspection/rounds/{round}/scores", {"code": "Ⅲ—5", "full": "3", "score": "2"}, expect(302, REVIEWERS)),
    ("POST", "/inspection/rounds/{round}/problems", {"deadline": FUTURE}, expect(302, REVIEWERS)),
    ("GET", "/inspection/ledger", None, expect(200, EVERYONE)),
    ("GET", "/inspection/ledger.xlsx", None, expect(200, EVERYONE)),
    ("POST", "/inspection/ledger/file", {"codes": "Ⅲ—6"}, expect(302, REVIEWERS)),
]


@pytest.fixture
def insp(instance, tmp_path):
    """A site, an open problem of 草场街街道 with a before photo (EXIF GPS at the site), a round."""
    from archive.inspection import problems as pr
    from archive.inspection import rounds as rd
    from archive.inspection.photos import PhotoIn
    from archive.inspection.sites import add_site

    site = add_site(instance, {"name": "草场街农贸市场", "kind": "农贸市场", "unit": "草场街街道", "lat": SITE_GPS[0],
                               "lon": SITE_GPS[1], "person": "王片长", "phone": "13900000000"}, user="t")
    pid = pr.report_problem(instance, pr.Actor("reviewer", "reviewer"), pr.NewProblem(
        description="摊位占道经营", unit=None, deadline=FUTURE, codes=["Ⅲ—4"], site=site,
        photos=[PhotoIn(scene_jpeg(tmp_path / "before.jpg", seed=1), "整改前.jpg")]))
    photo = instance.db.execute("SELECT id FROM problem_photos WHERE problem_id = ?", [pid]).fetchone()[0]
    rid = rd.create_round(instance, "第一次", "2026-06-01", "第三方", [rd.ScoreIn("Ⅲ—4", 5, 3, reason="占道")], user="t")
    return {"site": site, "problem": pid, "photo": photo, "round": rid}


@pytest.mark.parametrize("method,url,data,expected", ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES])
def test_route_roles(login, insp, method, url, data, expected):
    real = url.format(**insp)
    got = {}
    for role in ROLES:
        c = login(None if role == "anon" else role)
        r = c.get(real) if method == "GET" else c.post(real, data=dict(data))
        got[role] = r.status_code
        r.close()
    assert got == expected


def _photo(path, name):
    return (io.BytesIO(path.read_bytes()), name)


def test_report_rectify_close_flow(login, insp, instance, tmp_path):
    clerk, reviewer = login("clerk"), login("reviewer")
    before = scene_jpeg(tmp_path / "b2.jpg", seed=5, gps=(36.0771, 120.3826))   # ~1.1 km from the site
    r = clerk.post("/inspection/problems", data={
        "description": "垃圾桶满溢", "site": str(insp["site"]), "deadline": FUTURE, "codes": "Ⅲ-5",
        "photos": [_photo(before, "现场.jpg")]}, content_type="multipart/form-data", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "已登记问题" in page and "距点位约" in page and "草场街街道" in page
    pid = max(x[0] for x in instance.db.execute("SELECT id FROM problems"))
    # the clerk's list defaults to their unit and shows the deadline
    r = clerk.get("/inspection/problems", follow_redirects=True)
    assert "unit=%E8%8D%89" in r.request.url or "草场街街道" in r.request.url
    assert FUTURE in r.get_data(as_text=True) and "垃圾桶满溢" in r.get_data(as_text=True)
    # the same picture as "after" is refused with one line, nothing changes
    r = clerk.post(f"/inspection/problems/{pid}/rectify", data={"photos": [_photo(before, "后.jpg")]},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "整改照片与整改前相同" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT state FROM problems WHERE id = ?", [pid]).fetchone()[0] == "open"
    after = scene_jpeg(tmp_path / "a2.jpg", seed=6)
    r = clerk.post(f"/inspection/problems/{pid}/rectify", data={"photos": [_photo(after, "后.jpg")], "note": "已清运"},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "已提交整改" in r.get_data(as_text=True)
    assert clerk.post(f"/inspection/problems/{pid}/close").status_code == 403
    r = reviewer.post(f"/inspection/problems/{pid}/close", data={"note": "到位"}, follow_redirects=True)
    assert "已销号" in r.get_data(as_text=True)
    page = login("auditor").get(f"/inspection/problems/{pid}").get_data(as_text=True)
    assert "已销号" in page and "提交整改" not in page.split("处理记录")[0] and "销号</button>" not in page


def test_json_report_for_the_phone_page(login, insp, tmp_path):
    c = login("clerk")
    hdr = {"Accept": "application/json"}
    r = c.post("/inspection/problems", headers=hdr, data={"description": "x", "deadline": "2001-01-01",
                                                          "site": str(insp["site"])})
    assert r.status_code == 400 and "已过" in r.get_json()["error"]
    bad = tmp_path / "not.jpg"
    bad.write_bytes(b"%PDF-1.4 not a photo")
    r = c.post("/inspection/problems", headers=hdr, content_type="multipart/form-data", data={
        "description": "x", "deadline": FUTURE, "photos": [_photo(bad, "not.jpg")]})
    assert r.status_code == 400 and "不是照片" in r.get_json()["error"]
    r = c.post("/inspection/problems", headers=hdr, content_type="multipart/form-data", data={
        "description": "公厕无纸", "deadline": FUTURE, "photos": [_photo(scene_jpeg(tmp_path / "p.jpg", seed=9), "blob")]})
    assert r.status_code == 201 and r.get_json()["url"].startswith("/inspection/problems/")
    # a clerk reporting for another unit is refused
    r = login("clerk_other").post("/inspection/problems", headers=hdr, data={
        "description": "x", "deadline": FUTURE, "site": str(insp["site"])})
    assert r.status_code == 400 and "本单位" in r.get_json()["error"]


def test_contacts_only_for_those_who_need_them(login, insp):
    for role, sees in (("reviewer", True), ("clerk", True), ("clerk_other", False), ("auditor", False)):
        for url in ("/inspection/sites", f"/inspection/sites/{insp['site']}"):
            page = login(role).get(url).get_data(as_text=True)
            assert ("13900000000" in page) == sees, (role, url)


def test_ledger_xlsx_has_both_photos_per_row(login, insp, instance, tmp_path):
    from openpyxl import load_workbook

    from archive.inspection import problems as pr
    from archive.inspection.photos import PhotoIn

    pr.rectify(instance, pr.Actor("clerk", "clerk", "草场街街道"), insp["problem"], "已清理",
               [PhotoIn(scene_jpeg(tmp_path / "after.jpg", seed=2), "整改后.jpg")])
    r = login("auditor").get("/inspection/ledger.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    out = tmp_path / "ledger.xlsx"
    out.write_bytes(r.data)
    r.close()
    ws = load_workbook(out).active
    assert ws["A1"].value == "问题整改台账" and ws["G4"].value == "摊位占道经营"
    anchors = sorted((img.anchor._from.row, img.anchor._from.col) for img in ws._images)
    assert anchors == [(3, 12), (3, 13)]
    page = login("auditor").get("/inspection/ledger").get_data(as_text=True)
    assert page.count("/thumb?size=s") == 2


def test_file_ledger_into_archive(login, insp, instance):
    r = login("reviewer").post("/inspection/ledger/file", data={"codes": "Ⅲ—6"}, follow_redirects=True)
    assert "已归档到 Ⅲ—6" in r.get_data(as_text=True)
    rows = instance.db.execute("SELECT i.material_type, c.code FROM items i JOIN item_codes c ON c.item_id = i.id "
                               "ORDER BY i.id").fetchall()
    assert rows == [("工作台账", "Ⅲ—6"), ("实景图片", "Ⅲ—6")]
    r = login("reviewer").post("/inspection/ledger/file", data={"codes": ""}, follow_redirects=True)
    assert "没有名称含“整改”的测评内容" in r.get_data(as_text=True)


def test_round_upload_chart_and_ranking(login, insp, tmp_path, instance):
    sheet = filefactory.make_xlsx(tmp_path / "r.xlsx", [["代码", "满分", "得分", "扣分原因"],
                                                        ["Ⅲ—4", 5, 4, "占道"], ["Ⅲ—6", 3, 1, "未公示"]])
    c = login("reviewer")
    r = c.post("/inspection/rounds", data={"name": "第二次", "held_on": "2026-07-01", "evaluator": "市级",
                                           "file": (io.BytesIO(sheet.read_bytes()), "评分.xlsx")},
               content_type="multipart/form-data", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "第二次" in page and 'data-unit="市城管局"' in page
    page = c.get("/inspection/rounds").get_data(as_text=True)
    assert page.count('<g class="bar"') == 2 and 'data-lost="2"' in page and 'data-lost="3"' in page
    bad = filefactory.make_xlsx(tmp_path / "bad.xlsx", [["代码", "满分", "得分"], ["Ⅲ—4", 5, 6]])
    r = c.post("/inspection/rounds", data={"name": "坏", "held_on": "2026-07-01", "evaluator": "市级",
                                           "file": (io.BytesIO(bad.read_bytes()), "坏.xlsx")},
               content_type="multipart/form-data", follow_redirects=True)
    assert "高于满分" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] == 2


def test_dashboard_counts_and_plot(login, insp):
    page = login("auditor").get("/inspection").get_data(as_text=True)
    assert 'id="n-open">1<' in page and '<circle' in page and 'data-site="草场街农贸市场"' in page


def test_forms_need_csrf(csrf_login, insp):
    assert csrf_login("reviewer").post(f"/inspection/problems/{insp['problem']}/return",
                                       data={"reason": "x"}).status_code == 400


def test_printable_ledger_pages(login, insp, instance, monkeypatch):
    from archive.inspection import problems as pr
    from archive.web import inspection as web_insp

    for n in range(4):
        pr.report_problem(instance, pr.Actor("reviewer", "reviewer"), pr.NewProblem(
            description=f"第{n}号问题", unit="市教育局", deadline=FUTURE))
    monkeypatch.setattr(web_insp, "PRINT_LIMIT", 2)
    c = login("auditor")
    seen = []
    for page in (1, 2, 3):
        html = c.get(f"/inspection/ledger?unit=&page={page}").get_data(as_text=True)
        seen.append([int(x) for x in __import__("re").findall(r'<tr data-id="(\d+)"', html)])
    assert seen == [[1, 2], [3, 4], [5]]
    assert "下一页" not in c.get("/inspection/ledger?unit=&page=3").get_data(as_text=True)


def test_refusal_goes_back_to_the_sending_page_only_on_this_site(login, insp):
    c = login("clerk")
    r = c.post("/inspection/problems", data={"description": "x", "deadline": "2001-01-01"},
               headers={"Referer": "http://localhost/inspection/m"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/inspection/m")
    r = c.post("/inspection/problems", data={"description": "x", "deadline": "2001-01-01"},
               headers={"Referer": "http://evil.example/inspection/m"})
    assert r.headers["Location"].endswith("/inspection/problems/new")
