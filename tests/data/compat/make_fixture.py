"""Build tests/data/compat/: an archive as the code at commit 0ca529c (before several maps,
editions and cycles) writes it, and the bytes of the package that code exported from it.

    git worktree add --detach /tmp/old 0ca529c
    cd /tmp/old && /path/to/.venv/bin/python /path/to/tests/data/compat/make_fixture.py OUTDIR

tests/test_compat.py upgrades a copy of OUTDIR/instance with today's code and checks that the
package it exports is byte-identical (OUTDIR/expected.json holds the old export's SHA-256).
"""
import hashlib
import importlib
import json
import shutil
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))          # the old code (the worktree we run in)
from click.testing import CliRunner           # noqa: E402

from cli import cli                           # noqa: E402
from tests import filefactory as ff           # noqa: E402

try:
    from archive.core.sqlite import sqlite3      # noqa: E402
except ImportError:   # the old code this runs predates the shim and used Python's own SQLite
    sqlite3 = importlib.import_module("sqlite3")

out = Path(sys.argv[1]).resolve()
shutil.rmtree(out / "instance", ignore_errors=True)
work = out / "_work"
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
inst = out / "instance"
r = CliRunner()


def run(*args):
    res = r.invoke(cli, ["--instance", str(inst), *args])
    assert res.exit_code in (0, 1), (args, res.output)
    return res


run("init", "--map", str(Path.cwd() / "indicator_map.yaml"))
files = {
    "学习制度.pdf": ff.make_pdf(work / "学习制度.pdf", ["中心组学习制度 2026年3月印发"]),
    "宣讲情况.docx": ff.make_docx(work / "宣讲情况.docx", ["宣讲队伍深入社区开展宣讲 36 场"]),
    "台账.xlsx": ff.make_xlsx(work / "台账.xlsx", [["日期", "活动"], ["2026-02-01", "宣讲"]]),
    "宣讲现场.jpg": ff.make_jpeg(work / "宣讲现场.jpg", exif_date=datetime(2026, 4, 2, 9, 30)),
    "旧照片.jpg": ff.make_jpeg(work / "旧照片.jpg", size=(320, 240), exif_date=datetime(2024, 1, 5, 10, 0)),
    "实践站制度.pdf": ff.make_pdf(work / "实践站制度.pdf", ["新时代文明实践站管理制度"]),
}
run("add", str(files["学习制度.pdf"]), "--code", "Ⅲ-1", "--code", "III-4", "--type", "规范文件",
    "--date", "2026-03-05", "--unit", "市委宣传部")
run("add", str(files["宣讲情况.docx"]), "--code", "Ⅲ—2", "--type", "情况说明", "--date", "2026-01-10",
    "--unit", "市文明办", "--title", "宣讲工作情况说明")
run("add", str(files["台账.xlsx"]), "--code", "Ⅲ—2", "--code", "Ⅲ—6", "--type", "工作台账", "--date", "2026-02-01")
run("add", str(files["宣讲现场.jpg"]), "--code", "Ⅲ—2", "--type", "实景图片")
run("add", str(files["旧照片.jpg"]), "--code", "Ⅲ—6", "--type", "实景图片")
run("add", str(files["实践站制度.pdf"]), "--code", "Ⅲ—6", "--type", "规范文件", "--date", "2025-11-20",
    "--unit", "草场街街道")
run("review", "1", "--approve", "--by", "审核员甲")
run("review", "2", "--reject", "--comment", "缺少落款日期", "--by", "审核员甲")
run("review", "2", "--approve", "--comment", "已补正", "--by", "审核员乙")
run("review", "6", "--reject", "--comment", "不是本年度制度", "--by", "审核员甲")

exports = {}
for name, args in (("default", []), ("approved", ["--approved-only"]),
                   ("all", ["--include-out-of-window"])):
    target = work / f"{name}.zip"
    run("export", str(target), "--evaluation-date", "2026-07-15", *args)
    exports[name] = hashlib.sha256(target.read_bytes()).hexdigest()
cov = json.loads(run("coverage", "--evaluation-date", "2026-07-15", "--json").output)

db = sqlite3.connect(inst / "archive.db")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
for extra in ("archive.db-wal", "archive.db-shm", "secret_key"):
    (inst / extra).unlink(missing_ok=True)
shutil.rmtree(inst / "thumbs", ignore_errors=True)
shutil.rmtree(inst / "exports", ignore_errors=True)
(out / "expected.json").write_text(json.dumps(
    {"commit": "0ca529c", "evaluation_date": "2026-07-15", "exports_sha256": exports,
     "coverage_summary": cov["summary"]}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
shutil.rmtree(work)
print("written", out)
