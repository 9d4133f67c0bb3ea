"""Dashboard, search, review queue, export pages and /api/search, /api/coverage: roles,
CSRF, audit rows, escaping, malformed queries, background export, download by job id only.

`ROUTES` uses the format of tests/web/test_roles.py's table (which imports it)."""
from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest

from tests import filefactory
from tests.web.test_roles import ANON_API, EVERYONE, REVIEWERS, ROLES, expect
from tests.web.test_roles import EXPORT_VIEWERS as VIEWERS


# Job 999 does not exist: allowed roles get 404, others 403 (the role check runs first).
ROUTES = [
    ("GET", "/dashboard", None, expect(200, EVERYONE)),
    ("GET", "/api/coverage?date=2026-07-15", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/search?q=宣传", None, expect(200, EVERYONE)),
    ("GET", "/api/search?q=宣传", None, expect(200, EVERYONE, anon=ANON_API)),
    ("GET", "/review", None, expect(200, REVIEWERS)),
    ("POST", "/review/{ledger}", {"decision": "approved"}, expect(302, REVIEWERS)),
    ("GET", "/review/returned", None, expect(200, EVERYONE)),
    ("GET", "/export", None, expect(200, VIEWERS)),
    ("POST", "/export", {"date": "not a date"}, expect(302, REVIEWERS)),
    ("GET", "/export/999", None, expect(404, VIEWERS)),
    ("GET", "/export/999/status", None, expect(404, VIEWERS)),
    ("GET", "/export/999/download", None, expect(404, VIEWERS)),
]


@pytest.mark.parametrize("method,url,data,expected", ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES])
def test_report_route_roles(login, items, method, url, data, expected):
    real_url = url.format(photo=items["photo"], ledger=items["ledger"])
    got = {}
    for role in ROLES:
        c = login(None if role == "anon" else role)
        r = c.get(real_url) if method == "GET" else c.post(real_url, data=dict(data))
        got[role] = r.status_code
        r.close()
    assert got == expected


def _wait_job(client, job_id: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"/export/{job_id}/status").get_json()
        if s["state"] not in ("queued", "running"):
            return s
        time.sleep(0.05)
    raise AssertionError(f"export job {job_id} did not finish")


def _audit(instance, action):
    return instance.db.execute("SELECT user, action, target, detail, ip FROM audit WHERE action = ? ORDER BY id",
                               [action]).fetchall()


# -- dashboard ----------------------------------------------------------------------------

def test_dashboard_counts_and_gap_links(login, items):
    page = login("reviewer").get("/dashboard?date=2026-07-15").get_data(as_text=True)
    # mini map: 6 leaves; Ⅲ—4 needs nothing (complete); Ⅲ—3 has its 统计表格 (complete);
    # Ⅲ—2 has its photo but no 工作台账 (partial); Ⅲ—1, Ⅲ—5, Ⅲ—6 have nothing (empty).
    assert re.search(r'id="n-leaves">6<', page) and re.search(r'id="n-complete">2<', page)
    assert re.search(r'id="n-partial">1<', page) and re.search(r'id="n-empty">3<', page)
    assert "/indicators/%E2%85%A2%E2%80%941" in page or "/indicators/Ⅲ—1" in page
    assert "草场街街道" in page and "各单位尚缺材料" in page


def test_dashboard_changes_after_rejection(login, items):
    c = login("reviewer")
    before = c.get("/dashboard?date=2026-07-15").get_data(as_text=True)
    assert re.search(r'id="n-complete">2<', before)
    c.post(f"/review/{items['ledger']}", data={"decision": "rejected", "comment": "数据不全"})
    after = c.get("/dashboard?date=2026-07-15").get_data(as_text=True)
    assert re.search(r'id="n-complete">1<', after) and re.search(r'id="n-empty">4<', after)


def test_dashboard_unit_view_and_clerk_default(login, items):
    page = login("reviewer").get("/dashboard?date=2026-07-15&unit=市教育局").get_data(as_text=True)
    assert re.search(r'id="n-leaves">1<', page) and "Ⅲ—3" in page and "Ⅲ—5" not in page
    clerk = login("clerk").get("/dashboard?date=2026-07-15").get_data(as_text=True)  # 草场街街道: Ⅲ—2, Ⅲ—5, Ⅲ—6
    assert re.search(r'id="n-leaves">3<', clerk)
    everyone = login("clerk").get("/dashboard?date=2026-07-15&unit=").get_data(as_text=True)
    assert re.search(r'id="n-leaves">6<', everyone)


def test_dashboard_bad_date_is_a_message(login, users):
    r = login("clerk").get("/dashboard?date=2026-13-45")
    assert r.status_code == 400 and "无法识别" in r.get_data(as_text=True)


def test_api_coverage_shape(login, items):
    data = login("auditor").get("/api/coverage?date=2026-07-15").get_json()
    assert data["summary"] == {"leaves": 6, "complete": 2, "partial": 1, "empty": 3}
    assert {"code", "required", "present", "missing", "status"} <= set(data["indicators"][0])
    assert login("auditor").get("/api/coverage?date=xx").status_code == 400


# -- search -------------------------------------------------------------------------------

@pytest.fixture
def tricky_item(instance, tmp_path, users):
    from archive.evidence.ingest import IngestRequest, ingest_files

    pdf = filefactory.make_pdf(tmp_path / "制度.pdf", ["<b>理论学习</b>中心组学习制度<script>alert(1)</script>"])
    r = ingest_files(instance, [IngestRequest(pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", unit="市委宣传部",
                                              title="<i>学习制度</i>")], user="test")
    assert not r.refused, r.refused
    return r.added[0]["id"]


def test_search_highlights_and_escapes(login, tricky_item, instance):
    r = login("auditor").get("/search?q=学习制度")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="result-count"' in page
    assert "<mark>学习制度</mark>" in page
    assert "<script>alert" not in page and "<b>理论" not in page and "<i>学习" not in page
    assert "&lt;i&gt;学习制度&lt;/i&gt;" in page
    r.close()   # the search is logged once the page has been sent (as waitress closes it)
    rows = _audit(instance, "search")
    assert rows and rows[-1][0] == "auditor" and json.loads(rows[-1][3])["query"] == "学习制度"


def test_search_filters_and_paging(login, items, tricky_item):
    c = login("auditor")
    page = c.get("/search?q=&type=统计表格").get_data(as_text=True)
    hits = page[page.index('id="hits"'):]
    assert "少年宫台账" in hits and "学习制度" not in hits
    page = c.get("/search?code=Ⅰ—1&from=2026-01-01&to=2026-01-31").get_data(as_text=True)
    assert "共找到 <strong>1</strong>" in page
    page = c.get("/search?q=学习&page=9").get_data(as_text=True)
    assert "共找到" in page


@pytest.mark.parametrize("q", ["(学习", "学习 AND", "foo:bar", "date:[2026"])
def test_malformed_query_is_a_message_not_500(login, users, q):
    r = login("auditor").get("/search", query_string={"q": q})
    assert r.status_code == 400
    assert 'id="search-error"' in r.get_data(as_text=True)
    r = login("auditor").get("/api/search", query_string={"q": q})
    assert r.status_code == 400 and r.get_json()["error"]


def test_api_search_contract_shape(login, items):
    data = login("clerk").get("/api/search?q=书法课").get_json()
    assert data["total"] == 1 and data["order"] == "relevance"
    hit = data["hits"][0]
    assert {"id", "title", "codes", "type", "date", "unit", "original_name", "sha256", "snippet",
            "score"} <= set(hit)


# -- review -------------------------------------------------------------------------------

def test_review_approve_and_send_back(login, items, instance):
    c = login("reviewer")
    page = c.get("/review").get_data(as_text=True)
    assert f'id="item-{items["photo"]}"' in page and f'id="item-{items["ledger"]}"' in page
    r = c.post(f"/review/{items['photo']}", data={"decision": "approved"})
    assert r.status_code == 302
    # sending back needs a reason
    c.post(f"/review/{items['ledger']}", data={"decision": "rejected", "comment": "  "})
    assert instance.db.execute("SELECT review_state FROM items WHERE id = ?", [items["ledger"]]).fetchone()[0] == "pending"
    c.post(f"/review/{items['ledger']}", data={"decision": "rejected", "comment": "缺少盖章"})
    states = dict(instance.db.execute("SELECT id, review_state FROM items").fetchall())
    assert states == {items["photo"]: "approved", items["ledger"]: "rejected"}
    assert "没有待审核的材料" in c.get("/review").get_data(as_text=True)
    rows = _audit(instance, "item.review.rejected")
    assert rows[-1][0] == "reviewer" and rows[-1][2] == f"item:{items['ledger']}" and "缺少盖章" in rows[-1][3]
    assert rows[-1][4] == "127.0.0.1"


def test_bad_decision_and_missing_item(login, items):
    c = login("reviewer")
    r = c.post(f"/review/{items['photo']}", data={"decision": "maybe"}, follow_redirects=True)
    assert "审核结论只能是" in r.get_data(as_text=True)
    assert c.post("/review/99999", data={"decision": "approved"}).status_code == 404


def test_returned_page_scoped_to_clerk_unit(login, items):
    rv = login("reviewer")
    rv.post(f"/review/{items['photo']}", data={"decision": "rejected", "comment": "照片模糊"})
    rv.post(f"/review/{items['ledger']}", data={"decision": "rejected", "comment": "缺少盖章"})
    mine = login("clerk").get("/review/returned").get_data(as_text=True)        # 草场街街道
    assert "照片模糊" in mine and "缺少盖章" not in mine
    other = login("clerk_other").get("/review/returned").get_data(as_text=True)  # 市教育局
    assert "缺少盖章" in other and "照片模糊" not in other
    # the clerk's unit is forced: ?unit= cannot widen it
    assert "缺少盖章" not in login("clerk").get("/review/returned?unit=市教育局").get_data(as_text=True)
    assert re.search(r'class="navcount"[^>]*>1<', mine)                       # the nav tells the clerk
    assert "navcount" not in login("reviewer").get("/dashboard").get_data(as_text=True)
    auditor = login("auditor").get("/review/returned").get_data(as_text=True)
    assert "照片模糊" in auditor and "缺少盖章" in auditor and "<form method=\"post\" action=\"/review/" not in auditor


def test_auditor_pages_have_no_forms(login, items):
    c = login("auditor")
    for url in ("/dashboard", "/search?q=宣传", "/export", "/review/returned"):
        page = c.get(url).get_data(as_text=True)
        posts = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page)
        assert posts == ["/logout"], (url, posts)


# -- export -------------------------------------------------------------------------------

def test_export_builds_in_background_and_downloads(login, items, instance):
    c = login("reviewer")
    r = c.post("/export", data={"date": "2026-07-15"})
    assert r.status_code == 302
    job_id = int(r.location.rstrip("/").rsplit("/", 1)[-1])
    s = _wait_job(c, job_id)
    assert s["state"] == "done", s
    assert s["done"] == s["total"] > 0
    page = c.get(f"/export/{job_id}").get_data(as_text=True)
    assert "manifest.json" in page and "少年宫" in page and 'id="download-link"' in page
    r = login("auditor").get(s["download_url"])
    assert r.status_code == 200 and r.mimetype == "application/zip"
    data = r.data
    r.close()
    z = zipfile.ZipFile(io.BytesIO(data))
    assert any(n.endswith("/manifest.json") for n in z.namelist())
    assert any(n.endswith("/SHA256SUMS") for n in z.namelist())
    assert _audit(instance, "export.start")[-1][0] == "reviewer"
    assert _audit(instance, "package.export")[-1][0] == "reviewer"
    dl = _audit(instance, "export.download")[-1]
    assert dl[0] == "auditor" and dl[2] == f"export:{job_id}"
    assert f"/export/{job_id}/download" in c.get("/export").get_data(as_text=True)


def test_export_strict_with_gaps_fails_with_reason(login, items):
    c = login("admin")
    r = c.post("/export", data={"date": "2026-07-15", "strict": "1"})
    s = _wait_job(c, int(r.location.rsplit("/", 1)[-1]))
    assert s["state"] == "failed" and "材料不全" in s["error"] and "download_url" not in s
    assert c.get(f"/export/{s['id']}/download").status_code == 404


def test_export_bad_date(login, users, instance):
    r = login("reviewer").post("/export", data={"date": "明天"}, follow_redirects=True)
    assert "无法识别" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT count(*) FROM export_jobs").fetchone()[0] == 0


@pytest.mark.parametrize("evil", ["../archive.db", "/etc/passwd", "../../secret_key", "../secret_key"])
def test_download_never_leaves_exports(login, users, instance, evil):
    """Even a tampered job row cannot make the download route serve a file outside exports/."""
    instance.db.execute("INSERT INTO export_jobs (id, created_at, evaluation_date, state, path) "
                        "VALUES (77, '2026-01-01T00:00:00Z', '2026-07-15', 'done', ?)", [evil])
    r = login("admin").get("/export/77/download")
    assert r.status_code == 404
    assert login("admin").get("/export/77/download?path=../archive.db").status_code == 404


def test_download_route_has_no_path_parameter(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("export.")]
    assert rules and all(set(r.arguments) <= {"job_id"} for r in rules)


def test_interrupted_job_is_shown(login, users, instance):
    instance.db.execute("INSERT INTO export_jobs (id, created_at, evaluation_date, state) "
                        "VALUES (5, '2026-01-01T00:00:00Z', '2026-07-15', 'running')")
    s = login("reviewer").get("/export/5/status").get_json()
    assert s["state"] == "interrupted"


# -- CSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url,data", [("/review/{photo}", {"decision": "approved"}),
                                      ("/export", {"date": "2026-07-15"})])
def test_posts_need_csrf(csrf_login, items, instance, url, data):
    c = csrf_login("reviewer")
    r = c.post(url.format(photo=items["photo"]), data=data)
    assert r.status_code == 400 and "安全令牌" in r.get_data(as_text=True)
    assert instance.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0
    assert instance.db.execute("SELECT count(*) FROM export_jobs").fetchone()[0] == 0
    page = c.get("/review").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = c.post(url.format(photo=items["photo"]), data={**data, "csrf_token": token})
    assert r.status_code == 302


def test_dashboard_reuse_ends_with_any_commit(login, items, instance, tmp_path):
    """The coverage report is reused only until something commits, from any connection."""
    from archive.evidence.ingest import IngestRequest, ingest_files

    c = login("reviewer")
    for _ in range(2):
        assert re.search(r'id="n-complete">2<', c.get("/dashboard?date=2026-07-15").get_data(as_text=True))
    pdf = filefactory.make_pdf(tmp_path / "规范.pdf", ["门前三包责任制度"])
    xlsx = filefactory.make_xlsx(tmp_path / "台账.xlsx", [["日期", "商户"], ["2026-03-01", "一号店"]])
    ingest_files(instance, [IngestRequest(pdf, ["Ⅲ—6"], "规范文件", date="2026-03-01"),
                            IngestRequest(xlsx, ["Ⅲ—6"], "工作台账", date="2026-03-01")], user="test")
    assert re.search(r'id="n-complete">3<', c.get("/dashboard?date=2026-07-15").get_data(as_text=True))
    instance.db.execute("UPDATE items SET deleted_at = '2026-07-01T00:00:00Z' WHERE material_type = '工作台账'")
    assert re.search(r'id="n-complete">2<', c.get("/dashboard?date=2026-07-15").get_data(as_text=True))
    assert login("auditor").get("/api/coverage?date=2026-07-15").get_json()["summary"]["complete"] == 2


def test_api_search_and_coverage_with_token(app, items, users, instance):
    from archive.users import issue_token

    token = issue_token(instance.db, users["auditor"].id, by="test")
    c = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    r = c.get("/api/search?q=书法课", headers=auth)
    assert r.status_code == 200 and r.get_json()["total"] == 1
    assert "书法课" in r.get_data(as_text=True)          # UTF-8, not \\u-escaped
    assert c.get("/api/coverage?date=2026-07-15", headers=auth).get_json()["summary"]["leaves"] == 6
    assert c.get("/api/search?q=书法课", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/api/coverage").status_code == 401


def test_dashboard_may_lag_only_when_reading_is_slow_and_says_so(login, items, instance, monkeypatch):
    """With slow reads (here: every read counts as slow) a page may show a snapshot a few
    seconds old, labelled, with a link that reads afresh; the API is always exact."""
    from archive.readiness.cache import CoverageCache

    monkeypatch.setattr(CoverageCache, "SLOW_LOAD_S", 0.0)
    c = login("reviewer")
    page = c.get("/dashboard?date=2026-07-15").get_data(as_text=True)
    assert re.search(r'id="n-complete">2<', page) and 'id="behind"' not in page
    instance.db.execute("UPDATE items SET review_state = 'rejected' WHERE id = ?", [items["ledger"]])
    page = c.get("/dashboard?date=2026-07-15").get_data(as_text=True)
    assert re.search(r'id="n-complete">2<', page) and 'id="behind"' in page and "立即刷新" in page
    fresh = c.get("/dashboard?date=2026-07-15&fresh=1").get_data(as_text=True)
    assert re.search(r'id="n-complete">1<', fresh) and 'id="behind"' not in fresh
    assert login("auditor").get("/api/coverage?date=2026-07-15").get_json()["summary"]["complete"] == 1
    monkeypatch.setattr(CoverageCache, "MAX_STALE_S", 0.0)
    instance.db.execute("UPDATE items SET review_state = 'pending' WHERE id = ?", [items["ledger"]])
    assert re.search(r'id="n-complete">2<', c.get("/dashboard?date=2026-07-15").get_data(as_text=True))


# -- links built from the query string ----------------------------------------------------

HOSTILE = {"endpoint": "x", "_method": "POST", "_anchor": "evil", "_external": "1",
           "_scheme": "javascript", "values": "v"}


def _links(page: str, path: str) -> list[str]:
    import html

    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page) if path in h]


def _assert_clean(links: list[str], path: str) -> None:
    assert links
    for link in links:
        assert link.startswith(path + "?") and "#" not in link, link   # relative, no #anchor
        for key in HOSTILE:
            assert f"{key}=" not in link, link


@pytest.mark.parametrize("key", list(HOSTILE))
def test_audit_pager_ignores_foreign_query_keys(login, users, instance, key):
    from archive.core import audit
    from archive.core.db import transaction
    from archive.web.audit_log import PAGE_SIZE

    with transaction(instance.db):
        for i in range(PAGE_SIZE + 5):
            audit.log(instance.db, "test", "item.download", target=f"item:{i}", ip="10.0.0.1")
    r = login("auditor").get("/audit", query_string={key: HOSTILE[key], "action": "item.download", "page": 1})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    links = _links(page, "/audit?")
    _assert_clean(links, "/audit")
    assert any("page=2" in h and "action=item.download" in h for h in links)


@pytest.mark.parametrize("key", list(HOSTILE))
def test_search_pager_ignores_foreign_query_keys(login, items, monkeypatch, key):
    import archive.web.search_views as sv

    monkeypatch.setattr(sv, "PAGE_SIZE", 1)
    r = login("auditor").get("/search", query_string={key: HOSTILE[key], "from": "2020-01-01", "type": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "共找到 <strong>2</strong>" in page
    links = _links(page, "/search?")
    _assert_clean(links, "/search")
    assert any("page=2" in h and "from=2020-01-01" in h for h in links)


@pytest.mark.parametrize("key", list(HOSTILE))
def test_dashboard_refresh_link_ignores_foreign_query_keys(login, items, instance, monkeypatch, key):
    from archive.readiness.cache import CoverageCache

    monkeypatch.setattr(CoverageCache, "SLOW_LOAD_S", 0.0)
    c = login("reviewer")
    url = "/dashboard"
    qs = {key: HOSTILE[key], "date": "2026-07-15", "unit": "", "gaps": "1"}
    assert c.get(url, query_string=qs).status_code == 200
    instance.db.execute("UPDATE items SET review_state = 'rejected' WHERE id = ?", [items["ledger"]])
    r = c.get(url, query_string=qs)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="behind"' in page
    links = [h for h in _links(page, "fresh=1")]
    _assert_clean(links, "/")
    assert links == ["/?date=2026-07-15&unit=&gaps=1&fresh=1"]
