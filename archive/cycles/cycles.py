"""Evaluation cycles (测评周期, e.g. 2026年度测评): an evaluation date, the maps (and editions)
judged, and the cycle's own review decisions.

Items belong to the archive, not to a cycle; each cycle judges them against its own window.
States: planned → current → closed; at most one cycle is current. Reviews are recorded in
the current cycle (`reviews.cycle_id`, set by a trigger, so every writer does it);
`items.review_state` is the current cycle's decision (pending until one is made in it).
Closing a cycle (starting the next one, or `close`) pins each map's edition and freezes what
its packages are built from (`cycle_items`): a closed cycle is read-only, and its packages
rebuild byte-identical however the archive changes afterwards (archive/cycles/packages.py).
"""
from __future__ import annotations

import json

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, Refusal, UsageError
from archive.core.settings import EVALUATION_DATE, put_setting
from archive.maps.loading import active_map_ids, get_map
from archive.package.build import iter_items
from archive.readiness.coverage import as_date

STATE_ZH = {"planned": "未开始", "current": "进行中", "closed": "已结束（只读）"}
MAX_NAME = 100
COLUMNS = ("id", "name", "evaluation_date", "state", "created_at", "created_by", "started_at",
           "closed_at", "closed_by")


def _row(db, where: str, params) -> dict | None:
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM cycles WHERE {where}", params).fetchone()
    return dict(zip(COLUMNS, row)) if row else None


def get_cycle(db, ref) -> dict:
    """A cycle by name (or numeric id), with its maps; NotFound names the known ones."""
    ref = str(ref).strip()
    cycle = _row(db, "name = ?", [ref])
    if cycle is None and ref.isdigit():
        cycle = _row(db, "id = ?", [int(ref)])
    if cycle is None:
        known = "、".join(r[0] for r in db.execute("SELECT name FROM cycles ORDER BY id")) or "（无）"
        raise NotFound("unknown cycle", f"没有名为「{ref}」的测评周期（已有：{known}）")
    return _with_maps(db, cycle)


def current_cycle(db) -> dict | None:
    cycle = _row(db, "state = 'current'", [])
    return _with_maps(db, cycle) if cycle else None


def current_evaluation_date(db, map_id: str | None = None) -> str | None:
    """The current cycle's evaluation date (for `map_id`, if the cycle sets one for it)."""
    row = db.execute("""
        SELECT COALESCE(m.evaluation_date, c.evaluation_date) FROM cycles c
        LEFT JOIN cycle_maps m ON m.cycle_id = c.id AND m.map_id = ?
        WHERE c.state = 'current'""", [map_id]).fetchone()
    return row[0] if row else None


def _with_maps(db, cycle: dict) -> dict:
    cycle["state_zh"] = STATE_ZH.get(cycle["state"], cycle["state"])
    cycle["read_only"] = cycle["state"] == "closed"
    cycle["maps"] = [
        {"map_id": m, "edition_id": e, "edition": ed, "evaluation_date": d or cycle["evaluation_date"]}
        for m, e, ed, d in db.execute(
            "SELECT c.map_id, c.edition_id, m.edition, c.evaluation_date FROM cycle_maps c "
            "JOIN maps m ON m.id = c.edition_id WHERE c.cycle_id = ? ORDER BY c.rowid", [cycle["id"]])]
    return cycle


def list_cycles(db) -> list[dict]:
    """Every cycle, newest first, with its maps and the number of review decisions made in it."""
    out = []
    for (cid,) in db.execute("SELECT id FROM cycles ORDER BY evaluation_date DESC, id DESC").fetchall():
        c = _with_maps(db, _row(db, "id = ?", [cid]))
        c["reviews"] = db.execute("SELECT COUNT(*) FROM reviews WHERE cycle_id = ?", [cid]).fetchone()[0]
        out.append(c)
    return out


def add_cycle(instance, name: str, evaluation_date, maps: list[str] | None = None,
              map_dates: dict[str, str] | None = None, start: bool | None = None,
              user: str | None = None, ip: str | None = None) -> dict:
    """A new cycle judging `maps` (default: every active map) at their current editions.
    `map_dates` overrides the evaluation date per map. `start`: make it current now (default:
    when no cycle is current). UsageError for an empty or taken name, a bad date or an
    unknown map; nothing is written then."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise UsageError("bad cycle name", f"测评周期名称不能为空，且不超过 {MAX_NAME} 个字")
    d = as_date(evaluation_date).isoformat()
    db = instance.db
    ids = list(dict.fromkeys(maps)) if maps else active_map_ids(db)
    if not ids:
        raise UsageError("no indicator map", "尚未载入指标体系，测评周期无从评判")
    resolved = [get_map(instance, m).id for m in ids]
    dates = {}
    for m, v in (map_dates or {}).items():
        mid = get_map(instance, m).id
        if mid not in resolved:
            raise UsageError("map not in cycle", f"指标体系「{mid}」不在该测评周期中")
        dates[mid] = as_date(v).isoformat()
    with transaction(db):
        if _row(db, "name = ?", [name]):
            raise UsageError("cycle exists", f"测评周期「{name}」已存在")
        cid = insert(db, "cycles", {"name": name, "evaluation_date": d, "state": "planned",
                                    "created_at": utcnow(), "created_by": user})
        for m in resolved:
            edition = db.execute("SELECT MAX(id) FROM maps WHERE map_id = ?", [m]).fetchone()[0]
            insert(db, "cycle_maps", {"cycle_id": cid, "map_id": m, "edition_id": edition,
                                      "evaluation_date": dates.get(m)})
        audit.log(db, user, "cycle.add", target=f"cycle:{cid}", ip=ip,
                  detail={"name": name, "evaluation_date": d, "maps": resolved, "map_dates": dates})
        if start is None:
            start = _row(db, "state = 'current'", []) is None
        if start:
            _start(db, cid, user, ip)
    return get_cycle(db, cid)


def start_cycle(instance, ref, user=None, ip=None) -> dict:
    """Make a planned cycle current; the cycle current until now closes (frozen, read-only)."""
    db = instance.db
    with transaction(db):
        cycle = get_cycle(db, ref)
        if cycle["state"] == "current":
            return cycle
        if cycle["state"] == "closed":
            raise Refusal("cycle closed", f"测评周期「{cycle['name']}」已结束，只读，不能重新开始")
        _start(db, cycle["id"], user, ip)
    return get_cycle(db, cycle["id"])


def close_cycle(instance, ref, user=None, ip=None) -> dict:
    """End the current cycle (no cycle is current afterwards until one is started)."""
    db = instance.db
    with transaction(db):
        cycle = get_cycle(db, ref)
        if cycle["state"] != "current":
            raise Refusal("cycle not current", f"只能结束进行中的测评周期（「{cycle['name']}」{cycle['state_zh']}）")
        _close(db, cycle["id"], user, ip)
    return get_cycle(db, cycle["id"])


def _start(db, cid: int, user, ip) -> None:
    previous = _row(db, "state = 'current'", [])
    if previous is not None:
        _close(db, previous["id"], user, ip)
    first = db.execute("SELECT COUNT(*) FROM cycles WHERE state <> 'planned'").fetchone()[0] == 0
    if first:   # decisions made before cycles existed belong to the first cycle
        db.execute("UPDATE reviews SET cycle_id = ? WHERE cycle_id IS NULL", [cid])
    db.execute("UPDATE cycles SET state = 'current', started_at = ? WHERE id = ?", [utcnow(), cid])
    # the new cycle's own decisions (none yet, unless adopted above): pending otherwise
    db.execute("""UPDATE items SET review_state = COALESCE((SELECT decision FROM reviews
                  WHERE item_id = items.id AND cycle_id = ? ORDER BY id DESC LIMIT 1), 'pending')""", [cid])
    audit.log(db, user, "cycle.start", target=f"cycle:{cid}", ip=ip,
              detail={"closed": previous["name"] if previous else None})
    # the date reviewers work to (photo window checks read it) is the current cycle's
    date_ = db.execute("SELECT evaluation_date FROM cycles WHERE id = ?", [cid]).fetchone()[0]
    put_setting(db, EVALUATION_DATE, date_, user, ip)


def _close(db, cid: int, user, ip) -> None:
    """Pin each map's edition and freeze the items its packages are built from (while the
    cycle is still current, so the reviews read are its own)."""
    counts = {}
    for (map_id,) in db.execute("SELECT map_id FROM cycle_maps WHERE cycle_id = ?", [cid]).fetchall():
        edition = db.execute("SELECT MAX(id) FROM maps WHERE map_id = ?", [map_id]).fetchone()[0]
        db.execute("UPDATE cycle_maps SET edition_id = ? WHERE cycle_id = ? AND map_id = ?",
                   [edition, cid, map_id])
        n = 0
        for it in list(iter_items(db, map_id)):
            db.execute("INSERT INTO cycle_items (cycle_id, map_id, item_id, data) VALUES (?, ?, ?, ?)",
                       [cid, map_id, it["id"], json.dumps(it, ensure_ascii=False)])
            n += 1
        counts[map_id] = n
    db.execute("UPDATE cycles SET state = 'closed', closed_at = ?, closed_by = ? WHERE id = ?",
               [utcnow(), user, cid])
    audit.log(db, user, "cycle.close", target=f"cycle:{cid}", ip=ip, detail={"frozen_items": counts})


def frozen_items(db, cycle_id: int, map_id: str):
    """A closed cycle's items for one map, as its packages saw them (item id order)."""
    for (data,) in db.execute("SELECT data FROM cycle_items WHERE cycle_id = ? AND map_id = ? "
                              "ORDER BY item_id", [cycle_id, map_id]):
        yield json.loads(data)
