"""Deadlines per campaign round (报送轮次), in 北京时间 days.

A round is set once with its start and its deadline (`code` and `unit` both empty); inside
it a leaf, a unit, or a leaf for one unit may get its own deadline (e.g. earlier for some
leaves). For one obligation the most specific wins: leaf+unit, leaf, unit, round. No
deadline may fall before its round starts. The round in force on a day is the one that
started last on or before it (before any has started: the first one).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from archive.core import audit
from archive.core.dates import parse_date, today_beijing
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, UsageError
from .duties import ensure_seeded
from .records import get_unit
from .scope import find_leaf, map_by_id

ROUND_MAX_LEN = 40


@dataclass(frozen=True)
class Round:
    name: str
    map_id: str
    starts_on: str
    due_on: str


def rounds(db, map_id: str | None = None) -> list[Round]:
    sql = "SELECT round, map_id, starts_on, due_on FROM deadlines WHERE code IS NULL AND unit_id IS NULL"
    args = []
    if map_id:
        sql += " AND map_id = ?"
        args.append(map_id)
    return [Round(*r) for r in db.execute(sql + " ORDER BY starts_on, round", args).fetchall()]


def round_in_force(db, map_id: str, name: str | None = None, today: date | None = None) -> Round | None:
    """The round named `name`, or the one in force today (None when no round is set)."""
    all_rounds = rounds(db, map_id)
    if name:
        for r in all_rounds:
            if r.name == name:
                return r
        raise NotFound("unknown round", f"没有报送轮次「{name}」：请先用 deadline set --round 设定起止日期")
    if not all_rounds:
        return None
    day = (today or today_beijing()).isoformat()
    started = [r for r in all_rounds if r.starts_on <= day]
    return started[-1] if started else all_rounds[0]


def _date(value, label: str) -> date:
    d = parse_date(value, UsageError)
    if d is None:
        raise UsageError("bad date", f"缺少{label}（YYYY-MM-DD）")
    return d


def set_deadline(inst, round_name: str, due_on, starts_on=None, code: str | None = None,
                 unit: str | None = None, map_id: str | None = None,
                 by: str | None = None, ip: str | None = None) -> dict:
    """Set (or move) one deadline. Without code and unit it sets the round itself and
    needs `starts_on` the first time. Refused: a deadline before the round starts, an
    unknown leaf, unit or round."""
    ensure_seeded(inst)
    db = inst.db
    round_name = (round_name or "").strip()
    if not round_name or len(round_name) > ROUND_MAX_LEN:
        raise UsageError("bad round", f"报送轮次名称不能为空，且不超过 {ROUND_MAX_LEN} 个字")
    due = _date(due_on, "截止日期")
    imap = map_by_id(inst, map_id)
    leaf_code = None
    if code:
        imap, leaf = find_leaf(inst, code, map_id)
        leaf_code = leaf.code
    unit_id = get_unit(db, unit).id if unit else None
    with transaction(db):
        existing = db.execute(
            "SELECT starts_on, due_on FROM deadlines WHERE round = ? AND map_id = ? AND code IS NULL "
            "AND unit_id IS NULL", [round_name, imap.id]).fetchone()
        if leaf_code is None and unit_id is None:
            start = _date(starts_on, "开始日期") if starts_on else (
                date.fromisoformat(existing[0]) if existing else None)
            if start is None:
                raise UsageError("round start required", f"新的报送轮次「{round_name}」需要开始日期（--starts）")
            if due < start:
                raise UsageError("deadline before round start",
                                 f"截止日期 {due} 早于本轮开始日期 {start}")
            early = db.execute("SELECT code, unit_id, due_on FROM deadlines WHERE round = ? AND map_id = ? "
                               "AND (code IS NOT NULL OR unit_id IS NOT NULL) AND due_on < ? LIMIT 1",
                               [round_name, imap.id, start.isoformat()]).fetchone()
            if early:
                raise UsageError("deadline before round start",
                                 f"本轮已有早于 {start} 的截止日期 {early[2]}，请先调整它")
        else:
            if existing is None:
                raise NotFound("unknown round",
                               f"没有报送轮次「{round_name}」：请先用 deadline set --round {round_name} --starts D --due D 设定")
            if starts_on:
                raise UsageError("start is per round", "开始日期属于整个报送轮次，单项截止日期不必再给 --starts")
            start = date.fromisoformat(existing[0])
            if due < start:
                raise UsageError("deadline before round start",
                                 f"截止日期 {due} 早于报送轮次「{round_name}」的开始日期 {start}")
        old = db.execute(
            "SELECT id, due_on FROM deadlines WHERE round = ? AND map_id = ? AND code IS ? AND unit_id IS ?",
            [round_name, imap.id, leaf_code, unit_id]).fetchone()
        now = utcnow()
        if old:
            db.execute("UPDATE deadlines SET starts_on = ?, due_on = ?, set_at = ?, set_by = ? WHERE id = ?",
                       [start.isoformat(), due.isoformat(), now, by, old[0]])
        else:
            insert(db, "deadlines", {"round": round_name, "starts_on": start.isoformat(),
                                     "due_on": due.isoformat(), "map_id": imap.id, "code": leaf_code,
                                     "unit_id": unit_id, "set_at": now, "set_by": by})
        if leaf_code is None and unit_id is None:
            # The round's start is copied onto its leaf/unit rows (one row answers "since when").
            db.execute("UPDATE deadlines SET starts_on = ? WHERE round = ? AND map_id = ?",
                       [start.isoformat(), round_name, imap.id])
        audit.log(db, by, "deadline.set", target=round_name, ip=ip, detail={
            "map_id": imap.id, "code": leaf_code, "unit": unit, "starts_on": start.isoformat(),
            "due_on": due.isoformat(), "was": old[1] if old else None})
    return {"round": round_name, "map_id": imap.id, "code": leaf_code, "unit": unit,
            "starts_on": start.isoformat(), "due_on": due.isoformat()}


def list_deadlines(db, round_name: str | None = None) -> list[dict]:
    sql = ("SELECT d.round, d.map_id, d.code, u.name, d.starts_on, d.due_on, d.set_at, d.set_by "
           "FROM deadlines d LEFT JOIN units u ON u.id = d.unit_id")
    args = []
    if round_name:
        sql += " WHERE d.round = ?"
        args.append(round_name)
    sql += " ORDER BY d.starts_on, d.round, d.code IS NOT NULL, d.unit_id IS NOT NULL, d.code, u.name"
    keys = ("round", "map_id", "code", "unit", "starts_on", "due_on", "set_at", "set_by")
    out = []
    for r in db.execute(sql, args).fetchall():
        row = dict(zip(keys, r))
        row["scope"] = ("leaf_unit" if row["code"] and row["unit"] else
                        "leaf" if row["code"] else "unit" if row["unit"] else "round")
        out.append(row)
    return out


class DeadlineTable:
    """The deadlines of one round, resolved per (code, unit_id): most specific wins."""

    def __init__(self, db, rnd: Round | None):
        self.round = rnd
        self.by_scope: dict[tuple, str] = {}
        if rnd is not None:
            for code, unit_id, due in db.execute(
                    "SELECT code, unit_id, due_on FROM deadlines WHERE round = ? AND map_id = ?",
                    [rnd.name, rnd.map_id]).fetchall():
                self.by_scope[(code, unit_id)] = due

    def due(self, code: str, unit_id: int) -> str | None:
        s = self.by_scope
        return s.get((code, unit_id)) or s.get((code, None)) or s.get((None, unit_id)) or s.get((None, None))
