"""Problems (问题清单) and their state machine:

    open 待整改 ──rectify (after photos)──▶ rectified 已整改待复核 ──close──▶ closed 已销号
        ▲                                        │
        └────────── return 退回 (reason) ─────────┘      closed ──reopen (reason)──▶ open

Overdue is computed (state open and deadline before today, 北京时间), never stored. A problem
reported at a 点位 against a leaf where a closed problem exists is a 反弹 (`rebound_of`).
Clerks act only on their own unit's problems; only reviewers and admins close, return, reopen.
Every step writes a problem_events row and an audit row in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from archive.core import audit
from archive.core.dates import parse_date, today_beijing
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, Refusal, UsageError
from . import photos as ph
from .unitref import resolve_unit, unit_id

STATES = {"open": "待整改", "rectified": "已整改待复核", "closed": "已销号"}
OVERDUE_LABEL = "已逾期"
SOURCES = ("日常督查", "暗访", "模拟测评", "省市反馈", "群众举报", "媒体曝光", "自查")
SEVERITIES = ("一般", "较重", "严重")
REPORT_ROLES = ("clerk", "reviewer", "admin")      # clerks (片长) report for their own unit only
DECIDE_ROLES = ("reviewer", "admin")               # 销号, 退回, reopen
MAX_DESCRIPTION = 2000
MAX_PHOTOS = 9


@dataclass(frozen=True)
class Actor:
    """Who acts: an account's name, role and unit (CLI: the OS user with admin rights)."""
    name: str | None
    role: str
    unit: str | None = None
    ip: str | None = None


def forbidden(msg: str) -> Refusal:
    return Refusal("not allowed", msg)


def _may_act_for_unit(actor: Actor, unit: str) -> bool:
    if actor.role in DECIDE_ROLES:
        return True
    return actor.role == "clerk" and bool(actor.unit) and actor.unit == unit


def is_overdue(state: str, deadline: str, today: date | None = None) -> bool:
    return state == "open" and deadline < (today or today_beijing()).isoformat()


def state_label(state: str, deadline: str, returned: int = 0, today: date | None = None) -> str:
    if is_overdue(state, deadline, today):
        return OVERDUE_LABEL
    if state == "open" and returned:
        return "已退回待整改"
    return STATES[state]


# ------------------------------------------------------------------------------ report
@dataclass
class NewProblem:
    description: str
    unit: str | None
    deadline: str | date | None
    codes: list[str] = field(default_factory=list)
    site: str | int | None = None         # id or name
    source: str = "日常督查"
    severity: str = "一般"
    round_id: int | None = None
    found_on: str | date | None = None
    photos: list[ph.PhotoIn] = field(default_factory=list)


def resolve_leaves(instance, codes: list[str]) -> list[tuple[str, str]]:
    """Typed codes (bare, or `map_id:code` while several maps are active) → [(map_id, code as
    the map writes it)], leaves only."""
    from archive.maps.loading import resolve_code

    out: list[tuple[str, str]] = []
    for raw in codes:
        raw = (raw or "").strip()
        if not raw:
            continue
        try:
            imap, node = resolve_code(instance, raw)
        except NotFound as e:
            raise UsageError("unknown map", f"指标代码「{raw}」：{e.message_zh}") from None
        if node is None:
            raise UsageError("unknown code", f"未知的指标代码「{raw}」")
        if not node.is_leaf:
            raise UsageError("code is not a leaf", f"「{node.code} {node.name}」不是测评内容（末级指标）")
        if (imap.id, node.code) not in out:
            out.append((imap.id, node.code))
    return out


def check_deadline(value, today: date | None = None) -> str:
    d = parse_date(value, UsageError) if value not in (None, "") else None
    if d is None:
        raise UsageError("no deadline", "未指定整改期限（限期）")
    if d < (today or today_beijing()):
        raise UsageError("deadline in the past", f"整改期限 {d.isoformat()} 已过（不能早于今天，北京时间）")
    return d.isoformat()


def report_problem(instance, actor: Actor, new: NewProblem) -> int:
    """Record a problem with its before photos; every check runs before anything is written."""
    from .sites import find_site

    db = instance.db
    if actor.role not in REPORT_ROLES:
        raise forbidden("无权登记问题（仅审核员、管理员及本单位资料员）")
    description = " ".join((new.description or "").split())
    if not description:
        raise UsageError("no description", "未填写问题描述")
    if len(description) > MAX_DESCRIPTION:
        raise UsageError("description too long", f"问题描述过长（不超过 {MAX_DESCRIPTION} 字）")
    site = find_site(instance, new.site)
    # the unit given, else the 点位's 包抓单位, else a clerk's own unit
    unit_raw = new.unit if (new.unit or "").strip() else (site["unit"] if site else None)
    if not (unit_raw or "").strip() and actor.role == "clerk":
        unit_raw = actor.unit
    unit = resolve_unit(db, unit_raw)
    if not _may_act_for_unit(actor, unit):
        raise forbidden(f"资料员只能登记本单位（{actor.unit}）的问题")
    deadline = check_deadline(new.deadline)
    found_on = parse_date(new.found_on, UsageError) if new.found_on else today_beijing()
    if found_on > today_beijing():
        raise UsageError("found in the future", f"发现日期 {found_on.isoformat()} 晚于今天")
    if new.source not in SOURCES:
        raise UsageError("unknown source", f"未知的问题来源「{new.source}」，可选：{'、'.join(SOURCES)}")
    if new.severity not in SEVERITIES:
        raise UsageError("unknown severity", f"未知的严重程度「{new.severity}」，可选：{'、'.join(SEVERITIES)}")
    leaves = resolve_leaves(instance, new.codes)
    if new.round_id is not None and not db.execute("SELECT 1 FROM rounds WHERE id = ?", [new.round_id]).fetchone():
        raise NotFound("no such round", f"没有编号为 {new.round_id} 的测评轮次")
    if len(new.photos) > MAX_PHOTOS:
        raise UsageError("too many photos", f"每次最多 {MAX_PHOTOS} 张照片")
    checked = [ph.check_photo(instance, p) for p in new.photos]
    for c in checked:
        ph.store_photo(instance, c)
    now = utcnow()
    with transaction(db):
        rebound_of = _rebound_of(db, site["id"] if site else None, leaves)
        pid = insert(db, "problems", {
            "found_on": found_on.isoformat(), "found_by": actor.name, "source": new.source,
            "round_id": new.round_id, "site_id": site["id"] if site else None,
            "description": description, "unit": unit, "unit_id": unit_id(db, unit), "deadline": deadline,
            "severity": new.severity, "state": "open", "rebound_of": rebound_of,
            "created_at": now, "updated_at": now})
        for map_id, code in leaves:
            insert(db, "problem_codes", {"problem_id": pid, "map_id": map_id, "code": code})
        flagged = []
        for c in checked:
            far = ph.far_from_site(c, site)
            if far:
                flagged.append({"photo": c.original_name, "far_m": far})
            ph.insert_photo(db, pid, "before", c, far, actor.name, now)
        _event(db, pid, actor, "report", description[:200], now)
        audit.log(db, actor.name, "problem.report", f"problem:{pid}", {
            "unit": unit, "deadline": deadline, "site": site["name"] if site else None,
            "codes": [c for _, c in leaves], "photos": [c.sha256 for c in checked],
            "rebound_of": rebound_of, "far": flagged or None}, actor.ip)
    return pid


def _rebound_of(db, site_id: int | None, leaves: list[tuple[str, str]]) -> int | None:
    """The latest closed problem at the same 点位 sharing a leaf: this one is its 反弹."""
    if site_id is None or not leaves:
        return None
    marks = " OR ".join("(c.map_id = ? AND c.code = ?)" for _ in leaves)
    args = [site_id] + [v for leaf in leaves for v in leaf]
    row = db.execute(f"""SELECT p.id FROM problems p JOIN problem_codes c ON c.problem_id = p.id
                         WHERE p.site_id = ? AND p.state = 'closed' AND ({marks})
                         ORDER BY p.closed_at DESC, p.id DESC LIMIT 1""", args).fetchone()
    return row[0] if row else None


def _event(db, pid: int, actor: Actor, action: str, note: str | None, now: str) -> None:
    insert(db, "problem_events", {"problem_id": pid, "at": now, "by": actor.name,
                                  "action": action, "note": note})


def _load(db, pid: int) -> dict:
    cur = db.execute("SELECT * FROM problems WHERE id = ?", [pid])
    row = cur.fetchone()
    if row is None:
        raise NotFound("no such problem", f"没有编号为 {pid} 的问题")
    return dict(zip([d[0] for d in cur.description], row))


def _need_state(p: dict, *states: str, doing: str) -> None:
    if p["state"] not in states:
        raise Refusal("wrong state", f"问题 #{p['id']} 当前为「{STATES[p['state']]}」，不能{doing}")


# ------------------------------------------------------------------------------ steps
def rectify(instance, actor: Actor, pid: int, note: str | None, photos: list[ph.PhotoIn]) -> None:
    """The unit reports it fixed, with after photos (each must differ from every before photo)."""
    db = instance.db
    p = _load(db, pid)
    if not _may_act_for_unit(actor, p["unit"]):
        raise forbidden(f"只有 {p['unit']} 的资料员或审核员可以提交整改")
    _need_state(p, "open", doing="提交整改")
    note = " ".join((note or "").split()) or None
    if not photos:
        raise UsageError("no after photo", "请上传整改后照片")
    if len(photos) > MAX_PHOTOS:
        raise UsageError("too many photos", f"每次最多 {MAX_PHOTOS} 张照片")
    checked = [ph.check_photo(instance, x) for x in photos]
    before = db.execute("SELECT sha256, phash FROM problem_photos WHERE problem_id = ? AND stage = 'before'",
                        [pid]).fetchall()
    for c in checked:
        if ph.same_picture(c, before):
            raise Refusal("after photo same as before", f"{c.label}: 整改照片与整改前相同")
    for c in checked:
        ph.store_photo(instance, c)
    now = utcnow()
    with transaction(db):
        again = _load(db, pid)   # someone else may have acted meanwhile
        _need_state(again, "open", doing="提交整改")
        for c in checked:
            ph.insert_photo(db, pid, "after", c, None, actor.name, now)
        db.execute("UPDATE problems SET state = 'rectified', rectified_at = ?, rectified_by = ?, "
                   "rectify_note = ?, updated_at = ? WHERE id = ?", [now, actor.name, note, now, pid])
        _event(db, pid, actor, "rectify", note, now)
        audit.log(db, actor.name, "problem.rectify", f"problem:{pid}",
                  {"note": note, "photos": [c.sha256 for c in checked]}, actor.ip)


def close(instance, actor: Actor, pid: int, note: str | None = None) -> None:
    """销号: a reviewer accepts the rectification."""
    if actor.role not in DECIDE_ROLES:
        raise forbidden("只有审核员可以销号")
    db = instance.db
    now = utcnow()
    with transaction(db):
        p = _load(db, pid)
        _need_state(p, "rectified", doing="销号")
        db.execute("UPDATE problems SET state = 'closed', closed_at = ?, closed_by = ?, updated_at = ? "
                   "WHERE id = ?", [now, actor.name, now, pid])
        _event(db, pid, actor, "close", note, now)
        audit.log(db, actor.name, "problem.close", f"problem:{pid}", {"note": note}, actor.ip)


def send_back(instance, actor: Actor, pid: int, reason: str) -> None:
    """退回: not fixed; back to 待整改 with a reason (from 已整改待复核), or a 销号 undone (from 已销号)."""
    if actor.role not in DECIDE_ROLES:
        raise forbidden("只有审核员可以退回或重新打开问题")
    reason = " ".join((reason or "").split())
    if not reason:
        raise UsageError("no reason", "退回须写明原因")
    db = instance.db
    now = utcnow()
    with transaction(db):
        p = _load(db, pid)
        _need_state(p, "rectified", "closed", doing="退回")
        action = "return" if p["state"] == "rectified" else "reopen"
        db.execute("UPDATE problems SET state = 'open', returned_count = returned_count + 1, "
                   "closed_at = NULL, closed_by = NULL, updated_at = ? WHERE id = ?", [now, pid])
        _event(db, pid, actor, action, reason, now)
        audit.log(db, actor.name, f"problem.{action}", f"problem:{pid}",
                  {"reason": reason, "from": p["state"]}, actor.ip)


# ------------------------------------------------------------------------------ reads
LIST_COLUMNS = ("id, found_on, found_by, source, round_id, site_id, description, unit, deadline, "
                "severity, state, returned_count, rebound_of, rectified_at, closed_at")


@dataclass
class ProblemFilter:
    unit: str | None = None
    state: str | None = None          # open rectified closed overdue rebound
    site_id: int | None = None
    code: str | None = None           # a leaf code as the map writes it
    round_id: int | None = None
    found_from: str | None = None
    found_to: str | None = None
    q: str | None = None

    def where(self, today: str) -> tuple[str, dict]:
        w, a = ["1 = 1"], {"today": today}
        if self.unit:
            w.append("p.unit = :unit")
            a["unit"] = self.unit
        if self.state == "overdue":
            w.append("p.state = 'open' AND p.deadline < :today")
        elif self.state == "rebound":
            w.append("p.rebound_of IS NOT NULL")
        elif self.state == "unclosed":
            w.append("p.state != 'closed'")
        elif self.state:
            if self.state not in STATES:
                raise UsageError("bad state", f"未知的状态「{self.state}」，可选：open rectified closed overdue rebound")
            w.append("p.state = :state")
            a["state"] = self.state
        if self.site_id:
            w.append("p.site_id = :site")
            a["site"] = self.site_id
        if self.code:
            w.append("p.id IN (SELECT problem_id FROM problem_codes WHERE code = :code)")
            a["code"] = self.code
        if self.round_id:
            w.append("p.round_id = :round")
            a["round"] = self.round_id
        if self.found_from:
            w.append("p.found_on >= :ffrom")
            a["ffrom"] = self.found_from
        if self.found_to:
            w.append("p.found_on <= :fto")
            a["fto"] = self.found_to
        if self.q:
            w.append("instr(p.description, :q) > 0")
            a["q"] = self.q
        return " AND ".join(w), a


def list_problems(instance, flt: ProblemFilter | None = None, limit: int = 50,
                  offset: int = 0) -> dict:
    """{"total", "problems": [...]} newest first, with computed overdue and labels; one page."""
    db = instance.db
    flt = flt or ProblemFilter()
    today = today_beijing()
    where, args = flt.where(today.isoformat())
    total = db.execute(f"SELECT COUNT(*) FROM problems p WHERE {where}", args).fetchone()[0]
    cur = db.execute(f"SELECT {LIST_COLUMNS} FROM problems p WHERE {where} "
                     f"ORDER BY p.id DESC LIMIT :limit OFFSET :offset",
                     {**args, "limit": limit, "offset": offset})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    _decorate(db, rows, today)
    return {"total": total, "problems": rows}


def _decorate(db, rows: list[dict], today: date) -> None:
    """Add codes, site name, photo counts and computed labels to a page of problems."""
    if not rows:
        return
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids))
    codes: dict[int, list[str]] = {}
    for pid, code in db.execute(f"SELECT problem_id, code FROM problem_codes WHERE problem_id IN ({marks}) "
                                "ORDER BY rowid", ids):
        codes.setdefault(pid, []).append(code)
    counts: dict[tuple[int, str], int] = {}
    for pid, stage, n in db.execute(f"SELECT problem_id, stage, COUNT(*) FROM problem_photos "
                                    f"WHERE problem_id IN ({marks}) GROUP BY problem_id, stage", ids):
        counts[(pid, stage)] = n
    site_ids = sorted({r["site_id"] for r in rows if r["site_id"]})
    sites = {}
    if site_ids:
        sm = ",".join("?" * len(site_ids))
        sites = dict(db.execute(f"SELECT id, name FROM sites WHERE id IN ({sm})", site_ids).fetchall())
    for r in rows:
        r["codes"] = codes.get(r["id"], [])
        r["site"] = sites.get(r["site_id"])
        r["before_photos"] = counts.get((r["id"], "before"), 0)
        r["after_photos"] = counts.get((r["id"], "after"), 0)
        r["overdue"] = is_overdue(r["state"], r["deadline"], today)
        r["state_label"] = state_label(r["state"], r["deadline"], r["returned_count"], today)
        r["days_left"] = (date.fromisoformat(r["deadline"]) - today).days


def problem_detail(instance, pid: int) -> dict:
    db = instance.db
    p = _load(db, pid)
    today = today_beijing()
    _decorate(db, [p], today)
    cur = db.execute("SELECT id, stage, sha256, original_name, kind, taken_at, lat, lon, far_m, phash, "
                     "added_at, added_by FROM problem_photos WHERE problem_id = ? ORDER BY id", [pid])
    cols = [d[0] for d in cur.description]
    p["photos"] = [dict(zip(cols, r)) for r in cur.fetchall()]
    cur = db.execute("SELECT at, by, action, note FROM problem_events WHERE problem_id = ? ORDER BY id", [pid])
    p["events"] = [dict(zip(("at", "by", "action", "note"), r)) for r in cur.fetchall()]
    if p["site_id"]:
        s = db.execute("SELECT name, kind, lat, lon FROM sites WHERE id = ?", [p["site_id"]]).fetchone()
        p["site_detail"] = dict(zip(("name", "kind", "lat", "lon"), s))
    p["rebounds"] = [r[0] for r in db.execute("SELECT id FROM problems WHERE rebound_of = ? ORDER BY id", [pid])]
    return p


def photo_row(instance, photo_id: int) -> dict:
    cur = instance.db.execute("SELECT ph.*, p.unit FROM problem_photos ph JOIN problems p "
                              "ON p.id = ph.problem_id WHERE ph.id = ?", [photo_id])
    row = cur.fetchone()
    if row is None:
        raise NotFound("no such photo", f"没有编号为 {photo_id} 的照片")
    return dict(zip([d[0] for d in cur.description], row))


EVENT_LABELS = {"report": "登记", "rectify": "提交整改", "close": "销号", "return": "退回",
                "reopen": "撤销销号"}
