"""Declaration packages: zip / dir / BagIt, names, reproducibility, verify, diff, CLI."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from archive.package import (CATALOGUE, REVIEW_SHEET, ExportCancelled, PackageRefused, diff_packages,
                             export_package, verify_package)
from archive.core.errors import UsageError
from archive.package.names import MAX_PATH, Folder, safe_name
from archive.core.store import sha256_file
from cli import cli
from tests import filefactory as ff
from tests.package_helpers import EVIL, add, assert_text_not_formula, insert_direct, load_mini_map_with_edition
from archive.maps.loading import current_map

EVAL = "2026-07-15"
ROOT = "mini-test_网上申报_2026-07-15"
FORBIDDEN = set('\\/:*?"<>|')
RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.I)

# the mini map as folders, root first
MAP_FOLDERS = [
    "Ⅰ—1 中央文明委重点工作",
    "Ⅰ—1 中央文明委重点工作/Ⅱ—1 学习宣传贯彻重要讲话精神",
    "Ⅰ—1 中央文明委重点工作/Ⅱ—1 学习宣传贯彻重要讲话精神/Ⅲ—1 健全学习制度",
    "Ⅰ—1 中央文明委重点工作/Ⅱ—1 学习宣传贯彻重要讲话精神/Ⅲ—2 开展宣传教育",
    "Ⅰ—1 中央文明委重点工作/Ⅱ—2 未成年人思想道德建设",
    "Ⅰ—1 中央文明委重点工作/Ⅱ—2 未成年人思想道德建设/Ⅲ—3 乡村学校少年宫建设",
    "Ⅰ—2 舒适便利的生活环境",
    "Ⅰ—2 舒适便利的生活环境/Ⅱ—3 市容环境卫生",
    "Ⅰ—2 舒适便利的生活环境/Ⅱ—3 市容环境卫生/Ⅲ—4 农贸市场管理规范",
    "Ⅰ—2 舒适便利的生活环境/Ⅱ—3 市容环境卫生/Ⅲ—5 背街小巷环境整洁",
    "Ⅰ—2 舒适便利的生活环境/Ⅱ—3 市容环境卫生/Ⅲ—6 门前三包责任落实",
]
LEAF_FOLDER = {f.rsplit("/", 1)[-1].split(" ")[0]: f for f in MAP_FOLDERS if f.count("/") == 2}


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("package_src")
    return {
        "rule": ff.make_pdf(d / "学习制度.pdf", ["理论学习中心组学习制度"]),
        "note": ff.make_pdf(d / "说明.pdf", ["情况说明 本年度"]),
        "note_old": ff.make_pdf(d / "旧说明.pdf", ["情况说明 去年"]),
        "photo": ff.make_jpeg(d / "IMG_0001.jpg", exif_date=datetime(2026, 2, 1, 10, 0), seed=1),
        "rejected": ff.make_pdf(d / "退回.pdf", ["门前三包 规范文件 被退回"]),
        "stats": ff.make_xlsx(d / "统计.xlsx", [["学校", "人数"], ["一小", 30]]),
        "ledger": ff.make_xlsx(d / "台账.xlsx", [["日期", "活动"], ["2026-06-30", "宣讲"]]),
        "deleted": ff.make_pdf(d / "删除.pdf", ["已删除的材料"]),
        "extra": [ff.make_pdf(d / f"附加{i}.pdf", [f"附加材料 第{i}份"]) for i in range(4)],
    }


@pytest.fixture
def archive(instance, files):
    """Ⅲ—1 complete (one pending, one approved), Ⅲ—2 complete, Ⅲ—3 complete, Ⅲ—4 nothing needed,
    Ⅲ—5 complete (the photo is on Ⅲ—2 and Ⅲ—5), Ⅲ—6 has a gap (its 规范文件 was rejected)."""
    ids = {
        "rule": add(instance, files["rule"], ["Ⅲ—1"], "规范文件", date="2026-01-05", title="学习制度"),
        "note": add(instance, files["note"], ["Ⅲ—1", "Ⅲ—6"], "情况说明", date="2025-07-01",
                    title="情况说明", review="approved"),
        "note_old": add(instance, files["note_old"], ["Ⅲ—1"], "情况说明", date="2025-06-30", title="旧说明"),
        "photo": add(instance, files["photo"], ["Ⅲ—2", "Ⅲ—5"], "实景图片", title="宣传栏", review="approved"),
        "rejected": add(instance, files["rejected"], ["Ⅲ—6"], "规范文件", date="2026-03-01",
                        title="退回的文件", review="rejected"),
        "stats": add(instance, files["stats"], ["Ⅲ—3"], "统计表格", date="2024-07-01", title="少年宫统计"),
        "ledger": add(instance, files["ledger"], ["Ⅲ—2", "Ⅲ—6"], "工作台账", date="2026-06-30", title="活动台账"),
        "deleted": add(instance, files["deleted"], ["Ⅲ—1"], "规范文件", date="2026-01-01", title="删掉的"),
    }
    instance.db.execute("UPDATE items SET deleted_at = '2026-07-01T00:00:00Z' WHERE id = ?", [ids["deleted"]])
    return ids


def expected_placement(ids) -> dict[str, set[int]]:
    """Leaf code → item ids the default package holds there."""
    return {"Ⅲ—1": {ids["rule"], ids["note"]}, "Ⅲ—2": {ids["photo"], ids["ledger"]}, "Ⅲ—3": {ids["stats"]},
            "Ⅲ—4": set(), "Ⅲ—5": {ids["photo"]}, "Ⅲ—6": {ids["note"], ids["ledger"]}}


def unpack(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest / ROOT


def tree(root: Path) -> tuple[set[str], set[str]]:
    dirs, files = set(), set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        (dirs if p.is_dir() else files).add(rel)
    return dirs, files


def check_package_root(root: Path, instance, ids):
    dirs, files = tree(root)
    assert dirs == set(MAP_FOLDERS)                                  # the tree is the map's tree
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    placed: dict[str, set[int]] = {code: set() for code in LEAF_FOLDER}
    for f in manifest["files"]:
        folder = f["path"].rsplit("/", 1)[0]
        assert folder == LEAF_FOLDER[f["leaf"]]
        placed[f["leaf"]].add(f["item_id"])
        row = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [f["item_id"]]).fetchone()
        assert sha256_file(root / f["path"]) == f["sha256"] == row[0]
    assert placed == expected_placement(ids)                          # each item in each of its leaves
    assert files == {CATALOGUE, REVIEW_SHEET, "manifest.json", "SHA256SUMS"} | {f["path"] for f in manifest["files"]}
    # sha256sum -c inside the root
    res = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": OK") == len(files) - 1
    return manifest


def test_zip_tree_files_and_sha256sums(archive, instance, tmp_path):
    report = export_package(instance, tmp_path / "pkg.zip", EVAL)
    assert report["path"] == str(tmp_path / "pkg.zip") and report["included"] == 5
    manifest = check_package_root(unpack(tmp_path / "pkg.zip", tmp_path / "x"), instance, archive)
    assert manifest["map"] == {"id": "mini-test", "edition": "测试用测评体系（迷你）"}
    assert manifest["options"] == {"format": "zip", "approved_only": False, "include_out_of_window": False,
                                   "strict": False}
    # empty leaf folders are explicit directory entries; every entry has the UTF-8 flag
    with zipfile.ZipFile(tmp_path / "pkg.zip") as zf:
        names = zf.namelist()
        assert f"{ROOT}/{LEAF_FOLDER['Ⅲ—4']}/" in names
        assert all(i.flag_bits & 0x800 for i in zf.infolist())
        assert all(i.date_time == (2026, 7, 15, 0, 0, 0) for i in zf.infolist())
        jpg = next(i for i in zf.infolist() if i.filename.endswith(".jpg"))
        assert jpg.compress_type == zipfile.ZIP_STORED


def test_zip_out_without_zip_suffix_is_a_folder(archive, instance, tmp_path):
    """`export out/` (or `out`) puts {root}.zip inside the folder; it never writes a zip named `out`."""
    for out in (tmp_path / "new-folder", tmp_path / "existing"):
        if out.name == "existing":
            out.mkdir()
        report = export_package(instance, out, EVAL)
        assert report["path"] == str(out / f"{ROOT}.zip")
        assert zipfile.is_zipfile(out / f"{ROOT}.zip")


def test_excluded_items_are_listed_with_reasons(archive, instance, tmp_path):
    report = export_package(instance, tmp_path / "pkg.zip", EVAL)
    reasons = {x["id"]: x["reason"] for x in report["excluded"]}
    assert set(reasons) == {archive["note_old"], archive["rejected"], archive["deleted"]}
    assert reasons[archive["note_old"]].endswith("(out of window)") and "2025-06-30" in reasons[archive["note_old"]]
    assert reasons[archive["rejected"]].endswith("(rejected)")
    assert reasons[archive["deleted"]].endswith("(deleted)")
    assert report["gaps"] == [{"code": "Ⅲ—6", "name": "门前三包责任落实", "missing": ["规范文件"]}]


def test_dir_format_matches_the_zip(archive, instance, tmp_path):
    report = export_package(instance, tmp_path / "out", EVAL, fmt="dir")
    root = Path(report["path"])
    assert root == tmp_path / "out" / ROOT
    check_package_root(root, instance, archive)
    assert verify_package(root) == [] and verify_package(tmp_path / "out") == []
    export_package(instance, tmp_path / "pkg.zip", EVAL)
    zroot = unpack(tmp_path / "pkg.zip", tmp_path / "z")
    for rel in tree(root)[1] - {"manifest.json", "SHA256SUMS"}:
        assert (root / rel).read_bytes() == (zroot / rel).read_bytes(), rel


def test_bagit_validates(archive, instance, tmp_path):
    import bagit

    report = export_package(instance, tmp_path / "bag", EVAL, fmt="bagit")
    bag = bagit.Bag(report["path"])
    bag.validate()
    check_package_root(tmp_path / "bag" / "data" / ROOT, instance, archive)
    assert verify_package(tmp_path / "bag") == []
    script = Path(os.environ.get("VIRTUAL_ENV", Path(__file__).parents[1] / ".venv")) / "bin" / "bagit.py"
    if script.exists():
        res = subprocess.run([str(script), "--validate", str(tmp_path / "bag")], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    # a damaged payload file fails both bagit and verify
    victim = next(p for p in (tmp_path / "bag" / "data").rglob("*.pdf"))
    victim.write_bytes(victim.read_bytes() + b"x")
    kinds = {p["problem"] for p in verify_package(tmp_path / "bag")}
    assert {"bag invalid", "hash mismatch"} <= kinds


def test_xlsx_rows(archive, instance, tmp_path):
    root = unpack(Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"]), tmp_path / "x")
    manifest = json.loads((root / "manifest.json").read_text("utf-8"))
    ws = load_workbook(root / CATALOGUE).active
    header = [c.value for c in ws[3]]
    assert header[:9] == ["序号", "指标编码", "测评内容", "材料类型", "标题", "责任单位", "日期", "路径", "SHA-256"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    assert len(rows) == len(manifest["files"]) == 8
    for row, f in zip(rows, manifest["files"]):
        assert row[0] == manifest["files"].index(f) + 1
        assert row[7] == f"{ROOT}/{f['path']}" and row[8] == f["sha256"] and row[3] == f["type"]
    photo_rows = [r for r in rows if r[4] == "宣传栏"]
    assert {r[2] for r in photo_rows} == {"开展宣传教育", "背街小巷环境整洁"} and photo_rows[0][6] == "2026-02-01"
    sheet = load_workbook(root / REVIEW_SHEET).active
    srows = [[c.value for c in r] for r in sheet.iter_rows(min_row=4)]
    assert [r[2] for r in srows] == ["Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—4", "Ⅲ—5", "Ⅲ—6"]
    h = [c.value for c in sheet[3]]
    assert srows[5][h.index("缺少材料")] == "规范文件" and srows[5][h.index("状态")] == "不全"
    assert "审核员甲" in srows[5][h.index("审核人")] and "rejected by test" in srows[5][h.index("审核意见")]


def test_two_exports_are_byte_identical(archive, instance, tmp_path):
    a = export_package(instance, tmp_path / "a.zip", EVAL)
    time.sleep(1.1)   # a clock that leaked into the bytes would show now
    b = export_package(instance, tmp_path / "b.zip", EVAL)
    assert Path(a["path"]).read_bytes() == Path(b["path"]).read_bytes()
    c = export_package(instance, tmp_path / "c.zip", EVAL, approved_only=True)
    assert Path(c["path"]).read_bytes() != Path(a["path"]).read_bytes()


def test_options_approved_only_and_out_of_window(archive, instance, tmp_path):
    r = export_package(instance, tmp_path / "a.zip", EVAL, approved_only=True)
    reasons = {x["id"]: x["reason"] for x in r["excluded"]}
    assert reasons[archive["rule"]].endswith("(not approved)")
    assert {g["code"] for g in r["gaps"]} == {"Ⅲ—1", "Ⅲ—2", "Ⅲ—3", "Ⅲ—6"}
    r = export_package(instance, tmp_path / "o.zip", EVAL, include_out_of_window=True)
    assert archive["note_old"] not in {x["id"] for x in r["excluded"]}
    with zipfile.ZipFile(r["path"]) as zf:
        assert any(n.endswith("_情况说明_旧说明.pdf") for n in zf.namelist())


def test_strict_refuses_a_gap_and_writes_nothing(archive, instance, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PackageRefused) as e:
        export_package(instance, out / "s.zip", EVAL, strict=True)
    assert e.value.report["gaps"][0]["code"] == "Ⅲ—6"
    with pytest.raises(PackageRefused):
        export_package(instance, out / "bag", EVAL, fmt="bagit", strict=True)
    assert list(out.iterdir()) == []
    # closing the gap lets it through
    add(instance, ff.make_pdf(tmp_path / "src" / "新规范.pdf", ["新的门前三包规范"]), ["Ⅲ—6"], "规范文件",
        date="2026-04-01")
    assert export_package(instance, out / "s.zip", EVAL, strict=True)["gaps"] == []


def test_failed_export_leaves_nothing(archive, instance, tmp_path):
    def cancel(done, total, message):
        if done == 6:
            raise ExportCancelled()
    out = tmp_path / "out"
    out.mkdir()
    for fmt, target in (("zip", out / "p.zip"), ("dir", out / "d"), ("bagit", out / "b")):
        with pytest.raises(ExportCancelled):
            export_package(instance, target, EVAL, fmt=fmt, progress=cancel)
    leftovers = [p for p in out.rglob("*")]
    assert leftovers == []   # not even the dir format's parent folder, which the export made


def test_progress_reports_every_file(archive, instance, tmp_path):
    seen = []
    export_package(instance, tmp_path / "p.zip", EVAL, progress=lambda d, t, m: seen.append((d, t, m)))
    assert seen[0][0] == 0 and "目录" in seen[0][2]
    assert [s[0] for s in seen] == list(range(len(seen)))
    assert seen[-1][0] == seen[-1][1] == 4 + 8


def test_verify_catches_flipped_byte_missing_and_extra_file(archive, instance, tmp_path):
    root = Path(export_package(instance, tmp_path / "out", EVAL, fmt="dir")["path"])
    assert verify_package(root) == []
    pdf = next(root.rglob("*.pdf"))
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    jpg = next(root.rglob("*.jpg"))
    jpg.unlink()
    (root / LEAF_FOLDER["Ⅲ—4"] / "多出来的.txt").write_text("x", "utf-8")
    problems = verify_package(root)
    by_kind = {(p["problem"], p["path"]) for p in problems}
    assert ("hash mismatch", pdf.relative_to(root).as_posix()) in by_kind
    assert ("missing file", jpg.relative_to(root).as_posix()) in by_kind
    assert ("extra file", f"{LEAF_FOLDER['Ⅲ—4']}/多出来的.txt") in by_kind
    assert len(problems) == 3


def test_verify_catches_a_flipped_byte_inside_a_zip(archive, instance, tmp_path):
    path = Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"])
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".jpg"))
        name_len = len(info.filename.encode("utf-8"))
    raw = bytearray(path.read_bytes())
    offset = info.header_offset + 30 + name_len + 100
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    problems = verify_package(path)
    assert [p["problem"] for p in problems] == ["hash mismatch"]
    assert problems[0]["path"] == info.filename[len(ROOT) + 1:]


def test_verify_zip_missing_and_extra_entries(archive, instance, tmp_path):
    src = Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"])
    dst = tmp_path / "edited.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        dropped = next(i.filename for i in zin.infolist() if i.filename.endswith(".jpg"))
        for info in zin.infolist():
            if info.filename != dropped:
                zout.writestr(info, zin.read(info.filename))
        zout.writestr(f"{ROOT}/备注.txt", "多余")
    kinds = sorted(p["problem"] for p in verify_package(dst))
    assert kinds == ["extra file", "missing file"]


NASTY = '通知、要求：关于/做好\\创建?工作*的"意见"<试行>|第1号. '


def test_names_are_windows_safe_unique_and_short(instance, tmp_path):
    d = tmp_path / "src"
    long_title = "关于进一步加强和改进未成年人思想道德建设工作的实施意见" * 8   # > 200 characters
    titles = [NASTY, NASTY, long_title, long_title + "甲", long_title + "乙", "CON", "nul.", "Aux"]
    for i, title in enumerate(titles):
        add(instance, ff.make_pdf(d / f"f{i}.pdf", [f"文件 {i}"]), ["Ⅲ—1", "Ⅲ—5"], "规范文件",
            date="2026-01-05", title=title)
    path = Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"])
    with zipfile.ZipFile(path) as zf:
        names = [i.filename for i in zf.infolist()]
    files = [n for n in names if not n.endswith("/")]
    assert len(files) == 4 + 2 * len(titles)
    for n in names:
        assert n == unicodedata.normalize("NFC", n)
        assert len(n.rstrip("/")) <= MAX_PATH, n
        for part in n.rstrip("/").split("/"):
            assert not (set(part) & FORBIDDEN), part
            assert not any(ord(c) < 32 for c in part)
            assert part == part.rstrip(". "), part
            assert not RESERVED.match(part), part
    for folder in (LEAF_FOLDER["Ⅲ—1"], LEAF_FOLDER["Ⅲ—5"]):
        in_folder = [n.rsplit("/", 1)[1] for n in files if n.startswith(f"{ROOT}/{folder}/")]
        assert len(in_folder) == len(titles)
        assert len({x.casefold() for x in in_folder}) == len(titles)
        assert all(x.endswith(".pdf") for x in in_folder)
    assert any(n.endswith("_通知、要求：关于／做好＼创建？工作＊的＂意见＂＜试行＞｜第1号.pdf") for n in files)
    assert sum("…" in n for n in files) == 6   # the three long titles, shortened, in two folders
    # unzip, Python's zipfile and 7-Zip list the same Chinese names
    unzip_names = _unzip_names(path)
    assert unzip_names == sorted(names)
    seven = _7z_names(path)
    assert seven == sorted(n.rstrip("/") for n in names)
    # and it unpacks to the same
    check = tmp_path / "u"
    subprocess.run(["unzip", "-q", str(path), "-d", str(check)], check=True)
    res = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=check / ROOT, capture_output=True)
    assert res.returncode == 0, res.stdout


def _unzip_names(path) -> list[str]:
    """Names as `unzip -l` prints them (Length, Date, Time, Name columns)."""
    out = subprocess.run(["unzip", "-l", str(path)], capture_output=True, check=True,
                         env=dict(os.environ, LC_ALL="C.UTF-8")).stdout.decode("utf-8")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---------")) + 1
    end = max(i for i, line in enumerate(lines) if line.startswith("---------"))
    names = [line.split(None, 3)[3] for line in lines[start:end]]
    z1 = subprocess.run(["unzip", "-Z1", str(path)], capture_output=True, check=True).stdout.decode("utf-8")
    assert sorted(z1.splitlines()) == sorted(names)
    return sorted(names)


def _7z_names(path) -> list[str]:
    if not shutil.which("7z"):
        pytest.skip("7z (p7zip-full) not installed")
    out = subprocess.run(["7z", "l", "-slt", "-sccUTF-8", str(path)], capture_output=True, check=True,
                         env=dict(os.environ, LC_ALL="C.UTF-8")).stdout.decode("utf-8")
    names = [line[len("Path = "):] for line in out.splitlines() if line.startswith("Path = ")]
    return sorted(names[1:])   # the first Path is the archive itself


@pytest.mark.parametrize("raw, safe", [
    ("CON", "_CON"), ("con.pdf", "_con.pdf"), ("LPT1.txt", "_LPT1.txt"), ("COM10", "COM10"),
    ("标题. . ", "标题"), ("  前后  ", "前后"), ("a\tb\nc", "a_b_c"), ("...", "_"), ("a:b", "a：b"),
    ("e\u0301", "é"),
])
def test_safe_name(raw, safe):
    assert safe_name(raw) == safe


def test_folder_claims_are_case_insensitive():
    f = Folder()
    assert f.claim("A.pdf", 240) == "A.pdf"
    assert f.claim("a.pdf", 240) == "a (2).pdf"
    assert f.claim("A.PDF", 240) == "A (3).PDF"


def test_diff_packages(archive, instance, files, tmp_path):
    old = Path(export_package(instance, tmp_path / "old.zip", EVAL)["path"])
    db = instance.db
    # added: a new 规范文件 for Ⅲ—6 closes its gap
    new_id = add(instance, ff.make_pdf(tmp_path / "src" / "补充.pdf", ["补充的规范文件"]), ["Ⅲ—6"], "规范文件",
                 date="2026-05-01")
    # removed: the stats are rejected; moved: the ledger leaves Ⅲ—6 for Ⅲ—5
    from archive.evidence.review import review_item
    review_item(instance, archive["stats"], "rejected", "过期", by="审核员甲")
    db.execute("UPDATE item_codes SET code = 'Ⅲ—5' WHERE item_id = ? AND code = 'Ⅲ—6'", [archive["ledger"]])
    # replaced: the rule gets a new file
    sha, size = instance.store.put(ff.make_pdf(tmp_path / "src" / "新版.pdf", ["学习制度 修订版"]))
    db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, 'pdf', 'x')", [sha, size])
    db.execute("UPDATE items SET sha256 = ?, size = ? WHERE id = ?", [sha, size, archive["rule"]])
    new = Path(export_package(instance, tmp_path / "new", EVAL, fmt="dir")["path"])
    d = diff_packages(old, new)
    assert [(a["id"], a["leaf"]) for a in d["added"]] == [(new_id, "Ⅲ—6")]
    assert [(r["id"], r["leaf"]) for r in d["removed"]] == [(archive["stats"], "Ⅲ—3")]
    assert [(r["id"], r["leaf"]) for r in d["replaced"]] == [(archive["rule"], "Ⅲ—1")]
    assert d["replaced"][0]["new_sha256"] == sha
    assert [(m["id"], m["from"], m["to"]) for m in d["moved"]] == [(archive["ledger"], "Ⅲ—6", "Ⅲ—5")]
    assert [(g["code"], g["types"]) for g in d["gaps_closed"]] == [("Ⅲ—6", ["规范文件"])]
    assert [(g["code"], g["types"]) for g in d["gaps_opened"]] == [("Ⅲ—3", ["统计表格"]), ("Ⅲ—6", ["工作台账"])]
    assert d["unchanged"] == 5
    assert diff_packages(old, old)["unchanged"] == 8


def test_cli_export_verify_diff(archive, instance, runner, tmp_path):
    inst = ["--instance", str(instance.root)]
    res = runner.invoke(cli, inst + ["export", str(tmp_path), "--evaluation-date", EVAL, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["path"] == str(tmp_path / f"{ROOT}.zip") and "门前三包责任落实" in res.output
    assert len(report["excluded"]) == 3
    res = runner.invoke(cli, inst + ["export", str(tmp_path / "t.zip"), "--evaluation-date", EVAL])
    assert res.exit_code == 0
    assert "未收入 #" in res.output and "(rejected)" in res.output and "材料包已生成" in res.output
    res = runner.invoke(cli, inst + ["export", str(tmp_path / "s.zip"), "--evaluation-date", EVAL, "--strict"])
    assert res.exit_code == 1 and not (tmp_path / "s.zip").exists()
    assert "package has gaps" in res.stderr
    res = runner.invoke(cli, inst + ["export", str(tmp_path / "x"), "--evaluation-date", EVAL, "--format", "tar"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["verify", report["path"]])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["package", "diff", report["path"], str(tmp_path / "t.zip"), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["unchanged"] == 8
    # damage the package: verify lists it and exits 1
    root = Path(export_package(instance, tmp_path / "dir", EVAL, fmt="dir")["path"])
    (root / "manifest.json").write_text("{}", "utf-8")
    res = runner.invoke(cli, ["verify", str(root)])
    assert res.exit_code == 1 and "hash mismatch" in res.output
    res = runner.invoke(cli, ["verify", str(tmp_path / "nope.zip")])
    assert res.exit_code == 2


def test_commands_have_help(runner):
    for args in (["coverage"], ["export"], ["verify"], ["package"], ["package", "diff"]):
        res = runner.invoke(cli, args + ["--help"])
        assert res.exit_code == 0 and len(res.output) > 40, args


def test_large_archive_streams(instance, tmp_path):
    """A file bigger than any buffer we use goes through in chunks, hash re-checked."""
    big = tmp_path / "big.pdf"
    chunk = os.urandom(1 << 20)
    with open(big, "wb") as f:
        f.write(b"%PDF-1.4\n")
        for _ in range(12):
            f.write(chunk)
        f.write(b"\n%%EOF\n")
    insert_direct(instance, big, ["Ⅲ—1"], "规范文件", date="2026-01-05", title="大文件")
    path = Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"])
    assert verify_package(path) == []
    with zipfile.ZipFile(path) as zf:
        member = next(n for n in zf.namelist() if n.endswith("大文件.pdf"))
        h = hashlib.sha256()
        with zf.open(member) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    assert h.hexdigest() == sha256_file(big)


def test_damaged_store_file_fails_the_export(archive, instance, tmp_path):
    from archive.core.errors import Refusal

    sha = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [archive["rule"]]).fetchone()[0]
    p = instance.store.path(sha)
    os.chmod(p, 0o644)
    p.write_bytes(p.read_bytes()[:-1] + b"!")
    with pytest.raises(Refusal, match="store damaged"):
        export_package(instance, tmp_path / "p.zip", EVAL)
    assert list(tmp_path.glob("*.zip*")) == [] and list(tmp_path.glob(".p.zip*")) == []


def test_long_names_fit_linux_and_windows_limits():
    from archive.package.names import MAX_NAME_BYTES, file_name, folder_name

    title = "关于进一步加强和改进未成年人思想道德建设工作的实施意见" * 10
    name = file_name("{seq:03d}_{type}_{title}{ext}", {"seq": 1, "type": "规范文件", "title": title, "ext": ".pdf"}, 240)
    assert name.startswith("001_规范文件_关于") and name.endswith("….pdf")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    folder = folder_name("{code} {name}", "Ⅲ—1", title)
    assert folder.startswith("Ⅲ—1 关于") and len(folder.encode("utf-8")) <= MAX_NAME_BYTES
    assert file_name("{title}", {"title": "短"}, 240) == "短"


def test_control_characters_in_titles_do_not_break_names_or_xlsx(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "src" / "c.pdf", ["控制字符"])
    insert_direct(instance, pdf, ["Ⅲ—1"], "规范文件", date="2026-01-05", title="标题\x01控制\x0b字符")
    insert_direct(instance, ff.make_pdf(tmp_path / "src" / "d.pdf", ["第二份"]), ["Ⅲ—1"], "规范文件",
                  date="2026-01-06", title="第二\x02份")
    path = Path(export_package(instance, tmp_path / "out" / "p.zip", EVAL)["path"])
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert any(n.endswith("001_规范文件_标题_控制_字符.pdf") for n in names)
        root = unpack(path, tmp_path / "x")
    rows = [[c.value for c in r] for r in load_workbook(root / CATALOGUE).active.iter_rows(min_row=4)]
    assert [r[4] for r in rows] == ["标题?控制?字符", "第二?份"]


def _clean_exit(res, code: int) -> None:
    """The command ended with `code` through sys.exit, not with a traceback."""
    assert res.exit_code == code, (res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def test_formula_like_text_stays_text_in_both_spreadsheets(instance, tmp_path):
    """openpyxl writes any string starting with "=" as a formula: a title, unit, reviewer or
    edition like =HYPERLINK("http://evil.example",…) must reach the xlsx as plain text."""
    from archive.evidence.review import review_item

    load_mini_map_with_edition(instance, EVIL)
    pdf = ff.make_pdf(tmp_path / "src" / "a.pdf", ["公式注入"])
    item = add(instance, pdf, ["Ⅲ—1", "Ⅲ—2"], "规范文件", date="2026-01-05", title=EVIL, unit="=2+3")
    review_item(instance, item, "approved", comment="=1+1", by="=CMD()")
    path = Path(export_package(instance, tmp_path / "p.zip", EVAL)["path"])
    root = unpack(path, tmp_path / "x")
    # 目录: row 4 is written by openpyxl, row 5 (the same item on Ⅲ—2) as raw XML
    assert_text_not_formula(root / CATALOGUE, EVIL)
    assert_text_not_formula(root / CATALOGUE, "=2+3")
    rows = [[c.value for c in r] for r in load_workbook(root / CATALOGUE).active.iter_rows(min_row=4)]
    assert [(r[4], r[5]) for r in rows] == [(EVIL, "=2+3"), (EVIL, "=2+3")]
    assert load_workbook(root / CATALOGUE).active["A2"].value.startswith(EVIL)
    # 审核记录表: the subtitle starts with the edition; the reviewer column holds the name
    assert_text_not_formula(root / REVIEW_SHEET, EVIL)
    assert_text_not_formula(root / REVIEW_SHEET, "=CMD()")
    assert verify_package(path) == []


@pytest.mark.parametrize("args", [["pf"], ["pf", "--format", "dir"], ["pf/x.zip"], ["pf/a/x.zip"],
                                  ["pf/bag", "--format", "bagit"]])
def test_export_into_a_file_is_a_usage_error(archive, instance, runner, tmp_path, args):
    """A file where the output folder should be: exit 2, one Chinese line naming it, nothing written."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "pf").write_text("不是文件夹", "utf-8")
    before = _snapshot(work)
    out = str(work / args[0])
    res = runner.invoke(cli, ["--instance", str(instance.root), "export", out, "--evaluation-date", EVAL]
                        + args[1:])
    _clean_exit(res, 2)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "(cannot write output)" in lines[0]
    assert "无法写入输出位置" in lines[0] and str(work / "pf") in lines[0]
    assert _snapshot(work) == before


def test_export_into_a_new_nested_folder_is_made(archive, instance, tmp_path):
    report = export_package(instance, tmp_path / "a" / "b" / "p.zip", EVAL)
    assert verify_package(report["path"]) == []


def test_missing_store_file_refuses_the_export(archive, instance, runner, tmp_path):
    sha = instance.db.execute("SELECT sha256 FROM items WHERE id = ?", [archive["rule"]]).fetchone()[0]
    p = instance.store.path(sha)
    os.chmod(p.parent, 0o755)
    p.unlink()
    work = tmp_path / "work"
    work.mkdir()
    for args in (["out"], ["out", "--format", "dir"], ["bag", "--format", "bagit"]):
        res = runner.invoke(cli, ["--instance", str(instance.root), "export", str(work / args[0]),
                                  "--evaluation-date", EVAL] + args[1:])
        _clean_exit(res, 1)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "(store damaged)" in lines[0], res.stderr
        assert f"文件库缺少材料 #{archive['rule']} 的文件" in lines[0] and "evidence fsck" in lines[0]
        assert list(work.iterdir()) == [], args     # no temp output, no folder made for it


def _break_central_directory(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        start = min(i.header_offset for i in zf.infolist())
        cd = zf.start_dir
    data = bytearray(path.read_bytes())
    data[cd:cd + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    assert zipfile.is_zipfile(path) and start == 0


def test_verify_and_diff_a_zip_with_a_corrupt_central_directory(archive, instance, runner, tmp_path):
    good = Path(export_package(instance, tmp_path / "good.zip", EVAL)["path"])
    bad = tmp_path / "bad.zip"
    shutil.copy(good, bad)
    _break_central_directory(bad)
    problems = verify_package(bad)
    assert [p["problem"] for p in problems] == ["corrupt package"]
    res = runner.invoke(cli, ["verify", str(bad)])
    _clean_exit(res, 1)
    assert "材料包已损坏" in res.output and "(corrupt package)" in res.output
    res = runner.invoke(cli, ["package", "diff", str(good), str(bad)])
    _clean_exit(res, 2)
    assert "(corrupt package)" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("manifest", ["[1]", '{"files": 3}', '{"files": [1]}', '{"files": [{"path": ["x"]}]}',
                                      '{"files": [], "folders": [1]}', "[" * 100000])
def test_verify_and_diff_a_manifest_of_the_wrong_shape(archive, instance, runner, tmp_path, manifest):
    good = Path(export_package(instance, tmp_path / "good", EVAL, fmt="dir")["path"])
    bad = tmp_path / "bad" / ROOT
    shutil.copytree(good, bad)
    (bad / "manifest.json").write_text(manifest, "utf-8")
    kinds = {p["problem"] for p in verify_package(bad)}
    assert "manifest mismatch" in kinds and "hash mismatch" in kinds
    res = runner.invoke(cli, ["verify", str(bad)])
    _clean_exit(res, 1)
    assert "manifest.json" in res.output
    res = runner.invoke(cli, ["package", "diff", str(good), str(bad)])
    _clean_exit(res, 2)
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("错误: ")


def test_diff_a_manifest_entry_without_item_id(archive, instance, runner, tmp_path):
    good = Path(export_package(instance, tmp_path / "good", EVAL, fmt="dir")["path"])
    bad = tmp_path / "bad" / ROOT
    shutil.copytree(good, bad)
    m = json.loads((bad / "manifest.json").read_text("utf-8"))
    del m["files"][1]["item_id"]
    (bad / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), "utf-8")
    with pytest.raises(UsageError, match="bad manifest"):
        diff_packages(good, bad)
    res = runner.invoke(cli, ["package", "diff", str(good), str(bad), "--json"])
    _clean_exit(res, 2)
    assert "第 2 个文件条目缺少 item_id" in res.stderr and "(bad manifest)" in res.stderr
    # verify does not need item_id: only the changed manifest's hash is reported
    assert [p["problem"] for p in verify_package(bad)] == ["hash mismatch"]


def test_one_definition_of_shared_names():
    """The status names live in readiness/coverage.py, the package's file names in
    package/layout.py; the others import them, `archive.package` exports the API, and any
    module can be imported first (no cycle hidden behind a lazy import)."""
    import sys

    import archive.package as api
    import cli as cli_module
    from archive.package import build, layout, verify, xlsx
    from archive.readiness import coverage

    assert xlsx.STATUS_ZH is coverage.STATUS_ZH
    assert not hasattr(cli_module, "STATUS_TEXT")
    for name in ("SUMS", "MANIFEST", "CATALOGUE", "REVIEW_SHEET"):
        assert getattr(verify, name) is getattr(build, name) is getattr(layout, name) is getattr(api, name)
    assert api.verify_package is verify.verify_package and api.export_package is build.export_package
    assert not hasattr(build, "__getattr__") and not hasattr(build, "verify_package")
    for first in ("archive.package.verify", "archive.package.build", "archive.package.xlsx",
                  "archive.readiness.coverage", "archive.readiness.cache"):
        res = subprocess.run([sys.executable, "-c", f"import {first}; from archive.package import "
                              "verify_package, diff_packages, export_package, coverage_xlsx"],
                             cwd=Path(__file__).parents[1], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_readiness_imports_nothing_above_it():
    """Imports run one way: package → readiness → evidence/maps/core (docs/ARCHITECTURE.md)."""
    import ast

    here = Path(__file__).parents[1] / "archive"
    for area, banned in (("readiness", ("archive.package", "archive.web", "archive.commands", "archive.jobs")),
                         ("package", ("archive.web", "archive.commands", "archive.jobs")),
                         ("core", ("archive.",))):
        for f in (here / area).glob("*.py"):
            for node in ast.walk(ast.parse(f.read_text("utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    own = node.module == f"archive.{area}" or node.module.startswith(f"archive.{area}.")
                    assert own or not node.module.startswith(banned), (f, node.module)


def test_streamed_items_are_load_items(archive, instance):
    """export reads items one at a time (iter_items): the same dicts as coverage.load_items."""
    from archive.readiness.coverage import load_items, snapshot
    from archive.package.build import iter_items

    with snapshot(instance.db) as db:
        assert list(iter_items(db)) == load_items(db)


def test_read_manifest_is_one_reader_for_zip_dir_and_a_limit(archive, instance, tmp_path):
    """read_manifest (verify, diff and the export page use it): the same object from a zip and
    a folder; `limit` keeps the first files and counts them all; damage gives None."""
    from archive.package import read_manifest

    z = export_package(instance, tmp_path / "p.zip", EVAL)["path"]
    d = export_package(instance, tmp_path / "d", EVAL, fmt="dir")["path"]
    whole = json.loads(zipfile.ZipFile(z).read(f"{ROOT}/manifest.json"))
    got = read_manifest(z)
    assert got == dict(whole, files_total=len(whole["files"]))
    assert read_manifest(d) == dict(got, options=dict(got["options"], format="dir"))
    assert len(whole["files"]) > 2
    two = read_manifest(z, limit=2)
    assert two["files"] == whole["files"][:2] and two["files_total"] == len(whole["files"])
    in_dir = json.loads(Path(d, "manifest.json").read_text("utf-8"))
    Path(d, "manifest.json").write_text(json.dumps(in_dir, ensure_ascii=False), "utf-8")   # not our layout
    assert read_manifest(d, limit=2) == read_manifest(z, limit=2) | {"options": in_dir["options"]}
    Path(d, "manifest.json").write_text("{不是 JSON", "utf-8")
    assert read_manifest(d) is None and read_manifest(tmp_path / "nope.zip") is None


def test_verify_reads_a_reformatted_or_edited_manifest(archive, instance, tmp_path):
    """verify streams manifest.json line by line when it has the package's own layout, and
    parses it whole otherwise: both find the same problems."""
    root = Path(export_package(instance, tmp_path / "out", EVAL, fmt="dir")["path"])
    path = root / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    first = manifest["files"][0]["path"]
    lines = path.read_text("utf-8").split("\n")
    i = next(n for n, line in enumerate(lines) if line.startswith('{"path": ') and first in line)
    lines[i] = lines[i].replace('"sha256": "', '"sha256": "0', 1)
    path.write_text("\n".join(lines), "utf-8")                       # same layout: streamed
    streamed = verify_package(root)
    assert [(p["problem"], p["path"]) for p in streamed] == [("hash mismatch", "manifest.json"),
                                                             ("manifest mismatch", first)]
    edited = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps(edited, ensure_ascii=False, indent=2), "utf-8")   # another layout: whole
    assert [(p["problem"], p["path"]) for p in verify_package(root)] == [(p["problem"], p["path"]) for p in streamed]
    del edited["files"][0]["sha256"]
    path.write_text(json.dumps(edited, ensure_ascii=False), "utf-8")
    assert [p["message"] for p in verify_package(root) if p["problem"] == "manifest mismatch"] == \
        ["manifest.json: manifest.json 的第 1 个文件条目缺少 sha256 (manifest mismatch)"]
