"""催办: reminding units of what they owe.

A reminder is a record (who reminded which unit when, and of what) plus an audit row, in one
transaction. Only when an admin has set a group-robot URL (setting `units.webhook_url`; off by
default, so nothing leaves the machine otherwise) is a text message posted to it — WeCom
(企业微信) and DingTalk (钉钉) robots both take `{"msgtype": "text", "text": {"content": …}}`.
The post happens after the commit, with a timeout; a failure is reported and recorded, never
raised: the reminder itself stands.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import UsageError
from archive.core.settings import get_setting, set_setting
from .obligations import OPEN_STATES
from .records import get_unit

WEBHOOK_SETTING = "units.webhook_url"
WEBHOOK_TIMEOUT_S = 5
MAX_LINES = 15   # robots cap a message's length (WeCom: 2048 bytes): list the first ones, then "等"


def webhook_url(db) -> str | None:
    return get_setting(db, WEBHOOK_SETTING) or None


def set_webhook_url(db, url: str | None, by: str | None, ip: str | None = None) -> None:
    """Set (or clear, with blank) the group-robot URL: http(s) only."""
    url = (url or "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
            raise UsageError("bad webhook url", "机器人地址应为 http:// 或 https:// 开头的完整网址")
    set_setting(db, WEBHOOK_SETTING, url, by=by, ip=ip)


def channel_of(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host.endswith("weixin.qq.com"):
        return "企业微信"
    if host.endswith("dingtalk.com"):
        return "钉钉"
    return "群机器人"


def message_text(unit: str, rows: list[dict], today: str, link: str | None = None) -> str:
    lines = [f"【催办】{unit}：截至 {today}（北京时间）尚有 {len(rows)} 项材料未报送或被退回："]
    for r in rows[:MAX_LINES]:
        when = (f"已逾期 {-r['days_left']} 天" if r["days_left"] is not None and r["days_left"] < 0
                else f"截止 {r['due_on']}" if r["due_on"] else "未设截止")
        lines.append(f"· {r['code']} {r['name']}：{r['type']}（{r['state_zh']}，{when}）")
    if len(rows) > MAX_LINES:
        lines.append(f"……等共 {len(rows)} 项")
    if link:
        lines.append(f"详见：{link}")
    return "\n".join(lines)


def post_webhook(url: str, text: str, timeout: float = WEBHOOK_TIMEOUT_S) -> dict:
    """POST the message; → {"ok": bool, "error": str|None}. Never raises."""
    body = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:   # noqa: S310 (admin-set URL)
            raw = resp.read(65536)
    except urllib.error.HTTPError as e:
        return {"ok": False, "error": f"机器人返回 HTTP {e.code}"}
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return {"ok": False, "error": f"无法连接机器人地址（{reason}）"}
    # Both robots answer 200 with {"errcode": 0, ...}; anything else names the problem.
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"ok": True, "error": None}
    if isinstance(data, dict) and data.get("errcode", 0) not in (0, "0"):
        return {"ok": False, "error": f"机器人拒收：{data.get('errmsg') or data.get('errcode')}"}
    return {"ok": True, "error": None}


def send_reminders(inst, report: dict, unit_ids: list[int], by: str | None, ip: str | None = None,
                   link_for=None) -> list[dict]:
    """Remind each unit of its open obligations in `report` (an owed report over all units).

    → one result per unit: {"unit", "open", "recorded", "webhook": None | {"ok", "error"}}.
    A unit with nothing open is skipped (recorded False). `link_for(unit_id)` may give a URL
    of the unit's 催办单 for the message."""
    db = inst.db
    by_unit: dict[int, list[dict]] = {}
    for r in report["obligations"]:
        if r["state"] in OPEN_STATES:
            by_unit.setdefault(r["unit_id"], []).append(r)
    url = webhook_url(db)
    results, posts = [], []
    units = [get_unit(db, uid) for uid in dict.fromkeys(unit_ids)]
    with transaction(db):
        for unit in units:
            rows = by_unit.get(unit.id, [])
            if not rows:
                results.append({"unit": unit.name, "unit_id": unit.id, "open": 0, "recorded": False,
                                "webhook": None})
                continue
            detail = {"open": len(rows), "overdue": sum(r["state"] == "overdue" for r in rows),
                      "items": [[r["code"], r["type"], r["state"]] for r in rows[:200]]}
            rid = insert(db, "reminders", {"unit_id": unit.id, "at": utcnow(), "by": by,
                                           "channel": "webhook" if url else "record",
                                           "detail": json.dumps(detail, ensure_ascii=False)})
            audit.log(db, by, "unit.remind", target=unit.name, ip=ip,
                      detail={"open": detail["open"], "overdue": detail["overdue"],
                              "webhook": bool(url)})
            result = {"unit": unit.name, "unit_id": unit.id, "open": len(rows), "recorded": True,
                      "webhook": None, "_id": rid}
            results.append(result)
            if url:
                link = link_for(unit.id) if link_for else None
                posts.append((result, message_text(unit.name, rows, report["today"], link)))
    for result, text in posts:   # after the commit: never hold the write lock over the network
        outcome = post_webhook(url, text)
        result["webhook"] = {"channel": channel_of(url), **outcome}
        with transaction(db):
            row = db.execute("SELECT detail FROM reminders WHERE id = ?", [result["_id"]]).fetchone()
            detail = json.loads(row[0])
            detail["webhook"] = outcome
            db.execute("UPDATE reminders SET detail = ? WHERE id = ?",
                       [json.dumps(detail, ensure_ascii=False), result["_id"]])
            if not outcome["ok"]:
                audit.log(db, by, "unit.remind.failed", target=result["unit"], ip=ip,
                          detail={"error": outcome["error"]})
    for r in results:
        r.pop("_id", None)
    return results


def last_reminders(db) -> dict[int, dict]:
    """unit_id → its latest reminder {"at", "by", "channel"}."""
    rows = db.execute("SELECT unit_id, at, by, channel FROM reminders r WHERE id = "
                      "(SELECT max(id) FROM reminders WHERE unit_id = r.unit_id)").fetchall()
    return {r[0]: {"at": r[1], "by": r[2], "channel": r[3]} for r in rows}


def reminder_history(db, unit_id: int, limit: int = 20) -> list[dict]:
    rows = db.execute("SELECT at, by, channel, detail FROM reminders WHERE unit_id = ? ORDER BY id DESC LIMIT ?",
                      [unit_id, limit]).fetchall()
    out = []
    for at, by, channel, detail in rows:
        d = json.loads(detail or "{}")
        out.append({"at": at, "by": by, "channel": channel, "open": d.get("open"),
                    "webhook": d.get("webhook")})
    return out
