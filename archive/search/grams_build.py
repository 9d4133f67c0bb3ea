"""Building the common grams table (grams.py) beside a live archive, resumably.

`build` chooses the vocabulary from a sample of items when there is none, then adds the gram
rows of every indexed item above `grams_upto` in transactions of grams.BATCH items, each moving
`grams_upto` with its rows: a crash loses at most one batch, and the next build goes on from
there. Writers meanwhile keep the rows at or below `grams_upto` (index.index_item), the build
reads each item as it is when its batch is written. The grams are computed a batch ahead in a
second process (prefetch.py) from the fields as they were then; a row is written from them only
when the fields' digest is still the same. Search uses the table once `grams_upto` is ALL.
"""
from __future__ import annotations

import random

from archive.core.db import transaction
from archive.core.errors import ArchiveError

from . import grams
from .index import DOCS, STATE, indexed_fields, source_hash
from .prefetch import analysed
from .fts5 import bulk_batch


def build(db, progress=None, min_items: int | None = None) -> dict:
    """Make the common grams complete (or drop them below MIN_ITEMS live items; build them
    again when out of step with search_fts).
    Returns {"grams": vocabulary size, "added": rows written, "items": indexed items}."""
    min_items = grams.MIN_ITEMS if min_items is None else min_items
    live = db.execute(f"SELECT count(*) FROM {DOCS}").fetchone()[0]
    if live < min_items:
        if grams.upto(db) is not None:
            with transaction(db):
                grams.forget(db)
        return {"grams": 0, "added": 0, "items": live}
    if grams.upto(db) == grams.ALL and grams.rows(db) != live:
        with transaction(db):   # out of step (fsck says so): built again
            grams.forget(db)
    if grams.upto(db) is None:
        top = db.execute(f"SELECT max(item_id) FROM {DOCS}").fetchone()[0] or 0
        _start(db, choose(db, top), 0)
    gen = _gen(db)
    start = grams.upto(db)
    todo = [r[0] for r in db.execute(f"SELECT item_id FROM {DOCS} WHERE item_id > ? ORDER BY item_id", [start])]
    batches = [todo[i:i + grams.BATCH] for i in range(0, len(todo), grams.BATCH)]
    added = done = 0
    for batch, known in analysed(db, batches, kind="grams"):
        with transaction(db), bulk_batch(db, [grams.GRAMS]):
            if _gen(db) != gen or grams.upto(db) != start:
                raise ArchiveError("grams rebuilt meanwhile",
                                   "另一个进程同时在重建常用词组，本次已停止（已写入的部分保留）；稍后再运行 evidence reindex")
            # the indexed items of the range now: one removed meanwhile has no search_fts row,
            # one indexed meanwhile (restored) is above grams_upto, so has no gram row yet
            for (item_id,) in db.execute(f"SELECT item_id FROM {DOCS} WHERE item_id > ? AND item_id <= ?",
                                         [start, batch[-1]]).fetchall():
                fields = indexed_fields(db, item_id)
                ahead = known.get(source_hash(*fields)) if known else None
                grams.add_row(db, item_id, fields, ahead)
                added += 1
            start = batch[-1]
            db.execute(f"UPDATE {STATE} SET value = ? WHERE key = 'grams_upto'", [start])
        done += len(batch)
        if progress:
            progress(done, len(todo), "")
    with transaction(db):
        # items indexed since the list was read (above its last id) are added here, then ALL
        last = grams.upto(db)
        for item_id in [r[0] for r in db.execute(f"SELECT item_id FROM {DOCS} WHERE item_id > ?", [last])]:
            grams.add_row(db, item_id, indexed_fields(db, item_id))
            added += 1
        db.execute(f"UPDATE {STATE} SET value = ? WHERE key = 'grams_upto'", [grams.ALL])
    return {"grams": len(grams.vocabulary(db)), "added": added, "items": live}


def start_inline(db, waiting: int, min_items: int | None = None) -> bool:
    """Before a bulk index of `waiting` items into an empty index (a fresh build): with
    MIN_ITEMS or more, the vocabulary chosen from the items and the (empty) table complete from
    the start, so index_item writes each row with its search_fts row, its strings found by the
    analysis worker beside its tokens: one pass over the text instead of two. Returns whether
    the table is complete (so the worker should find the strings)."""
    min_items = grams.MIN_ITEMS if min_items is None else min_items
    if grams.upto(db) is None and waiting >= min_items and not db.execute(f"SELECT 1 FROM {DOCS} LIMIT 1").fetchone():
        top = db.execute("SELECT max(id) FROM items").fetchone()[0] or 0
        _start(db, choose(db, top, items=True), grams.ALL)
    return grams.upto(db) == grams.ALL


def choose(db, top: int, sample: int | None = None, share: float | None = None, items: bool = False) -> list[str]:
    """The vocabulary: ideograph strings of 2–LONGEST characters in at least `share` of `sample`
    indexed items (`items`: live items, none indexed yet) spread evenly over the ids up to
    `top` (each item counted once a string)."""
    import numpy as np
    sample = grams.SAMPLE if sample is None else sample
    share = grams.SHARE if share is None else share
    if items:
        ids = [r[0] for r in db.execute("SELECT id FROM items WHERE deleted_at IS NULL AND id <= ? ORDER BY id",
                                        [top])]
    else:
        ids = [r[0] for r in db.execute("SELECT item_id FROM search_docs WHERE item_id <= ? ORDER BY item_id", [top])]
    if len(ids) > sample:
        ids = sorted(random.Random(len(ids)).sample(ids, sample))
    if not ids:
        return []
    keys, counts = np.unique(np.concatenate([grams.gram_keys(grams.normalised(indexed_fields(db, i))) for i in ids]),
                             return_counts=True)
    need = max(2, int(share * len(ids) + 0.999))
    return sorted(grams.key_string(k) for k in keys[counts >= need].tolist())


def _start(db, chosen: list[str], upto: int) -> None:
    with transaction(db):
        grams.forget(db)
        db.conn.executemany(f"INSERT INTO {grams.VOCAB} (gram) VALUES (?)", [(g,) for g in chosen])
        grams.bump_generation(db)
        db.execute(f"INSERT INTO {STATE} (key, value) VALUES ('grams_upto', ?)", [upto])


def _gen(db):
    row = db.execute(f"SELECT value FROM {STATE} WHERE key = 'grams_gen'").fetchone()
    return None if row is None else row[0]
