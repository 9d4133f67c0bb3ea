"""催办 (records, webhook against a local HTTP server), 催办单, ranking and its trend."""
from __future__ import annotations

import io
import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import openpyxl
import pytest

from archive.units.deadlines import set_deadline
from archive.units.ranking import ranking, ranking_xlsx
from archive.units.records import get_unit
from archive.units.reminders import send_reminders, set_webhook_url
from archive.units.service import owed_report
from archive.units.urge import urge_xlsx
from cli import cli

D = date(2026, 6, 10)


class Robot:
    """A local stand-in for a WeCom/DingTalk group robot: records what it is sent."""

    def __init__(self, status=200, reply=b'{"errcode":0,"errmsg":"ok"}'):
        self.received: list[dict] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                robot.received.append(json.loads(self.rfile.read(n).decode("utf-8")))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/webhook/send?key=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    r = Robot()
    yield r
    r.close()


@pytest.fixture
def round1(instance):
    set_deadline(instance, "第一轮", "2026-05-31", starts_on="2026-03-01", by="t")


def test_reminder_recorded_without_webhook(instance, round1):
    report = owed_report(instance, today=D)
    uid = get_unit(instance.db, "市教育局").id
    res = send_reminders(instance, report, [uid], by="reviewer")
    assert res == [{"unit": "市教育局", "unit_id": uid, "open": 1, "recorded": True, "webhook": None}]
    row = instance.db.execute("SELECT by, channel FROM reminders WHERE unit_id = ?", [uid]).fetchone()
    assert row == ("reviewer", "record")
    assert instance.db.execute("SELECT user FROM audit WHERE action = 'unit.remind'").fetchone()[0] == "reviewer"


def test_reminder_posts_to_configured_robot(instance, round1, robot):
    set_webhook_url(instance.db, robot.url, by="admin")
    report = owed_report(instance, today=D)
    ids = [get_unit(instance.db, n).id for n in ("草场街街道", "市教育局")]
    res = send_reminders(instance, report, ids, by="reviewer", link_for=lambda uid: f"http://x/urge/{uid}")
    assert [r["webhook"]["ok"] for r in res] == [True, True]
    assert len(robot.received) == 2
    msg = robot.received[1]
    assert msg["msgtype"] == "text"
    assert msg["text"]["content"].startswith("【催办】市教育局：截至 2026-06-10（北京时间）尚有 1 项")
    assert "Ⅲ—3 乡村学校少年宫建设：统计表格（已逾期，已逾期 10 天）" in msg["text"]["content"]
    assert f"http://x/urge/{ids[1]}" in msg["text"]["content"]


@pytest.mark.parametrize("status,reply,expect", [
    (500, b"oops", "HTTP 500"),
    (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', "机器人拒收：invalid webhook url"),
])
def test_failed_post_is_reported_not_raised(instance, round1, status, reply, expect):
    bad = Robot(status, reply)
    try:
        set_webhook_url(instance.db, bad.url, by="admin")
        uid = get_unit(instance.db, "市教育局").id
        res = send_reminders(instance, owed_report(instance, today=D), [uid], by="reviewer")
    finally:
        bad.close()
    assert res[0]["recorded"] and not res[0]["webhook"]["ok"] and expect in res[0]["webhook"]["error"]
    detail = json.loads(instance.db.execute("SELECT detail FROM reminders").fetchone()[0])
    assert detail["webhook"]["ok"] is False
    assert instance.db.execute("SELECT count(*) FROM audit WHERE action = 'unit.remind.failed'").fetchone()[0] == 1


def test_unreachable_robot_and_bad_url(instance, round1):
    from archive.core.errors import UsageError

    with pytest.raises(UsageError, match="http"):
        set_webhook_url(instance.db, "file:///etc/passwd", by="admin")
    robot = Robot()
    url = robot.url
    robot.close()                      # nothing listens there any more
    set_webhook_url(instance.db, url, by="admin")
    uid = get_unit(instance.db, "市教育局").id
    res = send_reminders(instance, owed_report(instance, today=D), [uid], by="reviewer")
    assert "无法连接" in res[0]["webhook"]["error"]


def test_cli_remind_writes_urge_sheet_and_exit_1_on_failed_post(runner, instance, round1, tmp_path):
    out = tmp_path / "催办单.xlsx"
    r = runner.invoke(cli, ["--instance", str(instance.root), "remind", "--unit", "草场街街道", "--xlsx", str(out),
                            "--base-url", "http://10.0.0.5:5000/"])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].startswith("催办单：草场街街道（第一轮")
    assert rows[1][:5] == ("序号", "测评内容", "名称", "材料类型", "状态")
    assert rows[2][10].startswith("http://10.0.0.5:5000/upload?code=%E2%85%A2")
    assert {(r[1], r[3]) for r in rows[2:]} == {("Ⅲ—2", "实景图片"), ("Ⅲ—2", "工作台账"), ("Ⅲ—5", "实景图片"),
                                                 ("Ⅲ—6", "规范文件"), ("Ⅲ—6", "工作台账")}
    folder = tmp_path / "all"
    r = runner.invoke(cli, ["--instance", str(instance.root), "remind", "--dry-run", "--xlsx", str(folder), "--json"])
    assert r.exit_code == 0 and len(list(folder.glob("催办单_*.xlsx"))) == 4   # 市市场监管局 owes nothing (实地考察 only)
    assert all(not x["recorded"] for x in json.loads(r.output)["reminded"])
    robot = Robot(500, b"")
    try:
        set_webhook_url(instance.db, robot.url, by="admin")
        r = runner.invoke(cli, ["--instance", str(instance.root), "remind", "--unit", "市教育局"])
    finally:
        robot.close()
    assert r.exit_code == 1 and "推送失败" in r.output and "(webhook failed)" in r.output


def test_ranking(instance, round1, add_item, review):
    import archive.units.ranking as rk

    db = instance.db
    # 市教育局 (1 obligation) hands in on time and is approved; 市委宣传部 nothing.
    item = add_item("Ⅲ—3", "统计表格", "市教育局")
    db.execute("UPDATE items SET created_at = '2026-05-20T02:00:00Z' WHERE id = ?", [item])
    review(item, "rejected")
    review(add_item("Ⅲ—3", "统计表格", "市教育局"), "approved")
    result = ranking(instance, date(2026, 3, 1), date(2026, 6, 30), today=D)
    by = {u["unit"]: u for u in result["units"]}
    assert by["市教育局"]["rank"] == 1 and by["市教育局"]["completeness"] == 1.0
    assert by["市教育局"]["on_time_rate"] == 1.0
    # Reviews are stamped now (UTC), outside March–June 2026 unless today is in it.
    today_reviews = rk.review_counts(db, date(2000, 1, 1), date(2999, 1, 1))
    assert today_reviews["市教育局"] == (1, 2)
    assert by["市委宣传部"]["completeness"] == 0 and by["市委宣传部"]["on_time_rate"] == 0
    assert by["市委宣传部"]["rank"] > 1
    # Ties share a place.
    zero = [u for u in result["units"] if u["completeness"] == 0 and u["on_time_rate"] == 0]
    assert len({u["rank"] for u in zero}) == 1
    assert result["trend"][-1]["day"] == D.isoformat()
    rows = list(openpyxl.load_workbook(io.BytesIO(ranking_xlsx(result))).active.iter_rows(values_only=True))
    assert rows[1][:3] == ("名次", "单位", "类型") and rows[2][1] == "市教育局" and rows[2][8] == "100.0%"


def test_return_rate_window_is_beijing_days(instance):
    from archive.units.ranking import _utc_bound

    assert _utc_bound(date(2026, 6, 1)) == "2026-05-31T16:00:00Z"


def test_trend_from_snapshots(instance, round1, add_item):
    owed_report(instance, today=date(2026, 6, 1))
    add_item("Ⅲ—3", "统计表格", "市教育局")
    owed_report(instance, today=date(2026, 6, 2))
    t = ranking(instance, date(2026, 6, 1), date(2026, 6, 2), today=date(2026, 6, 2))["trend"]
    assert [x["day"] for x in t] == ["2026-06-01", "2026-06-02"]
    assert t[0]["open"] - t[1]["open"] == 1 and t[1]["submitted"] == 1


def test_rank_cli(runner, instance, round1, tmp_path):
    out = tmp_path / "排名.xlsx"
    r = runner.invoke(cli, ["--instance", str(instance.root), "rank", "--from", "2026-03-01", "--to",
                            "2026-06-30", "--xlsx", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["units"]) == 4 and out.exists()   # units that owe something
    r = runner.invoke(cli, ["--instance", str(instance.root), "rank", "--from", "2026-07-01", "--to", "2026-06-01"])
    assert r.exit_code == 2 and "早于开始日期" in r.output


def test_urge_xlsx(instance, round1):
    report = owed_report(instance, today=D)
    uid = get_unit(instance.db, "市教育局").id
    data = urge_xlsx("市教育局", report, uid, link_for=lambda r: f"http://h/upload?code={r['code']}")
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[2][1] == "Ⅲ—3" and rows[2][7] == 10 and rows[2][10] == "http://h/upload?code=Ⅲ—3"
