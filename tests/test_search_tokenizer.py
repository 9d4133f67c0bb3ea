"""The index tables' FTS5 tokenizer (archive/search/fts5.py): new archives are made with
`ascii`, so a row's tokens are exactly the analyzer's; an archive made before (unicode61) is
moved over by `evidence reindex` while search stays exact, its common grams table too, and a
fresh build into an old empty table makes it anew. Under unicode61 a bigram holding a character
it treats as a separator (・ U+30FB) lost that character, so `ア・イ` also found `ア、イ`."""
from __future__ import annotations

import pytest

from archive.core.db import transaction
from archive.search import (build_grams, check_index, engine, fts5, grams, index_advice, reindex, search)
from archive.search.index import FTS, make_fts

from .search_helpers import add_item, add_many, bf_item_has

OLD = "unicode61 remove_diacritics 0"
TEXTS = ["型号：ア、イ。说明", "型号：ア・イ。说明", "文明城市创建工作台账", "志愿服务ア・イ活动", "创建文明城市"]


def _old_tables(db, monkeypatch):
    """The tables as an archive migrated before the change has them (empty)."""
    with monkeypatch.context() as m:
        m.setattr(fts5, "TOKENIZE", OLD)
        with transaction(db):
            db.execute(f"DROP TABLE {FTS}")
            make_fts(db, FTS)
            grams.make_table(db)
    assert fts5.tokenizer(db, FTS) == OLD and fts5.tokenizer(db, grams.GRAMS) == OLD


def _ids(instance, q):
    return sorted(h["id"] for h in search(instance, q, limit=100)["hits"])


def _truth(db, term):
    rows = db.execute("SELECT id, text, title, original_name, unit FROM items WHERE deleted_at IS NULL")
    return sorted(r[0] for r in rows if bf_item_has(dict(zip(("id", "text", "title", "original_name", "unit"), r)),
                                                    term))


def test_a_new_archive_is_made_with_ascii(instance):
    assert fts5.tokenizer(instance.db, FTS) == "ascii"
    assert fts5.tokenizer(instance.db, grams.GRAMS) == "ascii"
    assert "index tokenizer old" not in [a["key"] for a in index_advice(instance.db)]


def test_a_bigram_holding_a_separator_of_unicode61_is_exact(instance):
    for t in TEXTS:
        add_item(instance.db, t)
    for term in ("ア・イ", "ア、イ", "文明城市"):
        assert _ids(instance, term) == _truth(instance.db, term), term
    assert len(_ids(instance, "ア・イ")) == 2


def test_reindex_moves_an_old_archive_over(instance, monkeypatch):
    db = instance.db
    monkeypatch.setattr(grams, "MIN_ITEMS", 0)
    monkeypatch.setattr(grams, "SHARE", 0.05)
    _old_tables(db, monkeypatch)
    for t in TEXTS * 3:
        add_item(db, t)
    with monkeypatch.context() as m:         # built by the code of before
        m.setattr(fts5, "TOKENIZE", OLD)
        build_grams(instance)
    assert fts5.tokenizer(db, grams.GRAMS) == OLD and grams.upto(db) == grams.ALL
    # what the old tokenizer did: ア・イ's phrase also matched ア、イ
    assert len(_ids(instance, "ア・イ")) == 9 and _ids(instance, "ア・イ") != _truth(db, "ア・イ")
    assert "index tokenizer old" in [a["key"] for a in index_advice(db)]
    report = reindex(instance)
    assert report["mode"] == "full"
    assert fts5.tokenizer(db, FTS) == "ascii" and check_index(db) == []
    assert _ids(instance, "ア・イ") == _truth(db, "ア・イ") and len(_ids(instance, "ア・イ")) == 6
    assert "index tokenizer old" not in [a["key"] for a in index_advice(db)]
    build_grams(instance)                    # as `evidence reindex` ends: made anew, complete
    assert fts5.tokenizer(db, grams.GRAMS) == "ascii" and grams.upto(db) == grams.ALL
    assert search(instance, "文明城市")["total"] == len(_truth(db, "文明城市"))
    assert reindex(instance)["mode"] != "full"   # once moved, an ordinary reindex again


def test_a_fresh_build_into_an_old_empty_table_makes_it_anew(instance, monkeypatch):
    db = instance.db
    _old_tables(db, monkeypatch)
    add_many(db, TEXTS * 4, index=False)     # a bulk load: nothing indexed yet
    engine.catch_up(instance)
    assert fts5.tokenizer(db, FTS) == "ascii" and check_index(db) == []
    assert _ids(instance, "ア・イ") == _truth(db, "ア・イ")


@pytest.mark.parametrize("indexed", [True, False])
def test_a_table_with_rows_is_never_dropped_by_catch_up(instance, monkeypatch, indexed):
    db = instance.db
    _old_tables(db, monkeypatch)
    first = add_item(db, "创建文明城市")          # indexed in the old table
    add_many(db, TEXTS, index=indexed)
    engine.catch_up(instance)
    assert fts5.tokenizer(db, FTS) == OLD    # only reindex moves it: rows of another tokenizer
    assert first in _ids(instance, "文明城市") and check_index(db) == []
