"""A new edition of a map: which old code becomes which new one, and moving evidence there.

A mapping file (CSV, UTF-8 with or without BOM, or GBK) says it for the leaves that changed:

    old,new
    Ⅲ—6,Ⅲ—66            renumbered (moved)
    Ⅲ—7,Ⅲ—70;Ⅲ—71       split: evidence goes to both
    Ⅲ—8,Ⅲ—80            merged: two old rows name the same new code
    Ⅲ—9,Ⅲ—80
    Ⅲ—10,               dropped: no new home

Leaves the file does not name are derived: the same code with the same name stays; else a
new leaf with the same name (once in the new edition, new to it) is a move; else the same
code stays (renamed); else the leaf has no home. Evidence is never deleted: codes without a
home stay on their items, listed, as `map load` does for vanished codes.

`plan_migration` is the dry run (what each item's codes become, what is left without a
home); `migrate` applies it in one transaction: the new edition, every item's codes and an
audit row per item and one for the migration.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from archive.core import audit
from archive.core.db import transaction, utcnow
from archive.core.errors import NotFound, UsageError
from .indicators import IndicatorMap, Problem, diff_maps, level_name, parse_map, read_map_text
from .loading import check_types_fit, check_map_id, get_map, insert_edition

SPLIT = (";", "；", "、")


class MappingError(UsageError):
    """A mapping file with problems; `.problems` each carry their line number (`lines()`)."""

    def __init__(self, problems: list[Problem], source: str = "mapping.csv"):
        super().__init__("bad mapping", f"映射文件 {source} 有 {len(problems)} 处错误："
                         + "；".join(f"第 {p.line} 行 {p.message_zh}" for p in problems[:3])
                         + ("……" if len(problems) > 3 else ""))
        self.problems = list(problems)
        self.source = source

    def lines(self) -> list[str]:
        return [p.format(self.source) for p in self.problems]


# ------------------------------------------------------------------ reading a mapping
def read_mapping(path: Path | str) -> tuple[list[tuple[int, str, list[str]]], str]:
    """A mapping CSV → ([(line, old, [new, ...])], source name). UsageError if unreadable."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UsageError("cannot read mapping", f"无法读取映射文件 {p}：{e.strerror or e}") from None
    return parse_mapping(data, p.name), p.name


def parse_mapping(data: bytes | str, source: str = "mapping.csv") -> list[tuple[int, str, list[str]]]:
    if isinstance(data, bytes):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise UsageError("bad mapping encoding", f"映射文件 {source} 编码无法识别（应为 UTF-8 或 GBK）")
    else:
        text = data
    rows = list(csv.reader(io.StringIO(text)))
    problems, out = [], []
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["old", "new"]:
        raise MappingError([Problem(1, "bad mapping header", "映射文件第一行应为 old,new")], source)
    for n, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        old = row[0].strip()
        new_text = row[1].strip() if len(row) > 1 else ""
        for s in SPLIT[1:]:
            new_text = new_text.replace(s, SPLIT[0])
        if not old:
            problems.append(Problem(n, "missing old code", "缺少旧编码"))
            continue
        out.append((n, old, [c.strip() for c in new_text.split(SPLIT[0]) if c.strip()]))
    if problems:
        raise MappingError(problems, source)
    return out


# ------------------------------------------------------------------ the mapping of leaves
def build_mapping(old: IndicatorMap, new: IndicatorMap, rows=(), source: str = "mapping.csv") -> dict:
    """old leaf code → {"to": [new leaf codes], "how": same|renamed|moved|mapped|split|merged|
    dropped|homeless, "line": line in the file or None}. Raises MappingError listing every
    unknown code, repeated old code and change of level (nothing is applied)."""
    problems: list[Problem] = []
    explicit: dict[str, tuple[list[str], int]] = {}
    targets_of: dict[str, list[str]] = {}
    for line, old_raw, new_raws in rows:
        o = old.find(old_raw)
        if o is None:
            problems.append(Problem(line, "unknown old code", f"旧编码「{old_raw}」不在旧版（{old.edition}）中"))
            continue
        if o.code in explicit:
            problems.append(Problem(line, "duplicate old code", f"旧编码「{o.code}」重复出现（第 {explicit[o.code][1]} 行已给出）"))
            continue
        news = []
        for raw in new_raws:
            n = new.find(raw)
            if n is None:
                problems.append(Problem(line, "unknown new code", f"新编码「{raw}」不在新版（{new.edition}）中"))
                continue
            if n.depth != o.depth or n.is_leaf != o.is_leaf:
                problems.append(Problem(line, "level mismatch",
                                        f"「{o.code}」是{level_name(o.depth)}，不能映射到{level_name(n.depth)}「{n.code}」"))
                continue
            if n.code not in news:
                news.append(n.code)
        explicit[o.code] = (news, line)
        for c in news:
            targets_of.setdefault(c, []).append(o.code)
    if problems:
        raise MappingError(problems, source)

    out: dict[str, dict] = {}
    for o in old.leaves():
        if o.code in explicit:
            news, line = explicit[o.code]
            if not news:
                how = "dropped"
            elif len(news) > 1:
                how = "split"
            elif len(targets_of[news[0]]) > 1:
                how = "merged"
            elif news[0] == o.code or new.find(o.code) is not None and new.find(o.code).code == news[0]:
                how = "same" if new.nodes[news[0]].name == o.name else "renamed"
            else:
                how = "moved"
            out[o.code] = {"to": news, "how": how, "line": line}
    claimed = {c for v in out.values() for c in v["to"]}
    new_by_name: dict[str, list] = {}
    for n in new.leaves():
        new_by_name.setdefault(n.name, []).append(n)
    for o in old.leaves():
        if o.code in out:
            continue
        same = new.find(o.code)
        if same is not None and same.is_leaf and same.name == o.name:
            out[o.code] = {"to": [same.code], "how": "same", "line": None}
            continue
        named = [n for n in new_by_name.get(o.name, ()) if old.find(n.code) is None or n is same]
        if len(named) == 1 and named[0].code not in claimed:
            out[o.code] = {"to": [named[0].code], "how": "moved", "line": None}
            claimed.add(named[0].code)
            continue
        if same is not None and same.is_leaf:
            out[o.code] = {"to": [same.code], "how": "renamed", "line": None}
            continue
        out[o.code] = {"to": [], "how": "homeless", "line": None}
    return out


def diff_editions(old: IndicatorMap, new: IndicatorMap, rows=(), source: str = "mapping.csv",
                  mapping: dict | None = None) -> dict:
    """`diff_maps` plus how leaves moved: `moved` [{old_code, code, name}], `split`
    [{old_code, codes}], `merged` [{old_codes, code}], `dropped` [{code, name}] (the mapping
    says so); a moved, split or merged leaf is no longer listed as removed + added."""
    d = diff_maps(old, new)
    m = mapping if mapping is not None else build_mapping(old, new, rows, source)
    moved, split, dropped = [], [], []
    merged: dict[str, list[str]] = {}
    for code, v in m.items():
        if v["how"] == "moved":
            moved.append({"old_code": code, "code": v["to"][0], "name": new.nodes[v["to"][0]].name})
        elif v["how"] == "split":
            split.append({"old_code": code, "codes": v["to"]})
        elif v["how"] == "merged":
            merged.setdefault(v["to"][0], []).append(code)
        elif v["how"] == "dropped":
            dropped.append({"code": code, "name": old.nodes[code].name})
    gone = {x["old_code"] for x in moved + split} | {c for cs in merged.values() for c in cs}
    arrived = {x["code"] for x in moved} | {c for x in split for c in x["codes"]} | set(merged)
    d["removed"] = [r for r in d["removed"] if old.find(r["code"]).code not in gone]
    d["added"] = [a for a in d["added"] if a["code"] not in arrived]
    d.update(moved=moved, split=split, merged=[{"old_codes": v, "code": k} for k, v in merged.items()],
             dropped=dropped)
    return d


# ------------------------------------------------------------------ the migration
def plan_migration(instance, text: str, source: str, rows=(), mapping_source: str = "mapping.csv") -> dict:
    """The dry run: what each item's codes in this map become. The new edition must have the id
    of a loaded map. Returns {"map_id", "from", "to", "leaves": {old: {to, how}}, "items":
    [{"id", "title", "deleted", "old", "new", "homeless"}] (items whose codes change or have
    no home), "unchanged": N, "homeless": [{"id", "title", "codes"}] (items left with no code
    in the new edition), "diff"}."""
    new = parse_map(text, source=Path(source).name or "indicator_map.yaml")
    check_map_id(new.id)
    try:
        old = get_map(instance, new.id)
    except NotFound:
        raise UsageError("not an edition of a loaded map",
                         f"没有编号为「{new.id}」的已载入指标体系；新体系请用 evidence map load") from None
    leaves = build_mapping(old, new, rows, mapping_source)
    db = instance.db
    codes: dict[int, list[str]] = {}
    for item_id, code in db.execute("SELECT item_id, code FROM item_codes WHERE map_id = ? "
                                    "ORDER BY item_id, rowid", [new.id]):
        codes.setdefault(item_id, []).append(code)
    meta = {}
    if codes:
        for item_id, title, deleted in db.execute(
                "SELECT id, title, deleted_at FROM items WHERE id IN "
                "(SELECT item_id FROM item_codes WHERE map_id = ?)", [new.id]):
            meta[item_id] = (title, deleted is not None)
    items, homeless, unchanged = [], [], 0
    for item_id, olds in codes.items():
        news, lost = [], []
        for c in olds:
            o = old.find(c)
            if o is not None and o.is_leaf:
                to = leaves[o.code]["to"]
            else:   # a code already outside the old edition: keep it if the new one has it
                n = new.find(c)
                to = [n.code] if n is not None and n.is_leaf else []
            if not to:
                lost.append(c)
            for t in to:
                if t not in news:
                    news.append(t)
        title, deleted = meta.get(item_id, ("", False))
        if news == olds and not lost:
            unchanged += 1
            continue
        items.append({"id": item_id, "title": title, "deleted": deleted, "old": olds, "new": news,
                      "homeless": lost})
        if not news:
            homeless.append({"id": item_id, "title": title, "codes": lost, "deleted": deleted})
    return {"map_id": new.id, "from": old.edition, "to": new.edition,
            "leaves": {k: {"to": v["to"], "how": v["how"]} for k, v in leaves.items()},
            "items": items, "unchanged": unchanged, "homeless": homeless,
            "diff": diff_editions(old, new, mapping=leaves), "_new": new, "_text": text,
            "_source": source}


def migrate(instance, path: Path | str, mapping: Path | str | None = None, dry_run: bool = True,
            user: str | None = None, ip: str | None = None) -> dict:
    """Plan (and unless `dry_run`, apply) the move to the edition at `path` with the mapping
    file `mapping` (None: derived only). The report is `plan_migration`'s plus "applied" and
    "edition_id"."""
    p = Path(path)
    rows, msource = read_mapping(mapping) if mapping is not None else ([], "mapping.csv")
    return migrate_text(instance, read_map_text(p), str(p.resolve()), rows, msource, dry_run, user, ip)


def migrate_text(instance, text: str, source: str, rows=(), mapping_source: str = "mapping.csv",
                 dry_run: bool = True, user=None, ip=None) -> dict:
    plan = plan_migration(instance, text, source, rows, mapping_source)
    new, text = plan.pop("_new"), plan.pop("_text")
    plan.pop("_source")
    plan["applied"] = False
    if dry_run:
        return plan
    db = instance.db
    with transaction(db):
        check_types_fit(db, new)
        active = db.execute("SELECT active FROM maps WHERE map_id = ? ORDER BY id DESC LIMIT 1",
                            [new.id]).fetchone()[0]
        plan["edition_id"] = insert_edition(db, new, text, source, user, active)
        now = utcnow()
        for it in plan["items"]:
            db.execute("DELETE FROM item_codes WHERE item_id = ? AND map_id = ?", [it["id"], new.id])
            for code in it["new"] + [c for c in it["homeless"] if c not in it["new"]]:
                db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at, added_by) "
                           "VALUES (?, ?, ?, ?, ?)", [it["id"], new.id, code, now, user])
            audit.log(db, user, "item.codes", f"item:{it['id']}", {
                "map": new.id, "old": it["old"], "new": it["new"], "homeless": it["homeless"],
                "by": "map.migrate"}, ip)
        audit.log(db, user, "map.migrate", target=new.id, ip=ip, detail={
            "from": plan["from"], "to": plan["to"], "edition_id": plan["edition_id"], "source": source,
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "mapping": mapping_source if rows else None,
            "items": len(plan["items"]), "homeless": [h["id"] for h in plan["homeless"]],
            "moves": {k: v["to"] for k, v in plan["leaves"].items() if v["how"] not in ("same",)},
        })
    plan["applied"] = True
    return plan
