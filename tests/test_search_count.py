"""A large result's total counted in two halves at once (archive/search/count.py): the same
total as one count, whether the second connection works or fails, and never split inside a
transaction (a second connection would not see its uncommitted rows)."""
from __future__ import annotations

import pytest

from archive.core.db import transaction
from archive.search import count, engine, index_item, search

from .search_helpers import add_item


@pytest.fixture
def many(instance, monkeypatch):
    monkeypatch.setattr(engine, "RECENT_MIN_HITS", 10)
    for i in range(120):
        add_item(instance.db, f"第{i}份文明城市资料" + ("志愿服务" if i % 3 else "台账"))
    return instance


def _spy(monkeypatch):
    used = []
    real = count._count_apart
    monkeypatch.setattr(count, "_count_apart", lambda *a: (used.append(a[3:5]), real(*a)))
    return used


@pytest.mark.parametrize("q", ["文明", "文明城市", "志愿服务", "资料 台账"])
def test_split_count_gives_the_total_of_one_count(many, monkeypatch, q):
    monkeypatch.setattr(count, "SPLIT_MIN_S", 10.0 ** 9)
    one = search(many, q)
    used = _spy(monkeypatch)
    monkeypatch.setattr(count, "SPLIT_MIN_S", 0.0)
    engine.COUNT_CACHE.clear()
    split = search(many, q)
    assert split == one and one["order"] == "recent" and one["total"] > 10
    assert len(used) == 1 and used[0][0] < used[0][1]


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
    assert used == []
