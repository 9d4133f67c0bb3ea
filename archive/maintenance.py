"""Keeping an archive healthy: `fsck` (DB ↔ files ↔ hashes ↔ index) and consistent online backups."""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from archive.core.errors import NotFound, UsageError
from archive.core.progress import Progress
from archive.core.store import FileStore, sha256_file
from archive.maps.loading import code_labels, get_map



def fsck(instance, verify_hashes: bool = True, progress: Progress | None = None) -> dict:
    """Check the archive; returns {"problems": [...], "warnings": [...], "checked": {...}}."""
    db, store = instance.db, instance.store
    problems: list[dict] = []
    warnings: list[dict] = []

    def problem(key, message, **where):
        problems.append({"key": key, "message": message, **where})

    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problem("db integrity", f"数据库完整性检查失败：{integrity}")

    files = db.execute("SELECT sha256, size FROM files ORDER BY sha256").fetchall()
    known = set()
    for n, (sha, size) in enumerate(files, start=1):
        known.add(sha)
        path = store.path(sha)
        if not path.is_file():
            problem("missing file", "文件库中缺少该文件", sha256=sha)
        elif path.stat().st_size != size:
            problem("size mismatch", f"文件大小不符：记录 {size}，实际 {path.stat().st_size}", sha256=sha)
        elif verify_hashes and sha256_file(path) != sha:
            problem("hash mismatch", "文件内容与其 SHA-256 不符（文件已被改动或损坏）", sha256=sha)
        if progress:
            progress(n, len(files), sha[:12])

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
    for tmp in store.stray_temp_files():
        warnings.append({"key": "stray temp file", "message": "中断的写入留下的临时文件", "path": str(tmp)})

    from archive import search
    for p in search.check_index(db):
        problem(p.get("key", "index"), p.get("message", str(p)), **{k: v for k, v in p.items()
                                                                   if k not in ("key", "message")})
    return {"problems": problems, "warnings": warnings,
            "checked": {"files": len(files),
                        "items": db.execute("SELECT COUNT(*) FROM items").fetchone()[0]}}


def backup(instance, out: Path, progress: Progress | None = None) -> dict:
    """A consistent online copy: SQLite's backup API snapshots the DB, then the files it names
    are copied (stored files never change, so the snapshot and the copies agree).
    `out` becomes a complete instance: restore by pointing --instance at it (or copying it back).
    A damaged archive is still backed up: files missing from the store are listed in `missing`
    (the caller exits 1), everything else is copied. Every copy is fsynced before it counts."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError("backup target not empty", f"备份目录 {out} 已存在且不为空")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError("cannot write backup", f"无法创建备份目录 {out}：{e.strerror}") from e
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
    copied_bytes, missing = 0, []
    for n, (sha, size) in enumerate(files, start=1):
        src = instance.store.path(sha)
        if not src.is_file():
            missing.append(sha)
            continue
        dest = dest_store.path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(sha + ".partial")
        shutil.copyfile(src, part)
        _fsync(part)
        os.chmod(part, 0o444)
        os.replace(part, dest)
        copied_bytes += size
        if progress:
            progress(n, len(files), sha[:12])
    for sub in ("thumbs", "exports"):
        (out / sub).mkdir(exist_ok=True)
    secret = instance.root / "secret_key"
    if secret.exists():
        shutil.copy2(secret, out / "secret_key")
    os.replace(tmp_db, out / "archive.db")  # last: a backup without archive.db is visibly unfinished
    _fsync_tree_dirs(out)
    return {"path": str(out), "files": len(files) - len(missing), "bytes": copied_bytes, "missing": missing}


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
