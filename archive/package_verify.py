"""Checking and comparing declaration packages (zip, dir or BagIt bag).

`verify_package(path)` → a list of problems, each {"problem", "path", "message"}
(problem keys: missing file, hash mismatch, extra file, missing folder, extra folder,
manifest mismatch, bad checksum line, bag invalid, not a package, corrupt package); [] means
the package matches its own SHA256SUMS and manifest.json. A damaged package is reported, never
raised: a zip whose directory cannot be read is one `corrupt package` problem, a manifest.json
of the wrong shape is `manifest mismatch`. `diff_packages` raises UsageError for both.

`diff_packages(old, new)` compares two packages' manifests by (item, leaf): added,
removed, replaced (same item on the same leaf, different SHA-256), moved (an item left a
leaf and appeared on another), plus the gaps closed and opened.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path

from .errors import UsageError
from .package import CATALOGUE, CHUNK, MANIFEST, REVIEW_SHEET, SUMS

GENERATED = {CATALOGUE, REVIEW_SHEET, MANIFEST}
# What reading a damaged package can raise: a bad local header or CRC (BadZipFile), a broken
# deflate stream (zlib.error), a truncated member (EOFError), an unknown method (NotImplementedError).
READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, KeyError)
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def _problem(key: str, path: str, zh: str) -> dict:
    return {"problem": key, "path": path, "message": f"{path}: {zh} ({key})"}


class PackageUnreadable(UsageError):
    """The package cannot be opened at all (e.g. a zip whose central directory is damaged).
    `verify` reports it as a problem (exit 1); `package diff` as a usage error (exit 2)."""


class _Reader:
    """Files (path relative to the package root → size) and folders of one package."""

    kind = "dir"
    root_name = ""
    files: dict[str, int]
    folders: set[str]
    problems: list[dict]

    def read(self, rel: str) -> bytes:
        with self.open(rel) as f:
            return f.read()

    def sha256(self, rel: str) -> str:
        h = hashlib.sha256()
        with self.open(rel) as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
        return h.hexdigest()

    def close(self):
        pass


class _DirReader(_Reader):
    def __init__(self, root: Path):
        self.root = root
        self.root_name = root.name
        self.files, self.folders, self.problems = {}, set(), []
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if p.is_dir():
                self.folders.add(rel)
            else:
                self.files[rel] = p.stat().st_size

    def open(self, rel: str):
        return open(self.root / rel, "rb")


class _ZipReader(_Reader):
    kind = "zip"

    def __init__(self, path: Path):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError) as e:
            raise PackageUnreadable("corrupt package", f"材料包已损坏，无法读取 zip 目录：{path}（{e}）") from None
        self.files, self.folders, self.problems = {}, set(), []
        tops = {n.split("/", 1)[0] for n in self.zf.namelist()}
        with_sums = [t for t in sorted(tops) if f"{t}/{SUMS}" in self.zf.NameToInfo]
        self.root_name = with_sums[0] if with_sums else (sorted(tops)[0] if tops else "")
        prefix = self.root_name + "/"
        for info in self.zf.infolist():
            name = info.filename
            if name.rstrip("/") == self.root_name:
                continue
            if not name.startswith(prefix):
                self.problems.append(_problem("extra file", name, "不在材料包根目录内的多余条目"))
                continue
            rel = name[len(prefix):]
            if info.is_dir():
                self.folders.add(rel.rstrip("/"))
            else:
                self.files[rel] = info.file_size
                # implied folders (a zip without directory entries)
        self.infos = {i.filename[len(prefix):]: i for i in self.zf.infolist() if i.filename.startswith(prefix)}

    def open(self, rel: str):
        return self.zf.open(self.infos[rel])

    def close(self):
        self.zf.close()


def open_package(path) -> _Reader:
    """A reader for a zip, a package folder (or the folder holding one), or a bag."""
    path = Path(path)
    if not path.exists():
        raise UsageError("no such package", f"材料包不存在：{path}")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError("not a package", f"不是 zip 材料包：{path}")
        return _ZipReader(path)
    if (path / "bagit.txt").is_file():
        r = _DirReader(_package_root(path / "data"))
        r.kind, r.bag = "bagit", path
        return r
    r = _DirReader(_package_root(path))
    return r


def _package_root(path: Path) -> Path:
    if (path / SUMS).is_file() or (path / MANIFEST).is_file():
        return path
    subs = [p for p in sorted(path.iterdir()) if p.is_dir() and ((p / SUMS).is_file() or (p / MANIFEST).is_file())] \
        if path.is_dir() else []
    if len(subs) == 1:
        return subs[0]
    return path


def read_sums(reader: _Reader) -> tuple[dict[str, str], list[dict]]:
    problems = []
    sums: dict[str, str] = {}
    if SUMS not in reader.files:
        return sums, [_problem("missing file", SUMS, "缺少校验文件")]
    try:
        text = reader.read(SUMS).decode("utf-8")
    except READ_ERRORS as e:
        return sums, [_problem("hash mismatch", SUMS, f"校验文件无法读取或已损坏：{e}")]
    except UnicodeDecodeError:
        return sums, [_problem("bad checksum line", SUMS, "校验文件不是 UTF-8 文本")]
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _SUM_LINE.match(line)
        if not m:
            problems.append(_problem("bad checksum line", f"{SUMS}:{n}", "无法识别的校验行"))
            continue
        sums[m.group(2)] = m.group(1).lower()
    return sums, problems


def read_manifest(reader: _Reader) -> dict | None:
    """manifest.json as parsed JSON (any shape: see manifest_problems), None if unreadable."""
    try:
        return json.loads(reader.read(MANIFEST).decode("utf-8"))
    except (*READ_ERRORS, ValueError, RecursionError):
        return None


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def manifest_problems(m, for_diff: bool = False) -> list[str]:
    """What is wrong with the shape of a parsed manifest.json, in Chinese ([] = usable).
    verify needs each file's `path` and `sha256` and the `folders`; diff also needs each
    file's `item_id`, `leaf`, `title`, `type` and the gaps' `code`, `name`, `missing`."""
    if not isinstance(m, dict):
        return ["manifest.json 不是 JSON 对象"]
    out = []
    files = m.get("files", [])
    if not isinstance(files, list):
        out.append("manifest.json 的 files 不是列表")
        files = []
    need = {"path": str, "sha256": str}
    if for_diff:
        need.update({"item_id": (int, str), "leaf": str, "title": (str, type(None)), "type": str})
    for n, f in enumerate(files, start=1):
        if not isinstance(f, dict):
            out.append(f"manifest.json 的第 {n} 个文件条目不是 JSON 对象")
            continue
        for key, kind in need.items():
            if key not in f:
                out.append(f"manifest.json 的第 {n} 个文件条目缺少 {key}")
            elif not isinstance(f[key], kind) or isinstance(f[key], bool):
                out.append(f"manifest.json 的第 {n} 个文件条目的 {key} 类型不对")
    if "folders" in m and not _is_str_list(m["folders"]):
        out.append("manifest.json 的 folders 不是文件夹名的列表")
    if for_diff:
        gaps = m.get("gaps", [])
        if not isinstance(gaps, list):
            out.append("manifest.json 的 gaps 不是列表")
        else:
            for n, g in enumerate(gaps, start=1):
                if not (isinstance(g, dict) and isinstance(g.get("code"), str)
                        and isinstance(g.get("name"), str) and _is_str_list(g.get("missing"))):
                    out.append(f"manifest.json 的第 {n} 个缺项条目应有 code、name、missing")
    return out


def verify_package(path) -> list[dict]:
    """Problems of a package against its own SHA256SUMS and manifest.json ([] = intact)."""
    try:
        reader = open_package(path)
    except PackageUnreadable as e:
        return [_problem(e.key, str(path), e.message_zh)]
    try:
        return _verify(reader)
    finally:
        reader.close()


def _verify(reader: _Reader) -> list[dict]:
    problems = list(reader.problems)
    if reader.kind == "bagit":
        problems += _verify_bag(reader.bag)
    if SUMS not in reader.files and MANIFEST not in reader.files:
        return problems + [_problem("not a package", reader.root_name or ".", "没有 SHA256SUMS 和 manifest.json，不是材料包")]
    sums, sum_problems = read_sums(reader)
    problems += sum_problems
    for rel, expected in sums.items():
        if rel not in reader.files:
            problems.append(_problem("missing file", rel, "文件缺失"))
            continue
        try:
            actual = reader.sha256(rel)
        except READ_ERRORS as e:
            problems.append(_problem("hash mismatch", rel, f"文件无法读取或已损坏：{e}"))
            continue
        if actual != expected:
            problems.append(_problem("hash mismatch", rel, "SHA-256 与 SHA256SUMS 不符"))
    for rel in sorted(reader.files):
        if rel != SUMS and rel not in sums:
            problems.append(_problem("extra file", rel, "多余文件（不在 SHA256SUMS 中）"))
    manifest = read_manifest(reader)
    if manifest is None:
        if MANIFEST in reader.files:
            problems.append(_problem("manifest mismatch", MANIFEST, "manifest.json 无法读取"))
        elif MANIFEST not in sums:
            problems.append(_problem("missing file", MANIFEST, "文件缺失"))
        return problems
    shape = manifest_problems(manifest)
    if shape:
        return problems + [_problem("manifest mismatch", MANIFEST, p) for p in shape]
    listed = set()
    for f in manifest.get("files", []):
        rel = f.get("path")
        listed.add(rel)
        if rel not in sums:
            problems.append(_problem("manifest mismatch", rel, "manifest.json 列出的文件不在 SHA256SUMS 中"))
        elif sums[rel] != f.get("sha256"):
            problems.append(_problem("manifest mismatch", rel, "manifest.json 与 SHA256SUMS 的 SHA-256 不一致"))
    for rel in sums:
        if rel not in listed and rel not in GENERATED:
            problems.append(_problem("manifest mismatch", rel, "SHA256SUMS 列出的文件不在 manifest.json 中"))
    folders = set(manifest.get("folders", []))
    implied = {rel.rsplit("/", 1)[0] for rel in reader.files if "/" in rel}
    for folder in sorted(folders):
        if folder not in reader.folders and folder not in implied:
            problems.append(_problem("missing folder", folder + "/", "文件夹缺失"))
    for folder in sorted(reader.folders | implied):
        if folder not in folders:
            # a parent of a listed folder is fine; anything else is extra
            if not any(f.startswith(folder + "/") for f in folders):
                problems.append(_problem("extra folder", folder + "/", "多余文件夹（不在 manifest.json 中）"))
    return problems


def _verify_bag(bag_dir: Path) -> list[dict]:
    import logging

    import bagit

    logging.getLogger("bagit").setLevel(logging.ERROR)
    try:
        bagit.Bag(str(bag_dir)).validate()
    except bagit.BagValidationError as e:
        details = getattr(e, "details", None) or [e]
        return [_problem("bag invalid", str(bag_dir), f"BagIt 校验失败：{d}") for d in details]
    except bagit.BagError as e:
        return [_problem("bag invalid", str(bag_dir), f"BagIt 校验失败：{e}")]
    return []


# ------------------------------------------------------------------------------ diff
def _load_manifest(path) -> dict:
    reader = open_package(path)
    try:
        m = read_manifest(reader)
    finally:
        reader.close()
    if m is None:
        raise UsageError("not a package", f"材料包没有可读的 manifest.json：{path}")
    shape = manifest_problems(m, for_diff=True)
    if shape:
        more = f"等 {len(shape)} 处" if len(shape) > 1 else ""
        raise UsageError("bad manifest", f"材料包 {path} 的清单无法比较：{shape[0]}{more}")
    return m


def diff_packages(old, new) -> dict:
    """What changed from package `old` to `new` (paths, zips, dirs or bags)."""
    a, b = _load_manifest(old), _load_manifest(new)
    ka = {(f["item_id"], f["leaf"]): f for f in a.get("files", [])}
    kb = {(f["item_id"], f["leaf"]): f for f in b.get("files", [])}
    added, removed, replaced, moved = [], [], [], []
    unchanged = 0

    def brief(f):
        return {"id": f["item_id"], "leaf": f["leaf"], "title": f["title"], "type": f["type"],
                "path": f["path"], "sha256": f["sha256"]}

    for key in sorted(set(ka) & set(kb), key=str):
        fa, fb = ka[key], kb[key]
        if fa["sha256"] != fb["sha256"]:
            replaced.append({"id": fb["item_id"], "leaf": fb["leaf"], "title": fb["title"], "type": fb["type"],
                             "old_path": fa["path"], "new_path": fb["path"],
                             "old_sha256": fa["sha256"], "new_sha256": fb["sha256"]})
        else:
            unchanged += 1
    only_a = sorted(set(ka) - set(kb), key=str)
    only_b = sorted(set(kb) - set(ka), key=str)
    by_item_b: dict[int, list] = {}
    for key in only_b:
        by_item_b.setdefault(key[0], []).append(key)
    paired_b = set()
    for key in only_a:
        candidates = [k for k in by_item_b.get(key[0], []) if k not in paired_b]
        if candidates:
            kb_ = candidates[0]
            paired_b.add(kb_)
            fa, fb = ka[key], kb[kb_]
            moved.append({"id": fa["item_id"], "title": fb["title"], "type": fb["type"],
                          "from": fa["leaf"], "to": fb["leaf"], "old_path": fa["path"], "new_path": fb["path"],
                          "replaced": fa["sha256"] != fb["sha256"]})
        else:
            removed.append(brief(ka[key]))
    for key in only_b:
        if key not in paired_b:
            added.append(brief(kb[key]))
    gaps_a = {g["code"]: g for g in a.get("gaps", [])}
    gaps_b = {g["code"]: g for g in b.get("gaps", [])}
    closed, opened = [], []
    for code, g in gaps_a.items():          # each list in map order
        now = gaps_b.get(code, {}).get("missing", [])
        if [t for t in g["missing"] if t not in now]:
            closed.append({"code": code, "name": g["name"], "types": [t for t in g["missing"] if t not in now]})
    for code, g in gaps_b.items():
        was = gaps_a.get(code, {}).get("missing", [])
        if [t for t in g["missing"] if t not in was]:
            opened.append({"code": code, "name": g["name"], "types": [t for t in g["missing"] if t not in was]})
    return {
        "old": {"root": a.get("root"), "evaluation_date": a.get("evaluation_date"), "files": len(ka)},
        "new": {"root": b.get("root"), "evaluation_date": b.get("evaluation_date"), "files": len(kb)},
        "added": added, "removed": removed, "replaced": replaced, "moved": moved,
        "unchanged": unchanged,
        "gaps_closed": closed,
        "gaps_opened": opened,
    }
