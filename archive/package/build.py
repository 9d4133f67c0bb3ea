"""Declaration packages (CONTRACT.md "The declaration package"): build, verify, diff.

    export_package(instance, out, evaluation_date, fmt="zip", approved_only=False,
                   include_out_of_window=False, strict=False, progress=None,
                   user=None, ip=None) -> report
    verify_package(path) -> [problem, ...]          (verify.py)
    diff_packages(old, new) -> {added, removed, replaced, moved, ...}   (verify.py)
(import all three from `archive.package`.)

Layout: `{root}/` holds 00_目录.xlsx, 00_材料审核记录表.xlsx, manifest.json, SHA256SUMS and one
folder per map node, nested as the map nests; every included item is copied into the folder
of each leaf it is mapped to, named by the map's `export.file` template (names: see
names.py). Empty leaf folders are kept (zip: explicit directory entries).

Where it goes: zip → OUT is the .zip file (an existing directory gets `{root}.zip` inside);
dir → `OUT/{root}/` (what unzipping the zip into OUT gives); bagit → OUT is the bag, the
package is its payload `data/{root}/`. Everything is built under a temporary name beside the
target and renamed at the end: a failed or cancelled export leaves nothing half-written.
An existing zip is replaced; an existing dir package or bag is refused.

Reproducible: one DB snapshot; entries in map order with fixed times (the evaluation date);
xlsx with stable bytes; no clock in the manifest. Same state + options → same zip bytes.
Streaming: store files are copied in 1 MiB chunks (and re-hashed on the way, so a damaged
store file fails the export instead of entering the package). Memory is flat in the number of
files too (~0.2 MB per 1,000, bench/export.py --items): items stream from the DB
(iter_items), the per-file plan lives in a temporary SQLite database (PlanFiles), the 目录,
manifest.json and SHA256SUMS are written row by row from it to temporary files, and the zip's
central directory waits in a temporary file until the end (zipio.ZipWriter).

Web hook (issue 6): run `export_package` in a worker thread with its own
`Instance.open(root)` (SQLite connections stay in their thread) and pass
`progress(done, total, message)`: `done`/`total` count files written (evidence files plus
the four package files), `message` is the path just written (a first call with done=0 says
正在生成目录、审核记录表和清单 while the spreadsheets are built). The callback is called from the worker thread; raising from it (e.g.
`ExportCancelled`) aborts the build and removes the temporary output. Strict refusal raises
`PackageRefused` with `.report` (gaps listed); nothing is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

from archive.core.sqlite import sqlite3
from archive.core import audit, leftovers
from archive.readiness.coverage import as_date, compute, in_window, map_material_types, resolve_leaf, \
    snapshot, type_windows
from archive.core.db import transaction
from archive.core.errors import Refusal, UsageError
from archive.core.progress import Progress
from .names import DEFAULT_TEMPLATES, MAX_FOLDER, MAX_PATH, Folder, clean_text, file_name, \
    folder_name, safe_name
from .xlsx import review_sheet_bytes, write_catalogue
from archive.core.output import cannot_write, make_dirs, os_reason
from archive.core.store import CHUNK
from archive.extract import registry
from archive.maps.loading import current_map
from .zipio import ZipWriter
from .layout import CATALOGUE, FORMATS, MANIFEST, MANIFEST_FORMAT, PACKAGE_FILES, REVIEW_SHEET, SUMS

# Already compressed: deflating them costs time and gains nothing (measured in bench/export.py).
DEFLATE_EXT = {".csv", ".txt", ".json", ".xml", ".doc", ".xls", ""}
KIND_EXT = registry.package_extensions()   # each parser declares its kind's extension
FILE_DIR_BUDGET = 60   # characters kept free below the deepest folder for file names



class PackageRefused(Refusal):
    """`--strict` and a leaf lacks a required type: nothing written; `.report` lists the gaps."""

    def __init__(self, report: dict):
        codes = "、".join(g["code"] for g in report["gaps"])
        super().__init__("package has gaps", f"材料不全，未生成材料包：{len(report['gaps'])} 项缺少必备材料（{codes}）")
        self.report = report


class ExportCancelled(Exception):
    """Raise from a progress callback to stop a build; the temporary output is removed."""


# --------------------------------------------------------------------------- planning
def _reason(key: str, zh: str) -> str:
    return f"{zh} ({key})"


def _ext(item: dict) -> str:
    name = item["original_name"] or ""
    i = name.rfind(".")
    if i > 0 and len(name) - i <= 8:
        return clean_text(name[i:].lower())
    return KIND_EXT.get(item["kind"], "")


def _height(node) -> int:
    return 1 if not node.children else 1 + max(_height(c) for c in node.children)


def iter_items(db, map_id: str | None = None):
    """Every item, one dict at a time, in id order: the rows and dict shape of
    coverage.load_items without holding them all (three cursors merged by item id;
    call inside a snapshot). `map_id`: as in coverage.load_items."""
    cols = ["id", "sha256", "kind", "material_type", "title", "original_name", "unit", "date",
            "date_source", "size", "review_state", "deleted_at"]
    if map_id is None:
        items = db.execute(f"SELECT {', '.join(cols)} FROM items ORDER BY id")
        codes = db.execute("SELECT item_id, code FROM item_codes ORDER BY item_id, rowid")
    else:
        items = db.execute(f"SELECT {', '.join(cols)} FROM items WHERE id IN "
                           "(SELECT item_id FROM item_codes WHERE map_id = ?) "
                           "OR id NOT IN (SELECT item_id FROM item_codes) ORDER BY id", [map_id])
        codes = db.execute("SELECT item_id, code FROM item_codes WHERE map_id = ? ORDER BY item_id, rowid",
                           [map_id])
    reviews = db.execute("SELECT item_id, reviewer, comment FROM reviews r WHERE id = "
                         "(SELECT MAX(id) FROM reviews WHERE item_id = r.item_id AND "
                         "cycle_id IS (SELECT id FROM cycles WHERE state = 'current')) ORDER BY item_id")
    code = next(codes, None)
    review = next(reviews, None)
    for row in items:
        it = dict(zip(cols, row), codes=[], reviewer=None, comment=None)
        item_id = row[0]
        while code is not None and code[0] <= item_id:
            if code[0] == item_id:
                it["codes"].append(code[1])
            code = next(codes, None)
        while review is not None and review[0] <= item_id:
            if review[0] == item_id:
                it["reviewer"], it["comment"] = review[1], review[2]
            review = next(reviews, None)
        yield it


PLAN_COLUMNS = ("path", "item_id", "leaf", "leaf_name", "codes", "type", "title", "unit", "date",
                "review_state", "original_name", "sha256", "size", "in_window")


class PlanFiles:
    """The package's evidence files in package order, kept in a private temporary SQLite
    database (on disk once past a few MB), not in memory: iterating yields one dict per file
    (keys PLAN_COLUMNS, `codes` a tuple, `in_window` a bool), any number of times.
    Memory stays flat in the number of files (bench/export.py --items)."""

    def __init__(self):
        self.db = sqlite3.connect("", check_same_thread=False)   # "" = temporary, removed on close
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -4096")
        self.db.execute(f"CREATE TABLE staged (leaf TEXT, type_order INTEGER, date_key TEXT, "
                        f"{', '.join(_STAGED_KEYS)})")
        self.db.execute(f"CREATE TABLE files (n INTEGER PRIMARY KEY, folder INTEGER, "
                        f"{', '.join(PLAN_COLUMNS)})")
        self.count = 0
        self._decoded: dict[str, tuple] = {}
        self._encoded: dict[tuple, str] = {}

    # staging: included items per leaf, read back in folder order
    def stage(self, leaf: str, type_order: int, it: dict) -> None:
        self.db.execute(f"INSERT INTO staged VALUES (?, ?, ?, {', '.join('?' * len(_STAGED_KEYS))})",
                        (leaf, type_order, it["date"] or "9999-99-99",
                         *(self._codes_text(it[k]) if k == "codes" else it[k] for k in _STAGED_KEYS)))

    def on_leaf(self, leaf: str):
        """The leaf's items sorted by (type order, type, date, id) — the same order as a
        Python sort on those keys: SQLite compares TEXT as UTF-8 bytes, i.e. by code point."""
        if not getattr(self, "_indexed", False):
            self.db.execute("CREATE INDEX staged_leaf ON staged (leaf, type_order, material_type, date_key, id)")
            self._indexed = True
        for row in self.db.execute(f"SELECT {', '.join(_STAGED_KEYS)} FROM staged WHERE leaf = ? "
                                   "ORDER BY type_order, material_type, date_key, id", (leaf,)):
            it = dict(zip(_STAGED_KEYS, row))
            it["codes"] = self._codes(it["codes"])
            yield it

    # codes as JSON text; the few distinct lists are decoded once (read-only tuples)
    def _codes_text(self, codes) -> str:
        key = tuple(codes)
        text = self._encoded.get(key)
        if text is None:
            if len(self._encoded) > 10_000:
                self._encoded.clear()
            text = self._encoded[key] = json.dumps(list(codes), ensure_ascii=False)
        return text

    def _codes(self, text: str) -> tuple:
        codes = self._decoded.get(text)
        if codes is None:
            if len(self._decoded) > 10_000:
                self._decoded.clear()
            codes = self._decoded[text] = tuple(json.loads(text))
        return codes

    def add(self, folder: int, f: dict) -> None:
        self.db.execute(f"INSERT INTO files VALUES (NULL, ?, {', '.join('?' * len(PLAN_COLUMNS))})",
                        (folder, *(self._codes_text(f[k]) if k == "codes" else f[k] for k in PLAN_COLUMNS)))
        self.count += 1

    def done(self) -> None:
        self.db.execute("DROP TABLE staged")
        self.db.commit()

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return (f for _, f in self.with_folders())

    def with_folders(self):
        """(folder index in plan["folders"], file) in package order."""
        cols = ("folder",) + PLAN_COLUMNS
        codes = self._codes
        for row in self.db.execute(f"SELECT {', '.join(cols)} FROM files ORDER BY n"):
            f = dict(zip(cols, row))
            f["codes"] = codes(f["codes"])
            f["in_window"] = bool(f["in_window"])
            yield f.pop("folder"), f

    def item_count(self) -> int:
        return self.db.execute("SELECT COUNT(DISTINCT item_id) FROM files").fetchone()[0]

    def close(self) -> None:
        self.db.close()


_STAGED_KEYS = ("id", "codes", "material_type", "title", "unit", "date", "review_state", "original_name",
                "sha256", "size", "kind")


def plan_package(imap, items, evaluation_date: date, *, fmt: str = "zip",
                 approved_only: bool = False, include_out_of_window: bool = False,
                 strict: bool = False) -> dict:
    """Decide every folder, file and name of the package (no output written yet).

    `items`: an iterable of item dicts (coverage.load_items' shape), read once — a generator
    over the database (iter_items) keeps memory flat. `plan["files"]` is a PlanFiles:
    call `plan["files"].close()` when done with the plan."""
    templates = dict(DEFAULT_TEMPLATES, **(getattr(imap, "export", None) or {}))
    default, per_type = type_windows(imap, evaluation_date)
    order = {t: i for i, t in enumerate(map_material_types(imap))}
    ev = evaluation_date.isoformat()
    root = safe_name(safe_name(_render_root(templates["root"], imap, ev))[:MAX_FOLDER])
    files = PlanFiles()
    try:
        return _plan(imap, items, evaluation_date, files, templates, default, per_type, order, ev, root,
                     fmt, approved_only, include_out_of_window, strict)
    except BaseException:
        files.close()
        raise


def _plan(imap, items, evaluation_date, files: PlanFiles, templates, default, per_type, order, ev, root,
          fmt, approved_only, include_out_of_window, strict) -> dict:
    # which items go in, and where (staged per leaf while coverage counts them: one read)
    cache: dict = {}
    excluded = []

    def consider(it: dict) -> None:
        leaves = []
        for code in it["codes"]:
            leaf = resolve_leaf(imap, code, cache)
            if leaf is not None and leaf not in leaves:
                leaves.append(leaf)
        reason = None
        ok_window = in_window(it["date"], it["material_type"], default, per_type)
        if it["deleted_at"]:
            reason = _reason("deleted", "已删除")
        elif not leaves:
            codes = "、".join(it["codes"]) or "（无）"
            reason = _reason("code not in map", f"指标编码 {codes} 不是当前指标体系的测评内容")
        elif it["review_state"] == "rejected":
            reason = _reason("rejected", "审核已退回")
        elif approved_only and it["review_state"] != "approved":
            reason = _reason("not approved", "尚未审核通过")
        elif not ok_window and not include_out_of_window:
            if not it["date"]:
                reason = _reason("no date", "没有日期，无法确认在材料时间窗口内")
            else:
                lo, hi = per_type.get(it["material_type"], default)
                reason = _reason("out of window",
                                 f"日期 {it['date']} 不在{it['material_type']}的材料时间窗口 {lo} 至 {hi} 内")
        if reason:
            excluded.append({"id": it["id"], "title": it["title"], "reason": reason})
            return
        type_order = order.get(it["material_type"], len(order))
        for leaf in leaves:
            files.stage(leaf.code, type_order, it)

    def considered():
        for it in items:
            consider(it)
            yield it

    report = compute(imap, considered(), evaluation_date, approved_only=approved_only)
    gaps = [{"code": r["code"], "name": r["name"], "missing": r["missing"]}
            for r in report["indicators"] if r["missing"]]

    # folders and files
    folders: list[str] = [root]
    dir_budget = MAX_PATH - FILE_DIR_BUDGET

    def walk(node, parent_path: str, used: Folder):
        h = _height(node)
        cap = min(MAX_FOLDER, max((dir_budget - len(parent_path) - h) // h, len(node.code)))
        name = used.claim(folder_name(templates["folder"], node.code, node.name, cap), cap)
        path = f"{parent_path}/{name}"
        folders.append(path)
        if node.children:
            child_used = Folder()
            for child in node.children:
                walk(child, path, child_used)
            return
        folder = len(folders) - 1
        in_folder = Folder()
        budget = MAX_PATH - len(path) - 1
        for seq, it in enumerate(files.on_leaf(node.code), start=1):
            title = clean_text(it["title"]).strip().rstrip(". ") or "_"
            fields = {"seq": seq, "type": it["material_type"], "title": title, "ext": _ext(it),
                      "code": node.code, "name": node.name, "date": it["date"] or "",
                      "unit": it["unit"] or "", "item_id": it["id"], "sha256": it["sha256"]}
            fname = in_folder.claim(file_name(templates["file"], fields, budget), budget)
            files.add(folder, {
                "path": f"{path}/{fname}"[len(root) + 1:], "item_id": it["id"], "leaf": node.code,
                "leaf_name": node.name, "codes": list(it["codes"]), "type": it["material_type"],
                "title": it["title"], "unit": it["unit"], "date": it["date"],
                "review_state": it["review_state"], "original_name": it["original_name"],
                "sha256": it["sha256"], "size": it["size"],
                "in_window": in_window(it["date"], it["material_type"], default, per_type),
            })

    top = Folder()
    for name in PACKAGE_FILES:
        top.claim(name, MAX_PATH)
    for node in imap.roots:
        walk(node, root, top)
    files.done()

    options = {"format": fmt, "approved_only": approved_only,
               "include_out_of_window": include_out_of_window, "strict": strict}
    return {
        "root": root, "evaluation_date": ev, "options": options,
        "map": {"id": imap.id, "edition": imap.edition},
        "window": report["window"], "windows": report["windows"],
        "coverage": report, "gaps": gaps, "excluded": excluded,
        "folders": folders, "files": files,
        "included": files.item_count(),
    }


def _render_root(template: str, imap, ev: str) -> str:
    from .names import render
    return render(template, {"id": clean_text(imap.id), "edition": clean_text(imap.edition),
                             "evaluation_date": ev}, "root")


def package_files(plan: dict, tmpdir=None) -> dict[str, "_MetaFile"]:
    """The four generated files, by name (SHA256SUMS last: it covers the others), each
    written to an unnamed temporary file in `tmpdir` (streamed: the 目录 rows, the manifest's
    files and the SHA256SUMS lines come one at a time from plan["files"])."""
    ev = plan["evaluation_date"]
    subtitle = (f"{plan['map']['edition']}　测评日期 {ev}　材料时间窗口 {plan['window']['from']} 至 "
                f"{plan['window']['to']}　共 {len(plan['files'])} 个文件")
    out: dict[str, _MetaFile] = {}
    try:
        cat = out[CATALOGUE] = _MetaFile(tmpdir)
        write_catalogue(plan["files"], subtitle, ev, cat.fh, root=plan["root"])
        sheet = out[REVIEW_SHEET] = _MetaFile(tmpdir)
        sheet.fh.write(review_sheet_bytes(plan["coverage"]))
        manifest = {
            "format": MANIFEST_FORMAT,
            "root": plan["root"],
            "map": plan["map"],
            "evaluation_date": ev,
            "window": plan["window"],
            "windows": plan["windows"],
            "options": plan["options"],
            "summary": plan["coverage"]["summary"],
            "gaps": plan["gaps"],
            "excluded_count": len(plan["excluded"]),
            "folders": [p[len(plan["root"]) + 1:] for p in plan["folders"][1:]],
        }
        man = out[MANIFEST] = _MetaFile(tmpdir)
        body = out["sums body"] = _MetaFile(tmpdir)   # the evidence files' lines, in the same pass
        _write_manifest(manifest, plan["files"], man.fh, body.fh)
        sums = out[SUMS] = _MetaFile(tmpdir)
        for name, meta in ((CATALOGUE, cat), (REVIEW_SHEET, sheet), (MANIFEST, man)):
            sums.fh.write(f"{meta.sha256()}  {name}\n".encode("utf-8"))
        for chunk in body.chunks():
            sums.fh.write(chunk)
        out.pop("sums body").close()
        for meta in out.values():
            meta.finish()
    except BaseException:
        for meta in out.values():
            meta.close()
        raise
    return out


class _MetaFile:
    """One generated package file in an unnamed temporary file (gone when closed)."""

    def __init__(self, tmpdir=None):
        self.fh = tempfile.TemporaryFile(dir=tmpdir)
        self.size = 0

    def sha256(self) -> str:
        self.finish()
        h = hashlib.sha256()
        for chunk in self.chunks():
            h.update(chunk)
        return h.hexdigest()

    def finish(self) -> None:
        self.fh.flush()
        self.size = self.fh.seek(0, os.SEEK_END)

    def chunks(self):
        self.fh.seek(0)
        return iter(lambda: self.fh.read(CHUNK), b"")

    def bytes(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self.fh.close()


MANIFEST_FILE_KEYS = ("path", "item_id", "leaf", "codes", "type", "title", "unit", "date", "review_state",
                      "original_name", "sha256", "size")


def _write_manifest(manifest: dict, files, out, sums=None) -> None:
    """Indented JSON with a last key `files`: one compact object per line (readable, diffable,
    written line by line by the C encoder — `indent` would use the pure-Python one).
    `sums`: a binary file that gets each file's SHA256SUMS line on the way."""
    head = json.dumps(manifest, ensure_ascii=False, indent=1)
    if not len(files):
        out.write((head[:-2] + ',\n "files": []\n}\n').encode("utf-8"))
        return
    out.write((head[:-2] + ',\n "files": [\n').encode("utf-8"))
    for n, f in enumerate(files):
        if n:
            out.write(b",\n")
        out.write(json.dumps({k: f[k] for k in MANIFEST_FILE_KEYS}, ensure_ascii=False).encode("utf-8"))
        if sums is not None:
            sums.write(f"{f['sha256']}  {f['path']}\n".encode("utf-8"))
    out.write(b"\n ]\n}\n")


# --------------------------------------------------------------------------- writing
class _Copier:
    """Copies store files in chunks, re-hashing them; counts progress."""

    def __init__(self, store, total: int, progress: Progress | None):
        self.store, self.total, self.progress, self.done = store, total, progress, 0
        self.bytes = 0

    def tick(self, message: str):
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, message)

    def copy(self, f: dict, dst) -> None:
        """Copy one store file into `dst`. Store trouble (missing, unreadable, altered) is a
        Refusal "store damaged"; an OSError raised here comes from writing `dst`."""
        h = hashlib.sha256()
        try:
            src = self.store.open(f["sha256"])
        except OSError:
            raise Refusal("store damaged", f"文件库缺少材料 #{f['item_id']} 的文件 ({f['sha256'][:12]}…)，"
                                           "请运行 evidence fsck") from None
        with src:
            while True:
                try:
                    chunk = src.read(CHUNK)
                except OSError as e:
                    raise Refusal("store damaged", f"文件库中材料 #{f['item_id']} 的文件无法读取"
                                                   f"（{os_reason(e)}），请运行 evidence fsck") from None
                if not chunk:
                    break
                h.update(chunk)
                dst.write(chunk)
                self.bytes += len(chunk)
        if h.hexdigest() != f["sha256"]:
            raise Refusal("store damaged", f"库存文件已损坏：材料 #{f['item_id']} ({f['sha256'][:12]}…)，请运行 evidence fsck")


def _deflate(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in DEFLATE_EXT or name.endswith(SUMS)


def _entries(plan: dict):
    """(kind, relative path, payload) in package order: folders depth-first, files after their
    folder (plan["files"] is in that order already, each with its folder's index)."""
    root = plan["root"]
    yield "dir", root, None
    for name in PACKAGE_FILES:
        yield "meta", f"{root}/{name}", name
    files = plan["files"].with_folders()
    nxt = next(files, None)
    for i, folder in enumerate(plan["folders"][1:], start=1):
        yield "dir", folder, None
        while nxt is not None and nxt[0] == i:
            yield "file", f"{root}/{nxt[1]['path']}", nxt[1]
            nxt = next(files, None)
    if nxt is not None:
        raise RuntimeError(f"package plan out of order at {nxt[1]['path']}")


def _write_zip(plan, meta, store, target: Path, progress) -> _Copier:
    """The package as a zip (zipio: zipfile's bytes, the central directory kept on disk)."""
    d = date.fromisoformat(plan["evaluation_date"])
    when = (max(d.year, 1980), d.month, d.day, 0, 0, 0)
    copier = _Copier(store, len(plan["files"]) + len(meta), progress)
    with open(target, "wb") as fh:
        zw = ZipWriter(fh, target.parent)
        try:
            for kind, path, payload in _entries(plan):
                if kind == "dir":
                    zw.add_dir(path + "/", when)
                elif kind == "meta":
                    m = meta[payload]
                    with zw.open(path, when, size=m.size, deflate=_deflate(path)) as dst:
                        for chunk in m.chunks():
                            dst.write(chunk)
                    copier.bytes += m.size
                    copier.tick(path)
                else:
                    with zw.open(path, when, size=payload["size"], deflate=_deflate(path),
                                 force_zip64=payload["size"] > 0x7FFF0000) as dst:
                        copier.copy(payload, dst)
                    copier.tick(path)
            zw.close()
        finally:
            zw.abandon()
        os.fsync(fh.fileno())
    return copier


def _write_dir(plan, meta, store, parent: Path, progress) -> _Copier:
    copier = _Copier(store, len(plan["files"]) + len(meta), progress)
    for kind, path, payload in _entries(plan):
        target = parent / path
        if kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
        elif kind == "meta":
            m = meta[payload]
            with open(target, "wb") as dst:
                for chunk in m.chunks():
                    dst.write(chunk)
            copier.bytes += m.size
            copier.tick(path)
        else:
            with open(target, "wb") as dst:
                copier.copy(payload, dst)
            copier.tick(path)
    return copier


def _target(out: Path, fmt: str, root: str, created: list[Path]) -> Path:
    if fmt == "zip":
        # `OUT.zip` is the file; any other OUT is a folder (made if missing) that gets {root}.zip,
        # so `export out/` never leaves a zip called "out" without an extension.
        if out.suffix.lower() == ".zip" and not out.is_dir():
            return out
        make_dirs(out, created)
        return out / f"{root}.zip"
    if fmt == "dir":
        return out / root
    return out   # bagit


def export_package(instance, out, evaluation_date, fmt: str = "zip", approved_only: bool = False,
                   include_out_of_window: bool = False, strict: bool = False,
                   progress: Progress | None = None, user: str | None = None,
                   ip: str | None = None, map_id: str | None = None, imap=None,
                   items=None) -> dict:
    """Build the declaration package; returns the export report (see module docstring).

    Report: {"path", "format", "root", "evaluation_date", "window", "options", "included"
    (items), "files" (files in the package, the four package files included), "bytes",
    "excluded": [{"id", "title", "reason"}], "gaps": [{"code", "name", "missing"}],
    "summary"}.

    The package is for map `map_id` (default: the selected or only active map). A closed
    cycle's package (archive/cycles) passes its pinned edition as `imap` and its frozen
    `items` (an iterable of item dicts) instead of the live archive.
    """
    if fmt not in FORMATS:
        raise UsageError("bad format", f"格式只能是 zip、dir 或 bagit，而不是 {fmt!r}")
    d = as_date(evaluation_date)
    if imap is None:
        imap = current_map(instance, map_id)
    with snapshot(instance.db) as db:   # items stream from the DB into the plan's own temp DB
        source = iter_items(db, imap.id) if items is None else items
        plan = plan_package(imap, source, d, fmt=fmt, approved_only=approved_only,
                            include_out_of_window=include_out_of_window, strict=strict)
    try:
        return _export(instance, plan, Path(out), fmt, strict, progress, user, ip)
    finally:
        plan["files"].close()


def _export(instance, plan: dict, out: Path, fmt: str, strict: bool, progress, user, ip) -> dict:
    report = {
        "path": None, "format": fmt, "root": plan["root"], "evaluation_date": plan["evaluation_date"],
        "window": plan["window"], "options": plan["options"], "included": plan["included"],
        "files": len(plan["files"]) + len(PACKAGE_FILES), "bytes": 0,
        "excluded": plan["excluded"], "gaps": plan["gaps"], "summary": plan["coverage"]["summary"],
    }
    if strict and plan["gaps"]:
        raise PackageRefused(report)

    created: list[Path] = []   # folders this export made: removed again if it fails
    try:
        target, copier = _build(instance, plan, out, fmt, progress, created)
    except BaseException:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    report["path"] = str(target)
    report["bytes"] = copier.bytes
    with transaction(instance.db):
        audit.log(instance.db, user, "package.export", str(target),
                  {"format": fmt, "evaluation_date": plan["evaluation_date"], "options": plan["options"],
                   "included": plan["included"], "excluded": len(plan["excluded"]),
                   "gaps": len(plan["gaps"])}, ip)
    return report


def _build(instance, plan: dict, out: Path, fmt: str, progress, created: list[Path]):
    """Write the package under a temporary name beside the target, then rename it into
    place. Output-side OSErrors become UsageError "cannot write output" (store trouble is
    already a Refusal from _Copier); the temporary output is removed on any failure."""
    target = _target(out, fmt, plan["root"], created)
    if fmt != "zip" and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError("output exists", f"输出位置已存在且不为空：{target}")
    if fmt == "zip" and target.is_dir():
        raise UsageError("output exists", f"输出位置是一个目录：{target}")
    make_dirs(target.parent, created)
    if progress:
        progress(0, len(plan["files"]) + len(PACKAGE_FILES), "正在生成目录、审核记录表和清单")
    try:
        meta = package_files(plan, target.parent)
    except OSError as e:
        raise cannot_write(target.parent, e) from None
    try:
        return _write(instance, plan, meta, target, fmt, progress)
    finally:
        for m in meta.values():
            m.close()


def _write(instance, plan: dict, meta: dict, target: Path, fmt: str, progress):
    # `.NAME.PID-xxxx.part`: a killed export's leftover is removed by the next export of the
    # same package (here) or by `fsck --repair` (archive.maintenance.stray_leftovers).
    part_prefix = leftovers.tag(f".{target.name}.")
    leftovers.remove(leftovers.stale(target.parent, f".{target.name}.", ".part"))
    if fmt == "zip":
        try:
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=part_prefix, suffix=".part")
        except OSError as e:
            raise cannot_write(target.parent, e) from None
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            copier = _write_zip(plan, meta, instance.store, tmp, progress)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise cannot_write(target, e) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    else:
        try:
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=part_prefix, suffix=".part"))
        except OSError as e:
            raise cannot_write(target.parent, e) from None
        try:
            copier = _write_dir(plan, meta, instance.store, tmp, progress)
            if fmt == "bagit":
                _make_bag(tmp, plan)
                os.chmod(tmp, 0o755)
                if target.exists():
                    target.rmdir()   # empty (checked above)
                os.replace(tmp, target)
            else:
                os.replace(tmp / plan["root"], target)
                tmp.rmdir()
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise cannot_write(target, e) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target, copier


def _make_bag(staging: Path, plan: dict) -> None:
    import logging

    import bagit

    logging.getLogger("bagit").setLevel(logging.WARNING)
    info = {
        "Source-Organization": plan["map"]["edition"],
        "External-Identifier": plan["root"],
        "External-Description": f"全国文明城市测评网上申报材料包 测评日期 {plan['evaluation_date']}",
    }
    bagit.make_bag(str(staging), info, checksums=["sha256"])
