"""Extraction in worker processes, off the web server's threads.

Parsing a PDF, a workbook or a photo is CPU work under the GIL: run in waitress's threads it
stalls every page read while clerks upload (bench/web.py). `enable()` (the web app does it)
sends `extract` to a pool of worker processes, one per core, each at a lower CPU priority than
the server; the request thread only waits. A file that takes longer than the timeout is refused
and its worker is replaced. Without `enable()` (CLI, tests) extraction runs in-process.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal

log = logging.getLogger(__name__)
TIMEOUT_S = 300          # a 512 MB upload's extraction; pdftotext and ffprobe have their own

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_workers = 0


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def enable(workers: int | None = None) -> None:
    """Extract in `workers` processes from now on (None: one per core; 0: in-process)."""
    global _workers
    with _lock:
        _workers = default_workers() if workers is None else max(0, int(workers))


def enabled() -> bool:
    return _workers > 0


def _init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        os.nice(5)   # page reads first; uploads wait a little longer
    except OSError:
        pass


def _run(path: str, kind: str, limits: Limits):
    """In the worker: ("ok", Extraction) or ("refused", key, message); Refusal's own pickling
    would lose its two arguments."""
    from . import extract

    try:
        return ("ok", extract(Path(path), kind, limits))
    except Refusal as e:
        return ("refused", e.key, e.message_zh)


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(_workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init)
        return _pool


def _reset(pool: ProcessPoolExecutor) -> None:
    """Throw away a pool whose worker hangs or died; the next call starts a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for proc in list(getattr(pool, "_processes", {}).values()):   # a hung worker ignores shutdown
        proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def extract_file(path, kind: str, limits: Limits, timeout: float = TIMEOUT_S):
    """`archive.extract.extract`, in a worker process when enabled."""
    from . import extract

    if not enabled():
        return extract(Path(path), kind, limits)
    pool = _get_pool()
    try:
        outcome = pool.submit(_run, str(path), kind, limits).result(timeout=timeout)
    except FutureTimeout:
        _reset(pool)
        raise Refusal("extraction timeout", f"文件处理超时（{int(timeout)} 秒），请检查文件是否异常") from None
    except BrokenProcessPool:
        _reset(pool)
        log.warning("extraction worker died on %s (%s)", kind, path)
        raise Refusal("extraction failed", "文件处理失败（处理进程异常退出），请检查文件是否异常") from None
    if outcome[0] == "refused":
        raise Refusal(outcome[1], outcome[2])
    return outcome[1]


@atexit.register
def _shutdown() -> None:
    pool = _pool
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
