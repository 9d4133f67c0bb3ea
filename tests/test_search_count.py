"""A large result's total counted in slices on two connections at once while the page's
snippets are made (archive/search/count.py): the same total as one count, each slice once,
whether the second connection works or fails, and never split inside a transaction (a second
connection would not see its uncommitted rows)."""
from __future__ import annotations

import threading

import pytest

from archive.core.db import transaction
from archive.core.sqlite import sqlite3
from archive.search import count, engine, index_item, search

from .search_helpers import add_item


@pytest.fixture
def many(instance, monkeypatch):
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    for i in range(120):
        add_item(instance.db, f"第{i}份文明城市资料" + ("志愿服务" if i % 3 else "台账"))
    return instance


def _spy(monkeypatch, fail_apart_at=None):
    """Every slice counted: (after, upto, counted on the second connection)."""
    used = []
    real = count._count

    def spy(db, table, match, after, upto):
        apart = not hasattr(db, "conn")   # the second connection is a bare sqlite3 connection
        if apart and fail_apart_at is not None and sum(u[2] for u in used) == fail_apart_at:
            raise sqlite3.OperationalError("disk I/O error")
        n = real(db, table, match, after, upto)
        used.append((after, upto, apart))
        return n
    monkeypatch.setattr(count, "_count", spy)
    return used


def _one_cover(used):
    """The slices counted cover (first, no end) once each, no gap."""
    slices = sorted(used, key=lambda u: u[0])
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:])) and slices[-1][1] is None
    return slices


@pytest.mark.parametrize("q", ["文明", "文明城市", "志愿服务", "资料 台账"])
def test_split_count_gives_the_total_of_one_count(many, monkeypatch, q):
    monkeypatch.setattr(count, "SPLIT_MIN_S", 10.0 ** 9)
    one = search(many, q)
    used = _spy(monkeypatch)
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    monkeypatch.setattr(count, "SLICE_S", 1e-12)  # as many slices as allowed
    engine.COUNT_CACHE.clear()
    split = search(many, q)
    assert split == one and one["order"] == "recent" and one["total"] > 10
    assert len(_one_cover(used)) == count.MAX_SLICES


def test_the_second_connection_counts_while_the_snippets_are_made(many, monkeypatch):
    """_hits (the snippets) runs while the other connection is already counting: it waits here
    until that connection has counted a slice, which it could not if the count came first."""
    expected = search(many, "文明")["total"]
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    monkeypatch.setattr(count, "SLICE_S", 1e-12)
    counted_apart = threading.Event()
    real_count, real_hits = count._count, engine._hits

    def spy(db, *a):
        n = real_count(db, *a)
        if not hasattr(db, "conn"):
            counted_apart.set()
        return n
    monkeypatch.setattr(count, "_count", spy)
    waited = []
    monkeypatch.setattr(engine, "_hits", lambda *a: (waited.append(counted_apart.wait(10)), real_hits(*a))[1])
    engine.COUNT_CACHE.clear()
    assert search(many, "文明")["total"] == expected and waited == [True]


def test_a_slice_the_second_connection_fails_is_counted_here(many, monkeypatch):
    expected = search(many, "文明")["total"]
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    monkeypatch.setattr(count, "SLICE_S", 1e-12)
    used = _spy(monkeypatch, fail_apart_at=1)   # its second slice fails
    engine.COUNT_CACHE.clear()
    assert search(many, "文明")["total"] == expected == 120
    _one_cover(used)
    assert sum(u[2] for u in used) <= 1


def test_a_failing_search_stops_the_count(many, monkeypatch):
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    monkeypatch.setattr(count, "SLICE_S", 1e-12)
    started = []
    real = count.Counting.__init__
    monkeypatch.setattr(count.Counting, "__init__", lambda self, *a: (started.append(self), real(self, *a))[1])

    def broken(*a):
        raise RuntimeError("snippet failed")
    monkeypatch.setattr(engine, "_hits", broken)
    engine.COUNT_CACHE.clear()
    with pytest.raises(RuntimeError):
        search(many, "文明")
    started[0].worker.join(10)
    assert not started[0].worker.is_alive() and started[0].slices == []
    assert not engine.COUNT_CACHE    # nothing kept from a count never finished


def test_a_failing_second_connection_is_counted_here(many, monkeypatch):
    expected = search(many, "文明")["total"]
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)

    def refuse(*a, **k):
        raise OSError("no second connection")
    monkeypatch.setattr(count.sqlite3, "connect", refuse)
    engine.COUNT_CACHE.clear()
    assert search(many, "文明")["total"] == expected == 120


def test_not_split_inside_a_transaction(many, monkeypatch):
    used = _spy(monkeypatch)
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    db = many.db
    with transaction(db):   # items in the lower half no longer hold the term, not yet committed
        for item_id in range(30, 35):
            db.execute("UPDATE items SET text = '已改写的材料' WHERE id = ?", [item_id])
            index_item(db, item_id)
        engine.COUNT_CACHE.clear()
        assert search(many, "文明")["total"] == 115
    assert [u[1:] for u in used] == [(None, False)]   # one count, here


@pytest.fixture
def early(many, monkeypatch):
    """The count of a query not likely few begins before its first walk, even here."""
    monkeypatch.setattr(engine, "EARLY_MIN_ITEMS", 0)
    monkeypatch.setattr(engine, "EARLY_ROWIDS", 7)
    begun = []
    real = count.Counting.__init__
    monkeypatch.setattr(count.Counting, "__init__", lambda self, *a: (begun.append(self), real(self, *a))[1])
    return begun


@pytest.mark.parametrize("q", ["文明", "文明城市", "志愿服务", "资料 台账", "台账", "特别说明"])
def test_a_count_begun_before_the_first_walk_gives_the_total_of_one_count(many, monkeypatch, q):
    for i in range(3):
        add_item(many.db, f"第{i}份特别说明")
    monkeypatch.setattr(count, "SPLIT_MIN_S", 10.0 ** 9)
    one = search(many, q)
    engine.COUNT_CACHE.clear()
    monkeypatch.setattr(engine, "_likely_few", lambda *a, **k: (False, False) if k.get("with_cost") else False)
    monkeypatch.setattr(engine, "EARLY_MIN_ITEMS", 0)
    monkeypatch.setattr(engine, "EARLY_ROWIDS", 7)
    begun = []
    real = count.Counting.__init__
    monkeypatch.setattr(count.Counting, "__init__", lambda self, *a: (begun.append(self), real(self, *a))[1])
    assert search(many, q) == one
    assert len(begun) == 1 and len(begun[0].counted) <= count.MAX_SLICES
    if one["total"] <= 10:   # a small result stops it: no slice left, its counts unused
        assert begun[0].slices == [] and one["order"] == "relevance"


def test_slices_counted_whole_below_the_first_walk_s_end_are_not_counted_twice(many, monkeypatch, early):
    """The second connection counts every slice before the first walk ends (it waits for it
    here): those at or below the walk's last row are dropped, the one holding it counted again
    from there."""
    monkeypatch.setattr(count, "SPLIT_MIN_S", 10.0 ** 9)
    monkeypatch.setattr(engine, "EARLY_MIN_ITEMS", 10.0 ** 9)
    expected = search(many, "文明")["total"]
    monkeypatch.setattr(engine, "EARLY_MIN_ITEMS", 0)
    real_above = count.Counting.above

    def late(self, last):
        self.worker.join(10)   # every slice counted whole by now
        assert any(a < last for a, b, n in self.counted)
        real_above(self, last)
    monkeypatch.setattr(count.Counting, "above", late)
    engine.COUNT_CACHE.clear()
    assert search(many, "文明")["total"] == expected == 120 and len(early) == 1


def test_no_count_begun_inside_a_transaction(many, monkeypatch, early):
    with transaction(many.db):
        engine.COUNT_CACHE.clear()
        assert search(many, "文明")["total"] == 120
    assert early == []
