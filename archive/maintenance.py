"""Keeping an archive healthy: `fsck` (DB ↔ files ↔ hashes ↔ index) and consistent online backups."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from archive.core.sqlite import sqlite3
from archive.core.db import explain
from archive.core.errors import RECOVER, NotFound, Refusal, UsageError, os_reason
from archive.core.progress import Progress
from archive.core.store import CHUNK, FileStore, sha256_file
from archive.maps.loading import code_labels, get_map



def fsck(instance, verify_hashes: bool = True, progress: Progress | None = None,
         repair: bool = False) -> dict:
    """Check the archive; returns {"problems": [...], "warnings": [...], "checked": {...},
    "repaired": [...]}.

    A damaged database is one problem (`db damaged`, with how to recover), never a traceback:
    the checks stop at the first page SQLite cannot read. A damaged or missing store file
    names the items that use it (id, title, codes). `repair`: remove what killed processes
    left behind (store temp files, `.part` exports, OCR page images) — never anything recorded."""
    problems: list[dict] = []
    warnings: list[dict] = []
    report = {"problems": problems, "warnings": warnings, "checked": {"files": 0, "items": 0}, "repaired": []}
    try:
        _fsck(instance, verify_hashes, progress, report)
    except sqlite3.DatabaseError as e:
        p = explain(e)
        problems.append({"key": p.key, "message": p.message_zh})
    leftovers = stray_leftovers(instance)
    for path in leftovers:
        warnings.append({"key": "stray temp file", "message": "中断的操作留下的临时文件（fsck --repair 删除）",
                         "path": str(path)})
    if repair:
        report["repaired"] = [str(p) for p in remove_leftovers(leftovers)]
    return report


def stray_leftovers(instance) -> list[Path]:
    """What killed imports, exports and OCR runs left behind (their writer is gone)."""
    from archive.extract.ocr import stale_ocr_dirs

    found = instance.store.stray_temp_files()
    if instance.exports_dir.is_dir():
        for folder in [instance.exports_dir, *(p for p in instance.exports_dir.iterdir() if p.is_dir())]:
            found += [p for p in folder.glob(".*.part") if _part_is_stale(p)]
    return found + stale_ocr_dirs()


def _part_is_stale(path: Path) -> bool:
    """`.NAME.PID-XXXX.part` of a dead export (package/build names them so)."""
    from archive.core.leftovers import is_stale

    m = re.fullmatch(r"\..+\.(\d+)-\w*\.part", path.name)
    if m:
        return is_stale(Path(f"{m.group(1)}-"), "")
    return is_stale(path, path.name)   # untagged (older): by age


def remove_leftovers(paths) -> list[Path]:
    from archive.core.leftovers import remove

    return remove(paths)


def items_of_file(db, sha: str) -> list[dict]:
    """The items whose current file or an older version is `sha`: {"id", "title", "codes"}."""
    rows = db.execute(
        "SELECT i.id, i.title, (SELECT group_concat(code, '、') FROM item_codes c WHERE c.item_id = i.id) "
        "FROM items i WHERE i.sha256 = ? OR i.id IN (SELECT item_id FROM versions WHERE sha256 = ?) "
        "ORDER BY i.id", [sha, sha]).fetchall()
    return [{"id": r[0], "title": r[1], "codes": r[2] or ""} for r in rows]


def _named(db, sha: str) -> dict:
    """Where-fields for a problem about a store file: its hash and the items using it."""
    items = items_of_file(db, sha)
    where: dict = {"sha256": sha}
    if items:
        where["items"] = "；".join(f"#{i['id']} {i['title']} [{i['codes']}]" for i in items)
    return where


def _fsck(instance, verify_hashes, progress, report) -> None:
    db, store = instance.db, instance.store
    problems, warnings = report["problems"], report["warnings"]

    def problem(key, message, **where):
        problems.append({"key": key, "message": message, **where})

    rows = db.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        detail = "；".join(r[0] for r in rows[:5]) + ("……" if len(rows) > 5 else "")
        problem("db integrity", f"数据库完整性检查失败：{detail}。{RECOVER}")

    files = db.execute("SELECT sha256, size FROM files ORDER BY sha256").fetchall()
    report["checked"]["files"] = len(files)
    known = set()
    for n, (sha, size) in enumerate(files, start=1):
        known.add(sha)
        path = store.path(sha)
        if not path.is_file():
            problem("missing file", "文件库中缺少该文件", **_named(db, sha))
        elif path.stat().st_size != size:
            problem("size mismatch", f"文件大小不符：记录 {size}，实际 {path.stat().st_size}", **_named(db, sha))
        elif verify_hashes and sha256_file(path) != sha:
            problem("hash mismatch", "文件内容与其 SHA-256 不符（文件已被改动或损坏）", **_named(db, sha))
        if progress:
            progress(n, len(files), sha[:12])
    report["checked"]["items"] = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    for table, col in (("items", "sha256"), ("versions", "sha256")):
        for (item_ref, sha) in db.execute(
                f"SELECT {'id' if table == 'items' else 'item_id'}, {col} FROM {table} "
                f"WHERE {col} NOT IN (SELECT sha256 FROM files)"):
            problem("unrecorded file", f"{table} 引用了未登记的文件", item=item_ref, sha256=sha)
    for (item_id,) in db.execute(
            "SELECT id FROM items WHERE id NOT IN (SELECT item_id FROM item_codes)"):
        problem("item without code", "材料没有任何指标代码", item=item_id)
    maps: dict = {}
    for map_id, code, count in db.execute(
            "SELECT map_id, code, COUNT(*) FROM item_codes c JOIN items i ON i.id = c.item_id "
            "WHERE i.deleted_at IS NULL GROUP BY map_id, code"):
        if map_id not in maps:
            try:
                maps[map_id] = get_map(instance, map_id)
            except NotFound:
                maps[map_id] = None
        imap = maps[map_id]
        if imap is None or imap.find(code) is None:
            label = code_labels(db, [(map_id, code)])[0]
            warnings.append({"key": "code not in map", "message": f"指标代码 {label} 不在当前指标体系中（{count} 件材料）",
                             "code": label})

    for sha in store.iter_all():
        if sha not in known:
            warnings.append({"key": "orphan file", "message": "文件库中有未登记的文件（可能是中断的入库留下的）",
                             "sha256": sha})

    from archive import search
    for p in search.check_index(db):
        problem(p.get("key", "index"), p.get("message", str(p)), **{k: v for k, v in p.items()
                                                                   if k not in ("key", "message")})
    warnings += search.index_advice(db)


def backup(instance, out: Path, progress: Progress | None = None) -> dict:
    """A consistent online copy: SQLite's backup API snapshots the DB, then the files it names
    are copied (stored files never change, so the snapshot and the copies agree).
    `out` becomes a complete instance: restore by pointing --instance at it (or copying it back).

    Every file is hashed while it is copied: one whose bytes no longer match its SHA-256 (bit rot)
    is not copied as if it were good; it is listed in `damaged` with the items that use it, like
    files missing from the store (`missing`); the caller exits 1. Every copy is fsynced before it
    counts. A backup that cannot be finished (disk full, read-only target) removes what it wrote
    and raises: no folder is left that looks like a backup without being one."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError("backup target not empty", f"备份目录 {out} 已存在且不为空")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError("cannot write backup", f"无法创建备份目录 {out}：{os_reason(e)}") from e
    try:
        return _backup(instance, out, progress)
    except (OSError, sqlite3.Error) as e:
        _discard(out, created)
        why = os_reason(e) if isinstance(e, OSError) else explain(e).message_zh
        failed = Refusal("backup failed", f"备份未完成：{why}；已删除未完成的备份内容 {out}")
        failed.exit_code = 1   # done but failed, not a usage error
        raise failed from e
    except BaseException:
        _discard(out, created)
        raise


def _discard(out: Path, created: bool) -> None:
    """Remove an unfinished backup: the whole folder if we made it, else only its contents."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir() if out.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _backup(instance, out: Path, progress) -> dict:
    tmp_db = out / "archive.db.partial"
    target = sqlite3.connect(str(tmp_db))
    try:
        instance.db.conn.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        files = target.execute("SELECT sha256, size FROM files ORDER BY sha256").fetchall()
    finally:
        target.close()
    _fsync(tmp_db)
    dest_store = FileStore(out / "files")
    copied_bytes, missing, damaged = 0, [], []
    for n, (sha, size) in enumerate(files, start=1):
        src = instance.store.path(sha)
        if not src.is_file():
            missing.append(sha)
            continue
        dest = dest_store.path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(sha + ".partial")
        if _copy_hashed(src, part) != sha:
            part.unlink()
            damaged.append({"sha256": sha, "items": items_of_file(instance.db, sha)})
            continue
        os.chmod(part, 0o444)
        os.replace(part, dest)
        copied_bytes += size
        record = instance.store.record_path(sha)
        if record.is_file():   # the catalogue record beside it (evidence rebuild)
            shutil.copyfile(record, dest_store.record_path(sha))
        if progress:
            progress(n, len(files), sha[:12])
    for sub in ("thumbs", "exports"):
        (out / sub).mkdir(exist_ok=True)
    secret = instance.root / "secret_key"
    if secret.exists():
        shutil.copy2(secret, out / "secret_key")
    os.replace(tmp_db, out / "archive.db")  # last: a backup without archive.db is visibly unfinished
    _fsync_tree_dirs(out)
    return {"path": str(out), "files": len(files) - len(missing) - len(damaged), "bytes": copied_bytes,
            "missing": missing, "damaged": damaged, "verified": True}


def _copy_hashed(src: Path, dest: Path) -> str:
    """Copy `src` to `dest` (fsynced), returning the SHA-256 of the bytes copied."""
    h = hashlib.sha256()
    with open(src, "rb") as f, open(dest, "wb") as out:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_tree_dirs(root: Path) -> None:
    for d in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
