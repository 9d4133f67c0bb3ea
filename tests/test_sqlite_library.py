"""One SQLite library per process (archive/core/sqlite.py): pysqlite3's where its wheel is
installed, else Python's own; never both, since two copies of SQLite in one process do not
share their POSIX locks. And an archive written by either is read by the other."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils.utils

from archive.core.db import MMAP_BYTES, connect
from archive.core.sqlite import sqlite3
from archive.search import engine, search

from .search_helpers import add_item

ROOT = Path(__file__).resolve().parent.parent
try:
    import pysqlite3  # noqa: F401
    HAVE_PYSQLITE3 = True
except ImportError:
    HAVE_PYSQLITE3 = False

# `import sqlite3` / `from sqlite3 import …` anywhere but the shim would load the second library.
STDLIB_IMPORT = re.compile(r"^\s*(import sqlite3\b|from sqlite3\b)", re.M)


def test_no_module_imports_python_s_own_sqlite3_but_the_shim():
    offenders = []
    for path in [ROOT / "cli.py", *ROOT.glob("archive/**/*.py"), *ROOT.glob("tests/**/*.py"),
                 *ROOT.glob("bench/**/*.py")]:
        if path in (ROOT / "archive" / "core" / "sqlite.py", Path(__file__).resolve()):
            continue   # the shim, and this file's child processes, which spy on Python's own
        if STDLIB_IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_sqlite_utils_and_the_archive_use_one_library(instance):
    assert sqlite_utils.utils.dbapi2.Connection is sqlite3.Connection
    assert isinstance(instance.db.conn, sqlite3.Connection)
    if HAVE_PYSQLITE3:
        assert sqlite3.__name__ == "pysqlite3.dbapi2"


@pytest.mark.skipif(not HAVE_PYSQLITE3, reason="pysqlite3-binary has wheels for Linux x86_64 only")
def test_the_whole_database_is_memory_mapped(tmp_path):
    db = connect(tmp_path / "a.db")
    # Python's own SQLite caps this at 2 GB (2147418112); pysqlite3's build takes what is asked
    assert db.execute("PRAGMA mmap_size").fetchone()[0] == MMAP_BYTES


def test_a_whole_app_process_never_connects_through_the_second_library(tmp_path):
    """CLI, web app, ingest and search in one process: with pysqlite3 there, no connection is
    opened through Python's own sqlite3 (sqlite-utils imports that module for a type hint only,
    which is harmless: the hazard is two libraries opening one file)."""
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
import sqlite3, sqlite3.dbapi2
opened = []
real = sqlite3.connect
def spy(*a, **k):
    opened.append(str(a[0]) if a else "")
    return real(*a, **k)
sqlite3.connect = sqlite3.dbapi2.connect = spy
from click.testing import CliRunner
import cli
from archive.web import create_app
inst = {str(tmp_path / "inst")!r}
r = CliRunner().invoke(cli.cli, ["--instance", inst, "init", "--map", {str(ROOT / "indicator_map.yaml")!r}])
assert r.exit_code == 0, r.output
import docx
doc = {str(tmp_path / "台账.docx")!r}
d = docx.Document(); d.add_paragraph("新时代文明实践站志愿服务台账"); d.save(doc)
r = CliRunner().invoke(cli.cli, ["--instance", inst, "add", doc, "--code", "Ⅲ—6", "--type", "工作台账", "--date", "2026-03-01"])
assert r.exit_code == 0, r.output
r = CliRunner().invoke(cli.cli, ["--instance", inst, "search", "文明", "--json"])
assert r.exit_code == 0, r.output
app = create_app({{"INSTANCE": inst, "TESTING": True}})
app.test_client().get("/login")
from archive.core.sqlite import sqlite3 as ours
print(json.dumps({{"stdlib_connections": opened, "ours": ours.__name__}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    if HAVE_PYSQLITE3:
        assert seen == {"stdlib_connections": [], "ours": "pysqlite3.dbapi2"}
    else:   # Python's own is the one library: every connection goes through it
        assert seen["ours"] == "sqlite3" and seen["stdlib_connections"]


def test_an_archive_written_here_is_read_by_python_s_own_sqlite(instance):
    """An archive carried to a machine without the wheel (or opened with the sqlite3 shell) is
    the same file format: Python's own SQLite finds it intact and its index searchable."""
    for i in range(30):
        add_item(instance.db, f"第{i}份新时代文明实践站台账" + ("志愿服务" if i % 2 else ""))
    expected = search(instance, "志愿服务")["total"]
    phrase = engine._term_phrase("志愿服务")
    instance.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    code = f"""
import json, sqlite3
c = sqlite3.connect("file:{instance.db_path}?mode=ro", uri=True)
ok = c.execute("PRAGMA integrity_check").fetchone()[0]
n = c.execute("SELECT count(*) FROM search_fts WHERE search_fts MATCH ?", [{phrase!r}]).fetchone()[0]
print(json.dumps({{"version": sqlite3.sqlite_version, "ok": ok, "n": n}}))
"""
    # -I -S: Python's own sqlite3, whatever this venv holds (no site-packages, no sitecustomize)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["ok"] == "ok" and seen["n"] == expected == 15
