"""Filters as FTS5 tokens (type, unit, code, date in the index's `f` column): the same hits as the
same filters evaluated in SQL; exact while a writer changes filters without index_item; an old
archive (index of before migration 0060) moves over while search stays up."""
from __future__ import annotations

import pytest

from archive.core import db as dbmod
from archive.core.db import transaction
from archive.core.instance import Instance
from archive.maps.loading import load_map_into
from archive.search import catch_up, check_index, index_item, search
from archive.search import engine
from archive.search.index import legacy_write
from archive.search.query import compile_tree, parse

from .conftest import MINI_MAP
from .search_helpers import add_item, bf_item_has
from .test_search_groundtruth import SUBTREE, build_queries, corpus  # noqa: F401 (fixture)

FILTER_QUERIES = [
    "type:实景图片", "type:工作台账 文明", "unit:草场街街道", "unit:市教育局 OR 志愿", "code:Ⅰ—1", "code:Ⅲ—4 台账",
    "文明 NOT code:Ⅰ—1", "文明 NOT unit:草场街街道", "志愿 NOT date:2025", "date:2025", "date:2026-02",
    "date:[2025-07-01 TO 2026-06-30] 志愿", "date:{2025-07-01 TO 2026-06-30}", "date:[2025-03-15 TO]",
    "date:[TO 2024-05-02]", "date:{2024-12-31 TO 2025-02-01}", "date:[2030-01-01 TO]", "date:2025-03 OR TZ20051",
    "(type:规范文件 OR type:情况说明) code:Ⅱ—3", "城 type:统计表格 unit:市委宣传部",
]


def _ids(r):
    return sorted(h["id"] for h in r["hits"])


def _force_sql_filters(db):
    """A pending entry (as a writer that changed filters without index_item leaves): search then
    evaluates filters in SQL, the path the tokens are compared against."""
    with transaction(db):
        db.execute("INSERT INTO search_pending (item_id) VALUES (999999999)")


def test_filters_are_part_of_the_match():
    for q in ["文明 type:实景图片", "志愿 code:Ⅰ—1", "台账 unit:草场街街道", "文明 date:[2025-07-01 TO 2026-06-30]",
              "文明 NOT code:Ⅰ—1", "type:实景图片"]:
        c = compile_tree(parse(q, lambda code: sorted(SUBTREE[code])), tokens=True,
                         date_bounds=lambda: ("2024-01-01", "2026-12-31"))
        assert c.where == "items.deleted_at IS NULL" and c.match, q
        assert "\ue000" in c.match


def test_tokens_give_the_sql_filters_hits(corpus):  # noqa: F811
    inst, live, _ = corpus
    queries = FILTER_QUERIES + [q for q, _ in build_queries(live) if ":" in q]
    by_tokens = [search(inst, q, limit=1000) for q in queries]
    args = dict(code="Ⅱ—1", type="实景图片", unit="草场街街道", date_from="2025-01-01", date_to="2025-12-31")
    arg_tokens = search(inst, "志愿", limit=1000, **args)
    _force_sql_filters(inst.db)
    try:
        by_sql = [search(inst, q, limit=1000) for q in queries]
        assert [(_ids(a), a["total"], a["order"]) for a in by_tokens] == \
               [(_ids(b), b["total"], b["order"]) for b in by_sql]
        assert sum(bool(r["total"]) for r in by_sql) >= len(queries) * 0.7
        # same scores and order, so the filter column does not change relevance (an OR with a
        # filter is ranked only when the filter is a token: in SQL the terms cannot drive it)
        same = [k for k, q in enumerate(queries) if " OR " not in q]
        assert [[(h["id"], h["score"]) for h in by_tokens[k]["hits"]] for k in same] == \
               [[(h["id"], h["score"]) for h in by_sql[k]["hits"]] for k in same]
        assert _ids(arg_tokens) == _ids(search(inst, "志愿", limit=1000, **args))
    finally:
        with transaction(inst.db):
            inst.db.execute("DELETE FROM search_pending")


def test_writer_without_index_item_stays_exact(instance):
    """A map change renames codes with plain SQL (no index_item): the item's code token is stale;
    search still answers exactly (filters in SQL) until catch_up re-indexes it."""
    db = instance.db
    a = add_item(db, "文明城市资料一", codes=["Ⅲ—1"], material_type="规范文件", date="2025-03-01")
    b = add_item(db, "文明城市资料二", codes=["Ⅲ—4"], material_type="规范文件", date="2025-03-02")
    assert _ids(search(instance, "文明 code:Ⅲ—1")) == [a]
    with transaction(db):
        db.execute("UPDATE item_codes SET code = 'Ⅲ—5' WHERE item_id = ?", [a])
        db.execute("UPDATE items SET material_type = '实景图片', date = '2026-01-01' WHERE id = ?", [b])
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 2
    assert search(instance, "文明 code:Ⅲ—1")["total"] == 0
    assert _ids(search(instance, "文明 code:Ⅲ—5")) == [a]
    assert _ids(search(instance, "文明 type:实景图片 date:2026")) == [b]
    assert {p["key"] for p in check_index(db)} == {"filter drift"}
    assert catch_up(instance) == {"moved": 0, "refreshed": 2}
    assert db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
    assert _ids(search(instance, "文明 code:Ⅲ—5")) == [a]
    assert _ids(search(instance, "文明 type:实景图片 date:2026")) == [b]
    assert _ids(search(instance, "文明 type:规范文件")) == [a]
    assert check_index(db) == []


def test_text_changed_without_index_item_is_removed_exactly(instance):
    db = instance.db
    a = add_item(db, "原来的正文", title="原来的标题", unit="草场街街道")
    with transaction(db):
        db.execute("UPDATE items SET title = '新的标题', unit = '市教育局' WHERE id = ?", [a])
        db.execute("UPDATE items SET text = '新的正文' WHERE id = ?", [a])   # a second change: the first is kept
    assert {p["key"] for p in check_index(db)} == {"index drift"}
    with transaction(db):
        index_item(db, a)
    assert db.execute("SELECT count(*) FROM search_old").fetchone()[0] == 0
    for q in ["原来", "草场街"]:
        assert search(instance, q)["total"] == 0, q
    for q in ["新的正文", "新的标题", "教育局", "unit:市教育局"]:
        assert _ids(search(instance, q)) == [a], q
    assert check_index(db) == []


def test_old_archive_moves_over_while_search_stays_up(tmp_path, monkeypatch):
    old = [m for m in dbmod.MIGRATIONS if m[0] < 60]
    monkeypatch.setattr(dbmod, "MIGRATIONS", old)
    inst = Instance(tmp_path / "instance")
    inst.create()
    load_map_into(inst, MINI_MAP, user="test")
    db = inst.db
    ids = []
    with transaction(db):   # items indexed the way the code before 0060 did
        for k in range(12):
            db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [f"s{k}"])
            item_id = db.execute(
                "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
                " created_at, updated_at) VALUES (?, 'pdf', ?, '材料', '材料.pdf', '草场街街道', ?, 1, ?, 't', 't')",
                [f"s{k}", "实景图片" if k % 2 else "规范文件", f"2025-0{1 + k % 9}-01", f"第{k}份文明城市资料"]).lastrowid
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, 'Ⅲ—1', 't')", [item_id])
            legacy_write(db, item_id, ("" if False else f"第{k}份文明城市资料", "材料", "材料.pdf", "草场街街道"))
            ids.append(item_id)
    monkeypatch.setattr(dbmod, "MIGRATIONS", dbmod.load_migrations())
    dbmod.migrate(db)
    assert db.execute("SELECT count(*) FROM search_unmoved").fetchone()[0] == 12
    assert search(inst, "文明城市")["total"] == 12                       # from the old index
    assert search(inst, "文明城市 type:实景图片 code:Ⅲ—1")["total"] == 6
    new = add_item(db, "迁移期间新增的文明城市资料", material_type="实景图片", codes=["Ⅲ—1"])
    with transaction(db):
        db.execute("UPDATE items SET text = '迁移期间改过的文字' WHERE id = ?", [ids[0]])
        index_item(db, ids[0])
    assert search(inst, "文明城市")["total"] == 12
    assert _ids(search(inst, "改过")) == [ids[0]]
    seen = []
    monkeypatch.setattr(engine, "REINDEX_BATCH", 5)
    report = catch_up(inst, progress=lambda done, total, message: seen.append(search(inst, "文明城市")["total"]))
    assert report["moved"] == 11 and seen == [12, 12, 12]
    assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'items_fts%'").fetchall() == []
    assert search(inst, "文明城市")["total"] == 12
    assert _ids(search(inst, "文明城市 type:实景图片 code:Ⅲ—1")) == sorted([*ids[1::2], new])
    assert check_index(db) == []
    inst.close()


@pytest.mark.parametrize("full", [False, True])
def test_reindex_keeps_filters(instance, full):
    db = instance.db
    a = add_item(db, "文明城市资料", codes=["Ⅲ—2"], unit="市教育局", date="2025-05-05")
    engine.reindex(instance, full=full)
    assert _ids(search(instance, "文明 code:Ⅱ—1 unit:市教育局 date:2025-05")) == [a]
    assert check_index(db) == []


def test_bad_date_stays_exact(instance):
    db = instance.db
    a = add_item(db, "文明城市资料", date="2025-5-5")   # not ISO: its date filter runs in SQL
    assert db.execute("SELECT item_id FROM search_pending").fetchall() == [(a,)]
    assert search(instance, "文明")["total"] == 1
    assert bf_item_has({"text": "文明城市资料", "title": "", "original_name": "", "unit": ""}, "文明")


def test_codes_triggers_survive_item_codes_rebuilt_after_0060(tmp_path, monkeypatch):
    """An archive that got 0060 before 0050 (which rebuilds item_codes, dropping its triggers):
    0061 puts them back and holds every coded item pending, so a code changed with plain SQL is
    still found exactly."""
    every = dbmod.load_migrations()
    first = [m for m in every if m[0] < 50 or m[0] == 60]
    monkeypatch.setattr(dbmod, "MIGRATIONS", first)
    inst = Instance(tmp_path / "instance")
    inst.create()
    db = inst.db
    a = add_item(db, "文明城市资料", codes=["Ⅲ—1"])
    monkeypatch.setattr(dbmod, "MIGRATIONS", every)
    dbmod.migrate(db)
    load_map_into(inst, MINI_MAP, user="test")
    assert db.execute("SELECT item_id FROM search_pending").fetchall() == [(a,)]
    with transaction(db):   # coded before any map was loaded: file it under the map now
        db.execute("UPDATE item_codes SET map_id = (SELECT map_id FROM maps LIMIT 1)")
    catch_up(inst)
    assert _ids(search(inst, "文明 code:Ⅲ—1")) == [a]
    with transaction(db):
        db.execute("UPDATE item_codes SET code = 'Ⅲ—4' WHERE item_id = ?", [a])
    assert _ids(search(inst, "文明 code:Ⅲ—4")) == [a]
    assert search(inst, "文明 code:Ⅲ—1")["total"] == 0
    inst.close()


@pytest.mark.parametrize("many", [False, True])
def test_a_code_with_few_items_makes_the_query_one_ranked_walk(instance, monkeypatch, many):
    """A code filter matching at most RECENT_MIN_HITS items bounds the hits, so the query is
    narrow (its one walk carries bm25) whatever its terms; with more it counts first. The
    result is the same as counting first either way."""
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    db = instance.db
    for i in range(14 if many else 8):
        add_item(db, f"第{i}份文明城市资料" + "城市" * (i % 3), codes=["Ⅲ—1"], date=f"2025-0{1 + i % 9}-01")
    for i in range(20):
        add_item(db, f"第{i}份文明城市", codes=["Ⅲ—2"])
    seen = []
    real = engine._text_only
    monkeypatch.setattr(engine, "_text_only", lambda *a, **k: (seen.append(a[5]), real(*a, **k))[1])
    got = search(instance, "文明 城市", code="Ⅲ—1")
    assert seen == [not many]
    assert got["total"] == (14 if many else 8) and got["order"] == ("recent" if many else "relevance")
    monkeypatch.setattr(engine, "_at_most", lambda *a: False)
    assert search(instance, "文明 城市", code="Ⅲ—1") == got
    assert seen == [not many, False]


@pytest.mark.parametrize("where", ["new", "old", "few"])
def test_few_hits_among_the_newest_items_make_the_query_one_ranked_walk(instance, monkeypatch, where):
    """The newest 1/SAMPLE_SHARE of the archive holding fewer than SAMPLE_FEW hits makes the
    query narrow (one walk carrying bm25). A wrong guess (many hits, all in older items) gives
    the same result as counting first; so does a right one."""
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 1)
    monkeypatch.setattr(engine, "SAMPLE_SHARE", 4)
    monkeypatch.setattr(engine, "SAMPLE_FEW", 3)
    db = instance.db
    hits = {"new": range(24, 40), "old": range(0, 16), "few": (3, 17, 38)}[where]
    for i in range(40):
        add_item(db, f"第{i}份" + ("文明城市资料" if i in hits else "其他材料") + "城市" * (i % 3),
                 date=f"2025-0{1 + i % 9}-01")
    seen = []
    real = engine._text_only
    monkeypatch.setattr(engine, "_text_only", lambda *a, **k: (seen.append(a[5]), real(*a, **k))[1])
    got = search(instance, "文明 城市")
    assert seen == [where != "new"]
    assert got["total"] == len(hits) and got["order"] == ("relevance" if where == "few" else "recent")
    monkeypatch.setattr(engine, "_few_lately", lambda *a: None)
    assert search(instance, "文明 城市") == got
    assert seen == [where != "new", False]
