"""The web with two maps: the picker (remembered per session), per-map dashboard and indicator
pages, admins retiring a map, the cycles page and an earlier cycle's read-only dashboard."""
from __future__ import annotations

import pytest

from archive.cycles.cycles import add_cycle
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.evidence.review import review_item
from archive.maps.loading import load_map_into
from tests import filefactory as ff
from tests.conftest import ROOT

WCN = "wcn-2024-sample"


@pytest.fixture
def second_map(instance):
    load_map_into(instance, ROOT / "maps" / "wcn_sample.yaml", user="t")
    return WCN


def text(r) -> str:
    return r.get_data(as_text=True)


def test_picker_switches_and_remembers_the_map(login, users, second_map, instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "主题教育方案.pdf", ["主题教育活动方案"])
    assert ingest_files(instance, [IngestRequest(pdf, [f"{WCN}:Ⅲ—1", "mini-test:Ⅲ—1"], "规范文件", "2026-03-01")],
                        user="t").ok
    c = login("reviewer")
    home = text(c.get("/"))
    assert 'id="mappicker"' in home and "测试用测评体系（迷你）" in home    # first active map by default
    r = c.post("/maps/pick", data={"map_id": WCN, "next": "/tree"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tree")
    tree = text(c.get("/tree"))
    assert "开展主题教育活动" in tree and "健全学习制度" not in tree
    page = text(c.get("/indicators/Ⅲ—1"))                                    # the picked map's Ⅲ—1
    assert "开展主题教育活动" in page and "主题教育方案" in page
    assert "未成年人思想道德建设工作测评体系" in text(c.get("/"))            # remembered
    # another session still sees the first map
    other = text(login("auditor").get("/indicators/Ⅲ—1"))
    assert "健全学习制度" in other
    # an unknown map or an off-site "next" is not followed
    r = c.post("/maps/pick", data={"map_id": "nope", "next": "//evil.example/x"})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_no_picker_with_one_map(login, users):
    assert 'id="mappicker"' not in text(login("clerk").get("/"))


def test_admin_retires_a_map_and_others_cannot(login, users, second_map, instance):
    r = login("reviewer").post(f"/maps/{WCN}/state", data={"action": "retire"})
    assert r.status_code == 403
    c = login("admin")
    r = c.post(f"/maps/{WCN}/state", data={"action": "retire"})
    assert r.status_code == 303
    page = text(c.get("/maps"))
    assert "built-in method" not in page
    assert "已停用" in page and 'id="mappicker"' not in page
    assert instance.db.execute("SELECT action, user FROM audit ORDER BY id DESC LIMIT 1").fetchone() == \
        ("map.retire", "admin")


def test_cycles_page_and_read_only_earlier_cycle(login, users, items, instance):
    review_item(instance, items["photo"], "approved", None, "reviewer")
    add_cycle(instance, "2026年度测评", "2026-07-15", user="t")
    c = login("clerk")
    home = text(c.get("/"))
    assert 'value="2026-07-15"' in home and "2026年度测评" in home          # opens on the current cycle
    add_cycle(instance, "2027年度测评", "2027-07-15", start=True, user="t")
    page = text(c.get("/cycles"))
    assert "2026年度测评" in page and "已结束（只读）" in page and "进行中" in page
    old = c.get("/?cycle=2026年度测评")
    assert old.status_code == 200
    body = text(old)
    assert 'id="cycle-readonly"' in body and "2026-07-15" in body
    assert c.get("/?cycle=无此周期").status_code == 404
    assert 'value="2027-07-15"' in text(c.get("/"))


def test_item_codes_in_two_maps_on_the_item_page(login, users, second_map, instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "制度.pdf", ["学习制度"])
    item = ingest_files(instance, [IngestRequest(pdf, ["mini-test:Ⅲ—1", f"{WCN}:Ⅲ—1"], "规范文件", "2026-03-01")],
                        user="t").added[0]["id"]
    c = login("reviewer")
    page = text(c.get(f"/items/{item}"))
    assert "mini-test:Ⅲ—1" in page and f"{WCN}:Ⅲ—1" in page and "开展主题教育活动" in page
    c.post("/maps/pick", data={"map_id": WCN})
    r = c.post(f"/items/{item}/codes", data={"code": "Ⅲ—3"})        # bare: the picked map's Ⅲ—3
    assert r.status_code == 302
    codes = instance.db.execute("SELECT map_id, code FROM item_codes WHERE item_id = ? ORDER BY rowid",
                                [item]).fetchall()
    assert codes == [("mini-test", "Ⅲ—1"), (WCN, "Ⅲ—3")]           # the other map's code stays
    r = c.post(f"/items/{item}/codes", data={"code": "nope:Ⅲ—1"}, follow_redirects=True)
    assert "没有编号为「nope」的指标体系" in text(r)


def test_web_export_is_the_picked_maps_package(login, users, items, second_map, instance):
    import io
    import json as _json
    import zipfile

    from tests.web.test_report_pages import _wait_job

    c = login("reviewer")
    c.post("/maps/pick", data={"map_id": WCN})
    r = c.post("/export", data={"date": "2026-07-15"})
    job_id = int(r.location.rstrip("/").rsplit("/", 1)[-1])
    s = _wait_job(c, job_id)
    assert s["state"] == "done", instance.db.execute("SELECT error FROM export_jobs").fetchall()
    assert instance.db.execute("SELECT map_id FROM export_jobs WHERE id = ?", [job_id]).fetchone() == (WCN,)
    r = c.get(s["download_url"])
    z = zipfile.ZipFile(io.BytesIO(r.data))
    r.close()
    manifest = _json.loads(z.read(next(n for n in z.namelist() if n.endswith("/manifest.json"))))
    assert manifest["map"]["id"] == WCN


def test_a_qualified_code_link_switches_to_its_map(login, users, second_map, instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "方案.pdf", ["少年宫方案"])
    ingest_files(instance, [IngestRequest(pdf, [f"{WCN}:Ⅲ—5"], "规范文件", "2026-03-01")], user="t")
    c = login("auditor")
    r = c.get(f"/indicators/{WCN}:Ⅲ—5")                     # the link on the item page
    assert r.status_code == 302 and r.headers["Location"].endswith("/indicators/%E2%85%A2%E2%80%945")
    page = text(c.get("/indicators/Ⅲ—5"))
    assert "乡村学校少年宫" in page and "方案" in page
    assert c.get("/indicators/nope:Ⅲ—5").status_code == 404
