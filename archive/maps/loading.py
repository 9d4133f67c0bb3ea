"""Maps inside an instance: several maps active at once, their editions, codes in a map context.

A `maps` row is one loaded edition; a *map* is every row with the same `map_id` (the YAML
`id`), its newest row the current edition. Maps are active or retired (`maps.active`, the
same on all of a map's rows). Item codes are stored as (map_id, code), the code exactly as
that map writes it.

Codes are resolved in a map context: `wmcs-2024-sample:Ⅲ—1` names its map; a bare `Ⅲ—1`
belongs to the map the command or request names (`instance.map_id`: `--map`, the web
picker), else to the only active map. With several maps active and none named,
`current_map` raises 请指定指标体系.

Loading never deletes evidence. Codes that vanish from a new edition are reported with the
number of items filed under them; a code the new edition only spells differently (`Ⅲ-1`
for `Ⅲ—1`) is rewritten to the new spelling. Moving evidence across renumbered, split or
merged leaves is `archive.maps.editions`.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import NotFound, Refusal, UsageError
from .indicators import IndicatorMap, MapError, diff_maps, parse_map, read_map_text

QUALIFIERS = (":", "：")

# Parsed maps per process: a maps row never changes, so (db file, row id, loaded_at) names
# one text for good. Parsing the sample map costs ~20 ms; requests and commands reuse it.
_parsed: dict[tuple, IndicatorMap] = {}
_parsed_lock = threading.Lock()


class NoMapSelected(UsageError):
    """Several maps are active and the command or request did not name one."""


def _parse_row(instance, row_id: int, map_id: str, loaded_at: str) -> IndicatorMap:
    key = (str(instance.db_path), row_id, loaded_at, map_id)
    imap = _parsed.get(key)
    if imap is None:
        text, source = instance.db.execute(
            "SELECT yaml, source_path FROM maps WHERE id = ?", [row_id]).fetchone()
        imap = parse_map(text, source=Path(source or "indicator_map.yaml").name)
        with _parsed_lock:
            if len(_parsed) > 64:
                _parsed.clear()
            _parsed[key] = imap
    return imap


def _latest_rows(db, active_only: bool) -> list[tuple]:
    """(row id, map_id, loaded_at, active) of each map's current edition, in the order the
    maps were first loaded."""
    where = "WHERE m.active = 1" if active_only else ""
    return db.execute(f"""
        SELECT m.id, m.map_id, m.loaded_at, m.active FROM maps m
        JOIN (SELECT map_id, MAX(id) AS last, MIN(id) AS first FROM maps GROUP BY map_id) g
          ON g.last = m.id
        {where} ORDER BY g.first""").fetchall()


def active_map_ids(db) -> list[str]:
    return [r[1] for r in _latest_rows(db, True)]


def active_editions(db) -> list[tuple[str, str]]:
    """(map_id, edition) of every active map, cheaply (the web's map picker on every page)."""
    return [(r[1], db.execute("SELECT edition FROM maps WHERE id = ?", [r[0]]).fetchone()[0])
            for r in _latest_rows(db, True)]


def active_maps(instance) -> list[IndicatorMap]:
    """The current edition of every active map, in the order they were first loaded."""
    return [_parse_row(instance, r[0], r[1], r[2]) for r in _latest_rows(instance.db, True)]


def get_map(instance, map_id: str) -> IndicatorMap:
    """The current edition of map `map_id` (active or retired); NotFound names the known ids."""
    row = instance.db.execute(
        "SELECT id, map_id, loaded_at FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1",
        [map_id]).fetchone()
    if row is None:
        row = _find_map_id(instance.db, map_id)
    if row is None:
        known = "、".join(r[1] for r in _latest_rows(instance.db, False)) or "（无）"
        raise NotFound("unknown map", f"没有编号为「{map_id}」的指标体系（已载入：{known}）")
    return _parse_row(instance, *row)


def _find_map_id(db, map_id: str):
    """A map id typed in another case or with spaces around it."""
    wanted = (map_id or "").strip().casefold()
    for r in _latest_rows(db, False):
        if r[1].casefold() == wanted:
            return r[0], r[1], r[2]
    return None


def get_edition(instance, edition_id: int) -> IndicatorMap:
    """One recorded edition (a `maps` row), e.g. the one a closed cycle pinned."""
    row = instance.db.execute("SELECT id, map_id, loaded_at FROM maps WHERE id = ?",
                              [edition_id]).fetchone()
    if row is None:
        raise NotFound("unknown edition", f"找不到指标体系版本 #{edition_id}")
    return _parse_row(instance, *row)


def selected_map_id(instance) -> str | None:
    """The map the command (`--map`) or request (the picker) names, if any."""
    return getattr(instance, "map_id", None) or None


def current_map(instance, map_id: str | None = None) -> IndicatorMap:
    """The map a command works in: `map_id`, else the instance's selected map, else the only
    active map. UsageError when none is loaded or several are active and none is named."""
    map_id = map_id or selected_map_id(instance)
    if map_id:
        return get_map(instance, map_id)
    rows = _latest_rows(instance.db, True)
    if len(rows) == 1:
        return _parse_row(instance, rows[0][0], rows[0][1], rows[0][2])
    if not rows:
        if instance.db.execute("SELECT 1 FROM maps LIMIT 1").fetchone():
            raise UsageError("no active map", "没有启用的指标体系，请运行 evidence map activate ID")
        raise UsageError("no indicator map", "尚未载入指标体系，请运行 evidence map load PATH")
    ids = "、".join(r[1] for r in rows)
    raise NoMapSelected("map not specified",
                        f"请指定指标体系（--map ID 或编码写成 ID:编码）：当前启用 {len(rows)} 个：{ids}")


def require_map(instance) -> None:
    """A command that files evidence needs a map to file it in: the selected one, or at least
    one active map (several: each code names its map or the file is refused with 请指定指标体系)."""
    try:
        current_map(instance)
    except NoMapSelected:
        pass


def current_map_row(instance, map_id: str | None = None) -> dict | None:
    """The current edition's `maps` row as a dict (yaml, source_path, loaded_at ...), or None.
    Without a map named and several active: the newest one loaded."""
    map_id = map_id or selected_map_id(instance)
    if map_id:
        cur = instance.db.execute("SELECT * FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1", [map_id])
    else:
        cur = instance.db.execute("SELECT * FROM maps ORDER BY active DESC, id DESC LIMIT 1")
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def map_kept_on_init(instance, path: Path, given: bool) -> dict | None:
    """`init` on an instance that already has a map: the current `maps` row when it is to be
    left as it is, or None when `path` is to be (re)loaded.

    The map is reloaded when `--map` was given, or when the default ./indicator_map.yaml is the
    very file one of the active maps came from (the clerk edited it); a map loaded from
    elsewhere with `map load` is never replaced by a plain `init`."""
    current = current_map_row(instance)
    if given or current is None:
        return None
    if path.exists():
        source = str(Path(path).resolve())
        for row_id, _, _, _ in _latest_rows(instance.db, True):
            if instance.db.execute("SELECT source_path FROM maps WHERE id = ?", [row_id]).fetchone()[0] == source:
                return None
    return current


# ------------------------------------------------------------------ codes in a map context
def split_qualified(text: str) -> tuple[str | None, str]:
    """`wmcs:Ⅲ—1` → ("wmcs", "Ⅲ—1"); `Ⅲ—1` → (None, "Ⅲ—1"). A full-width colon counts too."""
    text = (text or "").strip()
    for q in QUALIFIERS:
        if q in text:
            map_id, code = text.split(q, 1)
            return map_id.strip() or None, code.strip()
    return None, text


def qualify(map_id: str, code: str) -> str:
    return f"{map_id}:{code}"


def resolve_code(instance, text: str, map_id: str | None = None):
    """A user's code → (IndicatorMap, Node or None). A qualified code names its map; a bare
    one is looked up in `map_id`, the selected map or the only active map (else 请指定指标体系)."""
    qualified, code = split_qualified(text)
    imap = get_map(instance, qualified) if qualified else current_map(instance, map_id)
    return imap, imap.find(code)


def resolve_leaves(instance, codes: list[str], map_id: str | None = None) -> list[tuple[str, str]]:
    """Lenient codes (bare or qualified) → [(map_id, leaf code)] in the order given, no repeats.
    Refusal for an unknown code or one that is not a leaf; UsageError when a bare code has
    no map to belong to."""
    if not codes:
        raise Refusal("no code", "未指定指标代码")
    out: list[tuple[str, str]] = []
    for raw in codes:
        try:
            imap, node = resolve_code(instance, raw, map_id)
        except NotFound as e:
            raise Refusal("unknown map", f"指标代码「{raw}」：{e.message_zh}") from None
        if node is None:
            raise Refusal("unknown code", f"未知的指标代码「{raw}」")
        if not node.is_leaf:
            raise Refusal("code is not a leaf",
                          f"「{node.code} {node.name}」不是测评内容（末级指标），材料只能归入末级")
        if (imap.id, node.code) not in out:
            out.append((imap.id, node.code))
    return out


def code_labels(db, pairs: list[tuple[str, str]], active: list[str] | None = None) -> list[str]:
    """How codes are shown: bare while their map is the only active one (as before several
    maps existed), `map_id:code` otherwise. `active`: active_map_ids(db), if already known."""
    active = active_map_ids(db) if active is None else active
    only = active[0] if len(active) == 1 else None
    return [code if map_id == only else qualify(map_id, code) for map_id, code in pairs]


# ------------------------------------------------------------------ loading editions
def _code_usage(db, map_id: str) -> dict[str, tuple[int, int]]:
    """code → (items not deleted, items deleted) as stored in item_codes for one map."""
    rows = db.execute("""
        SELECT c.code,
               SUM(CASE WHEN i.deleted_at IS NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN i.deleted_at IS NULL THEN 0 ELSE 1 END)
        FROM item_codes c JOIN items i ON i.id = c.item_id
        WHERE c.map_id = ?
        GROUP BY c.code ORDER BY c.code
    """, [map_id]).fetchall()
    return {code: (live or 0, dead or 0) for code, live, dead in rows}


def check_map_id(map_id: str) -> None:
    if any(q in map_id for q in QUALIFIERS) or any(ch.isspace() for ch in map_id):
        raise UsageError("bad map id", f"指标体系编号「{map_id}」不能含冒号或空白（编码写作 ID:编码）")


def load_map_into(instance, path: Path | str, user: str | None, ip: str | None = None,
                  new: bool = False, replaces: str | None = None) -> dict:
    """Validate the map at `path` and load it (see `load_map_text_into`)."""
    p = Path(path)
    return load_map_text_into(instance, read_map_text(p), str(p.resolve()), user, ip=ip,
                              new=new, replaces=replaces)


def load_map_text_into(instance, text: str, source: str, user: str | None,
                       ip: str | None = None, new: bool = False,
                       replaces: str | None = None) -> dict:
    """Load a map given as text: a new map (its id is not known yet: it becomes active beside
    the others) or a new edition of the map with that id (item codes respelled, vanished
    codes listed). `new`: the caller means a new map, so a known id is refused (map id
    exists). `replaces`: another map id this one takes over (its items' codes and open
    cycles move to the new id; the old id is retired) — `init` when ./indicator_map.yaml got
    a new id.

    Raises `MapError`/`UsageError` for an invalid file (nothing changes). Returns
    {"map_id", "edition", "source", "counts", "changed", "added" (a new map), "vanished":
    [{"code", "item_count", "deleted_count"}], "respelled": [{"old_code", "code",
    "item_count"}], "not_leaf": [{"code", "item_count"}], "diff"}. Loading the text that is
    already the map's current edition changes nothing (`changed` false).
    """
    imap = parse_map(text, source=Path(source).name or "indicator_map.yaml")
    check_map_id(imap.id)
    db = instance.db
    report: dict = {"map_id": imap.id, "edition": imap.edition, "source": source,
                    "counts": imap.level_counts(), "changed": False, "added": False, "vanished": [],
                    "respelled": [], "not_leaf": [], "diff": None}
    with transaction(db):
        row = db.execute("SELECT yaml, source_path, active, edition FROM maps WHERE map_id = ? "
                         "ORDER BY id DESC LIMIT 1", [imap.id]).fetchone()
        if row is not None and new:
            raise UsageError("map id exists",
                             f"指标体系编号「{imap.id}」已被「{row[3]}」使用；新版本请用 map load/migrate，新体系请换一个 id")
        if row is None and replaces is None and not new:
            replaces = _same_file_map(db, source, imap.id)
        if replaces == imap.id:
            replaces = None
        if row is not None and row[0] == text and replaces is None:
            if not row[2]:
                raise UsageError("map retired", f"指标体系「{imap.id}」已停用，请用 evidence map activate {imap.id}")
            return report
        if replaces is not None:
            _take_over(db, replaces, imap.id, user, ip)
        if row is not None:
            try:
                old = parse_map(row[0], source=row[1] or "indicator_map.yaml")
                report["diff"] = diff_maps(old, imap)
            except MapError:   # an older map the current rules refuse: no diff, load anyway
                pass
        else:
            report["added"] = True
        check_types_fit(db, imap)
        for code, (live, dead) in _code_usage(db, imap.id).items():
            node = imap.find(code)
            if node is None:
                report["vanished"].append({"code": code, "item_count": live, "deleted_count": dead})
            elif not node.is_leaf:
                report["not_leaf"].append({"code": code, "item_count": live})
            elif node.code != code:
                _respell(db, imap.id, code, node.code)
                report["respelled"].append({"old_code": code, "code": node.code,
                                            "item_count": live + dead})
        active = 1 if row is None else row[2]
        edition_id = insert_edition(db, imap, text, source, user, active)
        report["changed"] = True
        report["edition_id"] = edition_id
        audit.log(db, user, "map.load", target=imap.id, ip=ip, detail={
            "edition": imap.edition, "source": source, "edition_id": edition_id,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "counts": imap.level_counts(), "new_map": report["added"],
            "replaces": replaces,
            "vanished": [v["code"] for v in report["vanished"]],
            "respelled": [[r["old_code"], r["code"]] for r in report["respelled"]],
            "not_leaf": [v["code"] for v in report["not_leaf"]],
        })
    return report


def insert_edition(db, imap: IndicatorMap, text: str, source: str, user, active: int = 1) -> int:
    """A new `maps` row for `imap` (inside the caller's transaction); open cycles that use the
    map follow it to this edition."""
    cur = db.execute(
        "INSERT INTO maps (map_id, edition, yaml, source_path, loaded_at, loaded_by, active) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [imap.id, imap.edition, text, source, utcnow(), user, active])
    db.execute("UPDATE cycle_maps SET edition_id = ? WHERE map_id = ? AND cycle_id IN "
               "(SELECT id FROM cycles WHERE state <> 'closed')", [cur.lastrowid, imap.id])
    return cur.lastrowid


def _same_file_map(db, source: str, map_id: str) -> str | None:
    """The active map whose current edition was loaded from the very file `source` (an
    absolute path), under another id: the clerk edited the file's id, so it is that map."""
    if not Path(source).is_absolute():
        return None
    for _, other, _, _ in _latest_rows(db, True):
        row = db.execute("SELECT source_path FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1",
                         [other]).fetchone()
        if other != map_id and row[0] == source:
            return other
    return None


def _take_over(db, old_id: str, new_id: str, user, ip) -> None:
    """Map `new_id` takes over `old_id`: items' codes and open cycles move, `old_id` retires."""
    if db.execute("SELECT 1 FROM maps WHERE map_id = ?", [old_id]).fetchone() is None:
        raise NotFound("unknown map", f"没有编号为「{old_id}」的指标体系")
    moved = db.execute("SELECT COUNT(*) FROM item_codes WHERE map_id = ?", [old_id]).fetchone()[0]
    # an item filed under both ids keeps one row per code
    db.execute("""DELETE FROM item_codes WHERE map_id = ? AND EXISTS (SELECT 1 FROM item_codes o
                  WHERE o.item_id = item_codes.item_id AND o.map_id = ? AND o.code = item_codes.code)""",
               [old_id, new_id])
    db.execute("UPDATE item_codes SET map_id = ? WHERE map_id = ?", [new_id, old_id])
    db.execute("UPDATE maps SET active = 0, retired_at = ?, retired_by = ? WHERE map_id = ?",
               [utcnow(), user, old_id])
    audit.log(db, user, "map.replace", target=old_id, ip=ip,
              detail={"by": new_id, "codes_moved": moved})


def check_types_fit(db, imap: IndicatorMap) -> None:
    """Items filed under `imap` whose material type the map does not know: refused."""
    marks = ",".join("?" * len(imap.material_types))
    rows = db.execute(f"""
        SELECT i.material_type, COUNT(DISTINCT i.id) FROM items i JOIN item_codes c ON c.item_id = i.id
        WHERE c.map_id = ? AND i.deleted_at IS NULL AND i.material_type NOT IN ({marks})
        GROUP BY i.material_type ORDER BY i.material_type""", [imap.id, *imap.material_types]).fetchall()
    if rows:
        found = "、".join(f"{t}（{n} 份）" for t, n in rows)
        raise UsageError("material types differ",
                         f"指标体系「{imap.id}」的材料类型不含已归入其中的材料的类型：{found}；"
                         f"请在 material_types 中保留这些类型")


def _respell(db, map_id: str, old_code: str, new_code: str) -> None:
    """Move item_codes rows to the new spelling; an item already under both keeps one row."""
    db.execute("""
        DELETE FROM item_codes WHERE map_id = ? AND code = ? AND item_id IN
            (SELECT item_id FROM item_codes WHERE map_id = ? AND code = ?)""",
               [map_id, old_code, map_id, new_code])
    db.execute("UPDATE item_codes SET code = ? WHERE map_id = ? AND code = ?", [new_code, map_id, old_code])


# ------------------------------------------------------------------ activate / retire / delete
def list_maps(instance) -> list[dict]:
    """Every map: id, current edition, active, editions loaded, items filed, cycles using it."""
    db = instance.db
    out = []
    for row_id, map_id, loaded_at, active in _latest_rows(db, False):
        edition, retired_at = db.execute("SELECT edition, retired_at FROM maps WHERE id = ?",
                                         [row_id]).fetchone()
        editions = db.execute("SELECT COUNT(*) FROM maps WHERE map_id = ?", [map_id]).fetchone()[0]
        items = db.execute("SELECT COUNT(DISTINCT c.item_id) FROM item_codes c JOIN items i ON i.id = c.item_id "
                           "WHERE c.map_id = ? AND i.deleted_at IS NULL", [map_id]).fetchone()[0]
        cycles = [r[0] for r in db.execute(
            "SELECT c.name FROM cycle_maps m JOIN cycles c ON c.id = m.cycle_id WHERE m.map_id = ? "
            "ORDER BY c.id", [map_id])]
        out.append({"id": map_id, "edition": edition, "edition_id": row_id, "active": bool(active),
                    "loaded_at": loaded_at, "retired_at": retired_at, "editions": editions,
                    "items": items, "cycles": cycles})
    return out


def set_active(instance, map_id: str, active: bool, user=None, ip=None) -> dict:
    """Activate or retire a map (all its editions). Activating checks that the material types
    of the items filed under it are types the map knows (else nothing changes)."""
    imap = get_map(instance, map_id)
    db = instance.db
    with transaction(db):
        was = db.execute("SELECT active FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1",
                         [imap.id]).fetchone()[0]
        if bool(was) == active:
            return {"id": imap.id, "active": active, "changed": False}
        if active:
            check_types_fit(db, imap)
            db.execute("UPDATE maps SET active = 1, retired_at = NULL, retired_by = NULL WHERE map_id = ?",
                       [imap.id])
        else:
            db.execute("UPDATE maps SET active = 0, retired_at = ?, retired_by = ? WHERE map_id = ?",
                       [utcnow(), user, imap.id])
        audit.log(db, user, "map.activate" if active else "map.retire", target=imap.id, ip=ip,
                  detail={"edition": imap.edition})
    return {"id": imap.id, "active": active, "changed": True}


def delete_map(instance, map_id: str, user=None, ip=None) -> dict:
    """Remove a map and all its editions. Refused while a cycle uses it or items are filed
    under it (evidence is never orphaned silently)."""
    imap = get_map(instance, map_id)
    db = instance.db
    with transaction(db):
        cycles = [r[0] for r in db.execute(
            "SELECT c.name FROM cycle_maps m JOIN cycles c ON c.id = m.cycle_id WHERE m.map_id = ? ORDER BY c.id",
            [imap.id])]
        if cycles:
            raise Refusal("map used by a cycle",
                          f"指标体系「{imap.id}」仍被测评周期使用：{'、'.join(cycles)}，不能删除（可停用）")
        items = db.execute("SELECT COUNT(DISTINCT item_id) FROM item_codes WHERE map_id = ?",
                           [imap.id]).fetchone()[0]
        if items:
            raise Refusal("map has evidence",
                          f"指标体系「{imap.id}」下仍有 {items} 份材料，不能删除（可停用）")
        n = db.execute("DELETE FROM maps WHERE map_id = ?", [imap.id]).rowcount
        audit.log(db, user, "map.delete", target=imap.id, ip=ip,
                  detail={"edition": imap.edition, "editions": n})
    return {"id": imap.id, "deleted_editions": n}


# ------------------------------------------------------------------ counts and the tree
def evidence_counts(db, imap: IndicatorMap, under=None) -> dict[str, int]:
    """code → number of distinct items (not deleted) filed under the node or its subtree;
    `under` (a node): that node and its subtree only (an indicator page), reading only the
    items filed there."""
    per_leaf: dict[str, set[int]] = {}
    if under is None:
        # Walk the items through their covering index (0010) and look each one's codes up:
        # no jump into the items rows, which carry the extracted text.
        rows = db.execute("""
            SELECT c.code, c.item_id FROM items i INDEXED BY items_readiness
            CROSS JOIN item_codes c ON c.item_id = i.id
            WHERE i.deleted_at IS NULL AND c.map_id = ?""", [imap.id])
    else:
        inside = {n.code for n in under.iter()}
        codes = set(inside)
        # A code stored in another spelling still counts where the lenient lookup puts it.
        for (stored,) in db.execute("SELECT DISTINCT code FROM item_codes WHERE map_id = ?", [imap.id]):
            if stored not in imap.nodes:
                node = imap.find(stored)
                if node is not None and node.code in inside:
                    codes.add(stored)
        codes = sorted(codes)
        rows = db.execute(f"""
            SELECT c.code, c.item_id FROM item_codes c
            CROSS JOIN items i INDEXED BY items_readiness ON i.id = c.item_id
            WHERE i.deleted_at IS NULL AND c.map_id = ? AND c.code IN ({",".join("?" * len(codes))})""",
                          [imap.id, *codes])
    for code, item_id in rows:
        node = imap.nodes.get(code) or imap.find(code)
        if node is not None:
            per_leaf.setdefault(node.code, set()).add(item_id)

    counts: dict[str, int] = {}

    def walk(node) -> set[int]:
        items = set(per_leaf.get(node.code, ()))
        for child in node.children:
            items |= walk(child)
        counts[node.code] = len(items)
        return items

    for root in ([under] if under is not None else imap.roots):
        walk(root)
    return counts


def map_tree(instance, map_id: str | None = None) -> dict:
    """A map with evidence counts per node (the `map show --json` shape)."""
    imap = current_map(instance, map_id)
    counts = evidence_counts(instance.db, imap)
    row = instance.db.execute(
        "SELECT loaded_at, loaded_by, source_path, active FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1",
        [imap.id]).fetchone()

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
            "source": row[2], "active": bool(row[3]), "counts": imap.level_counts(),
            "window": {"months": imap.window_months, "by_type": imap.window_by_type},
            "indicators": [node_json(r) for r in imap.roots]}
