"""Bulk jobs write FTS5 segments without merging them on the way (archive/search/fts5.py):
each batch one segment, a level merged at once only at BULK_LEVEL segments, the tables' own
settings the same before and after (and after a batch that fails), every other writer merging as
before, and the index exact and merged to one segment as `evidence reindex` ends."""
from __future__ import annotations

import random

import pytest

from archive.core.db import transaction
from archive.search import (build_grams, check_index, compact, engine, fts5, grams, reindex, search)
from archive.search.index import FTS

from .search_helpers import add_item, add_many, fts_segments

WORDS = ["文明城市", "志愿服务", "宣传", "公益广告", "垃圾分类", "市民", "明城", "背街小巷"]


def _texts(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) for _ in range(n)]


def _config(db, table: str) -> dict:
    """The table's merge settings in effect (FTS5's defaults where its _config has no row)."""
    have = dict(db.execute(f"SELECT k, v FROM {table}_config WHERE k IN ('automerge', 'crisismerge')"))
    return {"automerge": have.get("automerge", 4), "crisismerge": have.get("crisismerge", 16)}


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(engine, "REINDEX_BATCH", 2)


def test_a_bulk_build_writes_a_segment_a_batch_and_keeps_the_settings(instance, small_batches):
    db = instance.db
    add_many(db, _texts(40), index=False)            # a bulk load: nothing indexed yet
    settings = _config(db, FTS)
    assert settings["automerge"] == 16                # migration 0060's
    engine.catch_up(instance)
    # 20 batches, 20 segments: FTS5's automerge 16 would have merged the first 16 on the way
    assert fts_segments(db) == 20
    assert _config(db, FTS) == settings
    assert check_index(db) == []
    assert search(instance, "背街小巷")["total"] == sum("背街小巷" in t for t in _texts(40))
    compact(instance)                                 # as `evidence reindex` ends
    assert fts_segments(db) == 1


def test_a_level_is_merged_at_once_at_bulk_level(instance, small_batches, monkeypatch):
    monkeypatch.setattr(fts5, "BULK_LEVEL", 4)
    db = instance.db
    add_many(db, _texts(40), index=False)
    engine.catch_up(instance)
    # 20 segments written, a level merged into the next whenever it held 4 (FTS5's crisis merge):
    # after 16 batches one segment of 16 on level 2, then one of 4 on level 1 after batch 20
    assert fts_segments(db) == 2
    assert check_index(db) == []


def test_other_writers_merge_as_before(instance, small_batches):
    db = instance.db
    add_many(db, _texts(40), index=False)
    engine.catch_up(instance)
    assert fts_segments(db) == 20
    for text in _texts(6, seed=9):                    # uploads, each its own transaction
        add_item(db, text)
    # the table's own automerge 16 (not the bulk jobs' 0) is what their commits ran with
    assert fts_segments(db) < 20


def test_a_failed_batch_leaves_the_settings_as_they_were(instance):
    db = instance.db
    add_item(db, "创建全国文明城市")
    before = _config(db, FTS), fts_segments(db)
    with pytest.raises(RuntimeError):
        with transaction(db), fts5.bulk_batch(db, [FTS, grams.GRAMS, "no_such_table"]):
            db.execute(f"INSERT INTO {FTS} (rowid, text, title, name, unit, f) VALUES (999, '文明 明城', '', '', '', '')")
            assert _config(db, FTS) == {"automerge": 0, "crisismerge": fts5.BULK_LEVEL}
            raise RuntimeError("killed mid-batch")
    assert (_config(db, FTS), fts_segments(db)) == before


def test_reindex_in_place_and_full_end_exact_and_merged(instance, small_batches):
    db = instance.db
    texts = _texts(30, seed=7)
    add_many(db, texts)
    for full in (False, True):
        reindex(instance, full=full)
        assert check_index(db) == []
        assert _config(db, FTS)["automerge"] == 16
        compact(instance)
        assert fts_segments(db) == 1
        assert search(instance, "公益广告")["total"] == sum("公益广告" in t for t in texts)


def test_a_grams_build_writes_a_segment_a_batch(instance, monkeypatch):
    monkeypatch.setattr(grams, "MIN_ITEMS", 0)
    monkeypatch.setattr(grams, "SHARE", 0.05)
    monkeypatch.setattr(grams, "BATCH", 3)
    db = instance.db
    add_many(db, _texts(30))
    assert build_grams(instance, merge=False)["added"] == 30
    # 10 batches of 3, 10 segments (search_grams' FTS5 default automerge 4 would merge on the way)
    assert fts_segments(db, grams.GRAMS) == 10
    assert _config(db, grams.GRAMS) == {"automerge": 4, "crisismerge": 16}   # FTS5's defaults, as before
    build_grams(instance)                             # complete: only the merge
    assert fts_segments(db, grams.GRAMS) == 1
