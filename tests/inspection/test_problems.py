"""Problems: report with real photos, the state machine, roles, rebounds, overdue, bad input."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from archive.core.errors import NotFound, Refusal, UsageError
from archive.inspection import photos as ph
from archive.inspection import problems as pr
from archive.inspection.photos import PhotoIn
from archive.inspection.problems import Actor, NewProblem
from tests import filefactory
from tests.inspection.helpers import count, resaved, scene_jpeg

FUTURE = (date.today() + timedelta(days=30)).isoformat()
CLERK = Actor("资料员乙", "clerk", "草场街街道")
OTHER_CLERK = Actor("资料员丙", "clerk", "市教育局")


def report(instance, actor, tmp_path, site=None, seed=1, **kw):
    photo = scene_jpeg(tmp_path / f"before_{seed}.jpg", seed=seed)
    fields = dict(description="摊位占道经营，地面有积水", unit="草场街街道", deadline=FUTURE,
                  codes=["Ⅲ-4"], site=site, photos=[PhotoIn(photo, "现场照片.jpg")])
    fields.update(kw)
    return pr.report_problem(instance, actor, NewProblem(**fields))


def test_report_keeps_exif_and_flags_far_photo(instance, admin, site, tmp_path):
    near = scene_jpeg(tmp_path / "near.jpg", seed=1)
    far = scene_jpeg(tmp_path / "far.jpg", seed=2, gps=(36.0871, 120.3826))   # ~2.2 km north
    pid = pr.report_problem(instance, admin, NewProblem(
        description="垃圾桶满溢", unit=None, deadline=FUTURE, codes=["iii-4"], site=site,
        photos=[PhotoIn(near, "近.jpg"), PhotoIn(far, "远.jpg")]))
    p = pr.problem_detail(instance, pid)
    assert p["unit"] == "草场街街道"          # from the site's 包抓单位
    assert p["codes"] == ["Ⅲ—4"] and p["state"] == "open" and p["state_label"] == "待整改"
    near_row, far_row = p["photos"]
    assert near_row["taken_at"] == "2026-03-01T09:30:00"
    assert (near_row["lat"], near_row["lon"]) == (36.0671, 120.3826)
    assert near_row["far_m"] is None
    assert 2100 < far_row["far_m"] < 2350
    # into the content store and the files table, not items
    assert instance.store.exists(near_row["sha256"])
    assert instance.db.execute("SELECT kind FROM files WHERE sha256 = ?", [near_row["sha256"]]).fetchone()[0] == "jpeg"
    assert count(instance.db, "items") == 0
    row = instance.db.execute("SELECT user, detail FROM audit WHERE action = 'problem.report'").fetchone()
    assert row[0] == "审核员甲" and json.loads(row[1])["far"][0]["photo"] == "远.jpg"


def test_full_cycle_with_return(instance, admin, site, tmp_path):
    pid = report(instance, admin, tmp_path, site=site)
    after = scene_jpeg(tmp_path / "after.jpg", seed=50)
    pr.rectify(instance, CLERK, pid, "已清理", [PhotoIn(after, "整改后.jpg")])
    assert pr.problem_detail(instance, pid)["state_label"] == "已整改待复核"
    pr.send_back(instance, admin, pid, "地面仍有积水")
    p = pr.problem_detail(instance, pid)
    assert p["state"] == "open" and p["state_label"] == "已退回待整改" and p["returned_count"] == 1
    after2 = scene_jpeg(tmp_path / "after2.jpg", seed=51)
    pr.rectify(instance, CLERK, pid, "积水已排", [PhotoIn(after2, "整改后2.jpg")])
    pr.close(instance, admin, pid, "整改到位")
    p = pr.problem_detail(instance, pid)
    assert p["state_label"] == "已销号" and p["closed_by"] == "审核员甲"
    assert [e["action"] for e in p["events"]] == ["report", "rectify", "return", "rectify", "close"]
    actions = [r[0] for r in instance.db.execute(
        "SELECT action FROM audit WHERE target = ? ORDER BY id", [f"problem:{pid}"])]
    assert actions == ["problem.report", "problem.rectify", "problem.return", "problem.rectify", "problem.close"]
    # undoing a 销号 needs a reason too
    with pytest.raises(UsageError, match="原因"):
        pr.send_back(instance, admin, pid, "  ")
    pr.send_back(instance, admin, pid, "复查发现未整改")
    assert pr.problem_detail(instance, pid)["events"][-1]["action"] == "reopen"


def test_after_photo_same_as_before_is_refused(instance, admin, tmp_path):
    pid = report(instance, admin, tmp_path, seed=3)
    before = tmp_path / "before_3.jpg"
    for same in (before, resaved(before, tmp_path / "shrunk.jpg")):
        with pytest.raises(Refusal, match="整改照片与整改前相同"):
            pr.rectify(instance, CLERK, pid, None, [PhotoIn(same, "整改后.jpg")])
    # a good photo in the same batch does not get through either: nothing half-written
    good = scene_jpeg(tmp_path / "good.jpg", seed=60)
    with pytest.raises(Refusal):
        pr.rectify(instance, CLERK, pid, None, [PhotoIn(good, "好.jpg"), PhotoIn(before, "同.jpg")])
    assert count(instance.db, "problem_photos") == 1
    assert pr.problem_detail(instance, pid)["state"] == "open"


def test_distinct_scenes_are_not_the_same_picture(tmp_path, instance):
    hashes = [ph.perceptual_hash(scene_jpeg(tmp_path / f"s{i}.jpg", seed=i), 10**8) for i in range(8)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1:]:
            assert ph.phash_distance(a, b) > ph.SAME_PHASH_BITS


def test_roles(instance, admin, site, tmp_path):
    # a clerk reports only for their own unit
    with pytest.raises(Refusal, match="本单位"):
        report(instance, OTHER_CLERK, tmp_path, site=site)
    pid = report(instance, CLERK, tmp_path, site=site)
    assert pr.problem_detail(instance, pid)["found_by"] == "资料员乙"
    after = scene_jpeg(tmp_path / "a.jpg", seed=70)
    with pytest.raises(Refusal, match="草场街街道"):
        pr.rectify(instance, OTHER_CLERK, pid, None, [PhotoIn(after, "a.jpg")])
    with pytest.raises(Refusal, match="不能销号"):
        pr.close(instance, admin, pid)              # not rectified yet
    pr.rectify(instance, CLERK, pid, None, [PhotoIn(after, "a.jpg")])
    with pytest.raises(Refusal, match="只有审核员"):
        pr.close(instance, CLERK, pid)
    with pytest.raises(Refusal, match="只有审核员"):
        pr.send_back(instance, CLERK, pid, "x")
    with pytest.raises(Refusal):
        report(instance, Actor("审计", "auditor"), tmp_path, site=site)
    pr.close(instance, Actor("管理员", "admin"), pid)


def test_rebound_counted_at_same_site_and_leaf(instance, admin, site, tmp_path):
    pid = report(instance, admin, tmp_path, site=site)
    pr.rectify(instance, CLERK, pid, None, [PhotoIn(scene_jpeg(tmp_path / "a.jpg", seed=80), "a.jpg")])
    pr.close(instance, admin, pid)
    other_leaf = report(instance, admin, tmp_path, site=site, seed=4, codes=["Ⅲ—5"])
    no_site = report(instance, admin, tmp_path, seed=5)
    again = report(instance, admin, tmp_path, site=site, seed=6)
    assert pr.problem_detail(instance, other_leaf)["rebound_of"] is None
    assert pr.problem_detail(instance, no_site)["rebound_of"] is None
    assert pr.problem_detail(instance, again)["rebound_of"] == pid
    assert pr.list_problems(instance, pr.ProblemFilter(state="rebound"))["total"] == 1
    assert pr.problem_detail(instance, pid)["rebounds"] == [again]


def test_overdue_is_computed(instance, admin, tmp_path, monkeypatch):
    soon = (date.today() + timedelta(days=2)).isoformat()
    late = report(instance, admin, tmp_path, deadline=soon)
    done = report(instance, admin, tmp_path, seed=2, deadline=soon)
    pr.rectify(instance, CLERK, done, None, [PhotoIn(scene_jpeg(tmp_path / "a.jpg", seed=90), "a.jpg")])
    assert pr.list_problems(instance, pr.ProblemFilter(state="overdue"))["total"] == 0
    monkeypatch.setattr(pr, "today_beijing", lambda: date.today() + timedelta(days=5))
    got = pr.list_problems(instance, pr.ProblemFilter(state="overdue"))
    assert [p["id"] for p in got["problems"]] == [late]
    assert got["problems"][0]["state_label"] == "已逾期" and got["problems"][0]["days_left"] == -3
    # nothing stored: the state column still says open
    assert instance.db.execute("SELECT state FROM problems WHERE id = ?", [late]).fetchone()[0] == "open"


@pytest.mark.parametrize("fields,error,message", [
    ({"unit": None}, UsageError, "未指定责任单位"),
    ({"deadline": None}, UsageError, "未指定整改期限"),
    ({"deadline": "2020-01-01"}, UsageError, "已过"),
    ({"deadline": "明天"}, UsageError, "日期"),
    ({"description": " "}, UsageError, "问题描述"),
    ({"codes": ["Ⅸ—99"]}, UsageError, "未知的指标代码"),
    ({"codes": ["Ⅱ—1"]}, UsageError, "不是测评内容"),
    ({"source": "路人"}, UsageError, "来源"),
    ({"site": "不存在的点位"}, NotFound, "点位"),
])
def test_bad_input_writes_nothing(instance, admin, tmp_path, fields, error, message):
    before = {t: count(instance.db, t) for t in ("problems", "problem_photos", "files", "audit")}
    with pytest.raises(error, match=message):
        report(instance, admin, tmp_path, **fields)
    assert {t: count(instance.db, t) for t in before} == before
    assert not list(instance.store.iter_all())


def test_bad_photos(instance, admin, tmp_path, monkeypatch):
    pdf = filefactory.make_pdf(tmp_path / "x.jpg", ["不是照片"])
    exe = filefactory.make_exe(tmp_path / "y.png")
    broken = filefactory.make_truncated(scene_jpeg(tmp_path / "z.jpg", seed=9), tmp_path / "broken.jpg")
    for bad, msg in ((pdf, "不是照片"), (exe, "不是照片"), (broken, "损坏")):
        with pytest.raises(Refusal, match=msg):
            report(instance, admin, tmp_path, photos=[PhotoIn(bad, bad.name)])
    monkeypatch.setattr(ph, "MAX_PHOTO_BYTES", 1000)
    with pytest.raises(Refusal, match="上限"):
        report(instance, admin, tmp_path)
    assert count(instance.db, "problems") == 0


def test_list_filters_and_pages(instance, admin, site, tmp_path):
    ids = [report(instance, admin, tmp_path, site=site if i % 2 else None, seed=i,
                  unit="草场街街道" if i < 3 else "市教育局") for i in range(5)]
    assert pr.list_problems(instance)["total"] == 5
    page = pr.list_problems(instance, limit=2, offset=2)
    assert [p["id"] for p in page["problems"]] == [ids[2], ids[1]]
    assert pr.list_problems(instance, pr.ProblemFilter(unit="市教育局"))["total"] == 2
    assert pr.list_problems(instance, pr.ProblemFilter(site_id=site))["total"] == 2
    assert pr.list_problems(instance, pr.ProblemFilter(code="Ⅲ—4"))["total"] == 5
    assert pr.list_problems(instance, pr.ProblemFilter(code="Ⅲ—5"))["total"] == 0
    assert pr.list_problems(instance, pr.ProblemFilter(q="积水"))["total"] == 5


def test_several_active_maps_take_qualified_codes(instance, admin, tmp_path):
    from openpyxl import load_workbook

    from archive.inspection.ledger import write_ledger
    from archive.maps.loading import load_map_into
    from tests.conftest import MINI_MAP

    second = tmp_path / "second.yaml"
    second.write_text(MINI_MAP.read_text(encoding="utf-8").replace("id: mini-test", "id: second"), encoding="utf-8")
    load_map_into(instance, second, user="t")
    with pytest.raises(UsageError, match="请指定指标体系"):
        report(instance, admin, tmp_path, codes=["Ⅲ-4"])
    pid = report(instance, admin, tmp_path, codes=["second:Ⅲ-4", "mini-test：Ⅲ-5"])
    got = instance.db.execute("SELECT map_id, code FROM problem_codes WHERE problem_id = ? ORDER BY rowid",
                              [pid]).fetchall()
    assert [tuple(r) for r in got] == [("second", "Ⅲ—4"), ("mini-test", "Ⅲ—5")]
    write_ledger(instance, pr.ProblemFilter(), tmp_path / "l.xlsx")
    assert load_workbook(tmp_path / "l.xlsx").active["F4"].value == "Ⅲ—4 农贸市场管理规范；Ⅲ—5 背街小巷环境整洁"
