"""The fault suite (issue 10): `import`, `export`, `ocr` and `reindex` killed with SIGKILL at a
random moment. After each: nothing committed is lost, the next run finishes the work, and no
leftovers remain after it or `fsck --repair`. (Disk full and damaged pages: test_faults.py.)"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.core.sqlite import sqlite3
from archive.extract.ocr import TMP_PREFIX, ocr_available
from tests import filefactory as ff
from tests.conftest import MINI_MAP, ROOT

SEED = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
rng = random.Random(SEED)


def cli(inst: Path, *args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", "--instance", str(inst), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, **kw)


def start(inst: Path, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli", "--instance", str(inst), *map(str, args)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def wait_for(condition, proc: subprocess.Popen, limit_s: float = 60) -> bool:
    """Poll until `condition()` holds; False if the process finished first."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the command never reached the moment to kill it"
        time.sleep(0.005)
    return True


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()


def count(inst: Path, sql: str) -> int:
    con = sqlite3.connect(f"file:{inst / 'archive.db'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:   # not created yet
        return 0
    finally:
        con.close()


def no_traceback(*results):
    for r in results:
        assert "Traceback" not in r.stderr, r.stderr


@pytest.fixture
def inst(tmp_path):
    r = cli(tmp_path / "inst", "init", "--map", MINI_MAP)
    assert r.returncode == 0, r.stderr
    return tmp_path / "inst"


@pytest.fixture
def env(tmp_path):
    """The subprocesses' own temp folder, so OCR leftovers are this test's alone."""
    t = tmp_path / "tmp"
    t.mkdir()
    return dict(os.environ, TMPDIR=str(t))


def batch(tmp_path, n=12) -> Path:
    d = tmp_path / "batch"
    d.mkdir()
    rows = ["path,code,type,date,unit,title"]
    for i in range(n):
        ff.make_pdf(d / f"f{i:02d}.pdf", [f"第{i}份 学习制度" * 20])
        rows.append(f"f{i:02d}.pdf,Ⅲ—1,规范文件,2026-01-0{1 + i % 9},市委宣传部,文件{i}")
    (d / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return d / "m.csv"


def items_and_files_agree(inst: Path) -> None:
    r = cli(inst, "fsck", "--json")
    no_traceback(r)
    report = json.loads(r.stdout)
    assert report["problems"] == [], report["problems"]


def test_killed_import(inst, tmp_path, env):
    manifest = batch(tmp_path, n=8)
    k = rng.randrange(0, 7)
    proc = start(inst, "import", manifest, env=env)
    wait_for(lambda: count(inst, "SELECT count(*) FROM items") >= k, proc)
    kill(proc)
    committed = count(inst, "SELECT count(*) FROM items")
    items_and_files_agree(inst)                      # whatever was committed is whole
    r = cli(inst, "import", manifest, "--json", env=env)
    no_traceback(r)
    assert r.returncode == 0, (SEED, r.stderr)
    out = json.loads(r.stdout)
    assert len(out["added"]) + len(out["duplicates"]) == 8 and len(out["duplicates"]) >= committed
    assert count(inst, "SELECT count(*) FROM items") == 8
    assert not list((inst / "files" / ".tmp").glob("*"))   # the next run removed a half-written file
    items_and_files_agree(inst)


def test_killed_export(inst, tmp_path, env):
    assert cli(inst, "import", batch(tmp_path, n=8)).returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    proc = start(inst, "export", out, "--evaluation-date", "2026-07-15", env=env)
    reached = wait_for(lambda: any(out.glob(".*.part")), proc)
    if reached:
        time.sleep(rng.uniform(0, 0.3))             # somewhere while the package is written
    kill(proc)
    finished = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert all(p.suffix == ".zip" for p in finished)  # a package is whole or absent, never half
    r = cli(inst, "export", out, "--evaluation-date", "2026-07-15", env=env)
    no_traceback(r)
    assert r.returncode == 0, (SEED, r.stderr)
    assert not list(out.glob(".*.part")), list(out.iterdir())
    zips = list(out.glob("*.zip"))
    assert len(zips) == 1
    v = cli(inst, "verify", zips[0])
    assert v.returncode == 0, v.stdout + v.stderr


def test_killed_reindex(inst, tmp_path, env):
    assert cli(inst, "import", batch(tmp_path, n=6)).returncode == 0
    proc = start(inst, "reindex", env=env)
    time.sleep(rng.uniform(0, 0.6))                 # reindex of 10 items takes well under a second
    kill(proc)
    r = cli(inst, "search", "学习制度", "--json")
    no_traceback(r)
    assert r.returncode == 0 and json.loads(r.stdout)["total"] == 6, (SEED, r.stderr)
    r = cli(inst, "reindex")
    assert r.returncode == 0, r.stderr
    items_and_files_agree(inst)


@pytest.mark.skipif(not ocr_available(), reason="no OCR engine installed")
def test_killed_ocr_leaves_no_child_and_no_page_images(inst, tmp_path, env):
    d = tmp_path / "scans"
    d.mkdir()
    pdf = ff.make_pdf(d / "扫描件.pdf", ["第一页有文字", "扫描页"], image_only_pages=[2])
    assert cli(inst, "add", pdf, "--code", "Ⅲ—1", "--type", "规范文件").returncode == 0
    tmp = Path(env["TMPDIR"])
    proc = start(inst, "ocr", env=env)
    started = wait_for(lambda: any(tmp.glob(f"{TMP_PREFIX}*")), proc, limit_s=120)
    children = _children(proc.pid) if started else []
    kill(proc)
    deadline = time.monotonic() + 10
    while any(_running(c) for c in children):        # PR_SET_PDEATHSIG: they die with the parent
        assert time.monotonic() < deadline, "OCR children outlived their parent"
        time.sleep(0.01)
    if started:
        r = cli(inst, "fsck", "--repair", env=env)
        no_traceback(r)
        assert "repaired:" in r.stderr or not any(tmp.glob(f"{TMP_PREFIX}*"))
        assert not any(tmp.glob(f"{TMP_PREFIX}*"))
    r = cli(inst, "ocr", env=env)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert count(inst, "SELECT count(*) FROM items WHERE ocr_status = 'pending'") == 0
    assert not any(tmp.glob(f"{TMP_PREFIX}*"))


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
