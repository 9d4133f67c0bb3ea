"""Declaration packages (CONTRACT.md "The declaration package"): build, verify, diff.

    export_package(instance, out, evaluation_date, fmt="zip", approved_only=False,
                   include_out_of_window=False, strict=False, progress=None,
                   user=None, ip=None) -> report
    verify_package(path) -> [problem, ...]          (archive/package_verify.py)
    diff_packages(old, new) -> {added, removed, replaced, moved, ...}

Layout: `{root}/` holds 00_目录.xlsx, 00_材料审核记录表.xlsx, manifest.json, SHA256SUMS and one
folder per map node, nested as the map nests; every included item is copied into the folder
of each leaf it is mapped to, named by the map's `export.file` template (names: see
package_names.py). Empty leaf folders are kept (zip: explicit directory entries).

Where it goes: zip → OUT is the .zip file (an existing directory gets `{root}.zip` inside);
dir → `OUT/{root}/` (what unzipping the zip into OUT gives); bagit → OUT is the bag, the
package is its payload `data/{root}/`. Everything is built under a temporary name beside the
target and renamed at the end: a failed or cancelled export leaves nothing half-written.
An existing zip is replaced; an existing dir package or bag is refused.

Reproducible: one DB snapshot; entries in map order with fixed times (the evaluation date);
xlsx with stable bytes; no clock in the manifest. Same state + options → same zip bytes.
Streaming: store files are copied in 1 MiB chunks (and re-hashed on the way, so a damaged
store file fails the export instead of entering the package); memory stays flat.

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
import io
import json
import os
import shutil
import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Callable

from . import audit
from .coverage import as_date, compute, in_window, load_items, map_material_types, resolve_leaf, \
    snapshot, type_windows
from .db import transaction
from .errors import Refusal, UsageError
from .package_names import DEFAULT_TEMPLATES, MAX_FOLDER, MAX_PATH, Folder, clean_text, file_name, \
    folder_name, safe_name
from .package_xlsx import catalogue_bytes, review_sheet_bytes
from .store import CHUNK

FORMATS = ("zip", "dir", "bagit")
CATALOGUE = "00_目录.xlsx"
REVIEW_SHEET = "00_材料审核记录表.xlsx"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
PACKAGE_FILES = (CATALOGUE, REVIEW_SHEET, MANIFEST, SUMS)
MANIFEST_FORMAT = "evidence-archive-package/1"
# Already compressed: deflating them costs time and gains nothing (measured in bench/export.py).
DEFLATE_EXT = {".csv", ".txt", ".json", ".xml", ".doc", ".xls", ""}
KIND_EXT = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png", "docx": ".docx", "xlsx": ".xlsx",
            "xls": ".xls", "csv": ".csv", "doc": ".doc"}
FILE_DIR_BUDGET = 60   # characters kept free below the deepest folder for file names

Progress = Callable[[int, int, str], None]


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


def plan_package(imap, items: list[dict], evaluation_date: date, *, fmt: str = "zip",
                 approved_only: bool = False, include_out_of_window: bool = False,
                 strict: bool = False) -> dict:
    """Decide every folder, file and name of the package (pure: no I/O)."""
    templates = dict(DEFAULT_TEMPLATES, **(getattr(imap, "export", None) or {}))
    default, per_type = type_windows(imap, evaluation_date)
    order = {t: i for i, t in enumerate(map_material_types(imap))}
    ev = evaluation_date.isoformat()
    root = safe_name(safe_name(_render_root(templates["root"], imap, ev))[:MAX_FOLDER])

    # which items go in, and where
    cache: dict = {}
    excluded, on_leaf = [], {}
    for it in items:
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
            continue
        for leaf in leaves:
            on_leaf.setdefault(leaf.code, []).append(it)

    report = compute(imap, items, evaluation_date, approved_only=approved_only)
    gaps = [{"code": r["code"], "name": r["name"], "missing": r["missing"]}
            for r in report["indicators"] if r["missing"]]

    # folders and files
    folders: list[str] = [root]
    files: list[dict] = []
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
        its = sorted(on_leaf.get(node.code, []),
                     key=lambda it: (order.get(it["material_type"], len(order)), it["material_type"],
                                     it["date"] or "9999-99-99", it["id"]))
        in_folder = Folder()
        budget = MAX_PATH - len(path) - 1
        for seq, it in enumerate(its, start=1):
            title = clean_text(it["title"]).strip().rstrip(". ") or "_"
            fields = {"seq": seq, "type": it["material_type"], "title": title, "ext": _ext(it),
                      "code": node.code, "name": node.name, "date": it["date"] or "",
                      "unit": it["unit"] or "", "item_id": it["id"], "sha256": it["sha256"]}
            fname = in_folder.claim(file_name(templates["file"], fields, budget), budget)
            files.append({
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

    options = {"format": fmt, "approved_only": approved_only,
               "include_out_of_window": include_out_of_window, "strict": strict}
    return {
        "root": root, "evaluation_date": ev, "options": options,
        "map": {"id": imap.id, "edition": imap.edition},
        "window": report["window"], "windows": report["windows"],
        "coverage": report, "gaps": gaps, "excluded": excluded,
        "folders": folders, "files": files,
        "included": len({f["item_id"] for f in files}),
    }


def _render_root(template: str, imap, ev: str) -> str:
    from .package_names import render
    return render(template, {"id": clean_text(imap.id), "edition": clean_text(imap.edition),
                             "evaluation_date": ev}, "root")


def package_files(plan: dict) -> dict[str, bytes]:
    """The four generated files, by name (SHA256SUMS last: it covers the others)."""
    ev = plan["evaluation_date"]
    subtitle = (f"{plan['map']['edition']}　测评日期 {ev}　材料时间窗口 {plan['window']['from']} 至 "
                f"{plan['window']['to']}　共 {len(plan['files'])} 个文件")
    cat = catalogue_bytes(plan["files"], subtitle, ev, root=plan["root"])
    sheet = review_sheet_bytes(plan["coverage"])
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
    man = _manifest_bytes(manifest, plan["files"])
    sums = [(hashlib.sha256(cat).hexdigest(), CATALOGUE), (hashlib.sha256(sheet).hexdigest(), REVIEW_SHEET),
            (hashlib.sha256(man).hexdigest(), MANIFEST)]
    out = io.BytesIO()
    for h, p in sums:
        out.write(f"{h}  {p}\n".encode("utf-8"))
    for f in plan["files"]:
        out.write(f"{f['sha256']}  {f['path']}\n".encode("utf-8"))
    return {CATALOGUE: cat, REVIEW_SHEET: sheet, MANIFEST: man, SUMS: out.getvalue()}


MANIFEST_FILE_KEYS = ("path", "item_id", "leaf", "codes", "type", "title", "unit", "date", "review_state",
                      "original_name", "sha256", "size")


def _manifest_bytes(manifest: dict, files: list[dict]) -> bytes:
    """Indented JSON with a last key `files`: one compact object per line (readable, diffable,
    and written by the C encoder — `indent` would use the pure-Python one)."""
    head = json.dumps(manifest, ensure_ascii=False, indent=1)
    if not files:
        return (head[:-2] + ',\n "files": []\n}\n').encode("utf-8")
    out = io.BytesIO()   # line by line: a list of 50,000 JSON strings would cost ~100 MB
    out.write((head[:-2] + ',\n "files": [\n').encode("utf-8"))
    for n, f in enumerate(files):
        if n:
            out.write(b",\n")
        out.write(json.dumps({k: f[k] for k in MANIFEST_FILE_KEYS}, ensure_ascii=False).encode("utf-8"))
    out.write(b"\n ]\n}\n")
    return out.getvalue()


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


def _zipinfo(name: str, when: tuple, is_dir: bool = False, size: int = 0) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=when)
    zi.create_system = 3
    zi.flag_bits |= 0x800   # UTF-8 names, also for ASCII ones
    if is_dir:
        zi.external_attr = (0o40755 << 16) | 0x10
        zi.compress_type = zipfile.ZIP_STORED
    else:
        zi.external_attr = 0o100644 << 16
        ext = os.path.splitext(name)[1].lower()
        zi.compress_type = zipfile.ZIP_DEFLATED if (ext in DEFLATE_EXT or name.endswith(SUMS)) \
            else zipfile.ZIP_STORED
        zi.file_size = size
    return zi


def _entries(plan: dict):
    """(kind, relative path, payload) in package order: folders depth-first, files after their folder."""
    by_folder: dict[str, list[dict]] = {}
    for f in plan["files"]:
        by_folder.setdefault(f"{plan['root']}/{f['path'].rsplit('/', 1)[0]}", []).append(f)
    yield "dir", plan["root"], None
    for name in PACKAGE_FILES:
        yield "meta", f"{plan['root']}/{name}", name
    for folder in plan["folders"][1:]:
        yield "dir", folder, None
        for f in by_folder.get(folder, []):
            yield "file", f"{plan['root']}/{f['path']}", f


def _write_zip(plan, meta, store, target: Path, progress) -> _Copier:
    d = date.fromisoformat(plan["evaluation_date"])
    when = (max(d.year, 1980), d.month, d.day, 0, 0, 0)
    copier = _Copier(store, len(plan["files"]) + len(meta), progress)
    with open(target, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for kind, path, payload in _entries(plan):
            if kind == "dir":
                zf.writestr(_zipinfo(path + "/", when, is_dir=True), b"")
            elif kind == "meta":
                data = meta[payload]
                zi = _zipinfo(path, when, size=len(data))
                zf.writestr(zi, data, compress_type=zi.compress_type)
                copier.bytes += len(data)
                copier.tick(path)
            else:
                zi = _zipinfo(path, when, size=payload["size"])
                with zf.open(zi, "w", force_zip64=payload["size"] > 0x7FFF0000) as dst:
                    copier.copy(payload, dst)
                copier.tick(path)
        fh.flush()
        zf.close()
        os.fsync(fh.fileno())
    return copier


def _write_dir(plan, meta, store, parent: Path, progress) -> _Copier:
    copier = _Copier(store, len(plan["files"]) + len(meta), progress)
    for kind, path, payload in _entries(plan):
        target = parent / path
        if kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
        elif kind == "meta":
            target.write_bytes(meta[payload])
            copier.bytes += len(meta[payload])
            copier.tick(path)
        else:
            with open(target, "wb") as dst:
                copier.copy(payload, dst)
            copier.tick(path)
    return copier


def os_reason(e: OSError) -> str:
    """An OSError in Chinese, for "无法写入输出位置 …：原因"."""
    import errno

    zh = {errno.EEXIST: "已有同名文件，不是文件夹", errno.ENOTDIR: "路径中有一段是文件，不是文件夹",
          errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限", errno.ENOSPC: "磁盘空间不足",
          errno.EROFS: "只读文件系统", errno.ENAMETOOLONG: "路径过长", errno.EISDIR: "是一个文件夹",
          errno.ENOENT: "路径不存在", errno.EDQUOT: "超出磁盘配额"}
    return zh.get(e.errno) or e.strerror or type(e).__name__


def cannot_write(where: Path, e: OSError) -> UsageError:
    return UsageError("cannot write output", f"无法写入输出位置 {where}：{os_reason(e)}")


def make_dirs(path: Path, created: list[Path]) -> None:
    """mkdir -p, remembering each folder made (so a failed export can remove them again)."""
    missing = []
    p = path
    while not p.is_dir():
        if p.exists() or p.is_symlink():   # a file where a folder must be
            raise cannot_write(p, FileExistsError(17, "File exists"))
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            if not p.is_dir():
                raise cannot_write(p, FileExistsError(17, "File exists")) from None
            continue
        except OSError as e:
            raise cannot_write(p, e) from None
        created.append(p)


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
                   ip: str | None = None) -> dict:
    """Build the declaration package; returns the export report (see module docstring).

    Report: {"path", "format", "root", "evaluation_date", "window", "options", "included"
    (items), "files" (files in the package, the four package files included), "bytes",
    "excluded": [{"id", "title", "reason"}], "gaps": [{"code", "name", "missing"}],
    "summary"}.
    """
    if fmt not in FORMATS:
        raise UsageError("bad format", f"格式只能是 zip、dir 或 bagit，而不是 {fmt!r}")
    d = as_date(evaluation_date)
    imap = instance.indicator_map()
    with snapshot(instance.db) as db:
        items = load_items(db)
    plan = plan_package(imap, items, d, fmt=fmt, approved_only=approved_only,
                        include_out_of_window=include_out_of_window, strict=strict)
    del items   # the plan keeps what it needs; memory goes with the number of files, not bytes
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
        target, copier = _build(instance, plan, Path(out), fmt, progress, created)
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
    meta = package_files(plan)

    if fmt == "zip":
        try:
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
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
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
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


# verify and diff live in package_verify.py, which imports this module's constants; they are
# re-exported here lazily (PEP 562) so callers import one module and there is no import cycle.
def __getattr__(name: str):
    if name in ("diff_packages", "verify_package", "open_package"):
        from . import package_verify
        return getattr(package_verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
