"""ea_rank (archive/search/rank_ext.c): built from source, loaded per connection, FTS5's bm25
with the IDFs given; without it (no compiler, a broken library) search ranks as before."""
from __future__ import annotations

import pytest

from archive.search import engine, keep_doc_counts, rank_ext, search

from .search_helpers import add_item


def test_phrases_of_an_expression_in_fts5s_order():
    assert rank_ext.phrases('"志愿" + "愿服" + "服务"') == [("志愿", "愿服", "服务")]
    assert rank_ext.phrases('("文明" AND "城市" + "市业") AND ("c:1" OR "c:2") NOT "a""b"') == [
        ("文明",), ("城市", "市业"), ("c:1",), ("c:2",), ("a\"b",)]
    assert rank_ext.phrases('"街" * AND "tz2005" *') == [("街",), ("tz2005",)]


def test_rank_sql_gives_each_phrase_its_idf_and_filters_none():
    sql, params = rank_ext.rank_sql("search_fts", (1.0, 2.0, 1.0, 1.0, 0.0),
                                    '"文明" AND ("t:1" OR "t:2") AND "城市" + "市业"',
                                    {("文明",): 1.5, ("城市", "市业"): 2.5})
    assert sql == "ea_rank(search_fts, 1.0, 2.0, 1.0, 1.0, 0.0, ?, ?, ?, ?)"
    assert params == [1.5, 0.0, 0.0, 2.5]


@pytest.fixture
def built():
    if rank_ext.build(quiet=True) is None:
        pytest.skip("no C compiler or SQLite headers: ea_rank not built")
    return rank_ext.LIBRARY


def test_ea_rank_with_fts5s_idfs_is_fts5s_bm25(instance, built):
    db = instance.db
    for i in range(40):
        add_item(db, ("志愿服务" * (i % 4 + 1) if i % 3 == 0 else "") + ("文明城市" * (i % 5) if i % 2 == 0 else "")
                 + "其他" * i, title="志愿" if i % 5 == 0 else "材料")
    assert rank_ext.available(db)
    t = "search_fts"
    match = '"志愿" AND "城市"'
    n_row = db.execute(f"SELECT count(*) FROM {t}_docsize").fetchone()[0]
    idfs = []
    for tok in ("志愿", "城市"):
        n = db.execute(f"SELECT count(*) FROM {t} WHERE {t} MATCH ?", [f'"{tok}"']).fetchone()[0]
        idfs.append(engine.bm25_idf(n_row, n))
    fts = db.execute(f"SELECT rowid, bm25({t}, 1, 2, 1, 1, 0) FROM {t} WHERE {t} MATCH ? ORDER BY rowid",
                     [match]).fetchall()
    ours = db.execute(f"SELECT rowid, ea_rank({t}, 1, 2, 1, 1, 0, ?, ?) FROM {t} WHERE {t} MATCH ? ORDER BY rowid",
                      [*idfs, match]).fetchall()
    assert len(fts) > 3 and [r[0] for r in ours] == [r[0] for r in fts]
    assert [r[1] for r in ours] == pytest.approx([r[1] for r in fts], rel=1e-12)
    assert min(idfs) > 0.05    # (terms in some items only: their IDFs weigh)
    # more phrases than IDFs: the rest weigh nothing; more than 64 phrases: still scored
    many = " OR ".join(f'"x{i}"' for i in range(100))
    rows = db.execute(f"SELECT rowid, ea_rank({t}, 1, 2, 1, 1, 0, ?) FROM {t} WHERE {t} MATCH ?",
                      [idfs[0], f'"志愿" AND ("城市" OR {many})']).fetchall()
    assert rows and all(score < 0 for _, score in rows)


def test_without_a_compiler_search_ranks_as_before(instance, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(rank_ext, "LIBRARY", tmp_path / "ea_rank.so")
    monkeypatch.setattr(rank_ext.shutil, "which", lambda name: None)
    assert rank_ext.build() is None
    assert "未找到 C 编译器" in capsys.readouterr().err
    db = instance.db
    for i in range(12):
        add_item(db, "志愿服务文明城市" + "城市" * i)
    keep_doc_counts(instance)
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)
    got = search(instance, "志愿 城市")
    assert not rank_ext.available(db) and got["total"] == 12 and got["order"] == "relevance"


def test_a_broken_library_is_not_loaded(instance, monkeypatch, tmp_path):
    bad = tmp_path / "ea_rank.so"
    bad.write_bytes(b"not a shared library")
    monkeypatch.setattr(rank_ext, "LIBRARY", bad)
    db = instance.db
    add_item(db, "志愿服务")
    assert not rank_ext.available(db)
    assert search(instance, "志愿服务")["total"] == 1
    # and no SQL can load an extension afterwards
    with pytest.raises(Exception):
        db.execute("SELECT load_extension(?)", [str(bad)]).fetchall()


def test_a_failed_build_keeps_no_half_written_library(monkeypatch, tmp_path, capsys):
    src = tmp_path / "rank_ext.c"
    src.write_text("this is not C\n")
    monkeypatch.setattr(rank_ext, "SOURCE", src)
    monkeypatch.setattr(rank_ext, "LIBRARY", tmp_path / "ea_rank.so")
    if rank_ext.shutil.which("cc") is None and rank_ext.shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    assert rank_ext.build() is None
    assert "编译失败" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [src]


def test_fsck_warns_in_a_large_archive_when_ea_rank_is_missing(instance, monkeypatch, tmp_path):
    from archive.maintenance import fsck

    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 3)
    for i in range(4):
        add_item(instance.db, f"材料{i}")

    def warned(db_available: bool) -> list:
        monkeypatch.setattr(rank_ext, "available", lambda db: db_available)
        report = fsck(instance, verify_hashes=False)
        assert not [p for p in report["problems"] if p["key"] == "ea_rank missing"]
        return [w["message"] for w in report["warnings"] if w["key"] == "ea_rank missing"]

    (message,) = warned(False)
    assert "gcc" in message and "./run" in message
    assert warned(True) == []
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 10_000)
    assert warned(False) == []      # a small archive: no warning
