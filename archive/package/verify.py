"""Checking and comparing declaration packages (zip, dir or BagIt bag).

`verify_package(path)` → a list of problems, each {"problem", "path", "message"}
(problem keys: missing file, hash mismatch, extra file, missing folder, extra folder,
manifest mismatch, bad checksum line, bag invalid, not a package, corrupt package); [] means
the package matches its own SHA256SUMS and manifest.json. A damaged package is reported, never
raised: a zip whose directory cannot be read is one `corrupt package` problem, a manifest.json
of the wrong shape is `manifest mismatch`. `diff_packages` raises UsageError for both.

Memory (verify): flat in the package's size — SHA256SUMS and manifest.json are read line by
line (a manifest not in the package's own layout is parsed whole), paths are kept as 16-byte
BLAKE2b keys, and a zip's central directory is read record by record (zipio.ZipReader) instead
of as one ZipInfo per entry: ~0.4 MB per 1,000 files (bench/export.py --items). diff still
loads both manifests whole.

`diff_packages(old, new)` compares two packages' manifests by (item, leaf): added,
removed, replaced (same item on the same leaf, different SHA-256), moved (an item left a
leaf and appeared on another), plus the gaps closed and opened.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

from archive.core.errors import UsageError
from archive.core.store import CHUNK
from .layout import CATALOGUE, MANIFEST, REVIEW_SHEET, SUMS
from .zipio import ZipReader

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


def _key(rel: str) -> bytes:
    """A path as 16 bytes (BLAKE2b): sets of these stand for sets of paths at ~1/5 the memory."""
    return hashlib.blake2b(rel.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _Reader:
    """Files and folders of one package, relative to the package root. Memory is flat in the
    number of files: `has(rel)` uses a set of 16-byte path keys, `names()` streams the paths
    again; only folders (few) are kept as strings.

    `folders`: explicit folders; `implied`: folders holding a file."""

    kind = "dir"
    root_name = ""
    folders: set[str]
    implied: set[str]
    problems: list[dict]

    def _index(self, names) -> None:
        self.keys: set[bytes] = set()
        self.implied = set()
        for rel in names:
            self.keys.add(_key(rel))
            if "/" in rel:
                self.implied.add(rel.rsplit("/", 1)[0])

    def has(self, rel: str) -> bool:
        return _key(rel) in self.keys

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
        self.folders, self.problems = set(), []
        self._index(self._walk(collect_folders=True))

    def _walk(self, collect_folders: bool = False):
        """Every file's path relative to the root; folders (links to folders too, not
        entered) go to self.folders on the first walk. Nothing else is kept."""
        base = str(self.root)
        for top, dirs, files in os.walk(base):
            rel_top = os.path.relpath(top, base).replace(os.sep, "/")
            rel_top = "" if rel_top == "." else rel_top + "/"
            for d in dirs:
                if collect_folders:
                    self.folders.add(rel_top + d)
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
            for name in files:
                yield rel_top + name

    def names(self):
        return self._walk()

    def open(self, rel: str):
        return open(self.root / rel, "rb")


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError, struct.error,
              UnicodeDecodeError)


class _ZipReader(_Reader):
    kind = "zip"

    def __init__(self, path: Path):
        self.zr = None
        try:
            self.zr = ZipReader(path)
            self._read_directory()
        except ZIP_ERRORS as e:
            if self.zr is not None:
                self.zr.close()
            raise PackageUnreadable("corrupt package", f"材料包已损坏，无法读取 zip 目录：{path}（{e}）") from None

    def _read_directory(self) -> None:
        # pass 1: the root folder (the top folder holding SHA256SUMS, else the first one);
        # every record is checked here, so a damaged directory is found before anything else
        tops, with_sums = set(), set()
        for entry in self.zr.entries():
            top, _, rest = entry.name.partition("/")
            tops.add(top)
            if rest == SUMS:
                with_sums.add(top)
        self.root_name = sorted(with_sums)[0] if with_sums else (sorted(tops)[0] if tops else "")
        self.prefix = prefix = self.root_name + "/"
        # pass 2: files (path key → directory offset; the last entry of a name wins), folders
        self.folders, self.problems, self.implied = set(), [], set()
        self.offsets: dict[bytes, int] = {}
        for entry in self.zr.entries():
            name = entry.name
            if name.rstrip("/") == self.root_name:
                continue
            if not name.startswith(prefix):
                self.problems.append(_problem("extra file", name, "不在材料包根目录内的多余条目"))
                continue
            rel = name[len(prefix):]
            if entry.is_dir():
                self.folders.add(rel.rstrip("/"))
            else:
                self.offsets[_key(rel)] = entry.cd_offset
                if "/" in rel:
                    self.implied.add(rel.rsplit("/", 1)[0])

    def has(self, rel: str) -> bool:
        return _key(rel) in self.offsets

    def names(self):
        """Each file's path once (the last entry of a duplicated name), in directory order."""
        n = len(self.prefix)
        for entry in self.zr.entries():
            name = entry.name
            if name.startswith(self.prefix) and not entry.is_dir() and name.rstrip("/") != self.root_name:
                rel = name[n:]
                if self.offsets.get(_key(rel)) == entry.cd_offset:
                    yield rel

    def open(self, rel: str):
        return self.zr.open(self.zr.entry_at(self.offsets[_key(rel)]))

    def close(self):
        self.zr.close()


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


class _Sums:
    """SHA256SUMS read as a stream: `hashes` maps each path's key to its SHA-256 (32 bytes;
    the last line for a path wins), `paths()` streams the paths again in first-seen order."""

    def __init__(self, reader: _Reader):
        self.reader = reader
        self.hashes: dict[bytes, bytes] = {}
        self.problems: list[dict] = []
        self.duplicates = False
        if not reader.has(SUMS):
            self.problems = [_problem("missing file", SUMS, "缺少校验文件")]
            self.readable = False
            return
        self.readable = True
        lines = 0
        try:
            for n, line in self._lines():
                m = _SUM_LINE.match(line)
                if not m:
                    self.problems.append(_problem("bad checksum line", f"{SUMS}:{n}", "无法识别的校验行"))
                    continue
                lines += 1
                self.hashes[_key(m.group(2))] = bytes.fromhex(m.group(1))
        except READ_ERRORS as e:
            self._unreadable(_problem("hash mismatch", SUMS, f"校验文件无法读取或已损坏：{e}"))
            return
        except UnicodeDecodeError:
            self._unreadable(_problem("bad checksum line", SUMS, "校验文件不是 UTF-8 文本"))
            return
        self.duplicates = lines != len(self.hashes)

    def _unreadable(self, problem: dict) -> None:
        self.hashes, self.problems, self.readable = {}, [problem], False

    def _lines(self):
        """(line number, text) of the non-blank lines, as str.splitlines() would split them."""
        with self.reader.open(SUMS) as raw:
            n = 0
            for data in raw:
                for line in data.decode("utf-8").splitlines():
                    n += 1
                    if line.strip():
                        yield n, line

    def __contains__(self, rel: str) -> bool:
        return _key(rel) in self.hashes

    def __len__(self) -> int:
        return len(self.hashes)

    def get(self, rel: str) -> str | None:
        h = self.hashes.get(_key(rel))
        return None if h is None else h.hex()

    def paths(self):
        """Each listed path once, in the order of its first line."""
        if not self.readable:
            return
        seen: set[bytes] | None = set() if self.duplicates else None
        for _, line in self._lines():
            m = _SUM_LINE.match(line)
            if not m:
                continue
            rel = m.group(2)
            if seen is not None:
                k = _key(rel)
                if k in seen:
                    continue
                seen.add(k)
            yield rel


def read_sums(reader: _Reader) -> tuple[dict[str, str], list[dict]]:
    """SHA256SUMS as {path: sha256} (a whole dict: for callers that want one; verify streams)."""
    sums = _Sums(reader)
    return {rel: sums.get(rel) for rel in sums.paths()}, sums.problems


def _parse_manifest(reader: _Reader):
    """manifest.json parsed whole (any shape: see manifest_problems), None if unreadable."""
    try:
        return json.loads(reader.read(MANIFEST).decode("utf-8"))
    except (*READ_ERRORS, ValueError, RecursionError):
        return None


def read_manifest(package, limit: int | None = None) -> dict | None:
    """The one reader of a package's manifest.json (verify, diff, the export page).

    `package`: a path (zip, folder or bag) or an open reader. Returns the parsed object with
    `files` (all of them, or the first `limit`) and `files_total`; None when there is no
    readable manifest. Read line by line in the package's own layout, so `limit` keeps a
    100,000-file manifest out of memory; any other layout is parsed whole."""
    if isinstance(package, _Reader):
        return _read_manifest(package, limit)
    try:
        reader = open_package(package)
    except UsageError:
        return None
    try:
        return _read_manifest(reader, limit)
    finally:
        reader.close()


def _read_manifest(reader: _Reader, limit: int | None) -> dict | None:
    if not reader.has(MANIFEST):
        return None
    try:
        head, files = _manifest_stream(reader)
        if not isinstance(head, dict):
            return None
        if not isinstance(files, (list, _ManifestLines)):
            return dict(head, files=files, files_total=0)
        kept, total = [], 0
        for f in files:
            total += 1
            if limit is None or total <= limit:
                kept.append(f)
        return dict(head, files=kept, files_total=total)
    except _NotStreamable:
        m = _parse_manifest(reader)
    except READ_ERRORS:
        return None
    if not isinstance(m, dict):
        return None
    files = m.get("files", [])
    if isinstance(files, list):
        m["files_total"] = len(files)
        m["files"] = files if limit is None else files[:limit]
    return m


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


def _manifest_stream(reader: _Reader):
    """(head, files) of manifest.json without parsing it whole: the package's own layout
    (indented head, last key "files", one compact object per line) is read line by line; any
    other JSON falls back to json.loads. head: the parsed object without its files (None if
    unreadable); files: an iterable of the `files` entries (a non-list `files` is returned as is)."""
    try:
        with reader.open(MANIFEST) as f:
            head_lines = []
            for line in f:
                head_lines.append(line)
                if line in (b' "files": [\n', b' "files": []\n') or len(head_lines) > 100_000:
                    break
            streamed = head_lines and head_lines[-1] == b' "files": [\n' and head_lines[0] == b"{\n"
            if streamed:
                head = json.loads(b"".join(head_lines[:-1]).decode("utf-8") + ' "files": []\n}')
                if isinstance(head, dict):
                    return head, _manifest_lines(reader, len(head_lines))
    except (*READ_ERRORS, ValueError, RecursionError):
        pass
    m = _parse_manifest(reader)
    if not isinstance(m, dict):
        return m, []
    files = m.pop("files", [])
    return m, files


class _NotStreamable(Exception):
    pass


class _ManifestLines:
    """The `files` entries of a manifest in the package's own layout, parsed line by line.
    Raises _NotStreamable if the rest of the file is not that layout (the caller then parses
    the whole document)."""

    def __init__(self, reader: _Reader, skip: int):
        self.reader, self.skip = reader, skip

    def __iter__(self):
        with self.reader.open(MANIFEST) as f:
            for _ in range(self.skip):
                f.readline()
            ended = False
            for line in f:
                if ended:
                    if line.strip():
                        raise _NotStreamable
                    continue
                if line == b" ]\n":
                    nxt = f.readline()
                    if nxt.rstrip(b"\r\n ") != b"}":
                        raise _NotStreamable
                    ended = True
                    continue
                text = line.rstrip(b"\n")
                if text.endswith(b","):
                    text = text[:-1]
                try:
                    yield json.loads(text.decode("utf-8"))
                except (ValueError, RecursionError):
                    raise _NotStreamable from None
            if not ended:
                raise _NotStreamable


def _manifest_lines(reader: _Reader, skip: int) -> _ManifestLines:
    return _ManifestLines(reader, skip)


def _head_problems(m) -> list[str]:
    """manifest_problems for everything but the file entries."""
    if not isinstance(m, dict):
        return ["manifest.json 不是 JSON 对象"]
    out = []
    if "folders" in m and not _is_str_list(m["folders"]):
        out.append("manifest.json 的 folders 不是文件夹名的列表")
    return out


def _file_problems(n: int, f, need: dict) -> list[str]:
    if not isinstance(f, dict):
        return [f"manifest.json 的第 {n} 个文件条目不是 JSON 对象"]
    out = []
    for key, kind in need.items():
        if key not in f:
            out.append(f"manifest.json 的第 {n} 个文件条目缺少 {key}")
        elif not isinstance(f[key], kind) or isinstance(f[key], bool):
            out.append(f"manifest.json 的第 {n} 个文件条目的 {key} 类型不对")
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
    """Streams: SHA256SUMS and manifest.json are read line by line (twice or three times)
    and paths are kept as 16-byte keys, so memory does not grow with the manifest."""
    problems = list(reader.problems)
    if reader.kind == "bagit":
        problems += _verify_bag(reader.bag)
    if not reader.has(SUMS) and not reader.has(MANIFEST):
        return problems + [_problem("not a package", reader.root_name or ".", "没有 SHA256SUMS 和 manifest.json，不是材料包")]
    sums = _Sums(reader)
    problems += sums.problems
    for rel in sums.paths():
        if not reader.has(rel):
            problems.append(_problem("missing file", rel, "文件缺失"))
            continue
        try:
            actual = reader.sha256(rel)
        except READ_ERRORS as e:
            problems.append(_problem("hash mismatch", rel, f"文件无法读取或已损坏：{e}"))
            continue
        if actual != sums.get(rel):
            problems.append(_problem("hash mismatch", rel, "SHA-256 与 SHA256SUMS 不符"))
    extra = [rel for rel in reader.names() if rel != SUMS and rel not in sums]
    problems += [_problem("extra file", rel, "多余文件（不在 SHA256SUMS 中）") for rel in sorted(extra)]
    if not reader.has(MANIFEST):
        if MANIFEST not in sums:
            problems.append(_problem("missing file", MANIFEST, "文件缺失"))
        return problems
    try:
        return problems + _check_manifest(reader, sums, *_manifest_stream(reader))
    except _NotStreamable:   # not our line layout: parse it whole
        m = _parse_manifest(reader)
    except READ_ERRORS:
        m = None
    files = m.pop("files", []) if isinstance(m, dict) else []
    return problems + _check_manifest(reader, sums, m, files)


def _check_manifest(reader: _Reader, sums: _Sums, manifest, files) -> list[dict]:
    if manifest is None:
        return [_problem("manifest mismatch", MANIFEST, "manifest.json 无法读取")]
    if not isinstance(manifest, dict):
        return [_problem("manifest mismatch", MANIFEST, p) for p in _head_problems(manifest)]
    problems = []
    lead = []
    if not isinstance(files, (list, _ManifestLines)):
        lead, files = ["manifest.json 的 files 不是列表"], []
    need = {"path": str, "sha256": str}
    listed: set[bytes] = set()
    file_shape = []
    for n, f in enumerate(files, start=1):
        bad = _file_problems(n, f, need)
        if bad:
            file_shape += bad
            continue
        rel = f["path"]
        listed.add(_key(rel))
        if rel not in sums:
            problems.append(_problem("manifest mismatch", rel, "manifest.json 列出的文件不在 SHA256SUMS 中"))
        elif sums.get(rel) != f["sha256"]:
            problems.append(_problem("manifest mismatch", rel, "manifest.json 与 SHA256SUMS 的 SHA-256 不一致"))
    shape = lead + file_shape + _head_problems(manifest)   # manifest_problems' order
    if shape:
        return [_problem("manifest mismatch", MANIFEST, p) for p in shape]
    for rel in sums.paths():
        if _key(rel) not in listed and rel not in GENERATED:
            problems.append(_problem("manifest mismatch", rel, "SHA256SUMS 列出的文件不在 manifest.json 中"))
    folders = set(manifest.get("folders", []))
    implied = reader.implied
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
