"""ea_rank, a small SQLite extension (rank_ext.c): FTS5's bm25 with the IDFs given.

FTS5's bm25() counts every row holding each phrase before it scores a hit: for two terms of
a few hundred hits at 100,000 items that walk is 1–3.5 ms of a 7 ms search, while scoring the
hits themselves costs 1–2 µs each. The IDFs are known already (kept document counts), so
ea_rank takes them as arguments and reads only the hits. Built by `./run` and `./test`
(`build()`, called by scripts/setup.sh's build_rank_ext, with the C compiler and SQLite's
headers: Debian's gcc and libsqlite3-dev); where it is missing search uses bm25() as before, with the same results
for terms of two characters (a longer term then weighs as FTS5 counts its phrase).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("rank_ext.c")
# gitignored; built from SOURCE (not rank_ext.so: Python would import that for this module)
LIBRARY = Path(__file__).with_name("ea_rank.so")
_LOADED = "_ea_rank_loaded"


def build(quiet: bool = False) -> Path | None:
    """Compile SOURCE into LIBRARY unless it is there and newer: its path, or None (no
    compiler or headers: a one-line note on stderr, search falls back to bm25())."""
    if LIBRARY.exists() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        if not quiet:
            print("未找到 C 编译器，检索排序使用 FTS5 自带的 bm25（较慢）(no C compiler: ea_rank not built)",
                  file=sys.stderr)
        return None
    tmp = LIBRARY.with_name(f".{LIBRARY.name}.{os.getpid()}.tmp")   # two builders never share one
    proc = subprocess.run([cc, "-O2", "-fPIC", "-shared", "-o", str(tmp), str(SOURCE), "-lm"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        if not quiet:
            detail = proc.stderr.strip().splitlines()
            print("检索排序扩展编译失败，使用 FTS5 自带的 bm25 (ea_rank not built)"
                  + (f": {detail[-1]}" if detail else ""), file=sys.stderr)
        return None
    tmp.replace(LIBRARY)   # atomic: a process loading it never sees half a file
    return LIBRARY


def available(db) -> bool:
    """ea_rank is registered on this database's connection (loaded once per connection)."""
    loaded = getattr(db, _LOADED, None)
    if loaded is None:
        loaded = _load(db.conn)
        setattr(db, _LOADED, loaded)
    return loaded


def _load(conn) -> bool:
    if not LIBRARY.exists() or not hasattr(conn, "enable_load_extension"):
        return False
    try:
        conn.enable_load_extension(True)
        try:
            conn.load_extension(str(LIBRARY))
        finally:
            conn.enable_load_extension(False)   # no SQL may load one
    except Exception:   # an old or foreign build: bm25() instead
        return False
    return True


# Our FTS5 expressions: quoted tokens, '+' joining a phrase's tokens, '*' (prefix), operators
# and parentheses. A phrase is its tokens joined by '+'.
_PIECE = re.compile(r'"((?:[^"]|"")*)"|(\+)|(\S)')


def phrases(match: str) -> list[tuple[str, ...]]:
    """The phrases of an FTS5 expression (as search writes them), in the order FTS5 numbers
    them: each its tokens."""
    out: list[list[str]] = []
    joined = False
    for m in _PIECE.finditer(match):
        token, plus, other = m.groups()
        if token is not None:
            if joined and out:
                out[-1].append(token.replace('""', '"'))
            else:
                out.append([token.replace('""', '"')])
            joined = False
        elif plus:
            joined = True
        elif other != "*":
            joined = False
    return [tuple(p) for p in out]


def rank_sql(table: str, weights, match: str, idf_of: dict[tuple[str, ...], float]) -> tuple[str, list]:
    """The ea_rank call for `match` and its parameters: each phrase's IDF from `idf_of` (by its
    tokens), 0 for the others (filter tokens: their column weighs 0 anyway)."""
    idfs = [idf_of.get(p, 0.0) for p in phrases(match)]
    marks = ", ".join(["?"] * len(idfs))
    return (f"ea_rank({table}, " + ", ".join(str(float(w)) for w in weights) + (", " + marks if marks else "") + ")",
            idfs)


if __name__ == "__main__":
    build()   # never fails setup: search works without it
