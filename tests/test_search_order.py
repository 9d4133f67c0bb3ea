"""Order: more than RECENT_MIN_HITS hits → newest first (item id descending, "order": "recent"),
otherwise bm25 then date then id ("order": "relevance"); the same order on every page and on both
query paths; filters and deleted items stay exact."""
from __future__ import annotations

import pytest

from archive.core.db import transaction
from archive.search import engine, search
from cli import cli

from .search_helpers import add_item, add_many

DATES = ["2025-03-01", "2026-01-05", None, "2025-12-31", "2024-07-01"]


@pytest.fixture
def many(instance, monkeypatch):
    """30 items containing 城市 (varied length/tf, dates not in id order), every third a 实景图片;
    the threshold lowered to 10 hits."""
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    ids = []
    for i in range(30):
        ids.append(add_item(instance.db, "城市" * (1 + i % 4) + "文明" * (i % 7) + f"第{i}份",
                            date=DATES[i % 5], material_type="实景图片" if i % 3 == 0 else "情况说明",
                            codes=["Ⅲ—1"] if i % 2 else []))
    add_item(instance.db, "没有那个词的材料")
    return ids


def _ids(r):
    return [h["id"] for h in r["hits"]]


def test_many_hits_newest_first_and_every_page_alike(instance, many):
    full = search(instance, "城市", limit=1000)
    assert full["total"] == 30 and full["order"] == "recent"
    assert _ids(full) == sorted(many, reverse=True)
    assert all(h["score"] is None for h in full["hits"])
    for offset in range(0, 30, 7):
        page = search(instance, "城市", limit=7, offset=offset)
        assert page["order"] == "recent" and page["total"] == 30
        assert _ids(page) == _ids(full)[offset:offset + 7]


def test_general_path_orders_alike(instance, many, monkeypatch):
    fast = [_ids(search(instance, "城市", limit=9, offset=o)) for o in (0, 9, 18, 27)]
    monkeypatch.setattr(engine, "TEXT_ONLY_MAX_ROWS", 0)   # every query through _general
    slow = [_ids(search(instance, "城市", limit=9, offset=o)) for o in (0, 9, 18, 27)]
    assert fast == slow and sum(fast, []) == sorted(many, reverse=True)


def test_filters_stay_exact_in_recent_order(instance, many):
    # 城市 + type: 10 hits (= threshold) → relevance; + code: 15 hits → recent, id desc
    photos = [i for k, i in enumerate(many) if k % 3 == 0]
    r = search(instance, "城市", type="实景图片", limit=100)
    assert r["order"] == "relevance" and sorted(_ids(r)) == sorted(photos)
    coded = [i for k, i in enumerate(many) if k % 2]
    r = search(instance, "城市 code:Ⅲ—1", limit=100)
    assert r["order"] == "recent" and r["total"] == 15 and _ids(r) == sorted(coded, reverse=True)
    assert _ids(search(instance, "城市 code:Ⅲ—1", limit=4, offset=8)) == sorted(coded, reverse=True)[8:12]
    # filters only (no terms): the same rule
    r = search(instance, None, code="Ⅲ—1", limit=100)
    assert r["order"] == "recent" and _ids(r) == sorted(coded, reverse=True)
    r = search(instance, None, type="实景图片", limit=100)
    assert r["order"] == "relevance" and len(r["hits"]) == 10


def test_deleted_items_never_returned_in_recent_order(instance, many):
    db = instance.db
    gone, stale = many[-1], many[-2]
    with transaction(db):
        db.execute("UPDATE items SET deleted_at = 't' WHERE id IN (?, ?)", [gone, stale])
        engine.index_item(db, gone)   # stale keeps its FTS row: the engine must still not show it
    r = search(instance, "城市", limit=5)
    assert r["order"] == "recent" and r["total"] == 28
    assert _ids(r) == sorted(many, reverse=True)[2:7]


def test_threshold_boundary(instance, monkeypatch):
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 5)
    ids = [add_item(instance.db, "门前三包" * (5 - i), date=DATES[i]) for i in range(5)]
    r = search(instance, "门前三包")
    assert (r["total"], r["order"]) == (5, "relevance")
    assert _ids(r) == ids   # bm25: more occurrences rank higher, i.e. the older items here
    assert all(h["score"] > 0 for h in r["hits"])
    ids.append(add_item(instance.db, "门前三包"))
    r = search(instance, "门前三包")
    assert (r["total"], r["order"]) == (6, "recent") and _ids(r) == ids[::-1]
    # on the general path: 6 FTS hits, 4 after the filter → relevance; the count decides, not the FTS rows
    r = search(instance, "门前三包", date_from="2024-01-01")
    assert (r["total"], r["order"]) == (4, "relevance")
    monkeypatch.setattr(engine, "TEXT_ONLY_MAX_ROWS", 0)
    assert search(instance, "门前三包")["order"] == "recent"


def test_real_threshold(instance):
    """The shipped constant, at its edge: RECENT_MIN_HITS hits are ranked, one more is not."""
    n = engine.RECENT_MIN_HITS
    ids = add_many(instance.db, ["背街小巷环境整洁" + "小巷" * (k % 3) for k in range(n)],
                   dates=[DATES[k % 5] for k in range(n)])
    r = search(instance, "小巷", limit=20, offset=40)
    assert (r["total"], r["order"]) == (n, "relevance") and r["hits"][0]["score"] > 0
    ids += add_many(instance.db, ["小巷"])
    for offset in (0, 20, n - 10):
        r = search(instance, "小巷", limit=20, offset=offset)
        assert (r["total"], r["order"]) == (n + 1, "recent")
        assert _ids(r) == ids[::-1][offset:offset + 20]


def test_cli_says_when_newest_first(instance, instance_dir, runner, many):
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "城市", "--limit", "3"])
    assert r.exit_code == 0, r.output
    assert "按入库时间倒序" in r.stderr and f"#{max(many)} " in r.stdout
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "第1份"])
    assert r.exit_code == 0 and "按入库时间倒序" not in r.stderr
    r = runner.invoke(cli, ["--instance", str(instance_dir), "search", "城市", "--json"])
    assert '"order": "recent"' in r.stdout


def test_count_of_a_huge_result_is_kept_and_grown_by_uploads_until_a_row_below_changes(instance, many):
    """A result of more than RECENT_MIN_HITS hits keeps its total for the next page; items added
    since add their hits to it (counted above the kept top only); a row removed or changed below
    the top, from this connection or another, makes it count again."""
    from archive.core.instance import Instance
    from archive.search import index_item
    engine.COUNT_CACHE.clear()
    assert search(instance, "城市")["total"] == 30
    (key,) = [k for k in engine.COUNT_CACHE if k[1] == '"城市"']
    engine.COUNT_CACHE[key] = engine.COUNT_CACHE[key]._replace(total=12345)   # proves it is read
    page2 = search(instance, "城市", limit=5, offset=5)
    assert page2["total"] == 12345 and _ids(page2) == sorted(many, reverse=True)[5:10]
    new = add_item(instance.db, "城市的新材料")
    add_item(instance.db, "别的材料")
    r = search(instance, "城市", limit=1)
    assert (r["total"], _ids(r)) == (12346, [new])        # grown by the one new hit, not recounted
    other = Instance.open(instance.root)
    try:
        with transaction(other.db):
            other.db.execute("UPDATE items SET deleted_at = 't' WHERE id = ?", [new])
            index_item(other.db, new)
    finally:
        other.close()
    r = search(instance, "城市", limit=1)
    assert (r["total"], r["order"], _ids(r)) == (30, "recent", [max(many)])
