"""Schema migrations: applied once, also when several processes open the archive at once."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from archive.core import db as dbmod
from archive.core.instance import Instance

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_applied_once_and_idempotent(tmp_path):
    inst = Instance(tmp_path / "i")
    applied = inst.create()
    assert applied == [name for _, name, _ in dbmod.MIGRATIONS]
    assert inst.create() == []
    versions = [r[0] for r in inst.db.execute("SELECT version FROM migrations ORDER BY version")]
    assert versions == [v for v, _, _ in dbmod.MIGRATIONS]
    inst.close()


def test_concurrent_opens_apply_a_pending_migration_once(tmp_path):
    """After an upgrade, `serve` and a CLI command may open the archive at the same moment."""
    inst = Instance(tmp_path / "i")
    inst.create()
    # Pretend the newest migration is pending: undo its record (and its effects where possible).
    last = dbmod.MIGRATIONS[-1][0]
    inst.db.execute("DELETE FROM migrations WHERE version = ?", [last])
    inst.close()
    # Replaying a migration on top of its own effects would fail; the in-transaction re-check
    # must make exactly one process replay it... so give the replay something harmless to do.
    # All start at the same moment; the replay holds the write lock for a while, so the others
    # have read "pending" before it commits and must re-check inside their own transaction.
    start_at = time.time() + 3
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from archive.core import db as dbmod
real_run_script = dbmod.run_script
def slow_run_script(db, sql):
    real_run_script(db, sql)
    time.sleep(1.0)
dbmod.run_script = slow_run_script
version, name, _ = dbmod.MIGRATIONS[-1]
dbmod.MIGRATIONS[-1] = (version, name, "CREATE TABLE replay_marker (x)")  # a second replay would fail
from archive.core.instance import Instance
time.sleep(max(0, {start_at} - time.time()))
Instance.open({str(tmp_path / 'i')!r}).close()
"""
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    inst = Instance.open(tmp_path / "i")
    assert inst.db.execute("SELECT COUNT(*) FROM migrations WHERE version = ?", [last]).fetchone()[0] == 1
    inst.close()


def test_the_cli_starts_without_numpy_and_numpy_still_imports():
    """sqlite_utils would load numpy (~0.1 s of every command's start) for helpers we never call."""
    code = ("import sys, cli; assert 'numpy' not in sys.modules, 'numpy loaded'; "
            "import numpy, sqlite_utils.db as d; assert d.np is None; print(numpy.__name__)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "numpy", r.stderr
