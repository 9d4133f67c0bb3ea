"""Common grams (archive/search/grams.py): the rows say exactly which items hold each common
gram — as a substring scan and as FTS5's phrase walk say — through uploads, edits, deletes,
restores, a build interrupted and resumed, and writers during a build; search's totals are the
same with them as without, and search counts in search_grams when it can."""
from __future__ import annotations

import random

import pytest

from archive.core.db import transaction
from archive.search import (build_grams, check_index, engine, grams, index_advice, index_item, reindex, search,
                            unindex_item)
from archive.search import count as count_mod
from archive.search.grams_build import build
from archive.search.index import indexed_fields
from cli import cli

from .search_helpers import add_item, bf_norm, fts_segments

WORDS = ["文明城市", "城市管理", "志愿服务", "宣传", "按季度统计", "公益广告", "垃圾分类", "市民", "明城"]


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(3, 12)):
        parts.append(rng.choice(WORDS))
        r = rng.random()
        if r < 0.2:
            parts.append("，")
        elif r < 0.3:
            parts.append("\n")        # a line break between CJK characters: removed by normalising
        elif r < 0.35:
            parts.append(f"TZ{rng.randint(10, 99)}")
    return "".join(parts)


@pytest.fixture
def grams_on(monkeypatch):
    """Common grams in any archive: a gram in 5 % of the items is common."""
    monkeypatch.setattr(grams, "MIN_ITEMS", 0)
    monkeypatch.setattr(grams, "SHARE", 0.05)
    monkeypatch.setattr(grams, "BATCH", 7)


def _live_fields(db):
    return {r[0]: r[1:] for r in db.execute(
        "SELECT id, text, title, original_name, unit FROM items WHERE deleted_at IS NULL")}


def _scan(db, gram) -> set:
    """Items holding `gram`, by a scan written apart from archive/search."""
    return {i for i, fields in _live_fields(db).items() if any(gram in bf_norm(v) for v in fields)}


def _in_grams(db, expr) -> set:
    return {r[0] for r in db.execute(f"SELECT rowid FROM {grams.GRAMS} WHERE {grams.GRAMS} MATCH ?", [expr])}


def _in_fts(db, gram) -> set:
    phrase = " + ".join(f'"{gram[i:i + 2]}"' for i in range(len(gram) - 1))
    return {r[0] for r in db.execute("SELECT rowid FROM search_fts WHERE search_fts MATCH ?", [phrase])}


def _check_exact(db):
    vocab = grams.vocabulary(db)
    assert vocab, "no common grams were chosen"
    for gram in sorted(vocab.strings):
        assert _in_grams(db, f'"{gram}"') == _scan(db, gram) == _in_fts(db, gram), gram


def _built(instance, n: int, seed: int) -> list[int]:
    """n items of random text, then the common grams built; their ids."""
    rng = random.Random(seed)
    ids = [add_item(instance.db, _text(rng)) for _ in range(n)]
    build_grams(instance)
    return ids


def _set(db, *changes):
    """Each (item id, column, value) written and its index rows rewritten, in one transaction."""
    with transaction(db):
        for item_id, column, value in changes:
            db.execute(f"UPDATE items SET {column} = ? WHERE id = ?", [value, item_id])
            index_item(db, item_id)


def test_grams_of_is_the_substring_rule():
    rng = random.Random(3)
    vocab = grams.Vocab(w[i:i + k] for w in WORDS for k in (2, 3, 4) for i in range(len(w) - k + 1))
    for _ in range(200):
        fields = [_text(rng), _text(rng)[:5], "", "市民TZ12城", "宣\u4dc0传 城\U00020000市"]
        got = set(grams.grams_of(grams.normalised(fields), vocab).split())
        assert got == {g for g in vocab.strings if any(g in bf_norm(f) for f in fields)}


def test_terms_of_reads_only_plain_term_expressions():
    assert grams.terms_of('"宣传" + "传宣" + "宣传"') == ["宣传宣传"]
    assert grams.terms_of('("组织" AND "明城" + "城市")') == ["组织", "明城市"]
    assert grams.terms_of('("组织" AND "\ue000ce00605ff5e2cd8ec")') is None      # a filter token
    assert grams.terms_of('"城市" + "文" *') is None
    assert grams.terms_of('"城市" + "明城"') is None                               # not one string
    assert grams.terms_of('("城市" OR "文明")') is None


def test_rows_stay_exact_through_every_change(instance, grams_on):
    db, rng = instance.db, random.Random(7)
    ids = [add_item(db, _text(rng), title=rng.choice(["城市管理台账", "材料"])) for _ in range(120)]
    report = build_grams(instance)
    assert report["added"] == 120 and grams.upto(db) == grams.ALL
    _check_exact(db)
    # uploads, text edits, a title edit, deletes, a restore, an unindex: each in its transaction
    for _ in range(15):
        ids.append(add_item(db, _text(rng)))
    for item_id in rng.sample(ids, 20):
        _set(db, (item_id, "text", _text(rng)))
    _set(db, (ids[3], "title", "志愿服务宣传"), (ids[4], "material_type", "实景图片"))   # the second: same text
    gone = rng.sample(ids, 12)
    for item_id in gone:
        _set(db, (item_id, "deleted_at", "t"))
    _set(db, (gone[0], "deleted_at", None))
    _check_exact(db)
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [gone[0]])
        unindex_item(db, gone[0])
    _check_exact(db)
    assert grams.rows(db) == db.execute("SELECT count(*) FROM search_docs").fetchone()[0]


def test_a_build_interrupted_goes_on_from_its_last_batch(instance, grams_on, monkeypatch):
    db, rng = instance.db, random.Random(11)
    ids = [add_item(db, _text(rng)) for _ in range(60)]
    written = []
    real = grams.add_row

    def crash_after_20(db_, item_id, fields, ahead=None):
        if len(written) == 20:
            raise KeyboardInterrupt   # as a kill between two rows of a batch
        written.append(item_id)
        real(db_, item_id, fields, ahead)

    monkeypatch.setattr(grams, "add_row", crash_after_20)
    with pytest.raises(KeyboardInterrupt):
        build(db)
    monkeypatch.setattr(grams, "add_row", real)
    upto = grams.upto(db)
    assert upto == ids[13]        # two whole batches of 7 kept, the third rolled back
    assert grams.rows(db) == 14
    # search does not use a table still being built
    assert grams.count_expression(db, '"文明" + "明城" + "城市"', 60) is None
    # writers meanwhile: one below the build's mark, one above it, a delete, a new item
    _set(db, (ids[2], "text", "垃圾分类宣传"), (ids[40], "text", "公益广告宣传"), (ids[30], "deleted_at", "t"))
    add_item(db, "文明城市宣传")
    report = build(db)
    assert report["added"] == 60 - 14 - 1 + 1 and grams.upto(db) == grams.ALL
    _check_exact(db)


def test_writers_during_a_build_are_followed(instance, grams_on):
    db, rng = instance.db, random.Random(5)
    ids = [add_item(db, _text(rng)) for _ in range(50)]
    _set(db, (ids[20], "deleted_at", "t"))
    steps = []

    def meanwhile(done, total, _):
        # between batches: an edit below the mark, a restore and an edit above it, an upload
        steps.append(done)
        if len(steps) == 2:
            _set(db, (ids[1], "text", "按季度统计城市管理"), (ids[20], "deleted_at", None), (ids[45], "text", "志愿服务"))
            add_item(db, "文明城市志愿服务")

    build(db, meanwhile)
    assert len(steps) >= 3
    _check_exact(db)


def test_search_counts_in_grams_and_totals_agree(instance, grams_on, monkeypatch):
    db = instance.db
    _built(instance, 150, 9)
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 5)
    monkeypatch.setattr(engine, "RARE_MAX", 0, raising=False)
    tables = []
    real = count_mod._count

    def spy(db_, table, match, after, upto):
        tables.append(table)
        return real(db_, table, match, after, upto)

    monkeypatch.setattr(count_mod, "_count", spy)
    queries = ["文明城市", "城市管理", "宣传 市民", "明城市 志愿", "按季度", "城市", "公益广告 垃圾分类 宣传"]
    with_grams = []
    for q in queries:
        engine.COUNT_CACHE.clear()
        with_grams.append(search(instance, q, limit=3)["total"])
    assert grams.GRAMS in tables
    monkeypatch.setattr(grams, "count_expression", lambda *a: None)
    for q, n in zip(queries, with_grams):
        engine.COUNT_CACHE.clear()
        r = search(instance, q, limit=3)
        assert r["total"] == n == len([1 for fields in _live_fields(db).values()
                                       if all(any(t in bf_norm(v) for v in fields) for t in q.split())]), q


def test_a_table_out_of_step_is_not_used(instance, grams_on):
    db, rng = instance.db, random.Random(2)
    ids = [add_item(db, _text(rng) + "文明城市") for _ in range(40)]
    build_grams(instance)
    n = db.execute("SELECT count(*) FROM search_docs").fetchone()[0]
    match = '"文明" + "明城" + "城市"'
    assert grams.count_expression(db, match, n) == '"文明城市"'
    with transaction(db):   # a row lost behind index_item's back
        grams.remove_row(db, ids[0], indexed_fields(db, ids[0]))
    assert grams.count_expression(db, match, n) is None
    assert search(instance, "文明城市")["total"] == 40
    assert [p["key"] for p in check_index(db)] == ["common grams out of step"]
    build_grams(instance)                      # as `evidence reindex` would: built again
    assert check_index(db) == [] and grams.count_expression(db, match, n) == '"文明城市"'
    _check_exact(db)


def test_small_archives_and_full_rebuilds_have_none(instance, grams_on, monkeypatch):
    db = instance.db
    _built(instance, 30, 4)
    assert grams.upto(db) == grams.ALL
    reindex(instance, full=True)      # a new table, perhaps another analyzer: built again later
    assert grams.upto(db) is None and not grams.vocabulary(db)
    build_grams(instance)
    _check_exact(db)
    monkeypatch.setattr(grams, "MIN_ITEMS", 1000)
    assert build_grams(instance)["grams"] == 0 and grams.upto(db) is None
    assert db.execute(f"SELECT count(*) FROM {grams.VOCAB}").fetchone()[0] == 0


def test_reindex_command_builds_them(instance, grams_on, runner, monkeypatch):
    rng = random.Random(6)
    for _ in range(40):
        add_item(instance.db, _text(rng))
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)
    assert "common grams missing" in [a["key"] for a in index_advice(instance.db)]
    r = runner.invoke(cli, ["--instance", str(instance.root), "reindex"])
    assert r.exit_code == 0, r.output
    assert grams.upto(instance.db) == grams.ALL
    assert "common grams missing" not in [a["key"] for a in index_advice(instance.db)]
    _check_exact(instance.db)


def test_a_fresh_bulk_build_writes_them_with_the_index(instance, grams_on, monkeypatch):
    from archive.search import prefetch
    from .search_helpers import add_many
    db, rng = instance.db, random.Random(8)
    add_many(db, [_text(rng) for _ in range(300)], index=False)    # a bulk load: nothing indexed

    def not_here(*a):
        raise AssertionError("the analysis worker finds a fresh build's grams")

    with monkeypatch.context() as m:
        m.setattr(prefetch, "MIN_ITEMS", 1)
        m.setattr(grams, "grams_of", not_here)
        engine.catch_up(instance)
    assert grams.upto(db) == grams.ALL
    _check_exact(db)
    assert check_index(db) == []
    assert fts_segments(db, grams.GRAMS) > 1
    assert build_grams(instance)["added"] == 0         # as the reindex ends: nothing to add, merged
    assert fts_segments(db, grams.GRAMS) == 1
