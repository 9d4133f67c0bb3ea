"""Bulk reindexing: text analysed once per item, ahead in a worker process, and the index it
writes identical to the one written item by item."""
from __future__ import annotations

import random

import pytest

from archive.core.db import transaction
from archive.search import check_index, engine, fts5, index, index_item, prefetch, reindex, search
from tests.search_helpers import add_item, add_many, fts_segments


def _vocab(db) -> list[tuple]:
    """Every (term, item, column, offset) FTS5 holds: equal lists mean equal indexes."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, 'search_fts', 'instance')")
    rows = db.execute("SELECT term, doc, col, offset FROM temp.v ORDER BY term, doc, col, offset").fetchall()
    db.execute("DROP TABLE temp.v")
    return rows


def _texts(n):
    return [f"第{i}份创建文明城市工作台账，志愿服务 TZ{i:05d} 号，背街小巷\n整治" for i in range(n)]


@pytest.fixture
def counted(monkeypatch):
    """Calls of the in-process analysis (the worker's run in another process, not counted)."""
    calls = []
    real = index._text_tokens

    def counting(row):
        calls.append(row)
        return real(row)
    monkeypatch.setattr(index, "_text_tokens", counting)
    return calls


def test_an_unchanged_item_is_analysed_once_for_its_delete_and_insert(instance, counted):
    db = instance.db
    item = add_item(db, "创建文明城市工作台账")
    before = _vocab(db)
    counted.clear()
    with transaction(db):
        index_item(db, item)
    assert len(counted) == 1
    assert _vocab(db) == before
    # a changed item: its old fields for the delete, its new ones for the insert
    with transaction(db):
        db.execute("UPDATE items SET text = '背街小巷整治' WHERE id = ?", [item])
        counted.clear()
        index_item(db, item)
    assert len(counted) == 2
    assert search(instance, "小巷")["total"] == 1 and search(instance, "台账")["total"] == 0


def test_known_tokens_are_used_only_for_the_row_whose_hash_they_carry(instance, counted):
    db = instance.db
    item = add_item(db, "创建文明城市工作台账")
    row = db.execute("SELECT text, title, original_name, unit FROM items WHERE id = ?", [item]).fetchone()
    digest, toks = index.analyse(row)
    counted.clear()
    with transaction(db):
        index_item(db, item, {digest: toks})
    assert counted == []       # delete and insert both from the known tokens
    with transaction(db):
        db.execute("UPDATE items SET text = '背街小巷整治' WHERE id = ?", [item])
        index_item(db, item, {digest: toks})   # the old text's tokens: the delete only
    assert len(counted) == 1
    assert search(instance, "小巷")["total"] == 1 and search(instance, "台账")["total"] == 0
    assert check_index(db) == []


@pytest.mark.parametrize("full", [False, True])
def test_reindex_through_the_worker_writes_the_same_index(instance, monkeypatch, counted, full):
    db = instance.db
    monkeypatch.setattr(prefetch, "MIN_ITEMS", 10)
    monkeypatch.setattr(engine, "REINDEX_BATCH", 7)
    ids = add_many(db, _texts(60))
    add_item(db, "被删除的资料", deleted=True)
    before = _vocab(db)
    counted.clear()
    report = reindex(instance, full=full)
    assert report["indexed"] == 60 and report["mode"] == ("full" if full else "in place")
    assert counted == []      # every row analysed by the worker
    assert _vocab(db) == before and check_index(db) == []
    assert search(instance, "第17份")["total"] == 1 and search(instance, "小巷整治")["total"] == len(ids)


def test_full_rebuild_rewrites_only_rows_that_drifted(instance, monkeypatch):
    db = instance.db
    ids = add_many(db, _texts(12))
    with transaction(db):   # drift no trigger records: the index's own record of the text is off
        db.execute("UPDATE search_docs SET src_hash = x'00' WHERE item_id = ?", [ids[3]])
        db.execute("UPDATE search_docs SET f = 'x' WHERE item_id = ?", [ids[5]])
    assert {p["item_id"] for p in check_index(db)} == {ids[3], ids[5]}
    rewritten = []
    real = index_item
    monkeypatch.setattr(engine, "index_item", lambda db, i, known=None: (rewritten.append(i), real(db, i, known)))
    reindex(instance, full=True)
    assert sorted(rewritten) == [ids[3], ids[5]]
    assert check_index(db) == []
    assert search(instance, "第5份")["total"] == 1


def test_a_worker_that_cannot_read_the_database_falls_back(instance, monkeypatch, counted):
    db = instance.db
    monkeypatch.setattr(prefetch, "MIN_ITEMS", 10)
    monkeypatch.setattr(prefetch, "database_file", lambda db: str(instance.root / "无此文件.db"))
    add_many(db, _texts(30))
    before = _vocab(db)
    counted.clear()
    reindex(instance)
    assert len(counted) == 30      # analysed here instead, once per item
    assert _vocab(db) == before and check_index(db) == []


def test_the_worker_analyses_current_and_indexed_fields(instance):
    db = instance.db
    item = add_item(db, "创建文明城市工作台账")
    old = db.execute("SELECT text, title, original_name, unit FROM items WHERE id = ?", [item]).fetchone()
    with transaction(db):
        db.execute("UPDATE items SET text = '背街小巷整治' WHERE id = ?", [item])   # search_old keeps the old
    new = db.execute("SELECT text, title, original_name, unit FROM items WHERE id = ?", [item]).fetchone()
    known = prefetch.analyse_batch(prefetch.database_file(db), [item])
    assert known == dict([index.analyse(old), index.analyse(new)])
    with transaction(db):
        index_item(db, item)
    assert check_index(db) == []


def test_a_script_without_a_main_guard_runs_once(instance, tmp_path):
    """The worker must not run the caller's main script again (as multiprocessing's spawn would)."""
    import subprocess
    import sys
    from pathlib import Path

    add_many(instance.db, _texts(40))
    before = _vocab(instance.db)
    marker = tmp_path / "runs.txt"
    script = tmp_path / "bulk.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
with open({str(marker)!r}, "a") as f:
    f.write("run\\n")
from archive.core.instance import Instance
from archive.search import index, prefetch, reindex
prefetch.MIN_ITEMS = 10
calls = []
real = index._text_tokens
index._text_tokens = lambda row: (calls.append(1), real(row))[1]
inst = Instance.open({str(instance.root)!r})
reindex(inst)
inst.close()
print(len(calls))
""", encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert marker.read_text() == "run\n"
    assert out.stdout.strip() == "0"      # the worker analysed every item
    assert _vocab(instance.db) == before


def test_reindex_after_an_analyzer_change_with_items_waiting(instance):
    """Rows of another analyzer cannot be deleted in place: the full rebuild must come before
    the waiting items are indexed, not fail on them."""
    db = instance.db
    add_many(db, _texts(5))
    with transaction(db):
        db.execute("UPDATE search_state SET value = 0 WHERE key = 'analyzer'")
        db.execute("UPDATE items SET title = '改过的标题' WHERE id = 2")   # waiting (search_pending)
    report = reindex(instance)
    assert report["mode"] == "full" and report["indexed"] == 5
    assert check_index(db) == []
    assert search(instance, "改过")["total"] == 1


@pytest.mark.parametrize("full", [False, True])
def test_an_item_edited_after_the_worker_read_it_is_indexed_from_its_new_text(instance, monkeypatch, full):
    """The worker reads a batch or two ahead; an edit in between changes the row's source hash,
    so its tokens are not used and the item is indexed from what it says now."""
    db = instance.db
    monkeypatch.setattr(prefetch, "MIN_ITEMS", 10)
    monkeypatch.setattr(engine, "REINDEX_BATCH", 7)
    ids = add_many(db, _texts(40))
    target = ids[15]          # in the third batch: asked of the worker before the first is indexed
    edited = []

    def progress(done, total, message):
        if not edited:
            with transaction(db):
                db.execute("UPDATE items SET text = '重建期间改过的背街小巷整治台账' WHERE id = ?", [target])
                index_item(db, target)
            edited.append(done)

    engine.reindex(instance, progress=progress, full=full)
    assert edited and check_index(db) == []
    assert search(instance, "改过")["total"] == 1
    assert search(instance, "第15份")["total"] == 0


def _segmented(instance, n=120, per_commit=3):
    """An index written in many small transactions: many FTS5 segments."""
    for start in range(0, n, per_commit):
        add_many(instance.db, _texts(n)[start:start + per_commit])


def test_compact_merges_the_segments_without_changing_the_index(instance, monkeypatch):
    from archive.search import compact

    monkeypatch.setattr(fts5, "MERGE_PAGES", 1)   # many small steps
    _segmented(instance)
    before = _vocab(instance.db)
    hits = search(instance, "小巷整治")
    seen = []
    first = compact(instance, progress=lambda done, total, message: seen.append((done, total)))
    assert first["steps"] >= 2 and seen[-1][0] == seen[-1][1]
    assert compact(instance)["steps"] == 0          # one segment left: nothing more to merge
    assert _vocab(instance.db) == before and check_index(instance.db) == []
    assert search(instance, "小巷整治") == hits


def test_compact_ends_while_writers_keep_writing(instance, monkeypatch):
    from archive.search import compact

    monkeypatch.setattr(fts5, "MERGE_PAGES", 2)
    _segmented(instance, n=60)
    added = []

    def writer(done, total, message):   # a new item (a new segment) after every step
        added.append(add_item(instance.db, f"合并期间上传的第{len(added)}份资料"))

    report = compact(instance, progress=writer)
    assert report["steps"] <= 4 * (report["pages"] // 2 + 1) + 4
    assert check_index(instance.db) == []
    assert search(instance, "合并期间上传")["total"] == len(added)


def test_cli_reindex_leaves_one_segment(instance, instance_dir, runner):
    from archive.search import compact
    from cli import cli

    _segmented(instance, n=30)
    r = runner.invoke(cli, ["--instance", str(instance_dir), "reindex"])
    assert r.exit_code == 0, r.output
    assert compact(instance)["steps"] == 0


@pytest.mark.parametrize("items", ["none", "all deleted"])
def test_reindex_and_fsck_of_an_archive_without_live_items(instance, runner, items, monkeypatch):
    """`evidence reindex` and `fsck` on a new archive (FTS5's averages record is empty) and on
    one whose every item was deleted after its counts were taken: no traceback, nothing wrong."""
    from cli import cli
    from archive.search import doccounts, keep_doc_counts

    if items == "all deleted":
        monkeypatch.setattr(doccounts, "KEEP_MIN", 1)
        ids = [add_item(instance.db, f"第{i}份文明城市资料") for i in range(3)]
        keep_doc_counts(instance)
        for item_id in ids:
            with transaction(instance.db):
                instance.db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [item_id])
                index_item(instance.db, item_id)
        assert search(instance, "城市")["total"] == 0 and check_index(instance.db) == []
    root = str(instance.root)
    instance.close()
    r = runner.invoke(cli, ["--instance", root, "reindex"])
    assert r.exit_code == 0 and r.exception is None, r.output
    from archive.core.instance import Instance
    reopened = Instance.open(root)
    assert check_index(reopened.db) == [] and search(reopened, "城市")["total"] == 0
    reopened.close()
    if items == "none":     # (add_item's items have no stored files: fsck would say so)
        r = runner.invoke(cli, ["--instance", root, "fsck"])
        assert r.exit_code == 0 and "问题 0" in r.output, r.output


@pytest.mark.parametrize("full", [False, True])
def test_a_bulk_batch_is_written_as_one_segment(instance, monkeypatch, full):
    """FTS5 writes its in-memory postings out as a segment when they pass its `hashsize`; the
    default 1 MB is less than one batch of long texts, so each batch made several segments,
    all merged again later. Migration 0063 (and a rebuilt table) raise it: one batch, one
    segment, at its commit."""
    rng = random.Random(3)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 600)]
    texts = ["".join(rng.choices(chars, k=3000)) for _ in range(60)]   # ~5 MB of postings
    db = instance.db
    ids = add_many(db, texts, index=False)
    monkeypatch.setattr(engine, "REINDEX_BATCH", len(ids))
    db.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 0)")   # count, not merge
    if full:
        engine.reindex(instance, full=True)
    else:
        engine.catch_up(instance)
    assert fts_segments(db) == 1    # full: the rebuilt table, filled by the catch-up after its swap
    term = texts[7][100:104]
    assert search(instance, term)["total"] == sum(term in t for t in texts)
    assert check_index(db) == []


def test_the_hash_size_of_the_migration_is_the_one_a_rebuild_sets(instance):
    db = instance.db
    value = lambda: db.execute("SELECT v FROM search_fts_config WHERE k = 'hashsize'").fetchone()[0]  # noqa: E731
    assert value() == index.FTS_HASH_SIZE
    engine.reindex(instance, full=True)
    assert value() == index.FTS_HASH_SIZE
