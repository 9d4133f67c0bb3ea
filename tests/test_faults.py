"""Faults an operator meets (issue 10, items 12–16): a damaged or lost database, a full disk,
a read-only instance, leftovers of killed processes, damaged store files. Each: one line, no
traceback, nothing committed lost, and a way to recover."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.core.sqlite import sqlite3
from archive.evidence.ingest import IngestRequest, ingest_files
from cli import cli
from tests import filefactory as ff
from tests.conftest import ROOT


def E(runner, instance, *args):
    from archive.core.instance import Instance

    root = instance.root if isinstance(instance, Instance) else instance
    return runner.invoke(cli, ["--instance", str(root), *args])


def add_docs(instance, tmp_path, n=3, prefix="文件"):
    reqs = [IngestRequest(ff.make_pdf(tmp_path / f"{prefix}{i}.pdf", [f"{prefix}第{i}份 学习制度"]), ["Ⅲ—1"], "规范文件",
                          date="2026-01-01", title=f"{prefix}{i}") for i in range(n)]
    result = ingest_files(instance, reqs, user="t")
    assert result.ok
    return [a["id"] for a in result.added]


def one_error_line(r, code):
    assert r.exit_code == code, (r.exit_code, r.output)
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误: "), r.stderr
    return lines[0]


def damage_table(db_path: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage, as a bad sector would."""
    con = sqlite3.connect(db_path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(db_path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * page_size)


# -- 12: a damaged database page ----------------------------------------------------------

@pytest.mark.parametrize("table", ["files", "items", "item_codes"])
def test_damaged_page_fsck_and_search_are_one_line_exit_1(runner, instance, tmp_path, table):
    add_docs(instance, tmp_path)
    instance.close()
    damage_table(instance.db_path, table)
    r = E(runner, instance, "fsck")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    problems = [line for line in r.stderr.splitlines() if line.startswith("problem:")]
    assert problems and all("evidence backup" in p and "rebuild" in p for p in problems), r.stderr
    assert all(line.startswith(("problem:", "warning:")) for line in r.stderr.splitlines())
    r = E(runner, instance, "search", "学习制度")
    if r.exit_code != 0:   # what a damaged page breaks depends on which page it is
        line = one_error_line(r, 1)
        assert "(database damaged)" in line and "rebuild" in line


# -- 13: archive.db emptied or lost -------------------------------------------------------

@pytest.mark.parametrize("how", ["truncate", "delete"])
def test_lost_database_is_damaged_not_new(runner, instance, tmp_path, how):
    add_docs(instance, tmp_path)
    instance.close()
    for suffix in ("-wal", "-shm"):
        Path(str(instance.db_path) + suffix).unlink(missing_ok=True)
    if how == "truncate":
        instance.db_path.write_bytes(b"")
    else:
        instance.db_path.unlink()
    for args in (["search", "学习制度"], ["fsck"], ["show", "1"]):
        line = one_error_line(E(runner, instance, *args), 1)
        assert "不是新档案" in line and "(database damaged)" in line and "rebuild" in line
    r = E(runner, instance, "init", "--map", str(ROOT / "tests/data/mini_map.yaml"))
    assert r.exit_code == 1 and "不是新档案" in r.stderr and "Traceback" not in r.output
    assert (instance.db_path.stat().st_size == 0) if how == "truncate" else not instance.db_path.exists()


# -- 14: a full disk, a read-only instance --------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 6 MB tmpfs (root only: mount needs it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` up to `leave` bytes free."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as f:
        f.truncate(0)
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_disk_full_refuses_files_and_tries_the_rest(runner, small_disk, tmp_path):
    from archive.core.instance import Instance
    from archive.maps.loading import load_map_into

    inst = Instance(small_disk / "inst")
    inst.create()
    load_map_into(inst, ROOT / "tests/data/mini_map.yaml", user="t")
    kept = add_docs(inst, tmp_path, n=2, prefix="先前")
    inst.close()
    big = [ff.make_pdf(tmp_path / f"大{i}.pdf", [f"第{i}份 " + "学习制度内容" * 400] * 30) for i in range(4)]
    filler = fill(small_disk, 150_000)
    r = E(runner, small_disk / "inst", "add", *map(str, big), "--code", "Ⅲ—1", "--type", "规范文件", "--json")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    out = json.loads(r.stdout)
    assert len(out["added"]) + len(out["refused"]) == 4 and out["refused"]       # every file was tried
    assert all("磁盘已满" in x["reason"] for x in out["refused"]), out["refused"]
    refused_lines = [line for line in r.stderr.splitlines() if line.startswith("refused:")]
    assert len(refused_lines) == len(out["refused"])
    filler.unlink()
    r = E(runner, small_disk / "inst", "search", "学习制度", "--json")
    ids = {h["id"] for h in json.loads(r.stdout)["hits"]}
    assert set(kept) <= ids                                                      # nothing committed lost
    r = E(runner, small_disk / "inst", "add", *map(str, big), "--code", "Ⅲ—1", "--type", "规范文件")
    assert r.exit_code == 0, r.output                                           # space again: all in
    assert E(runner, small_disk / "inst", "fsck").exit_code == 0


def test_backup_on_a_full_disk_leaves_no_half_backup(runner, instance, tmp_path, small_disk):
    add_docs(instance, tmp_path, n=3)
    for i in range(4):   # ~1 MB of distinct files, more than is left on the disk
        ingest_files(instance, [IngestRequest(ff.make_pdf(tmp_path / f"b{i}.pdf", [f"第{i}" + "备份" * 3000] * 8),
                                              ["Ⅲ—1"], "规范文件")], user="t")
    fill(small_disk, 200_000)
    r = E(runner, instance, "backup", str(small_disk / "bk"))
    line = one_error_line(r, 1)
    assert "备份未完成" in line and "磁盘已满" in line and "(backup failed)" in line
    assert not (small_disk / "bk").exists()


def test_read_only_instance_is_one_line(runner, instance, tmp_path, small_disk):
    add_docs(instance, tmp_path)
    instance.close()
    shutil.copytree(instance.root, small_disk / "inst")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    doc = ff.make_pdf(tmp_path / "新.pdf", ["新文件"])
    for args in (["add", str(doc), "--code", "Ⅲ—1", "--type", "规范文件"], ["import", str(tmp_path / "m.csv")],
                 ["export", str(tmp_path / "out"), "--evaluation-date", "2026-07-15"], ["reindex"], ["fsck"],
                 ["search", "学习"]):
        (tmp_path / "m.csv").write_text("path,code,type\n新.pdf,Ⅲ—1,规范文件\n", encoding="utf-8")
        r = E(runner, small_disk / "inst", *args)
        line = one_error_line(r, 2)
        assert "只读" in line and "fts corrupt" not in line, line


# -- 15: leftovers of killed processes -----------------------------------------------------

def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_fsck_repair_and_the_next_run_remove_leftovers(runner, instance, tmp_path):
    from archive.extract.ocr import TMP_PREFIX
    import tempfile

    add_docs(instance, tmp_path, n=1)
    pid = dead_pid()
    instance.store.tmp.mkdir(parents=True, exist_ok=True)
    stray = instance.store.tmp / f"put-{pid}-abc123"
    stray.write_bytes(b"half a file")
    live = instance.store.tmp / f"put-{os.getpid()}-live01"      # a live writer's: kept
    live.write_bytes(b"being written")
    part = instance.exports_dir / f".pkg.zip.{pid}-xyz.part"
    part.write_bytes(b"PK half")
    ocr_dir = Path(tempfile.gettempdir()) / f"{TMP_PREFIX}{pid}-q1w2e3"
    ocr_dir.mkdir()
    (ocr_dir / "p1.png").write_bytes(b"png")
    r = E(runner, instance, "fsck")
    assert r.exit_code == 0 and r.stderr.count("(stray temp file)") == 3, r.stderr
    assert stray.exists() and part.exists() and ocr_dir.exists()
    r = E(runner, instance, "fsck", "--repair")
    assert r.exit_code == 0 and r.stderr.count("repaired: ") == 3 and "(stray temp file)" not in r.stderr
    assert not stray.exists() and not part.exists() and not ocr_dir.exists() and live.exists()
    live.unlink()
    # the next import removes a killed import's temp file by itself
    stray.write_bytes(b"again")
    add_docs(instance, tmp_path, n=1, prefix="再")
    assert not stray.exists()


def test_next_export_removes_a_killed_exports_part(runner, instance, tmp_path):
    add_docs(instance, tmp_path, n=1)
    out = tmp_path / "out"
    out.mkdir()
    name = "mini-test_网上申报_2026-07-15.zip"
    part = out / f".{name}.{dead_pid()}-k9k9k9.part"
    part.write_bytes(b"PK" + b"\0" * 1000)
    r = E(runner, instance, "export", str(out), "--evaluation-date", "2026-07-15")
    assert r.exit_code == 0, r.output
    assert (out / name).is_file() and not part.exists()


def test_ocr_child_dies_with_its_parent(tmp_path):
    """A killed OCR run leaves no tesseract behind (PR_SET_PDEATHSIG)."""
    marker = tmp_path / "child.pid"
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from archive.extract import ocr\n"
            "ocr._run(['sh', '-c', 'echo $$ > %s; exec sleep 60'])\n") % (str(ROOT), marker)
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()):
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.02)
    child = int(marker.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and "Z" not in _state(child):
        assert time.monotonic() < deadline, "the OCR child outlived its parent"
        time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


# -- 16: damaged store files named by their items; backup verifies ------------------------

def flip_a_bit(instance, sha):
    path = instance.store.path(sha)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_fsck_names_the_items_of_a_damaged_file(runner, instance, tmp_path):
    ids = add_docs(instance, tmp_path, n=2)
    sha = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [ids[1]]).fetchone()[0]
    flip_a_bit(instance, sha)
    r = E(runner, instance, "fsck")
    assert r.exit_code == 1
    line = [x for x in r.stderr.splitlines() if "(hash mismatch)" in x]
    assert line == [f"problem: sha256={sha} items=#{ids[1]} 文件1 [Ⅲ—1]: 文件内容与其 SHA-256 不符（文件已被改动或损坏） (hash mismatch)"]


def test_backup_verifies_hashes_and_does_not_copy_a_damaged_file(runner, instance, tmp_path):
    ids = add_docs(instance, tmp_path, n=2)
    sha = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [ids[0]]).fetchone()[0]
    flip_a_bit(instance, sha)
    r = E(runner, instance, "backup", str(tmp_path / "bk"))
    assert r.exit_code == 1
    assert f"damaged: {sha} #{ids[0]} 文件0 [Ⅲ—1]: 文件内容与其 SHA-256 不符" in r.stderr
    assert "逐个核对了 SHA-256" in r.stdout
    assert not (tmp_path / "bk" / "files" / sha[:2] / sha[2:4] / sha).exists()
    assert (tmp_path / "bk" / "archive.db").is_file()


# -- 13: rebuilding the catalogue from files/ without a backup ----------------------------

def test_rebuild_from_the_records_beside_the_files(runner, instance, tmp_path):
    from archive.evidence import items, records
    from archive.evidence.review import review_item

    ids = add_docs(instance, tmp_path, n=3)
    items.set_codes(instance, ids[0], ["Ⅲ—1", "Ⅲ—2"], user="t")
    items.update_metadata(instance, ids[1], title="改过的标题", date="2025-12-31", user="t")
    review_item(instance, ids[1], "approved", "齐全", "审核员甲")
    items.replace_file(instance, ids[2], ff.make_pdf(tmp_path / "新版.pdf", ["新版本 学习制度"]), user="t")
    items.soft_delete(instance, ids[0], user="t")
    # a file stored whose item never committed (killed between the store write and the commit)
    lone = ff.make_pdf(tmp_path / "孤.pdf", ["孤立的文件"])
    sha, _ = instance.store.put(lone)
    records.write_pending(instance, sha, {"kind": "pdf", "material_type": "规范文件", "title": "孤",
                                          "original_name": "孤.pdf", "codes": ["Ⅲ—3"], "versions": []})
    before = {i: items.item_detail(instance, i, history=False) for i in ids}
    instance.close()
    instance.db_path.write_bytes(b"")
    assert E(runner, instance, "search", "学习").exit_code == 1

    r = E(runner, instance, "rebuild", "--map", str(ROOT / "tests/data/mini_map.yaml"))
    assert r.exit_code == 0, r.output
    assert "原数据库已改名保留" in r.stderr and "evidence user add" in r.stdout
    assert list(instance.root.glob("archive.db.damaged-*"))
    for i in ids:
        after = items.item_detail(instance, i, history=False)
        for key in ("title", "codes", "type", "unit", "date", "review_state", "sha256", "original_name", "deleted"):
            assert after[key] == before[i][key], (i, key)
        assert [v["sha256"] for v in after["versions"]] == [v["sha256"] for v in before[i]["versions"]]
    assert items.item_detail(instance, ids[1], history=False)["reviews"][0]["reviewer"] == "审核员甲"
    lone_id = instance.db.execute("SELECT id FROM items WHERE sha256 = ?", [sha]).fetchone()[0]
    assert lone_id > max(ids)
    hits = json.loads(E(runner, instance, "search", "新版本", "--json").stdout)
    assert [h["id"] for h in hits["hits"]] == [ids[2]]
    r = E(runner, instance, "fsck")
    assert r.exit_code == 0, r.output
    # a healthy archive is not rebuilt
    r = E(runner, instance, "rebuild", "--map", str(ROOT / "tests/data/mini_map.yaml"))
    assert r.exit_code == 2 and "(database healthy)" in r.stderr
