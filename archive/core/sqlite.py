"""The one SQLite library of the process: pysqlite3's where its wheel is installed (a current
SQLite, built to memory-map a database of any size), else Python's own.

Every module imports `sqlite3` from here, never the standard library's directly: two copies of
SQLite in one process do not share their POSIX locks, and closing a file in one drops the
other's locks on it (https://www.sqlite.org/howtocorrupt.html §2.2.1). sqlite-utils makes the
same choice itself (it prefers pysqlite3 when it can import it), so its connections and ours
are one library. Both write the same file format: an archive moves between machines either way.
"""
from __future__ import annotations

try:
    from pysqlite3 import dbapi2 as sqlite3
except ImportError:   # no wheel for this platform: Python's own SQLite, same behaviour, slower at 1M items
    import sqlite3  # noqa: F401  (the one place the standard library's is imported)

__all__ = ["sqlite3"]
