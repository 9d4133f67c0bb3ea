"""模拟测评 rounds and their per-leaf scores; lost points attributed to responsible units.

A round has a date, an evaluator (第三方/市级/自查) and, per leaf, 满分, 得分 and the reason;
扣分 = 满分 − 得分 is computed. Lost points go to the leaf's lead unit ("谁丢分谁负责"):
from issue 12's `duties` table (role lead) when it exists and names one, else the map's
`units:` (the first is the lead). Co-units are listed beside it, never charged twice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from archive.core import audit
from archive.core.dates import parse_date
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, UsageError

EVALUATORS = ("第三方", "市级", "自查")
KINDS = ("模拟测评", "督查")
CODE_HEADERS = ("代码", "编码", "指标代码", "测评内容代码", "code")
FULL_HEADERS = ("满分", "分值", "full")
SCORE_HEADERS = ("得分", "score")
LOST_HEADERS = ("扣分", "lost")
REASON_HEADERS = ("扣分原因", "原因", "说明", "reason")
MAX_ERRORS_SHOWN = 5


@dataclass
class ScoreIn:
    code: str
    full: object = None
    score: object = None
    lost: object = None
    reason: str | None = None
    row: int | None = None      # xlsx row, for messages


def _where(s: ScoreIn) -> str:
    return f"第 {s.row} 行" if s.row else f"{s.code}"


def _number(value, label: str, s: ScoreIn) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        v = float(str(value).strip())
    except ValueError:
        raise UsageError("bad score", f"{_where(s)}: {label}「{value}」不是数字") from None
    if not math.isfinite(v):
        raise UsageError("bad score", f"{_where(s)}: {label}「{value}」不是数字")
    return v


def check_scores(imap, scores: list[ScoreIn]) -> list[tuple[str, float, float, str | None]]:
    """[(code, full, score, reason)] or UsageError. Every row is checked; unknown codes are
    reported together in one line (the first few, and how many)."""
    unknown, out, seen = [], [], set()
    for s in scores:
        node = imap.find(str(s.code).strip()) if s.code not in (None, "") else None
        if node is None or not node.is_leaf:
            unknown.append(f"{_where(s)}「{s.code}」")
            continue
        if node.code in seen:
            raise UsageError("duplicate code", f"{_where(s)}: 测评内容 {node.code} 重复")
        seen.add(node.code)
        full = _number(s.full, "满分", s)
        if full is None:
            full = node.score
        if full is None:
            raise UsageError("no full score", f"{_where(s)}: {node.code} 缺少满分（表中或指标体系的 score 均未给出）")
        if full <= 0:
            raise UsageError("bad score", f"{_where(s)}: {node.code} 满分须大于 0")
        score = _number(s.score, "得分", s)
        lost = _number(s.lost, "扣分", s)
        if score is None and lost is not None:
            score = full - lost
        if score is None:
            raise UsageError("no score", f"{_where(s)}: {node.code} 缺少得分")
        if lost is not None and abs((full - score) - lost) > 1e-6:
            raise UsageError("bad score", f"{_where(s)}: {node.code} 满分 {full:g} − 得分 {score:g} ≠ 扣分 {lost:g}")
        if score < 0:
            raise UsageError("negative score", f"{_where(s)}: {node.code} 得分 {score:g} 为负数")
        if score > full:
            raise UsageError("score above full", f"{_where(s)}: {node.code} 得分 {score:g} 高于满分 {full:g}")
        reason = " ".join(str(s.reason).split()) if s.reason not in (None, "") else None
        out.append((node.code, full, score, reason))
    if unknown:
        more = f" 等 {len(unknown)} 处" if len(unknown) > MAX_ERRORS_SHOWN else ""
        raise UsageError("unknown code", "未知的指标代码或不是测评内容：" + "、".join(unknown[:MAX_ERRORS_SHOWN]) + more)
    return out


def _clean_round(name, held_on, evaluator, kind) -> tuple[str, str, str, str]:
    name = " ".join((name or "").split())
    if not name:
        raise UsageError("no round name", "未填写轮次名称（如 2026年第3次模拟测评）")
    d = parse_date(held_on, UsageError)
    if d is None:
        raise UsageError("no date", "未填写测评日期")
    if evaluator not in EVALUATORS:
        raise UsageError("unknown evaluator", f"未知的测评方「{evaluator}」，可选：{'、'.join(EVALUATORS)}")
    if kind not in KINDS:
        raise UsageError("unknown round kind", f"未知的轮次类型「{kind}」，可选：{'、'.join(KINDS)}")
    return name, d.isoformat(), evaluator, kind


def create_round(instance, name: str, held_on, evaluator: str, scores: list[ScoreIn] = (),
                 kind: str = "模拟测评", user: str | None = None, ip: str | None = None) -> int:
    """A new round with its scores, all checked first and written in one transaction."""
    from archive.maps.loading import current_map

    name, held, evaluator, kind = _clean_round(name, held_on, evaluator, kind)
    imap = current_map(instance)
    checked = check_scores(imap, list(scores))
    db = instance.db
    with transaction(db):
        if db.execute("SELECT 1 FROM rounds WHERE name = ?", [name]).fetchone():
            raise UsageError("round exists", f"轮次「{name}」已存在")
        rid = insert(db, "rounds", {"name": name, "held_on": held, "evaluator": evaluator, "kind": kind,
                                    "map_id": imap.id, "created_at": utcnow(), "created_by": user})
        _write_scores(db, rid, imap.id, checked)
        audit.log(db, user, "round.create", f"round:{rid}",
                  {"name": name, "held_on": held, "evaluator": evaluator, "scores": len(checked),
                   "lost": round(sum(f - s for _, f, s, _ in checked), 2)}, ip)
    return rid


def _write_scores(db, rid: int, map_id: str, checked) -> None:
    for code, full, score, reason in checked:
        db.execute("INSERT INTO round_scores (round_id, map_id, code, full, score, reason) VALUES (?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT(round_id, map_id, code) DO UPDATE SET full = excluded.full, "
                   "score = excluded.score, reason = excluded.reason", [rid, map_id, code, full, score, reason])


def set_scores(instance, round_id: int, scores: list[ScoreIn], user: str | None, ip: str | None = None) -> int:
    """Add or correct scores of a round (entered on the page). Returns how many were written."""
    from archive.maps.loading import current_map

    r = get_round(instance, round_id)
    imap = current_map(instance)
    if imap.id != r["map_id"]:
        raise UsageError("map changed", f"该轮次按指标体系 {r['map_id']} 评分，当前体系为 {imap.id}")
    checked = check_scores(imap, list(scores))
    with transaction(instance.db):
        _write_scores(instance.db, round_id, imap.id, checked)
        audit.log(instance.db, user, "round.scores", f"round:{round_id}",
                  {"codes": [c for c, *_ in checked]}, ip)
    return len(checked)


def read_scores_xlsx(path: Path) -> list[ScoreIn]:
    """The evaluator's xlsx: a header row naming 代码 and 得分 or 扣分 (满分, 原因 optional)."""
    from openpyxl import load_workbook

    name = Path(path).name
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise UsageError("bad xlsx", f"{name}: 不是可读取的 xlsx 文件") from None
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header_row = None
        for n, row in enumerate(rows, start=1):   # titles above the header are common
            cells = [str(c).strip() if c is not None else "" for c in row]
            if any(c in CODE_HEADERS for c in cells):
                header_row = (n, cells)
                break
            if n >= 10:
                break
        if header_row is None:
            raise UsageError("missing column", f"{name}: 前 10 行中找不到「代码」列（表头应含 代码、满分、得分、扣分原因）")
        start, header = header_row

        def col(names):
            return next((header.index(h) for h in names if h in header), None)

        ci, fi, si, li, ri = (col(CODE_HEADERS), col(FULL_HEADERS), col(SCORE_HEADERS),
                              col(LOST_HEADERS), col(REASON_HEADERS))
        if si is None and li is None:
            raise UsageError("missing column", f"{name}: 缺少「得分」或「扣分」列")

        def at(row, i):
            return row[i] if i is not None and i < len(row) else None

        out = []
        for n, row in enumerate(rows, start=start + 1):
            if not any(v not in (None, "") for v in row):
                continue
            out.append(ScoreIn(code=at(row, ci), full=at(row, fi), score=at(row, si), lost=at(row, li),
                               reason=at(row, ri), row=n))
        return out
    finally:
        wb.close()


def import_round(instance, path: Path, name: str, held_on, evaluator: str, kind: str = "模拟测评",
                 user: str | None = None, ip: str | None = None) -> int:
    _clean_round(name, held_on, evaluator, kind)     # argument errors before reading the file
    scores = read_scores_xlsx(path)
    if not scores:
        raise UsageError("empty sheet", f"{Path(path).name}: 没有评分行")
    return create_round(instance, name, held_on, evaluator, scores, kind, user, ip)


def get_round(instance, ref) -> dict:
    """A round by id or name."""
    db = instance.db
    ref = str(ref).strip()
    cur = db.execute("SELECT * FROM rounds WHERE id = ? OR name = ? ORDER BY id LIMIT 1",
                     [int(ref) if ref.isdigit() else -1, ref])
    row = cur.fetchone()
    if row is None:
        raise NotFound("no such round", f"没有测评轮次「{ref}」")
    return dict(zip([d[0] for d in cur.description], row))


def leaf_units(instance, imap, code: str) -> list[str]:
    """Responsible units of a leaf, lead first: issue 12's duties when present, else map `units:`."""
    db = instance.db
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='duties'").fetchone()
    if has and db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='units'").fetchone():
        rows = db.execute("SELECT u.name FROM duties d JOIN units u ON u.id = d.unit_id "
                          "WHERE d.map_id = ? AND d.code = ? ORDER BY d.role != 'lead', u.name",
                          [imap.id, code]).fetchall()
        if rows:
            return [r[0] for r in rows]
    node = imap.find(code)
    return list(node.units) if node is not None else []


def round_scores(instance, round_id: int) -> list[dict]:
    """Scores of a round with leaf names, 扣分 and responsible units, in map order."""
    from archive.maps.loading import current_map

    imap = current_map(instance)
    order = {code: i for i, code in enumerate(imap.nodes)}
    rows = instance.db.execute("SELECT map_id, code, full, score, reason FROM round_scores WHERE round_id = ?",
                               [round_id]).fetchall()
    out = []
    for map_id, code, full, score, reason in rows:
        node = imap.find(code) if map_id == imap.id else None
        units = leaf_units(instance, imap, code) if node is not None else []
        out.append({"map_id": map_id, "code": code, "name": node.name if node else "(不在当前指标体系)",
                    "full": full, "score": score, "lost": round(full - score, 4), "reason": reason,
                    "lead": units[0] if units else None, "coop": units[1:]})
    out.sort(key=lambda r: order.get(r["code"], 10**9))
    return out


def list_rounds(instance) -> list[dict]:
    """Every round, oldest first, with totals (the chart's series)."""
    cur = instance.db.execute("""
        SELECT r.id, r.name, r.held_on, r.evaluator, r.kind, r.map_id,
               COUNT(s.code), COALESCE(SUM(s.full), 0), COALESCE(SUM(s.score), 0),
               SUM(CASE WHEN s.score < s.full THEN 1 ELSE 0 END),
               (SELECT COUNT(*) FROM problems p WHERE p.round_id = r.id)
        FROM rounds r LEFT JOIN round_scores s ON s.round_id = r.id
        GROUP BY r.id ORDER BY r.held_on, r.id""")
    keys = ("id", "name", "held_on", "evaluator", "kind", "map_id", "leaves", "full", "score",
            "leaves_lost", "problems")
    out = []
    for row in cur.fetchall():
        d = dict(zip(keys, row))
        d["lost"] = round(d["full"] - d["score"], 4)
        d["rate"] = round(100 * d["score"] / d["full"], 2) if d["full"] else None
        out.append(d)
    return out


def ranking(instance, round_id: int | None = None) -> dict:
    """Units and leaves ranked by points lost (one round, or all rounds together)."""
    from archive.maps.loading import current_map

    order = {code: i for i, code in enumerate(current_map(instance).nodes)}
    rounds = [get_round(instance, round_id)] if round_id else list_rounds(instance)
    units: dict[str, dict] = {}
    leaves: dict[str, dict] = {}
    for r in rounds:
        for s in round_scores(instance, r["id"]):
            if s["lost"] <= 0:
                continue
            leaf = leaves.setdefault(s["code"], {"code": s["code"], "name": s["name"], "lost": 0.0,
                                                 "rounds": 0, "lead": s["lead"]})
            leaf["lost"] += s["lost"]
            leaf["rounds"] += 1
            lead = s["lead"] or "（未指定责任单位）"
            u = units.setdefault(lead, {"unit": lead, "lost": 0.0, "leaves": 0, "coop_leaves": 0})
            u["lost"] += s["lost"]
            u["leaves"] += 1
            for c in s["coop"]:
                units.setdefault(c, {"unit": c, "lost": 0.0, "leaves": 0, "coop_leaves": 0})["coop_leaves"] += 1
    for d in list(units.values()) + list(leaves.values()):
        d["lost"] = round(d["lost"], 4)
    return {"units": sorted(units.values(), key=lambda u: (-u["lost"], -u["coop_leaves"], u["unit"])),
            "leaves": sorted(leaves.values(), key=lambda x: (-x["lost"], order.get(x["code"], 10**9), x["code"]))}


def open_problems(instance, actor, round_id: int, deadline, codes: list[str] | None = None) -> dict:
    """One step: a problem (source 模拟测评) for each leaf that lost points in the round, charged
    to its lead unit. Leaves that already have a problem from this round, or have no unit, are
    skipped and reported. Returns {"opened": [ids], "skipped": [{"code", "reason"}]}."""
    from .problems import NewProblem, check_deadline, report_problem

    r = get_round(instance, round_id)
    check_deadline(deadline)
    wanted = set(codes or [])
    opened, skipped = [], []
    for s in round_scores(instance, r["id"]):
        if s["lost"] <= 0 or (wanted and s["code"] not in wanted):
            continue
        exists = instance.db.execute(
            "SELECT p.id FROM problems p JOIN problem_codes c ON c.problem_id = p.id "
            "WHERE p.round_id = ? AND c.map_id = ? AND c.code = ?", [r["id"], s["map_id"], s["code"]]).fetchone()
        if exists:
            skipped.append({"code": s["code"], "reason": f"已有问题 #{exists[0]}"})
            continue
        if not s["lead"]:
            skipped.append({"code": s["code"], "reason": "该测评内容未指定责任单位"})
            continue
        text = f"{r['name']}扣 {s['lost']:g} 分：{s['reason'] or '（未写扣分原因）'}"
        opened.append(report_problem(instance, actor, NewProblem(
            description=text, unit=s["lead"], deadline=deadline, codes=[s["code"]],
            source="模拟测评", round_id=r["id"], found_on=r["held_on"])))
    return {"opened": opened, "skipped": skipped}
