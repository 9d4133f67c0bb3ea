"""The indicator map inside an instance: loading editions, evidence counts per node.

Loading a new edition never deletes evidence. Codes that vanish are reported with the
number of items filed under them; a code the new map only spells differently (`Ⅲ-1`
for `Ⅲ—1`) is rewritten to the new spelling, so the DB keeps the map's own codes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import UsageError
from .indicators import IndicatorMap, MapError, diff_maps, parse_map, read_map_text


def current_map(instance) -> IndicatorMap:
    """The map loaded last (parsed once, cached on the instance until another is loaded)."""
    row = instance.db.execute("SELECT id, yaml, source_path FROM maps ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise UsageError("no indicator map", "尚未载入指标体系，请运行 evidence map load PATH")
    if instance._map_cache is None or instance._map_cache[0] != row[0]:
        instance._map_cache = (row[0], parse_map(row[1], source=row[2] or "indicator_map.yaml"))
    return instance._map_cache[1]


def current_map_row(instance) -> dict | None:
    """The latest `maps` row as a dict (yaml, source_path, loaded_at ...), or None."""
    cur = instance.db.execute("SELECT * FROM maps ORDER BY id DESC LIMIT 1")
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def map_kept_on_init(instance, path: Path, given: bool) -> dict | None:
    """`init` on an instance that already has a map: the current `maps` row when it is to be
    left as it is, or None when `path` is to be (re)loaded.

    The map is reloaded when `--map` was given, or when the default ./indicator_map.yaml is the
    very file the current map came from (the clerk edited it); a map loaded from elsewhere with
    `map load` is never replaced by a plain `init`."""
    current = current_map_row(instance)
    if given or current is None:
        return None
    if path.exists() and current["source_path"] == str(Path(path).resolve()):
        return None
    return current


def _code_usage(db) -> dict[str, tuple[int, int]]:
    """code → (items not deleted, items deleted) as stored in item_codes."""
    rows = db.execute("""
        SELECT c.code,
               SUM(CASE WHEN i.deleted_at IS NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN i.deleted_at IS NULL THEN 0 ELSE 1 END)
        FROM item_codes c JOIN items i ON i.id = c.item_id
        GROUP BY c.code ORDER BY c.code
    """).fetchall()
    return {code: (live or 0, dead or 0) for code, live, dead in rows}


def load_map_into(instance, path: Path | str, user: str | None, ip: str | None = None) -> dict:
    """Validate the map at `path` and make it the instance's current map.

    Raises `MapError`/`UsageError` for an invalid or unreadable file (nothing changes).
    Returns {"map_id", "edition", "source", "counts", "changed", "vanished":
    [{"code", "item_count", "deleted_count"}], "respelled": [{"old_code", "code",
    "item_count"}], "not_leaf": [{"code", "item_count"}], "diff"}. Loading the text that
    is already current changes nothing (`changed` false).
    """
    p = Path(path)
    return load_map_text_into(instance, read_map_text(p), str(p.resolve()), user, ip=ip)


def load_map_text_into(instance, text: str, source: str, user: str | None,
                       ip: str | None = None) -> dict:
    """`load_map_into` for a map given as text (e.g. uploaded on the web admin page);
    `source` is recorded as the map's origin (a path or a label such as an upload name)."""
    new = parse_map(text, source=Path(source).name or "indicator_map.yaml")
    db = instance.db
    report: dict = {"map_id": new.id, "edition": new.edition, "source": source,
                    "counts": new.level_counts(), "changed": False, "vanished": [],
                    "respelled": [], "not_leaf": [], "diff": None}
    with transaction(db):
        row = db.execute("SELECT yaml, source_path FROM maps ORDER BY id DESC LIMIT 1").fetchone()
        if row is not None and row[0] == text:
            return report
        if row is not None:
            try:
                old = parse_map(row[0], source=row[1] or "indicator_map.yaml")
                report["diff"] = diff_maps(old, new)
            except MapError:   # an older map the current rules refuse: no diff, load anyway
                pass
        for code, (live, dead) in _code_usage(db).items():
            node = new.find(code)
            if node is None:
                report["vanished"].append({"code": code, "item_count": live, "deleted_count": dead})
            elif not node.is_leaf:
                report["not_leaf"].append({"code": code, "item_count": live})
            elif node.code != code:
                _respell(db, code, node.code)
                report["respelled"].append({"old_code": code, "code": node.code,
                                            "item_count": live + dead})
        db.execute(
            "INSERT INTO maps (map_id, edition, yaml, source_path, loaded_at, loaded_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [new.id, new.edition, text, source, utcnow(), user])
        report["changed"] = True
        audit.log(db, user, "map.load", target=new.id, ip=ip, detail={
            "edition": new.edition, "source": source,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "counts": new.level_counts(),
            "vanished": [v["code"] for v in report["vanished"]],
            "respelled": [[r["old_code"], r["code"]] for r in report["respelled"]],
            "not_leaf": [v["code"] for v in report["not_leaf"]],
        })
    instance._map_cache = None
    return report


def _respell(db, old_code: str, new_code: str) -> None:
    """Move item_codes rows to the new spelling; an item already under both keeps one row."""
    db.execute("""
        DELETE FROM item_codes WHERE code = ? AND item_id IN
            (SELECT item_id FROM item_codes WHERE code = ?)""", [old_code, new_code])
    db.execute("UPDATE item_codes SET code = ? WHERE code = ?", [new_code, old_code])


def evidence_counts(db, imap: IndicatorMap) -> dict[str, int]:
    """code → number of distinct items (not deleted) filed under the node or its subtree."""
    per_leaf: dict[str, set[int]] = {}
    rows = db.execute("""
        SELECT c.code, c.item_id FROM item_codes c JOIN items i ON i.id = c.item_id
        WHERE i.deleted_at IS NULL""").fetchall()
    for code, item_id in rows:
        node = imap.find(code)
        if node is not None:
            per_leaf.setdefault(node.code, set()).add(item_id)

    counts: dict[str, int] = {}

    def walk(node) -> set[int]:
        items = set(per_leaf.get(node.code, ()))
        for child in node.children:
            items |= walk(child)
        counts[node.code] = len(items)
        return items

    for root in imap.roots:
        walk(root)
    return counts


def map_tree(instance) -> dict:
    """The current map with evidence counts per node (the `map show --json` shape)."""
    imap = current_map(instance)
    counts = evidence_counts(instance.db, imap)
    row = instance.db.execute(
        "SELECT loaded_at, loaded_by, source_path FROM maps ORDER BY id DESC LIMIT 1").fetchone()

    def node_json(node) -> dict:
        data = {"code": node.code, "name": node.name, "level": node.depth,
                "evidence": counts.get(node.code, 0)}
        if node.is_leaf:
            data.update(methods=node.methods, requires=node.requires, units=node.units,
                        standard=node.standard)
        else:
            data["children"] = [node_json(c) for c in node.children]
        return data

    return {"edition": imap.edition, "id": imap.id, "loaded_at": row[0], "loaded_by": row[1],
            "source": row[2], "counts": imap.level_counts(),
            "window": {"months": imap.window_months, "by_type": imap.window_by_type},
            "indicators": [node_json(r) for r in imap.roots]}
