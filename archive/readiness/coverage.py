"""Readiness per leaf for an evaluation date (CONTRACT.md "Coverage").

For every leaf of the loaded map: the material types it requires, which of them are
present (an in-window, not rejected, not deleted item of that type is mapped to the
leaf), which are missing, and counts of the leaf's evidence.

Decisions (also in docs/package.md):
- An item's date is `items.date` (the clerk's date, else the photo's EXIF date). An item
  with no date cannot be shown to be in the window: it counts as out of window.
- Each material type has its own window (`IndicatorMap.window(date, type)`, e.g. 统计表格
  24 months); the report's top-level `window` is the map's default one.
- Pending items count as present (the package may be built before review ends);
  `export --approved-only` is the stricter view.
- `status` measures the required types only:
  `complete` every required type present; `partial` some but not all; `empty` none of them
  (even if material of other types is there). A leaf that requires nothing (e.g. 实地考察
  or 听取汇报 only) needs nothing in the package and is `complete`; its `required` is [].
- `--unit U` keeps the leaves whose map `units` include U; the summary counts those only.

Besides the contract's keys each leaf carries `units`, `path` (its ancestors "code name"),
`approved`, `reviewers` and `comments` (latest review comment per item), used by the
测评材料审核记录表.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from archive.core.dates import parse_date
from archive.core.errors import UsageError
from archive.maps.loading import current_map

# The one table of status names (CLI, spreadsheets and web import it from here).
# (`coverage --xlsx` is written by archive.package.xlsx.coverage_xlsx: package sits above readiness.)
STATUS_ZH = {"complete": "齐全", "partial": "不全", "empty": "缺失"}


def as_date(value) -> date:
    """ISO string or date → date; UsageError for anything else."""
    try:
        d = parse_date(value)
    except Exception:
        d = None
    if d is None:
        raise UsageError("bad evaluation date", f"测评日期「{value}」无效，应为 YYYY-MM-DD")
    return d


def _d(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def type_windows(imap, evaluation_date: date) -> tuple[tuple[date, date], dict[str, tuple[date, date]]]:
    """The default window and one per material type of the map."""
    default = tuple(_d(x) for x in imap.window(evaluation_date))
    per_type = {}
    for t in map_material_types(imap):
        per_type[t] = tuple(_d(x) for x in imap.window(evaluation_date, t))
    return default, per_type


def map_material_types(imap) -> list[str]:
    types = getattr(imap, "material_types", None)
    if types:
        return list(types)
    from archive.core.config import MATERIAL_TYPES_DEFAULT
    return list(MATERIAL_TYPES_DEFAULT)


def in_window(item_date, material_type: str, default, per_type) -> bool:
    if not item_date:
        return False
    lo, hi = per_type.get(material_type, default)
    d = _d(item_date)
    return lo <= d <= hi


def resolve_leaf(imap, code: str, cache: dict):
    """The leaf a stored code names in the loaded map (lenient), or None."""
    if code not in cache:
        node = imap.nodes.get(code) if hasattr(imap, "nodes") else None
        if node is None:
            node = imap.find(code)
        cache[code] = node if node is not None and node.is_leaf else None
    return cache[code]


def load_items(db, codes: list[str] | None = None, map_id: str | None = None) -> list[dict]:
    """Every item (or those mapped to `codes`) with its codes and latest review
    (one read; call inside a snapshot). `map_id`: the items filed in that map (and any item
    with no code at all, as before several maps), each with its codes in that map only."""
    where, params = [], []
    in_map = "map_id = ? AND " if map_id else ""
    if codes is not None:
        where.append(f"id IN (SELECT item_id FROM item_codes WHERE {in_map}code IN ({','.join('?' * len(codes))}))")
        params += ([map_id] if map_id else []) + list(codes)
    elif map_id:
        where.append("(id IN (SELECT item_id FROM item_codes WHERE map_id = ?) "
                     "OR id NOT IN (SELECT item_id FROM item_codes))")
        params.append(map_id)
    rows = db.execute(
        "SELECT id, sha256, kind, material_type, title, original_name, unit, date, date_source, "
        f"size, review_state, deleted_at FROM items {'WHERE ' + ' AND '.join(where) if where else ''} "
        "ORDER BY id", params).fetchall()
    cols = ["id", "sha256", "kind", "material_type", "title", "original_name", "unit", "date",
            "date_source", "size", "review_state", "deleted_at"]
    items = {r[0]: dict(zip(cols, r), codes=[], reviewer=None, comment=None) for r in rows}
    code_sql = "SELECT item_id, code FROM item_codes " + ("WHERE map_id = ? " if map_id else "") + \
        "ORDER BY item_id, rowid"
    for item_id, code in db.execute(code_sql, [map_id] if map_id else []):
        if item_id in items:
            items[item_id]["codes"].append(code)
    # latest review per item
    for item_id, reviewer, comment in db.execute(
            "SELECT item_id, reviewer, comment FROM reviews r WHERE id = "
            "(SELECT MAX(id) FROM reviews WHERE item_id = r.item_id AND "
            "cycle_id IS (SELECT id FROM cycles WHERE state = 'current'))"):
        if item_id in items:
            items[item_id]["reviewer"] = reviewer
            items[item_id]["comment"] = comment
    return list(items.values())


class snapshot:
    """A read transaction: every SELECT inside sees one committed state (WAL snapshot)."""

    def __init__(self, db):
        self.db = db
        self.mine = False

    def __enter__(self):
        if not self.db.conn.in_transaction:
            self.db.execute("BEGIN")
            self.mine = True
        return self.db

    def __exit__(self, *exc):
        if self.mine:
            self.db.execute("COMMIT")


def node_path(node) -> list[str]:
    """The leaf's ancestors, root first, as "code name"."""
    out, p = [], node.parent
    while p is not None:
        out.append(f"{p.code} {p.name}")
        p = p.parent
    return out[::-1]


def _new_acc() -> dict:
    return {"evidence": 0, "out_of_window": 0, "pending": 0, "rejected": 0, "approved": 0,
            "present": defaultdict(int), "reviewers": set(), "comments": []}


def _add(acc: dict, material_type: str, ok_window: bool, state: str, n: int, approved_only: bool) -> None:
    """Add `n` items of one type, window verdict and review state to a leaf's counts."""
    acc["evidence"] += n
    if not ok_window:
        acc["out_of_window"] += n
    if state == "pending":
        acc["pending"] += n
    elif state == "rejected":
        acc["rejected"] += n
    elif state == "approved":
        acc["approved"] += n
    if ok_window and state != "rejected" and (state == "approved" or not approved_only):
        acc["present"][material_type] += n


def _note(acc: dict, item_id: int, reviewer, comment) -> None:
    """The item's latest review: who reviewed, and its comment (审核记录表)."""
    if reviewer:
        acc["reviewers"].add(reviewer)
    if comment:
        acc["comments"].append(f"#{item_id} {comment}")


def compute(imap, items: Iterable[dict], evaluation_date: date, unit: str | None = None,
            approved_only: bool = False) -> dict:
    """Coverage from already loaded items (shared with the package builder).

    `approved_only`: only approved items make a type present (the view of
    `export --approved-only`); the counts still cover every item. `items` is read once and
    not kept (counts per leaf only), so it may be a generator over the database."""
    default, per_type = type_windows(imap, evaluation_date)
    cache: dict = {}
    by_leaf: dict[str, dict] = {}
    for it in items:
        if it["deleted_at"]:
            continue
        seen = set()
        ok_window = None
        for code in it["codes"]:
            leaf = resolve_leaf(imap, code, cache)
            if leaf is not None and leaf.code not in seen:
                seen.add(leaf.code)
                acc = by_leaf.get(leaf.code)
                if acc is None:
                    acc = by_leaf[leaf.code] = _new_acc()
                if ok_window is None:
                    ok_window = in_window(it["date"], it["material_type"], default, per_type)
                _add(acc, it["material_type"], ok_window, it["review_state"], 1, approved_only)
                _note(acc, it["id"], it.get("reviewer"), it.get("comment"))
    return _report(imap, by_leaf, evaluation_date, default, per_type, unit)


def _window_sql(default, per_type) -> tuple[str, list]:
    """SQL for "this item's date lies in its type's window" (1/0; no date → 0)."""
    parts, args = [], []
    for t, (lo, hi) in per_type.items():
        if (lo, hi) != tuple(default):
            parts.append("WHEN ? THEN substr(i.date, 1, 10) BETWEEN ? AND ?")
            args += [t, lo.isoformat(), hi.isoformat()]
    tail = "substr(i.date, 1, 10) BETWEEN ? AND ?"
    tail_args = [default[0].isoformat(), default[1].isoformat()]
    if not parts:
        return f"coalesce({tail}, 0)", tail_args
    return f"coalesce(CASE i.material_type {' '.join(parts)} ELSE {tail} END, 0)", args + tail_args


def load_counts(db, imap, evaluation_date: date, codes: list[str] | None = None):
    """Per (stored code, type, review state, in window) the number of live items of the map
    `imap`, and each item's latest review (for `reviewers`/`comments`), counted by SQLite
    instead of one Python dict per item (call inside a snapshot).

    → (groups, notes) or None when a stored code is not a leaf's own spelling (then two codes
    of one item might name one leaf, which only the per-item path counts once)."""
    default, per_type = type_windows(imap, evaluation_date)
    win, win_args = _window_sql(default, per_type)
    where, args = ["c.map_id = ?"], [imap.id]
    if codes is None:
        # Every item: walk the covering index items_readiness (0010) and look each one's codes
        # up, instead of jumping from each code row into the items table, whose rows carry
        # the extracted text (half the time at 20,000 items). CROSS JOIN fixes that order.
        source = "items i INDEXED BY items_readiness CROSS JOIN item_codes c ON c.item_id = i.id"
    else:
        # A few leaves: their code rows first, each item's columns from the same index.
        source = "item_codes c CROSS JOIN items i INDEXED BY items_readiness ON i.id = c.item_id"
        where.append(f"c.code IN ({','.join('?' * len(codes))})")
        args += list(codes)
    groups = db.execute(
        f"SELECT c.code, i.material_type, i.review_state, {win} AS ok, count(*) FROM {source} "
        f"WHERE {' AND '.join(where)} AND i.deleted_at IS NULL GROUP BY 1, 2, 3, 4",
        win_args + args).fetchall()
    nodes = imap.nodes
    for code in {g[0] for g in groups}:
        node = nodes.get(code)
        if node is None and resolve_leaf(imap, code, {}) is not None:
            return None
    notes = db.execute(
        "SELECT c.code, r.item_id, r.reviewer, r.comment FROM "
        "(SELECT item_id, reviewer, comment, max(id) FROM reviews "
        " WHERE cycle_id IS (SELECT id FROM cycles WHERE state = 'current') GROUP BY item_id) r "
        "JOIN items i ON i.id = r.item_id AND i.deleted_at IS NULL "
        f"JOIN item_codes c ON c.item_id = r.item_id WHERE {' AND '.join(where)} "
        "AND (r.reviewer IS NOT NULL OR r.comment IS NOT NULL) ORDER BY r.item_id, c.code",
        args).fetchall()
    return groups, notes


def compute_counts(imap, groups, notes, evaluation_date: date, unit: str | None = None) -> dict:
    """Coverage from `load_counts` — the same report `compute` makes from the items."""
    default, per_type = type_windows(imap, evaluation_date)
    nodes = imap.nodes
    by_leaf: dict[str, dict] = {}
    for code, material_type, state, ok, n in groups:
        node = nodes.get(code)
        if node is None or not node.is_leaf:
            continue
        acc = by_leaf.get(code)
        if acc is None:
            acc = by_leaf[code] = _new_acc()
        _add(acc, material_type, bool(ok), state, n, False)
    for code, item_id, reviewer, comment in notes:
        acc = by_leaf.get(code)
        if acc is not None:
            _note(acc, item_id, reviewer, comment)
    return _report(imap, by_leaf, evaluation_date, default, per_type, unit)


def _report(imap, by_leaf: dict, evaluation_date: date, default, per_type, unit: str | None) -> dict:
    types_order = map_material_types(imap)
    order = {t: i for i, t in enumerate(types_order)}
    rows = []
    summary = {"leaves": 0, "complete": 0, "partial": 0, "empty": 0}
    for leaf in imap.leaves():
        units = list(getattr(leaf, "units", None) or [])
        if unit is not None and unit not in units:
            continue
        required = list(leaf.requires or [])
        acc = by_leaf.get(leaf.code) or _new_acc()
        present_counts = acc["present"]
        present_set = set(present_counts)
        reviewers, comments = acc["reviewers"], acc["comments"]
        out_of_window, pending, rejected, approved = (acc["out_of_window"], acc["pending"], acc["rejected"],
                                                      acc["approved"])
        present = sorted(present_set, key=lambda t: (order.get(t, len(order)), t))
        missing = [t for t in required if t not in present_set]
        if not missing:
            status = "complete"
        elif len(missing) < len(required):
            status = "partial"
        else:
            status = "empty"
        summary["leaves"] += 1
        summary[status] += 1
        rows.append({
            "code": leaf.code, "name": leaf.name, "methods": list(leaf.methods or []),
            "required": required, "present": present, "missing": missing,
            "evidence": acc["evidence"], "out_of_window": out_of_window, "pending": pending,
            "rejected": rejected, "status": status,
            "units": units, "path": node_path(leaf), "approved": approved,
            "reviewers": sorted(reviewers), "comments": comments,
            "present_counts": {t: present_counts[t] for t in present},
        })
    report = {
        "evaluation_date": evaluation_date.isoformat(),
        "window": {"from": default[0].isoformat(), "to": default[1].isoformat()},
        "windows": {t: {"from": w[0].isoformat(), "to": w[1].isoformat()} for t, w in per_type.items()},
        "summary": summary,
        "indicators": rows,
    }
    edition = getattr(imap, "edition", None)
    if edition:
        report["edition"] = edition
    if unit is not None:
        report["unit"] = unit
    return report


def live_report(db, imap, evaluation_date: date, unit: str | None = None,
                codes: list[str] | None = None) -> dict:
    """Coverage of the live archive (call inside a snapshot): counted in SQL, or item by item
    when a stored code needs the lenient lookup."""
    counted = load_counts(db, imap, evaluation_date, codes)
    if counted is not None:
        return compute_counts(imap, *counted, evaluation_date, unit)
    return compute(imap, load_items(db, codes, map_id=imap.id), evaluation_date, unit)


def coverage(instance, evaluation_date, unit: str | None = None, map_id: str | None = None) -> dict:
    """Readiness per leaf (CONTRACT.md "Coverage" JSON) for `evaluation_date` (date or ISO),
    in map `map_id` (default: the selected or only active map)."""
    d = as_date(evaluation_date)
    imap = current_map(instance, map_id)
    with snapshot(instance.db) as db:
        return live_report(db, imap, d, unit)


def leaf_coverage(instance, code: str, evaluation_date, map_id: str | None = None) -> tuple[dict, dict]:
    """One leaf's coverage row and the report's windows, reading only that leaf's items
    (the indicator page)."""
    d = as_date(evaluation_date)
    imap = current_map(instance, map_id)
    leaf = imap.find(code)
    if leaf is None or not leaf.is_leaf:
        raise UsageError("not a leaf", f"「{code}」不是测评内容（末级指标）")
    with snapshot(instance.db) as db:
        report = live_report(db, imap, d, codes=[leaf.code])
    row = next(r for r in report["indicators"] if r["code"] == leaf.code)
    return row, {"evaluation_date": report["evaluation_date"], "window": report["window"],
                 "windows": report["windows"]}
