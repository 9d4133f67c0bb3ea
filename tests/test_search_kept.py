"""Totals of huge results kept for later pages (archive/search/kept.py): grown by the hits of
items added since, counted again when a row at or below the kept top changes, and never
different from a fresh count, whatever the archive went through in between."""
from __future__ import annotations

import random

import pytest

from archive.core.db import transaction
from archive.core.instance import Instance
from archive.search import engine, index_item, kept, reindex, search
from archive.search.engine import catch_up, compact

from .search_helpers import add_item, bf_item_has


@pytest.fixture
def huge(instance, monkeypatch):
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    engine.COUNT_CACHE.clear()
    ids = [add_item(instance.db, f"第{i}份文明城市资料" + ("志愿服务" if i % 3 else "台账")) for i in range(40)]
    return instance, ids


def _live_hits(db, term: str, mtype: str | None = None) -> int:
    """Live indexed items holding every term (a bulk load's rows are found once indexed)."""
    rows = db.execute("SELECT text, title, original_name, unit, material_type FROM items "
                      "WHERE deleted_at IS NULL AND id IN (SELECT item_id FROM search_docs)").fetchall()
    items = [dict(zip(("text", "title", "original_name", "unit", "type"), r)) for r in rows]
    return sum(all(bf_item_has(it, t) for t in term.split()) and (mtype is None or it["type"] == mtype)
               for it in items)


def _delete_one(db, live: list, rng) -> None:
    gone = live.pop(rng.randrange(len(live)))
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [gone])
        index_item(db, gone)


def _edit_one(db, live: list, rng, texts) -> None:
    with transaction(db):
        item_id = rng.choice(live)
        db.execute("UPDATE items SET text = ? WHERE id = ?", [rng.choice(texts), item_id])
        index_item(db, item_id)


def _grown_spy(monkeypatch):
    """Counts how often a kept total was grown (not recounted)."""
    grown = []
    real = kept.keep
    monkeypatch.setattr(kept, "keep", lambda n, st, match, t: (grown.append(match), real(n, st, match, t)))
    return grown


def test_an_upload_between_pages_adds_its_hits_without_counting_again(huge, monkeypatch):
    inst, ids = huge
    assert search(inst, "城市", limit=5)["total"] == 40
    counted = []
    real = engine.count_rest
    monkeypatch.setattr(engine, "count_rest", lambda *a: (counted.append(a), real(*a))[1])
    new = add_item(inst.db, "城市新材料")
    add_item(inst.db, "不相干的材料")
    page2 = search(inst, "城市", limit=5, offset=5)
    assert page2["total"] == 41 and counted == []
    assert [h["id"] for h in page2["hits"]] == sorted([*ids, new], reverse=True)[5:10]


def test_an_upload_from_another_connection_is_counted_in(huge):
    inst, ids = huge
    assert search(inst, "文明城市")["total"] == 40
    other = Instance.open(inst.root)
    try:
        add_item(other.db, "又一份文明城市材料")
    finally:
        other.close()
    assert search(inst, "文明城市", offset=20)["total"] == 41


def test_a_restored_item_below_the_top_is_counted_again(huge):
    """Restoring a deleted item writes its row back below the top without removing one: the
    write bumps the generation, so the kept total is not merely grown."""
    inst, ids = huge
    db = inst.db
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[5]])
        index_item(db, ids[5])
    assert search(inst, "城市")["total"] == 39
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = NULL WHERE id = ?", [ids[5]])
        index_item(db, ids[5])
    assert search(inst, "城市", offset=20)["total"] == 40


@pytest.mark.parametrize("change", ["delete", "edit", "type", "rebuild"])
def test_a_change_below_the_top_counts_again(huge, change):
    inst, ids = huge
    db = inst.db
    assert search(inst, "志愿服务")["total"] == 26
    add_item(db, "志愿服务新材料")          # above the top: would only grow it
    if change == "rebuild":
        reindex(inst, full=True)
    else:
        with transaction(db):
            if change == "delete":
                db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[1]])
            elif change == "edit":
                db.execute("UPDATE items SET text = '改写后的文本' WHERE id = ?", [ids[1]])
            else:
                db.execute("UPDATE items SET material_type = '实景图片' WHERE id = ?", [ids[1]])
            index_item(db, ids[1])
    expected = 27 if change in ("type", "rebuild") else 26
    assert search(inst, "志愿服务", offset=20)["total"] == expected == _live_hits(db, "志愿服务")


def test_random_uploads_edits_and_deletes_between_pages_never_give_a_wrong_total(huge, monkeypatch):
    """Random writes between searches of the same huge results: every total equals a brute-force
    count of the live items, and uploads alone let kept totals grow rather than recount."""
    inst, ids = huge
    db = inst.db
    rng = random.Random(15)
    grown = _grown_spy(monkeypatch)
    queries = [("城市", None), ("文明城市", None), ("志愿服务", None), ("资料 台账", None), ("城市", "实景图片")]
    texts = ["文明城市材料", "志愿服务台账", "城市资料台账", "无关内容", "文明 城市", "志愿服务文明城市资料"]
    live = list(ids)
    for step in range(160):
        op = rng.random()
        if op < 0.35:
            live.append(add_item(db, rng.choice(texts), material_type=rng.choice(["情况说明", "实景图片"])))
        elif op < 0.45 and live:
            _delete_one(db, live, rng)
        elif op < 0.55 and live:
            _edit_one(db, live, rng, texts)
        elif op < 0.6:   # a bulk load: rows first (pending), indexed afterwards
            with transaction(db):
                db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')",
                           [f"bulk{step}"])
                cur = db.execute("INSERT INTO items (sha256, kind, material_type, title, original_name, size, "
                                 "text, created_at, updated_at) VALUES (?, 'pdf', '情况说明', '材料', 'x.pdf', 1, "
                                 "?, 't', 't')", [f"bulk{step}", rng.choice(texts)])
                live.append(cur.lastrowid)
            if rng.random() < 0.5:
                catch_up(inst)
        elif op < 0.63:
            catch_up(inst)
            compact(inst)
        q, mtype = rng.choice(queries)
        r = search(inst, q, type=mtype, limit=5, offset=rng.choice([0, 5, 20]))
        assert r["total"] == _live_hits(db, q, mtype), (step, q, mtype)
    assert len(grown) > 10     # uploads between searches grew kept totals


def _raw_items(db, texts) -> None:
    """Items rows and their index rows, in the caller's transaction."""
    for text in texts:
        sha = db.execute("INSERT INTO files (sha256, size, kind, stored_at) "
                         "VALUES (lower(hex(randomblob(8))), 1, 'pdf', 't') RETURNING sha256").fetchone()[0]
        cur = db.execute("INSERT INTO items (sha256, kind, material_type, title, original_name, size, text, "
                         "created_at, updated_at) VALUES (?, 'pdf', '情况说明', '材料', 'x.pdf', 1, ?, 't', 't')",
                         [sha, text])
        index_item(db, cur.lastrowid)


def test_nothing_counted_inside_a_rolled_back_transaction_is_kept(huge):
    """Rows counted inside a transaction that is rolled back, and other rows given the same
    rowids afterwards (as many tokens, one transaction), do not leave a kept total behind."""
    inst, ids = huge
    db = inst.db
    db.execute("BEGIN")
    _raw_items(db, ["城市城市"] * 3)
    assert search(inst, "城市")["total"] == 43
    db.execute("ROLLBACK")
    with transaction(db):
        _raw_items(db, ["别的材料"] * 3)
    assert search(inst, "城市", offset=20)["total"] == 40 == _live_hits(db, "城市")


# ---- a 2-character term's total from its kept document count (doccounts.exact_docs) ---------
@pytest.fixture
def counted(huge, monkeypatch):
    from archive.search import doccounts, keep_doc_counts
    monkeypatch.setattr(doccounts, "KEEP_MIN", 1)
    inst, ids = huge
    keep_doc_counts(inst)
    walked = []
    real = engine.count_rest
    monkeypatch.setattr(engine, "count_rest", lambda *a: (walked.append(a[2]), real(*a))[1])
    return inst, ids, walked


def test_a_common_two_character_term_is_counted_from_its_kept_count(counted):
    inst, ids, walked = counted
    r = search(inst, "城市", limit=3)
    assert (r["total"], r["order"], [h["id"] for h in r["hits"]]) == (40, "recent", sorted(ids)[::-1][:3])
    assert walked == []
    new = add_item(inst.db, "城市又一份")          # uploads since the count: added on top
    add_item(inst.db, "别的")
    engine.COUNT_CACHE.clear()
    r = search(inst, "城市", limit=1)
    assert (r["total"], [h["id"] for h in r["hits"]], walked) == (41, [new], [])
    assert search(inst, "城市", type="情况说明")["total"] == 41 and walked   # filtered: walked


def _vocab(db) -> dict:
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, search_fts, row)")
    return dict(db.execute("SELECT term, doc FROM temp.v").fetchall())


@pytest.mark.parametrize("change", ["delete", "edit", "restore", "unindex"])
def test_a_change_below_the_covered_rowid_keeps_the_counts_exact(counted, change):
    """A deleted, edited or restored item below the covered rowid changes the kept counts in
    its own transaction: the total stays exact and still comes from the counts, not a walk."""
    inst, ids, walked = counted
    db = inst.db
    from archive.search import doccounts, keep_doc_counts, unindex_item
    if change == "restore":   # deleted before the counts, restored after: a row added below
        with transaction(db):
            db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[4]])
            index_item(db, ids[4])
        keep_doc_counts(inst)
    with transaction(db):
        if change == "delete":
            db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[4]])
        elif change == "edit":
            db.execute("UPDATE items SET text = '改写后没有那个词' WHERE id = ?", [ids[4]])
        else:
            db.execute("UPDATE items SET deleted_at = NULL WHERE id = ?", [ids[4]])
        if change == "unindex":
            unindex_item(db, ids[4])   # (its row gone, the item pending: search goes the general way)
        else:
            index_item(db, ids[4])
    engine.COUNT_CACHE.clear()
    expected = 40 if change == "restore" else 39
    assert search(inst, "城市")["total"] == expected == _live_hits(db, "城市")
    assert walked == [] or change == "unindex"
    vocab = _vocab(db)
    kept_terms = [t for (t,) in db.execute("SELECT term FROM search_df")]
    assert kept_terms and all(doccounts.exact_docs(db, t) == vocab.get(t, 0) for t in kept_terms)
    if change == "edit":
        assert doccounts.exact_docs(db, "改写") is None     # a bigram not kept: walked, as before


def test_an_edit_that_keeps_the_text_changes_no_count(counted):
    """Type, date or codes changed (the same text tokens): the counts are not written. A new
    unit (a text column) changes the counts of its bigrams only."""
    inst, ids, walked = counted
    db = inst.db
    before = db.execute("SELECT term, docs FROM search_df ORDER BY term").fetchall()
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        with transaction(db):
            db.execute("UPDATE items SET material_type = '实景图片', date = '2026-01-02' WHERE id = ?", [ids[7]])
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, 'Ⅲ—1', 't')", [ids[7]])
            index_item(db, ids[7])
        assert not [x for x in statements if "search_df" in x or "df_rows" in x]
        assert db.execute("SELECT term, docs FROM search_df ORDER BY term").fetchall() == before
        statements.clear()
        with transaction(db):
            db.execute("UPDATE items SET unit = '草场街道' WHERE id = ?", [ids[7]])
            index_item(db, ids[7])
    finally:
        db.conn.set_trace_callback(None)
    written = [x for x in statements if x.startswith("UPDATE search_df")]
    assert len(written) == 1 and all(b in written[0] for b in ("草场", "场街", "街道")), written
    after = dict(db.execute("SELECT term, docs FROM search_df"))
    assert {t: n for t, n in before if after[t] != n} == {}     # none of these bigrams was kept
    assert search(inst, "城市")["total"] == 40 and walked == []


def test_past_their_budget_of_changes_the_counts_lapse_until_taken_again(counted, monkeypatch):
    """Each followed change rewrites most of the counts' pages: after `df_left` of them (a bulk
    re-extraction) they lapse — totals walked, exact — until the next take."""
    inst, ids, walked = counted
    db = inst.db
    from archive.search import doccounts, keep_doc_counts
    monkeypatch.setattr(doccounts, "CHANGE_BYTES", 0)
    monkeypatch.setattr(doccounts, "CHANGES_MIN", 2)
    keep_doc_counts(inst)
    for n, item in enumerate(ids[:3]):
        with transaction(db):
            db.execute("UPDATE items SET text = '别的内容' WHERE id = ?", [item])
            index_item(db, item)
        engine.COUNT_CACHE.clear()
        assert search(inst, "城市")["total"] == 39 - n == _live_hits(db, "城市")
        assert bool(walked) == (n == 2), n        # the third change: lapsed, walked
    assert doccounts.exact_docs(db, "城市") is None
    keep_doc_counts(inst)
    walked.clear()
    assert search(inst, "城市")["total"] == 37 and walked == []


def test_counts_taken_before_changes_were_followed_lapse_at_a_removal(counted):
    """An archive whose counts were taken by an older version (`df_rewrites`, no `df_left`):
    exact only while no row was removed since, as then."""
    inst, ids, walked = counted
    db = inst.db
    from archive.search import doccounts
    with transaction(db):
        db.execute("DELETE FROM search_state WHERE key = 'df_left'")
        db.execute("INSERT OR REPLACE INTO search_state (key, value) VALUES ('rewrites', 5), ('df_rewrites', 5)")
    assert doccounts.exact_docs(db, "城市") == 40
    with transaction(db):
        db.execute("UPDATE search_state SET value = value + 1 WHERE key = 'rewrites'")   # a removal then
    assert doccounts.exact_docs(db, "城市") is None
    with transaction(db):     # taken before any removal: `rewrites` had no value, nor `df_rewrites`
        db.execute("UPDATE search_state SET value = NULL WHERE key = 'df_rewrites'")
        db.execute("UPDATE search_state SET value = 1 WHERE key = 'rewrites'")
    assert doccounts.exact_docs(db, "城市") is None
    with transaction(db):
        db.execute("UPDATE items SET text = '别的内容' WHERE id = ?", [ids[0]])
        index_item(db, ids[0])
    engine.COUNT_CACHE.clear()
    assert search(inst, "城市")["total"] == 39 and walked


def test_fsck_finds_a_kept_count_that_is_wrong_and_reindex_mends_it(counted):
    """check_index compares every kept count (plus the rows above the covered rowid) with
    FTS5's vocabulary while totals are taken from them; a wrong one is a problem, and taking
    the counts again (as `evidence reindex` ends) mends it."""
    inst, ids, walked = counted
    db = inst.db
    from archive.search import check_index, keep_doc_counts
    add_item(db, "城市新材料")        # a row above the covered rowid
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [ids[2]])
        index_item(db, ids[2])
    assert check_index(db) == []
    with transaction(db):
        db.execute("UPDATE search_df SET docs = docs + 1 WHERE term = '城市'")
    problems = check_index(db)
    assert [(p["key"], p["term"], p["count"]) for p in problems] == [("doc counts wrong", "城市", 1)]
    assert "城市" in problems[0]["message"] and "evidence reindex" in problems[0]["message"]
    keep_doc_counts(inst)
    assert check_index(db) == []


def test_counts_taken_while_a_row_below_changes_are_read_again(counted, monkeypatch):
    """A change below the covered rowid between take's read and its write changed the previous
    counts, not the ones read: they are read again, never stored stale."""
    inst, ids, walked = counted
    db = inst.db
    from archive.search import doccounts, keep_doc_counts
    reads = []
    real_rows = doccounts.fts_rows

    def edit_during_first_read(blob):
        reads.append(1)
        if len(reads) == 1:     # after the first read's snapshot, before its write
            other = Instance.open(inst.root)
            with transaction(other.db):
                other.db.execute("UPDATE items SET text = '已删去那个词' WHERE id = ?", [ids[9]])
                index_item(other.db, ids[9])
            other.close()
        return real_rows(blob)
    monkeypatch.setattr(doccounts, "fts_rows", edit_during_first_read)
    assert keep_doc_counts(inst)["upto"] == max(ids)
    monkeypatch.setattr(doccounts, "fts_rows", real_rows)
    assert len(reads) >= 2
    vocab = _vocab(db)
    assert all(docs == vocab.get(t, 0) for t, docs in db.execute("SELECT term, docs FROM search_df"))
    engine.COUNT_CACHE.clear()
    assert search(inst, "城市")["total"] == 39 == _live_hits(db, "城市") and walked == []


def test_rows_that_do_not_add_up_make_the_term_walked(counted):
    """Rows that do not add up (a row written behind index_item's back) are never trusted."""
    inst, ids, walked = counted
    db = inst.db
    with transaction(db):
        db.execute("UPDATE search_state SET value = value - 1 WHERE key = 'df_rows'")
    assert search(inst, "城市")["total"] == 40 and walked


def test_random_writes_and_takes_never_give_a_wrong_two_character_total(counted):
    inst, ids, walked = counted
    db = inst.db
    from archive.search import keep_doc_counts
    rng = random.Random(7)
    texts = ["文明城市材料", "志愿服务台账", "城市资料", "无关内容", "文明 城市"]
    live = list(ids)
    for step in range(120):
        op = rng.random()
        if op < 0.4:
            live.append(add_item(db, rng.choice(texts)))
        elif op < 0.5 and live:
            _delete_one(db, live, rng)
        elif op < 0.6 and live:
            _edit_one(db, live, rng, texts)
        elif op < 0.68:
            keep_doc_counts(inst)
        engine.COUNT_CACHE.clear()
        q = rng.choice(["城市", "文明", "志愿", "资料"])
        assert search(inst, q, limit=2)["total"] == _live_hits(db, q), (step, q)
    assert len(walked) < 40      # most totals came from the kept counts, deletes and edits between
    from archive.search import doccounts
    vocab = _vocab(db)           # before taking them again: kept exact through all of it
    kept_terms = [t for (t,) in db.execute("SELECT term FROM search_df")]
    assert kept_terms and all(doccounts.exact_docs(db, t) == vocab.get(t, 0) for t in kept_terms)
    from archive.search import check_index
    assert check_index(db) == []
    keep_doc_counts(inst)
    add_item(db, "城市文明新材料")
    vocab = _vocab(db)
    assert all(doccounts.exact_docs(db, t) == vocab.get(t, 0) for t in kept_terms)
