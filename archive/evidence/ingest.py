"""The one ingest pipeline (CLI `add`/`import` and web upload):
check metadata → sniff by magic bytes → hash → dedup → validate and extract → store → record + index.

Every file either lands whole (store, item, codes, version, FTS row and audit row in one
transaction) or is refused with its reason; a refusal never stops the batch.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from archive.core.sqlite import sqlite3
from archive.core import audit
from archive import search
from archive.core.dates import parse_date
from archive.core.db import explain, insert, transaction, utcnow
from archive.core.errors import Refusal, UsageError, os_reason
from archive.core.progress import Progress
from archive.extract import sniff_kind
from archive.extract.workers import extract_file
from archive.extract.ocr import needs_ocr
from archive.core.store import sha256_file
from archive.evidence import photos
from archive.core.text import decode
from archive.maps.loading import NoMapSelected, code_labels, get_map, resolve_leaves
from . import records
from .requeue import requeue_if_decided



@dataclass
class IngestRequest:
    path: Path
    codes: list[str]
    material_type: str
    date: str | None = None
    unit: str | None = None
    title: str | None = None
    original_name: str | None = None   # the clerk's file name (web uploads arrive as temp files)
    display: str | None = None         # how reports name the file (CLI: the path as given)

    @property
    def label(self) -> str:
        return self.display or self.original_name or str(self.path)


@dataclass
class BatchResult:
    added: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_json(self) -> dict:
        return {"added": self.added, "duplicates": self.duplicates,
                "refused": [{"path": r["path"], "reason": r["reason"]} for r in self.refused]}


def ingest_files(instance, requests: Iterable[IngestRequest], user: str | None = None,
                 ip: str | None = None, progress: Progress | None = None,
                 only_unit: str | None = None) -> BatchResult:
    """Ingest a batch. `only_unit`: the uploader may change items of this unit only (a clerk);
    a duplicate of another unit's item is reported but not touched."""
    requests = list(requests)
    result = BatchResult()
    instance.store.remove_stray_temp_files()   # what a killed import left (its pid is gone)
    for n, req in enumerate(requests, start=1):
        try:
            outcome, row = ingest_one(instance, req, user=user, ip=ip, only_unit=only_unit)
        except Refusal as e:
            result.refused.append({"path": req.label, "reason": e.reason, "key": e.key})
        except OSError as e:   # unreadable, vanished, disk full: this file only, the batch goes on
            refusal = Refusal("cannot read file", f"无法读取或保存文件：{os_reason(e)}")
            result.refused.append({"path": req.label, "reason": refusal.reason, "key": refusal.key})
        except sqlite3.Error as e:
            problem = explain(e)
            if problem.key not in ("disk full", "database busy", "disk I/O error"):
                raise problem from e   # damaged or read-only: no later file can succeed either
            # the transaction was rolled back: this file is not recorded, the next may fit
            result.refused.append({"path": req.label, "reason": problem.reason, "key": problem.key})
        else:
            (result.added if outcome == "added" else result.duplicates).append(row)
        if progress:
            progress(n, len(requests), req.label)
    return result


def resolve_codes(imap, codes: list[str]) -> list[str]:
    """Lenient codes → the map's own leaf codes, in the order given, without repeats."""
    if not codes:
        raise Refusal("no code", "未指定指标代码")
    resolved: list[str] = []
    for raw in codes:
        node = imap.find(raw)
        if node is None:
            raise Refusal("unknown code", f"未知的指标代码「{raw}」")
        if not node.is_leaf:
            raise Refusal("code is not a leaf",
                          f"「{node.code} {node.name}」不是测评内容（末级指标），材料只能归入末级")
        if node.code not in resolved:
            resolved.append(node.code)
    return resolved


def check_material_type(imap, material_type: str) -> str:
    """The type, if every map in `imap` (one map or a list: the maps the item is filed in) knows it."""
    material_type = (material_type or "").strip()
    for m in (imap if isinstance(imap, (list, tuple)) else [imap]):
        if material_type not in m.material_types:
            raise Refusal("unknown material type",
                          f"未知的材料类型「{material_type}」，可选：{'、'.join(m.material_types)}")
    return material_type


def resolve_item_codes(instance, codes: list[str]) -> tuple[list[tuple[str, str]], list]:
    """A request's codes (bare or `map:code`) → [(map_id, leaf code)] and the maps they name.
    A bare code while several maps are active and none is selected refuses the file."""
    try:
        pairs = resolve_leaves(instance, codes)
    except NoMapSelected as e:
        raise Refusal(e.key, e.message_zh) from None
    maps = {}
    for map_id, _ in pairs:
        if map_id not in maps:
            maps[map_id] = get_map(instance, map_id)
    return pairs, list(maps.values())


def ingest_one(instance, req: IngestRequest, user: str | None = None,
               ip: str | None = None, only_unit: str | None = None) -> tuple[str, dict]:
    """Ingest one file. Returns ("added"|"duplicate", row) or raises Refusal.

    The file is judged before what was typed about it: an empty, corrupt or mislabelled file
    is refused for what it is, even when its type or codes were left blank as well."""
    path = Path(req.path)
    original_name = req.original_name or path.name
    if not path.is_file():
        raise Refusal("file not found", "找不到文件")
    kind, sha = sniff_and_hash(instance, path, original_name)
    existing = _find_by_sha(instance.db, sha)
    extraction = extract_file(path, kind, instance.limits) if existing is None else None   # a worker process in the web app

    codes, maps = resolve_item_codes(instance, req.codes)
    material_type = check_material_type(maps, req.material_type)
    given_date = parse_date(req.date)
    if existing is not None:
        row = _add_codes_to_duplicate(instance, existing, codes, req, user, ip, only_unit)
        records.save(instance, existing)
        return "duplicate", row

    size = store_checked(instance, path, sha)
    hashes = photos.hashes_or_none(path) if photos.is_photo(kind) else None   # reuse check; outside the lock
    meta = extraction.meta or {}
    wants_ocr = needs_ocr(kind, extraction.ocr_pages)
    if extraction.ocr_pages:
        meta["ocr_pages"] = extraction.ocr_pages
    if given_date is not None:
        item_date, date_source = given_date.isoformat(), "given"
    elif meta.get("exif_date"):
        item_date, date_source = meta["exif_date"], "exif"
    elif meta.get("media_date"):     # a video's creation time
        item_date, date_source = meta["media_date"], "media"
    else:
        item_date, date_source = None, None
    title = (req.title or "").strip() or Path(original_name).stem
    now = utcnow()
    db = instance.db
    # The catalogue record beside the stored file, written with it (rebuild if archive.db is lost).
    records.write_pending(instance, sha, {
        "kind": kind, "material_type": material_type, "title": title, "original_name": original_name,
        "unit": (req.unit or "").strip() or None, "date": item_date, "date_source": date_source,
        "size": size, "codes": [list(c) for c in codes], "review_state": "pending", "created_at": now,
        "created_by": user, "versions": []})
    with transaction(db):
        raced = _find_by_sha(db, sha)   # a concurrent upload of the same bytes won the race
        if raced is not None:
            dup_row = _add_codes(db, raced, codes, req, user, ip, now, only_unit)
        else:
            db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, ?, ?)",
                       [sha, size, kind, now])
            item_id = insert(db, "items", {
                "sha256": sha, "kind": kind, "material_type": material_type, "title": title,
                "original_name": original_name, "unit": (req.unit or "").strip() or None,
                "date": item_date, "date_source": date_source, "size": size,
                "text": extraction.text or "", "text_version": extraction.text_version,
                "meta": json.dumps(meta, ensure_ascii=False, default=str),
                "ocr_status": "pending" if wants_ocr else "none",
                "review_state": "pending", "created_at": now, "created_by": user, "updated_at": now,
            })
            for map_id, code in codes:
                insert(db, "item_codes", {"item_id": item_id, "map_id": map_id, "code": code,
                                          "added_at": now, "added_by": user})
            labels = code_labels(db, codes)
            insert(db, "versions", {"item_id": item_id, "sha256": sha, "original_name": original_name,
                                    "kind": kind, "size": size, "created_at": now, "created_by": user})
            search.index_item(db, item_id)
            if hashes is not None:
                photos.record_photo(db, sha, hashes=hashes)
            audit.log(db, user, "item.add", f"item:{item_id}",
                      {"path": req.label, "sha256": sha, "codes": labels, "type": material_type}, ip)
    if raced is not None:
        records.save(instance, raced)
        return "duplicate", dup_row
    records.save(instance, item_id)
    if hashes is not None:
        photos.link_photo(db, sha)   # near-duplicates: a read outside the write lock, then a short write
    return "added", {"id": item_id, "path": req.label, "sha256": sha, "codes": labels}


def sniff_and_hash(instance, path: Path, original_name: str) -> tuple[str, str]:
    """The cheap half of accepting a file: its kind by magic bytes, and its SHA-256 (for dedup)."""
    return sniff_kind(path, original_name, instance.limits), sha256_file(path)


def extract_and_store(instance, path: Path, kind: str, sha: str):
    """The costly half: validate + extract, then copy into the store. Returns (Extraction, size)."""
    extraction = extract_file(path, kind, instance.limits)   # a worker process in the web app
    return extraction, store_checked(instance, path, sha)


def store_checked(instance, path: Path, sha: str) -> int:
    """Copies the file into the store; refuses it if it changed since it was hashed. → size."""
    stored_sha, size = instance.store.put(path)
    if stored_sha != sha:  # the file changed under us between hashing and copying
        raise Refusal("file changed while reading", "读取过程中文件被修改，请重新上传")
    return size


def _find_by_sha(db, sha: str) -> int | None:
    row = db.execute("SELECT id FROM items WHERE sha256 = ?", [sha]).fetchone()
    if row is None:  # an older version of some item: still the same bytes, still a duplicate
        row = db.execute("SELECT item_id FROM versions WHERE sha256 = ? ORDER BY id DESC LIMIT 1",
                         [sha]).fetchone()
    return row[0] if row else None


def _add_codes_to_duplicate(instance, item_id, codes, req, user, ip, only_unit) -> dict:
    with transaction(instance.db):
        return _add_codes(instance.db, item_id, codes, req, user, ip, utcnow(), only_unit)


def _add_codes(db, item_id: int, codes: list[str], req, user, ip, now, only_unit=None) -> dict:
    """A byte-identical file: no second copy; codes not yet on the item are added."""
    owner = db.execute("SELECT unit FROM items WHERE id = ?", [item_id]).fetchone()[0]
    if only_unit is not None and owner != only_unit:
        audit.log(db, user, "item.duplicate", f"item:{item_id}",
                  {"path": req.label, "other_unit": owner, "unchanged": True}, ip)
        return {"path": req.label, "id": item_id,
                "note": f"该文件已由{owner or '其他单位'}上传，未作改动 (duplicate of another unit's item)"}
    have = set(db.execute("SELECT map_id, code FROM item_codes WHERE item_id = ?", [item_id]).fetchall())
    new_pairs = [c for c in codes if c not in have]
    for map_id, code in new_pairs:
        insert(db, "item_codes", {"item_id": item_id, "map_id": map_id, "code": code,
                                  "added_at": now, "added_by": user})
    new = code_labels(db, new_pairs)
    restored = db.execute("SELECT deleted_at FROM items WHERE id = ?", [item_id]).fetchone()[0] is not None
    if restored:  # the clerk brings back a file that had been deleted: restore it
        db.execute("UPDATE items SET deleted_at = NULL, deleted_by = NULL, updated_at = ? WHERE id = ?",
                   [now, item_id])
    if new or restored:
        db.execute("UPDATE items SET updated_at = ? WHERE id = ?", [now, item_id])
        search.index_item(db, item_id)
    if new:   # reviewed for other leaves than these: back to 待审核
        requeue_if_decided(db, item_id, ["codes"], user, ip)
    audit.log(db, user, "item.duplicate", f"item:{item_id}",
              {"path": req.label, "codes_added": new, "restored": restored}, ip)
    row = {"path": req.label, "id": item_id}
    if new:
        row["codes_added"] = new
    return row


# -- manifests ---------------------------------------------------------------------

MANIFEST_COLUMNS = ("path", "code", "type", "date", "unit", "title")
MANIFEST_FIELD_LIMIT = 1024 * 1024


def _outside_gb2312(text: str) -> tuple[int, str] | None:
    """(line, character) of the first character outside GB2312's common set (EUC-CN: both
    bytes 0xA1–0xFE), or None. Latin-1 text read as GB18030 turns `és` into 閟: two bytes
    that GB18030 accepts but no Chinese office program writes for ordinary text."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            if ord(ch) < 0x80:
                continue
            b = ch.encode("gb18030")
            if len(b) != 2 or not (0xA1 <= b[0] <= 0xF7 and 0xA1 <= b[1] <= 0xFE):
                return line_no, ch
    return None


ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8（带 BOM）", "gb18030": "GBK/GB18030"}


def decode_manifest(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding) of a manifest. With `encoding` given, exactly that (strict). Otherwise
    UTF-8 (BOM ok), else GBK/GB18030 as Chinese Excel saves CSV, but only when the text reads
    cleanly as such: a manifest in another encoding (Latin-1 résumé → r閟um閟) is refused
    rather than silently misread."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise UsageError("unknown encoding", f"未知的编码「{encoding}」（可用 utf-8、gbk、gb18030、latin-1 等）") from None
        except UnicodeDecodeError as e:
            raise UsageError("bad manifest encoding",
                             f"清单文件 {name} 按 {encoding} 无法解码（第 {e.start + 1} 字节）") from None
    decoded = decode(data)
    if decoded is None:
        raise UsageError("bad manifest encoding", "清单文件编码无法识别（应为 UTF-8 或 GBK）")
    text, used = decoded
    if used == "gb18030":
        odd = _outside_gb2312(text)
        if odd is not None:
            raise UsageError("manifest encoding uncertain",
                             f"清单文件 {name} 不是 UTF-8；按 GBK 读取时第 {odd[0]} 行出现不常用或乱码字符「{odd[1]}」，"
                             "可能是其他编码：请另存为 UTF-8，或用 --encoding 指明编码")
    return text, used


@dataclass
class Manifest:
    requests: list[IngestRequest]
    refused: list[dict]                 # rows refused before ingest (no path, outside the folder)
    encoding: str                       # the encoding the text was read in
    guessed: bool                       # True unless --encoding named it


def read_manifest(manifest: Path, allow_outside: bool = False, encoding: str | None = None) -> Manifest:
    """MANIFEST.csv → requests (paths relative to the CSV) and row-level refusals.

    Paths must stay inside the manifest's folder: a path leading out of it (`../x`, `/etc/x`)
    is refused unless `allow_outside`; a symlink whose target lies outside the folder is always
    refused (a link to /etc/shadow must not become a 工作台账)."""
    manifest = Path(manifest)
    try:
        data = manifest.read_bytes()
    except OSError as e:
        raise UsageError("cannot read manifest", f"无法读取清单文件 {manifest}: {e.strerror}") from e
    text, used = decode_manifest(data, manifest.name, encoding)
    # A title or path is never megabytes; past 1 MB per cell the file is not a manifest.
    # (The limit is process-wide in the csv module: set it for this read, then put it back.)
    previous = csv.field_size_limit(MANIFEST_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(text))
    try:
        requests, refused = _manifest_rows(manifest, reader, allow_outside)
    except csv.Error as e:
        raise UsageError("bad manifest", f"清单文件 {manifest.name} 第 {reader.line_num} 行无法解析：{e}") from e
    finally:
        csv.field_size_limit(previous)
    return Manifest(requests, refused, used, guessed=encoding is None)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_manifest_path(base: Path, rel: str, allow_outside: bool) -> Refusal | None:
    """Why the manifest's `rel` may not be read, or None. `base` is the manifest's folder."""
    folder = Path(os.path.realpath(base))
    lexical = Path(os.path.normpath(os.path.join(folder, rel)))   # `..` taken literally
    if not allow_outside and not _inside(lexical, folder):
        return Refusal("path outside manifest folder",
                       "路径在清单所在文件夹之外，未读取（确需读取请加 --allow-outside）")
    real = Path(os.path.realpath(lexical))
    if real != lexical and not _inside(real, folder):   # a symlink on the way leads out
        return Refusal("symlink leaves manifest folder", "符号链接指向清单所在文件夹之外，拒收")
    return None


def _manifest_rows(manifest: Path, reader: csv.DictReader,
                   allow_outside: bool = False) -> tuple[list[IngestRequest], list[dict]]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("path", "code", "type") if c not in header]
    if missing:
        raise UsageError("bad manifest header",
                         f"清单缺少列 {', '.join(missing)}（应为 {','.join(MANIFEST_COLUMNS)}）")
    reader.fieldnames = header
    base = manifest.parent
    requests, refused = [], []
    for line_no, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        rel = row.get("path", "")
        if not rel:
            refused.append({"path": f"{manifest.name}:{line_no}", "reason": "清单行缺少 path (missing path)",
                            "key": "missing path"})
            continue
        why = check_manifest_path(base, rel, allow_outside)
        if why is not None:
            refused.append({"path": rel, "reason": why.reason, "key": why.key})
            continue
        codes = [c.strip() for c in row.get("code", "").replace("；", ";").split(";") if c.strip()]
        requests.append(IngestRequest(
            path=base / rel, codes=codes, material_type=row.get("type", ""),
            date=row.get("date") or None, unit=row.get("unit") or None,
            title=row.get("title") or None, original_name=Path(rel).name, display=rel))
    return requests, refused
