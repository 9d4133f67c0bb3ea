"""Several Chinese terms ranked from kept document counts (engine._multi_terms, doccounts): the
hits and totals are FTS5's; a term's IDF is the sum of its bigrams' IDFs, so a query of
2-character terms scores exactly as FTS5's bm25, and a longer term weighs as Tantivy weighs a
phrase; the rest of each score is the part FTS5's bm25 computes for the hit."""
from __future__ import annotations

import math
import random

import pytest

from archive.search import doccounts, engine, keep_doc_counts, rank_ext, ranking, reindex, search
from archive.search.analysis import normalise
from archive.search.snippets import makers_of

from .search_helpers import add_item, bf_norm

T = "search_fts"
WORDS = ["志愿", "服务", "宣传", "街道", "文明", "城市", "创建", "台账", "社区", "活动", "街街", "门前"]
CODES = ["Ⅲ—1", "Ⅲ—2", "Ⅲ—4", "Ⅲ—5"]
TYPES = ["情况说明", "实景图片"]


def _text(rng: random.Random) -> str:
    parts = [rng.choice(WORDS) for _ in range(rng.randint(3, 40))]
    seps = ["", "", "", "，", " ", "\n", "\u3000"]
    return "".join(p + rng.choice(seps) for p in parts)


@pytest.fixture
def corpus(instance, monkeypatch):
    """60 items of a small vocabulary (so bigrams and phrases repeat), with codes and types, a
    title hit, a compatibility ideograph and a radical (NFKC makes them 文), overlapping 街街街."""
    monkeypatch.setattr(doccounts, "KEEP_MIN", 3)
    rng = random.Random(15)
    db = instance.db
    for i in range(60):
        add_item(db, _text(rng), title="宣传台账" if i % 7 == 0 else "材料", material_type=TYPES[i % 2],
                 codes=[CODES[i % 4]])
    add_item(db, "⽂明城市志愿服务", codes=["Ⅲ—1"])          # ⽂ (U+2F42) → 文
    add_item(db, "街街街街道宣传志愿服务", codes=["Ⅲ—1"])
    add_item(db, "文\u00a0明城市 志愿\n服务", codes=["Ⅲ—2"])   # NBSP, space, line break inside
    return instance


def _force(monkeypatch, way: str | bool):
    """Every eligible query ranked one way, whatever its size: "python" (or True) in Python,
    "ea_rank" by the extension (skipped where it cannot be built), False by FTS5's bm25."""
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)
    monkeypatch.setattr(engine, "MULTI_HIT_S", 1e9 if way is False else 0.0)
    if way == "ea_rank":
        if rank_ext.build(quiet=True) is None:
            pytest.skip("no C compiler or SQLite headers: ea_rank not built")
    else:
        monkeypatch.setattr(rank_ext, "available", lambda db: False)


def _spy(monkeypatch) -> list:
    """Whether each query was ranked from kept counts (in Python or by ea_rank)."""
    used = []
    real = engine._multi_terms

    def spy(*a):
        got = real(*a)
        used.append(got[0] is not None or got[2] is not None)
        return got
    monkeypatch.setattr(engine, "_multi_terms", spy)
    return used


def _fts_ranks(db, match: str) -> dict:
    return dict(db.execute(f"SELECT rowid, -bm25({T}, 1, 2, 1, 1, 0) FROM {T} WHERE {T} MATCH ?", [match]))


def _compiled_match(instance, q, **kw):
    from archive.search.query import and_all, code_filter, compile_tree, parse, type_filter
    resolve = engine._resolver(instance)
    filters = ([code_filter(kw["code"], resolve)] if "code" in kw else []) + (
        [type_filter(kw["type"])] if "type" in kw else [])
    return compile_tree(and_all(parse(q, resolve), *filters), T, tokens=True).match


def test_kept_counts_are_fts5s_document_counts(corpus, monkeypatch):
    db = corpus.db
    assert doccounts.upto(db) is None
    got = keep_doc_counts(corpus)
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, {T}, row)")
    vocab = {t: n for t, n in db.execute("SELECT term, doc FROM temp.v")}
    kept = dict(db.execute("SELECT term, docs FROM search_df"))
    assert kept and got["terms"] == len(kept) and got["upto"] == db.execute("SELECT max(id) FROM items").fetchone()[0]
    assert kept == {t: n for t, n in vocab.items() if n >= 3 and len(t) == 2
                    and all("\u4e00" <= c <= "\u9fff" for c in t)}
    # items added since: counted above the covered rowid; bigrams not kept: walked
    add_item(db, "志愿服务创建文明城市", codes=["Ⅲ—4"])
    add_item(db, "罕见词语志愿", codes=["Ⅲ—4"])
    vocab = {t: n for t, n in db.execute("SELECT term, doc FROM temp.v")}
    for b in ["志愿", "服务", "城市", "罕见", "见词", "词语", "语志", "愿服", "没有"]:
        assert doccounts.doc_count(db, b, got["upto"]) == vocab.get(b, 0), b


@pytest.mark.parametrize("way", ["python", "ea_rank"])
@pytest.mark.parametrize("kw", [{}, {"code": "Ⅲ—1"}, {"type": "实景图片"}, {"code": "Ⅲ—2", "type": "实景图片"}])
@pytest.mark.parametrize("q", ["志愿 服务", "宣传 台账 街道", "文明 城市", "街街 宣传", "志愿 志愿 服务"])
def test_two_character_terms_score_exactly_as_fts5_bm25(corpus, monkeypatch, q, kw, way):
    keep_doc_counts(corpus)
    _force(monkeypatch, way)
    used = _spy(monkeypatch)
    r = search(corpus, q, limit=100, **kw)
    assert used == [True] and r["order"] == "relevance" and r["total"] > 0
    fts = _fts_ranks(corpus.db, _compiled_match(corpus, q, **kw))
    assert r["total"] == len(fts)
    assert [(h["id"], h["score"]) for h in r["hits"]] == [(h["id"], round(fts[h["id"]], 6)) for h in r["hits"]]
    assert [fts[h["id"]] for h in r["hits"]] == sorted(fts.values(), reverse=True)


def _idf(n_row, n):
    v = math.log((n_row - n + 0.5) / (n + 0.5))
    return v if v > 0 else 1e-6


@pytest.mark.parametrize("kw", [{}, {"code": "Ⅲ—1"}])
@pytest.mark.parametrize("q", ["志愿服务 宣传", "文明城市 志愿服务", "街街街 宣传", "服务宣传 城市 台账"])
@pytest.mark.parametrize("way", ["python", "ea_rank"])
def test_a_phrase_weighs_the_sum_of_its_bigrams_idfs(corpus, monkeypatch, q, kw, way):
    """The reference takes each term's part from FTS5 itself: its bm25 for the term alone
    divided by its IDF from its own (phrase) count."""
    keep_doc_counts(corpus)
    _force(monkeypatch, way)
    used = _spy(monkeypatch)
    r = search(corpus, q, limit=100, **kw)
    assert used == [True] and r["total"] == len(r["hits"]) > 0
    db = corpus.db
    n_row = db.execute(f"SELECT count(*) FROM {T}_docsize").fetchone()[0]
    expected = {h["id"]: 0.0 for h in r["hits"]}
    for term in q.split():
        phrase = engine._term_phrase(term)
        own = _idf(n_row, db.execute(f"SELECT count(*) FROM {T} WHERE {T} MATCH ?", [phrase]).fetchone()[0])
        weight = sum(_idf(n_row, db.execute(f"SELECT count(*) FROM {T} WHERE {T} MATCH ?", [f'"{b}"']).fetchone()[0])
                     for b in ranking.bigrams(term))
        part = _fts_ranks(db, phrase)
        for i in expected:
            expected[i] += weight * part.get(i, 0.0) / own
    for h in r["hits"]:
        assert h["score"] == pytest.approx(expected[h["id"]], abs=2e-6), h
    scores = [expected[h["id"]] for h in r["hits"]]
    assert all(a >= b - 1e-9 for a, b in zip(scores, scores[1:]))


@pytest.mark.parametrize("way", ["python", "ea_rank", False])
def test_same_hits_and_totals_either_way(corpus, monkeypatch, way):
    keep_doc_counts(corpus)
    rng = random.Random(3)
    queries = [" ".join(rng.sample(WORDS, rng.randint(2, 3))) for _ in range(12)] + [
        "志愿服务 文明城市", "宣传台账 街道", "没有 这个词"]
    _force(monkeypatch, way)
    for q in queries:
        for kw in ({}, {"code": "Ⅲ—4"}):
            a = search(corpus, q, limit=200, **kw)
            with monkeypatch.context() as m:
                m.setattr(doccounts, "upto", lambda db: None)    # no counts: FTS5's bm25
                b = search(corpus, q, limit=200, **kw)
            assert a["total"] == b["total"] and a["order"] == b["order"], q
            assert sorted(h["id"] for h in a["hits"]) == sorted(h["id"] for h in b["hits"]), q


def test_pages_of_one_result_are_ranked_alike(corpus, monkeypatch):
    keep_doc_counts(corpus)
    _force(monkeypatch, "python")
    whole = search(corpus, "志愿 宣传", limit=30)
    pages = search(corpus, "志愿 宣传", limit=10)["hits"] + search(corpus, "志愿 宣传", limit=10, offset=10)["hits"] + \
        search(corpus, "志愿 宣传", limit=10, offset=20)["hits"]
    assert whole["total"] > 30
    assert [h["id"] for h in pages] == [h["id"] for h in whole["hits"]]


def test_more_hits_than_ranked_are_listed_newest_first(corpus, monkeypatch):
    keep_doc_counts(corpus)
    _force(monkeypatch, "python")
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 5)
    r = search(corpus, "志愿 服务", limit=4, offset=1)
    exact = len(_fts_ranks(corpus.db, _compiled_match(corpus, "志愿 服务")))
    assert r["order"] == "recent" and r["total"] == exact > 5
    newest = sorted(_fts_ranks(corpus.db, _compiled_match(corpus, "志愿 服务")), reverse=True)
    assert [h["id"] for h in r["hits"]] == newest[1:5] and all(h["score"] is None for h in r["hits"])
    walks = []
    corpus.db.conn.set_trace_callback(lambda sql: walks.append(sql) if "LIMIT 6" in sql else None)
    nxt = search(corpus, "志愿 服务", limit=4, offset=5)     # the next page: the total is kept, not counted again
    corpus.db.conn.set_trace_callback(None)
    assert nxt["total"] == exact and [h["id"] for h in nxt["hits"]] == newest[5:9] and walks == []


def test_deleted_items_are_no_hits_and_their_counts_follow_at_once(corpus, monkeypatch):
    from archive.core.db import transaction
    from archive.search import index_item

    db = corpus.db
    covered = keep_doc_counts(corpus)["upto"]
    _force(monkeypatch, "python")
    before = doccounts.doc_count(db, "街街", covered)
    gone = search(corpus, "街街 宣传", limit=100)["hits"][0]["id"]
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [gone])
        index_item(db, gone)
    r = search(corpus, "街街 宣传", limit=100)
    assert gone not in [h["id"] for h in r["hits"]]
    assert r["total"] == len(_fts_ranks(db, _compiled_match(corpus, "街街 宣传")))
    assert doccounts.doc_count(db, "街街", covered) == before - 1      # in the delete's transaction
    keep_doc_counts(corpus)
    assert doccounts.doc_count(db, "街街", doccounts.upto(db)) == before - 1


def test_without_kept_counts_fts5_ranks_and_a_full_rebuild_forgets_them(corpus, monkeypatch):
    _force(monkeypatch, "python")
    used = _spy(monkeypatch)
    search(corpus, "志愿服务 宣传")
    assert used == [False]                       # nothing kept yet: FTS5's bm25 as before
    keep_doc_counts(corpus)
    search(corpus, "志愿服务 宣传")
    assert used[-1] is True
    reindex(corpus, full=True)                   # a new table (perhaps another analyzer's tokens)
    assert doccounts.upto(corpus.db) is None
    r = search(corpus, "志愿服务 宣传", limit=100)
    assert used[-1] is False
    fts = _fts_ranks(corpus.db, _compiled_match(corpus, "志愿服务 宣传"))
    assert r["total"] == len(fts) and {h["id"]: h["score"] for h in r["hits"]} == {i: round(s, 6) for i, s in fts.items()}


def test_the_cheaper_way_is_taken(corpus, monkeypatch):
    """Without ea_rank: Python when its hits (guessed from the newest items, then counted) cost
    less than FTS5's walk of the terms' items; FTS5's bm25 otherwise."""
    keep_doc_counts(corpus)
    monkeypatch.setattr(rank_ext, "available", lambda db: False)
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)
    used = _spy(monkeypatch)
    monkeypatch.setattr(engine, "WALK_S", 1.0)          # walking is dear
    search(corpus, "志愿 服务")
    monkeypatch.setattr(engine, "WALK_S", 1e-12)        # walking is cheap
    search(corpus, "志愿 服务")
    assert used == [True, False]


def _reference_freq(fields, term):
    return sum(w * ranking.count_overlapping(normalise(v), term) for w, v in zip(ranking.BM25_WEIGHTS, fields) if v)


def test_term_counts_are_those_in_the_normalised_fields():
    rng = random.Random(7)
    pieces = ["文明", "明", "文", "⽂", "㉆", "㍾", "城市", "街", "街街", " ", "\n", "\u3000", "\u00a0", "\u200b", "¨",
              "\u0301", "，", "a", "Ａ", "宣传", "\uf900", "豈"]
    terms = ["文明", "街街", "明城", "街街街", "宣传", "明治", "豈文"]
    for _ in range(3000):
        fields = tuple("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) or None for _ in range(4))
        got = ranking.terms_freq(fields, terms, makers_of("".join(terms)))
        assert got == [_reference_freq(fields, t) for t in terms], fields


def test_counts_of_a_table_rebuilt_while_counting_are_not_kept(corpus, monkeypatch):
    """A full rebuild (another process) swaps the table between the count and its write: the
    counts of the dropped table are not written over the rebuilt one's "none kept"."""
    from contextlib import contextmanager

    from archive.core.instance import Instance

    real = doccounts.transaction

    @contextmanager
    def rebuilt_first(db):
        other = Instance.open(corpus.root)
        try:
            reindex(other, full=True)
        finally:
            other.close()
        with real(db):
            yield db
    keep_doc_counts(corpus)
    monkeypatch.setattr(doccounts, "transaction", rebuilt_first)
    assert keep_doc_counts(corpus) == {"terms": 0, "upto": None}
    assert doccounts.upto(corpus.db) is None
    monkeypatch.setattr(doccounts, "transaction", real)
    assert keep_doc_counts(corpus)["terms"] > 0


def test_fsck_warns_when_the_counts_are_missing_old_or_lapsed(corpus, monkeypatch):
    """An archive large enough for kept counts (SAMPLE_MIN_ITEMS, lowered here) without them,
    with many items added since they were taken, or with more old items changed than they
    follow: a warning naming `evidence reindex`, never a problem; after the counts are taken,
    nothing."""
    from archive.maintenance import fsck
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 10)

    def advice():
        report = fsck(corpus, verify_hashes=False)
        assert not [p for p in report["problems"] if p["key"].startswith("doc counts")]
        return {w["key"]: w for w in report["warnings"] if w["key"].startswith("doc counts")}

    assert "evidence reindex" in advice()["doc counts missing"]["message"]
    keep_doc_counts(corpus)
    assert advice() == {}
    for i in range(20):
        add_item(corpus.db, f"新增材料{i}")
    old = advice()["doc counts old"]
    assert old["added"] == 20 and "新增了 20 件资料" in old["message"]
    monkeypatch.setattr(doccounts, "CHANGE_BYTES", 0)
    monkeypatch.setattr(doccounts, "CHANGES_MIN", 1)
    keep_doc_counts(corpus)
    assert advice() == {}
    from archive.core.db import transaction
    from archive.search import index_item
    for item_id in (1, 2):      # the second change below the covered rowid: past the budget
        with transaction(corpus.db):
            corpus.db.execute("UPDATE items SET text = '另一份文字' WHERE id = ?", [item_id])
            index_item(corpus.db, item_id)
        assert list(advice()) == ([] if item_id == 1 else ["doc counts lapsed"])
    assert "evidence reindex" in advice()["doc counts lapsed"]["message"]
    keep_doc_counts(corpus)
    assert advice() == {}
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 10_000)
    assert advice() == {}      # a small archive ranks fast without them


@pytest.mark.parametrize("way", ["python", "ea_rank", False])
def test_counts_lapsed_before_most_items_were_deleted_rank_without_failing(corpus, monkeypatch, way):
    """Counts taken, then most items deleted past what they follow (lapsed: read as they were,
    so a common bigram's count is above the rows left): several terms still rank and count
    exactly (bm25's IDF once failed with a math domain error there)."""
    from archive.core.db import transaction
    from archive.search import index_item
    _force(monkeypatch, way)
    monkeypatch.setattr(doccounts, "CHANGE_BYTES", 0)
    monkeypatch.setattr(doccounts, "CHANGES_MIN", 1)
    keep_doc_counts(corpus)
    db = corpus.db
    ids = [r[0] for r in db.execute("SELECT id FROM items ORDER BY id")]
    for item_id in ids[5:]:
        with transaction(db):
            db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [item_id])
            index_item(db, item_id)
    assert doccounts.lapsed(db)
    live = {r[0]: r[1] for r in db.execute("SELECT id, text FROM items WHERE deleted_at IS NULL")}
    for q in ("志愿 服务", "文明 城市 宣传", "街道 志愿服务"):
        r = search(corpus, q, limit=50)
        want = {i for i, text in live.items() if all(t in bf_norm(text) for t in q.split())}
        assert r["total"] == len(want) and {h["id"] for h in r["hits"]} == want, q
