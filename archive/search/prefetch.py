"""Analysis ahead of a bulk index job, in a second process.

Reindexing spends about a third of its time analysing text (normalise, bigrams) and the rest
in SQLite; one process does them one after the other. `analysed()` hands each batch's ids to
a worker process a batch or two ahead: it reads the items' text fields (and search_old's)
through its own read-only connection and returns {source hash: token strings}. The indexing
process still reads every row itself inside its transaction and uses a worker's tokens only
when the row's hash equals theirs, so an item edited meanwhile is analysed again, never
indexed from stale text. Any worker failure (no second core, an in-memory database, a
crash) falls back to analysing in the indexing process: slower, same index.

The worker is `python -c` running `serve()` over pipes, not multiprocessing: spawn would run
the caller's main script again in the child (a script without a `__main__` guard would
repeat its work there), and fork would copy open SQLite connections.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

from archive.core.sqlite import sqlite3
from archive.core.db import database_file

from . import grams
from .analysis import tokens
from .index import OLD, analyse, source_hash

MIN_ITEMS = 2000   # fewer: starting a process (~0.2 s) costs more than it saves
AHEAD = 2          # batches handed to the worker before the one being indexed
_ROOT = str(Path(__file__).resolve().parents[2])   # the directory holding this `archive` package
_LEN = struct.Struct("<Q")


def analyse_batch(path: str, ids: list[int], kind: str = "tokens") -> dict:
    """In the worker: {source hash: token strings} of the items' current and old text fields
    (kind "grams": {source hash: their common grams}, grams.py; "tokens+grams": both, the
    grams keyed by (source hash, grams.GRAMS))."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        marks = ", ".join("?" for _ in ids)
        rows = conn.execute(f"SELECT text, title, original_name, unit FROM items WHERE id IN ({marks})", ids).fetchall()
        rows += conn.execute(f"SELECT text, title, name, unit FROM {OLD} WHERE item_id IN ({marks})", ids).fetchall()
        vocab = grams.vocabulary(conn) if kind != "tokens" else None
    finally:
        conn.close()
    if kind == "grams":
        return {source_hash(*row): grams.grams_of(grams.normalised(row), vocab) for row in rows}
    if kind == "tokens":
        return dict(analyse(row) for row in rows)
    out: dict = {}
    for row in rows:   # "tokens+grams": both, the fields normalised once (analyse's tokens)
        norm = grams.normalised(row)
        digest = source_hash(*row)
        out[digest] = [tokens(n) for n in norm]
        out[(digest, grams.GRAMS)] = grams.grams_of(norm, vocab)
    return out


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError("worker closed its pipe")
    n = _LEN.unpack(head)[0]
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("worker closed its pipe")
    return pickle.loads(data)   # our own child's output, never a user's


def serve() -> None:
    """The worker's loop: (path, ids, kind) in, {hash: tokens or grams} out, until stdin closes."""
    src, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            path, ids, kind = _receive(src)
        except EOFError:
            return
        _send(out, analyse_batch(path, ids, kind))


def _start_worker() -> subprocess.Popen:
    code = f"import sys; sys.path.insert(0, {_ROOT!r}); from archive.search.prefetch import serve; serve()"
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)


def analysed(db, batches: list[list[int]], kind: str = "tokens"):
    """Yield (batch, known) for each batch in order; `known` is {source hash: tokens} from the
    worker (kind "grams": {source hash: common grams}), or None (analyse in this process)."""
    path = database_file(db)
    if path is None or sum(len(b) for b in batches) < MIN_ITEMS or (os.cpu_count() or 1) < 2:
        for batch in batches:
            yield batch, None
        return
    try:
        worker = _start_worker()
    except OSError:
        worker = None
    asked = 0
    try:
        for i, batch in enumerate(batches):
            known = None
            if worker is not None:
                try:
                    while asked < len(batches) and asked <= i + AHEAD:
                        _send(worker.stdin, (path, batches[asked], kind))
                        asked += 1
                    known = _receive(worker.stdout)
                except Exception:   # noqa: BLE001 — any worker failure: analyse here from now on
                    worker = _stop(worker)
            yield batch, known
    finally:
        _stop(worker)


def _stop(worker):
    """End the worker: closing its output first, so one blocked writing an answer nobody will
    read stops too (broken pipe) instead of holding up the wait."""
    if worker is None:
        return None
    for stream in (worker.stdout, worker.stdin):
        try:
            stream.close()
        except OSError:
            pass
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    return None
