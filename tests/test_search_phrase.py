"""Long ideograph terms (5+ characters) are answered from the AND of their rarest bigrams, each
candidate checked on its text and scored in Python (engine._rare_phrase); any one-term result of
few hits is scored in Python too (engine._one_term_scores). The result must be the one FTS5's
phrase walk and bm25 give: same hits, order and scores (a one-term score is bm25 without the
term's IDF, which is the same for every hit), and exactly the brute-force hit set — including
candidates that hold every bigram but not the term."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from archive.search import doccounts, engine, search

from .search_helpers import add_item, bf_item_has

TERM = "志愿服务站点"
# rows: (text, title, unit, type, codes)
ROWS = [
    ("社区" + TERM + "配备急救药箱", "材料", None, "情况说明", ["Ⅲ—1"]),
    (TERM * 3 + "，" + TERM, "材料", "草场街街道", "实景图片", ["Ⅲ—2"]),              # tf 4
    ("说明", TERM + "台账", "市教育局", "情况说明", []),                                # title only (weight 2)
    ("志愿服\n务站点建设情况", "材料", None, "实景图片", ["Ⅲ—1"]),                     # broken by a line break
    ("志愿服务 站点", "材料", None, "情况说明", ["Ⅲ—4"]),                               # a space between
    ("志願服務站點", "材料", None, "情况说明", []),                                      # other characters
    ("站点志愿服务的情况", "材料", None, "情况说明", ["Ⅲ—1"]),                           # every bigram, reordered
    ("志愿服务，站点", "材料", None, "实景图片", []),                                    # across a comma
    ("志愿服务站，点", "材料", None, "情况说明", ["Ⅲ—2"]),
    ("新时代" + TERM + "每月开展活动" + "文明" * 40, "材料", "市委宣传部", "实景图片", ["Ⅲ—5"]),  # longer row
    ("志愿\uf900服务站点", "材料", None, "情况说明", []),                                # a compatibility ideograph inside
    ("哈哈哈哈哈哈哈", "材料", None, "情况说明", []),                                      # overlapping occurrences
]
QUERIES = [TERM, "志愿服务站", "愿服务站点配备", "哈哈哈哈哈", "志愿服务站点配备急救药箱", "服务站点台账",
           "站点志愿服务", "务站点建设情况", "豈服务站点", "没有这样的词语"]


@pytest.fixture(params=["probed", "kept counts"])
def items(instance, request, monkeypatch):
    """The items; with "kept counts" the bigrams' document counts are taken after them (every
    bigram kept), and the rarest bigrams are chosen from those instead of probed."""
    out = _add_items(instance)
    if request.param == "kept counts":
        monkeypatch.setattr(doccounts, "KEEP_MIN", 1)
        engine.keep_doc_counts(instance)
        assert doccounts.upto(instance.db) is not None
    return out


def _add_items(instance):
    out = []
    for text, title, unit, mtype, codes in ROWS:
        add_item(instance.db, text, title=title, unit=unit, material_type=mtype, codes=codes)
        out.append({"text": text, "title": title, "original_name": "材料.pdf", "unit": unit,
                    "type": mtype, "codes": codes})
    for i in range(30):   # filler: the bigrams of the terms are common, the terms are not
        text = "站点社区" + "志愿服务" * (i % 3 + 1) + "配备" + "活动" * i
        add_item(instance.db, text)
        out.append({"text": text, "title": "材料", "original_name": "材料.pdf", "unit": None})
    return out


def _key(r):
    return r["total"], r["order"], [(h["id"], h["score"]) for h in r["hits"]]


def _both(instance, monkeypatch, q, **kw):
    used = []
    real = engine._rare_phrase

    def spy(*a):
        got = real(*a)
        used.append(got is not None)
        return got
    monkeypatch.setattr(engine, "_rare_phrase", spy)
    monkeypatch.setattr(engine, "RARE_MAX", 64)
    new = search(instance, q, limit=100, **kw)
    monkeypatch.setattr(engine, "RARE_MAX", 0)     # 0: always the phrase walk with FTS5's bm25
    with _bm25_only():
        old = search(instance, q, limit=100, **kw)
    return new, old, used


@contextmanager
def _bm25_only():
    """One-term results scored by FTS5's bm25 (divided by the IDF), never in Python."""
    saved = engine.ONE_TERM_MAX, engine.PY_HIT_S
    engine.ONE_TERM_MAX, engine.PY_HIT_S = 0, 1e9
    try:
        yield
    finally:
        engine.ONE_TERM_MAX, engine.PY_HIT_S = saved


@pytest.mark.parametrize("q", QUERIES)
def test_same_hits_order_and_scores_as_the_phrase_walk(instance, items, monkeypatch, q):
    new, old, used = _both(instance, monkeypatch, q)
    assert used[0] or len(q) < 5
    assert _key(new) == _key(old)
    assert new["total"] == sum(bf_item_has(it, q) for it in items)


@pytest.mark.parametrize("kw", [{"type": "实景图片"}, {"code": "Ⅱ—1"}, {"code": "Ⅲ—5"}, {"unit": "草场街街道"},
                                {"code": "Ⅱ—1", "type": "情况说明"}])
def test_filters(instance, items, monkeypatch, kw):
    for q in (TERM, "志愿服务站"):
        new, old, used = _both(instance, monkeypatch, q, **kw)
        assert used[0] and _key(new) == _key(old)
        assert new["total"] > 0 or kw == {"code": "Ⅱ—1", "type": "情况说明"}


def test_exact_when_the_scores_depend_on_the_unfiltered_count(instance, items, monkeypatch):
    """With a filter, bm25's document count is the phrase's over every item (not the filtered
    hits): checked against FTS5 both when the candidates are few and when there are too many."""
    for cap in (64, 3):
        monkeypatch.setattr(engine, "RARE_MAX", cap)
        new = search(instance, TERM, type="实景图片", limit=100)
        monkeypatch.setattr(engine, "RARE_MAX", 0)
        with _bm25_only():
            assert _key(new) == _key(search(instance, TERM, type="实景图片", limit=100))


def test_the_rarest_bigrams_by_kept_counts(instance, items, monkeypatch):
    """With kept counts, the candidates come from the bigrams in the fewest items by those
    counts (a bigram in none of them: first), without probing the index for each."""
    db = instance.db
    if doccounts.upto(db) is None:
        pytest.skip("no kept counts in this variant")
    q = "志愿服务站点配备急救药箱"
    docs = {b: doccounts.doc_count(db, b, doccounts.upto(db), False) for b in dict.fromkeys(engine.bigrams(q))}
    rarest = sorted(docs, key=lambda b: (docs[b], b))[:engine.RARE_PICK]
    asked = []
    real = engine._rowids
    monkeypatch.setattr(engine, "_rowids", lambda db, t, expr: (asked.append(expr), real(db, t, expr))[1])
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        r = search(instance, q, limit=100)
    finally:
        db.conn.set_trace_callback(None)
    assert asked == [" AND ".join(f'"{b}"' for b in rarest)]
    assert r["total"] == 1
    assert not [x for x in statements if f"LIMIT {engine.RARE_PROBE}" in x]   # no bigram probed


def test_too_many_candidates_falls_back(instance, items, monkeypatch):
    monkeypatch.setattr(engine, "RARE_MAX", 2)
    r = search(instance, TERM, limit=100)
    monkeypatch.setattr(engine, "RARE_MAX", 0)
    with _bm25_only():
        assert _key(r) == _key(search(instance, TERM, limit=100))


def test_pages_and_deleted_items(instance, items, monkeypatch):
    from archive.core.db import transaction
    from archive.search import index_item
    full = search(instance, TERM, limit=100)
    pages = [h["id"] for off in range(0, full["total"], 2) for h in search(instance, TERM, limit=2, offset=off)["hits"]]
    assert pages == [h["id"] for h in full["hits"]]
    gone = full["hits"][0]["id"]
    with transaction(instance.db):
        instance.db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [gone])
        index_item(instance.db, gone)
    new, old, _ = _both(instance, monkeypatch, TERM)
    assert _key(new) == _key(old) and gone not in [h["id"] for h in new["hits"]]


@pytest.mark.parametrize("per_hit", [1e9, 0.0])
@pytest.mark.parametrize("cap", [100, 1])
@pytest.mark.parametrize("kw", [{}, {"type": "实景图片"}, {"code": "Ⅲ—1"}])
@pytest.mark.parametrize("q", ["志愿服务", "站点", "服务站点", TERM])
def test_one_term_ranks_as_fts5_bm25_and_its_score_leaves_out_the_idf(instance, items, monkeypatch, q, kw, cap,
                                                                       per_hit):
    """A one-term score is FTS5's bm25 divided by the term's IDF (from its unfiltered count), in
    FTS5's order: computed in Python for a filtered result of few hits (cap 100) or when the
    first walk took longer than scoring the hits in Python would (per_hit 0), else FTS5's bm25
    divided by the IDF, which is read off one hit when the result is filtered (cap 1)."""
    import math

    from archive.search import rank_ext

    monkeypatch.setattr(rank_ext, "available", lambda db: False)   # these paths: without ea_rank
    monkeypatch.setattr(engine, "RARE_MAX", 0)
    monkeypatch.setattr(engine, "ONE_TERM_MAX", cap)
    monkeypatch.setattr(engine, "PY_HIT_S", per_hit)
    monkeypatch.setattr(engine, "SAMPLE_MIN_ITEMS", 0)          # sampled even in a small archive:
    monkeypatch.setattr(engine, "SAMPLE_SHARE", 10 ** 9)        # no hits lately
    used = []
    real = engine._one_term_scores
    monkeypatch.setattr(engine, "_one_term_scores", lambda *a: (used.append(len(a[3])), real(*a))[1])
    r = search(instance, q, limit=100, **kw)
    assert r["order"] == "relevance" and r["total"] > 1
    assert used == ([r["total"]] if per_hit == 0 or kw and cap == 100 else [1] if kw else [])
    db, t = instance.db, "search_fts"
    match = engine._term_phrase(q)
    n_row = db.execute(f"SELECT count(*) FROM {t}_docsize").fetchone()[0]
    n_hit = db.execute(f"SELECT count(*) FROM {t} WHERE {t} MATCH ?", [match]).fetchone()[0]
    idf = max(math.log((n_row - n_hit + 0.5) / (n_hit + 0.5)), 1e-6)
    ids = [h["id"] for h in r["hits"]]
    fts = dict(db.execute(f"SELECT rowid, -bm25({t}, 1, 2, 1, 1, 0) FROM {t} WHERE rowid IN "
                          f"({', '.join('?' for _ in ids)}) AND {t} MATCH ?", [*ids, match]).fetchall())
    for h in r["hits"]:
        assert h["score"] == pytest.approx(fts[h["id"]] / idf, rel=1e-5, abs=1e-6), h
    assert [fts[i] for i in ids] == sorted((fts[i] for i in ids), reverse=True)


@pytest.mark.parametrize("kw", [{}, {"type": "实景图片"}, {"code": "Ⅲ—1"}])
@pytest.mark.parametrize("q", ["志愿服务", "站点", "服务站点", TERM])
def test_one_term_scored_by_ea_rank_as_without_it(instance, items, monkeypatch, q, kw):
    """With ea_rank built, a one-term query is scored by it with an IDF of 1 in its one walk:
    the same hits, order and scores (FTS5's bm25 without the IDF) as the paths without it, with
    neither FTS5's bm25 nor Python scoring used."""
    from archive.search import rank_ext

    if rank_ext.build(quiet=True) is None:
        pytest.skip("no C compiler or SQLite headers: ea_rank not built")
    monkeypatch.setattr(engine, "RARE_MAX", 0)
    with monkeypatch.context() as m:
        m.setattr(rank_ext, "available", lambda db: False)
        without = search(instance, q, limit=100, **kw)
    monkeypatch.setattr(engine, "_one_term_scores", lambda *a: pytest.fail("scored in Python"))
    monkeypatch.setattr(engine, "_without_idf", lambda *a, **k: pytest.fail("bm25 divided by the IDF"))
    got = search(instance, q, limit=100, **kw)
    assert rank_ext.available(instance.db) and got["total"] == without["total"] > 1
    assert [(h["id"], h["score"]) for h in got["hits"]] == [(h["id"], h["score"]) for h in without["hits"]]


@pytest.mark.parametrize("code", ["Ⅲ—1", "Ⅲ—2", "Ⅱ—1", "Ⅲ—5"])
@pytest.mark.parametrize("q", ["志愿服务", "服务站点", "站点志愿", "哈哈哈哈", "没有的词"])
def test_a_four_character_term_with_a_code_filter_from_its_rarest_bigrams(instance, items, monkeypatch, q, code):
    """With a code filter (selective) a 4-character term is answered from its rarest bigrams
    too: same hits, order and scores as FTS5's phrase walk with bm25 (including candidates that
    hold the bigrams ANDed but not the term: 站点志愿服务的情况, code Ⅲ—1, for 服务站点)."""
    new, old, used = _both(instance, monkeypatch, q, code=code)
    assert used and used[0]
    assert _key(new) == _key(old)


@pytest.mark.parametrize("kw", [{}, {"type": "实景图片"}, {"unit": "草场街街道"}])
def test_a_four_character_term_without_a_code_filter_walks_the_phrase(instance, items, monkeypatch, kw):
    new, old, used = _both(instance, monkeypatch, "志愿服务", **kw)
    assert used == [] and _key(new) == _key(old) and new["total"] > 0
