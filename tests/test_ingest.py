"""The ingest pipeline end to end: real files, real SQLite, real CLI."""
from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from archive.core.config import Limits
from archive.evidence.ingest import IngestRequest, ingest_files, read_manifest
from archive.core.instance import Instance
from archive.maintenance import backup, fsck
from cli import cli
from tests import filefactory as ff


def add(instance, path, codes=("Ⅲ—1",), material_type="规范文件", **kw):
    req = IngestRequest(path=Path(path), codes=list(codes), material_type=material_type, **kw)
    return ingest_files(instance, [req], user="tester")


def only_refusal(result):
    assert not result.added and not result.duplicates
    assert len(result.refused) == 1
    return result.refused[0]


def assert_store_clean(instance):
    """Nothing half-written: no temp files, no stored file without its DB row."""
    assert instance.store.stray_temp_files() == []
    stored = set(instance.store.iter_all())
    recorded = {r[0] for r in instance.db.execute("SELECT sha256 FROM files")}
    assert stored == recorded


# -- the happy path -------------------------------------------------------------------

def test_pdf_is_stored_recorded_and_text_extracted(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "学习制度.pdf", ["理论学习中心组学习制度", "第二页 红马甲志愿服务队"])
    result = add(instance, pdf, codes=["III-1"], date="2026-03-05", unit="市委宣传部")
    assert result.ok and len(result.added) == 1
    row = result.added[0]
    assert row["codes"] == ["Ⅲ—1"]          # the map's own code, not the variant typed
    item = instance.db.execute("SELECT kind, title, original_name, date, date_source, unit, text "
                               "FROM items WHERE id = ?", [row["id"]]).fetchone()
    assert item[:6] == ("pdf", "学习制度", "学习制度.pdf", "2026-03-05", "given", "市委宣传部")
    assert "红马甲志愿服务队" in item[6]
    stored = instance.store.path(row["sha256"])
    assert stored.read_bytes() == pdf.read_bytes()
    assert not (stored.stat().st_mode & 0o222), "stored files are read-only"
    assert instance.db.execute("SELECT COUNT(*) FROM versions WHERE item_id = ?", [row["id"]]).fetchone()[0] == 1
    audit = instance.db.execute("SELECT user, action FROM audit WHERE target = ?", [f"item:{row['id']}"]).fetchall()
    assert audit == [("tester", "item.add")]


def test_photo_without_date_takes_exif_date(instance, tmp_path):
    jpg = ff.make_jpeg(tmp_path / "IMG_0001.jpg", exif_date=datetime(2026, 4, 18, 9, 30), gps=(39.9, 116.4))
    result = add(instance, jpg, codes=["Ⅲ-5"], material_type="实景图片")
    assert result.ok
    date, source, meta = instance.db.execute(
        "SELECT date, date_source, meta FROM items WHERE id = ?", [result.added[0]["id"]]).fetchone()
    assert (date, source) == ("2026-04-18", "exif")
    assert json.loads(meta)["gps"]["lat"] == pytest.approx(39.9, abs=1e-3)


def test_given_date_wins_over_exif(instance, tmp_path):
    jpg = ff.make_jpeg(tmp_path / "a.jpg", exif_date=datetime(2020, 1, 1, 8, 0))
    result = add(instance, jpg, codes=["Ⅲ-5"], material_type="实景图片", date="2026年5月1日")
    assert instance.db.execute("SELECT date, date_source FROM items").fetchone() == ("2026-05-01", "given")
    assert result.ok


def test_duplicate_bytes_stored_once_and_new_codes_added(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "制度.pdf", ["门前三包责任制度"])
    first = add(instance, pdf, codes=["Ⅲ—6"])
    copy = tmp_path / "副本.pdf"
    shutil.copy(pdf, copy)
    second = add(instance, copy, codes=["Ⅲ—1", "Ⅲ—6"])
    assert second.added == [] and second.duplicates == [
        {"path": str(copy), "id": first.added[0]["id"], "codes_added": ["Ⅲ—1"]}]
    assert instance.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1
    assert instance.db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1
    codes = [r[0] for r in instance.db.execute("SELECT code FROM item_codes ORDER BY code")]
    assert codes == ["Ⅲ—1", "Ⅲ—6"]
    assert len(list(instance.store.iter_all())) == 1


def test_one_item_on_several_leaves(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "x.pdf", ["宣传教育与学习制度"])
    result = add(instance, pdf, codes=["Ⅲ—1", "iii-2", "Ⅲ－1"])
    assert result.added[0]["codes"] == ["Ⅲ—1", "Ⅲ—2"]


# -- one test per refusal class ---------------------------------------------------------

def test_refuses_empty_file(instance, tmp_path):
    (tmp_path / "空.pdf").write_bytes(b"")
    assert only_refusal(add(instance, tmp_path / "空.pdf"))["key"] == "empty file"
    assert_store_clean(instance)


def test_refuses_exe_named_pdf(instance, tmp_path):
    exe = tmp_path / "通知.pdf"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode")
    r = only_refusal(add(instance, exe))
    assert r["key"] == "content does not match extension"
    assert "扩展名" in r["reason"]
    assert_store_clean(instance)


@pytest.mark.parametrize("maker,name,key", [
    (lambda p: ff.make_pdf(p, ["正文内容"]), "坏.pdf", "corrupt PDF"),
    (lambda p: ff.make_docx(p, ["情况说明正文"]), "坏.docx", "corrupt DOCX"),
    (lambda p: ff.make_xlsx(p, [["序号", "内容"], [1, "台账"]]), "坏.xlsx", "corrupt XLSX"),
    (lambda p: ff.make_jpeg(p), "坏.jpg", "corrupt JPEG"),
    (lambda p: ff.make_png(p), "坏.png", "corrupt PNG"),
])
def test_refuses_truncated_files(instance, tmp_path, maker, name, key):
    good = maker(tmp_path / ("good-" + name))
    data = Path(good).read_bytes()
    bad = tmp_path / name
    bad.write_bytes(data[: len(data) // 2])
    r = only_refusal(add(instance, bad, material_type="实景图片" if name.endswith(("jpg", "png")) else "规范文件",
                         codes=["Ⅲ—5"] if name.endswith(("jpg", "png")) else ["Ⅲ—1"]))
    assert r["key"] == key, r
    assert_store_clean(instance)


def test_refuses_encrypted_pdf(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "加密.pdf", ["机密"], encrypt="secret")
    assert only_refusal(add(instance, pdf))["key"] == "encrypted PDF"


def test_refuses_decompression_bomb_image(instance, tmp_path):
    bomb = ff.make_png_bomb(tmp_path / "bomb.png")
    r = only_refusal(add(instance, bomb, codes=["Ⅲ—5"], material_type="实景图片"))
    assert r["key"] == "image too large"


def test_refuses_office_zip_bomb(instance, tmp_path):
    bomb = ff.make_docx_bomb(tmp_path / "bomb.docx")
    assert only_refusal(add(instance, bomb))["key"] == "zip bomb"
    assert_store_clean(instance)


def test_refuses_file_over_size_limit(instance_dir, tmp_path):
    from archive.maps.loading import load_map_into
    from tests.conftest import MINI_MAP

    inst = Instance(instance_dir, limits=Limits(max_file_bytes=1000))
    inst.create()
    load_map_into(inst, MINI_MAP, user="t")
    pdf = ff.make_pdf(tmp_path / "大.pdf", ["很长的正文" * 200])
    assert Path(pdf).stat().st_size > 1000
    assert only_refusal(add(inst, pdf))["key"] == "file too large"
    inst.close()


def test_refuses_unknown_code_type_and_bad_date(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文"])
    assert only_refusal(add(instance, pdf, codes=["Ⅲ—99"]))["key"] == "unknown code"
    assert only_refusal(add(instance, pdf, codes=["Ⅱ—1"]))["key"] == "code is not a leaf"
    assert only_refusal(add(instance, pdf, material_type="照片"))["key"] == "unknown material type"
    assert only_refusal(add(instance, pdf, date="2026-02-30"))["key"] == "bad date"
    assert only_refusal(add(instance, pdf, date="昨天"))["key"] == "bad date"
    assert instance.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    assert_store_clean(instance)


def test_refuses_unsupported_extension(instance, tmp_path):
    f = tmp_path / "视频.avi"
    f.write_bytes(b"RIFF\x00\x01\x00\x00AVI LIST" + b"\x00" * 100)
    assert only_refusal(add(instance, f))["key"] == "unsupported file type"
    fake = tmp_path / "视频.mp4"     # .mp4 is accepted now: a header and zeros is no video
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    assert only_refusal(add(instance, fake))["key"] == "corrupt video"


def test_crash_before_commit_leaves_nothing_half_written(instance, tmp_path, monkeypatch):
    """A failure inside the transaction rolls back the item; the stored bytes are whole and fsck
    reports them only as an orphan warning, never as a problem."""
    import archive.search

    def boom(db, item_id):
        raise RuntimeError("simulated crash while indexing")

    monkeypatch.setattr(archive.search, "index_item", boom)
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文"])
    with pytest.raises(RuntimeError):
        add(instance, pdf)
    for table in ("items", "item_codes", "versions", "files", "audit"):
        n = instance.db.execute(f"SELECT COUNT(*) FROM {table} WHERE {'1' if table != 'audit' else 'action = ' + repr('item.add')}").fetchone()[0]
        assert n == 0, table
    monkeypatch.undo()
    report = fsck(instance)
    assert report["problems"] == []
    assert [w["key"] for w in report["warnings"]] == ["orphan file"]
    # Retrying the same file now succeeds and adopts the orphan.
    assert add(instance, pdf).ok
    assert fsck(instance)["warnings"] == []


# -- manifests, the CLI, batches ----------------------------------------------------------

def write_manifest(path: Path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "code", "type", "date", "unit", "title"])
        w.writerows(rows)
    return path


def test_gbk_manifest_is_read(tmp_path):
    (tmp_path / "files").mkdir()
    m = write_manifest(tmp_path / "清单.csv", [["files/照片.jpg", "Ⅲ-5；Ⅲ-2", "实景图片", "2026-01-02", "草场街街道", "背街小巷"]],
                       encoding="gbk")
    manifest = read_manifest(m)
    requests, refused = manifest.requests, manifest.refused
    assert refused == [] and manifest.encoding == "gb18030" and manifest.guessed
    assert requests[0].codes == ["Ⅲ-5", "Ⅲ-2"]
    assert requests[0].unit == "草场街街道" and requests[0].title == "背街小巷"
    assert requests[0].path == tmp_path / "files" / "照片.jpg"


def test_import_of_mixed_batch_keeps_every_good_file(instance, tmp_path, runner):
    d = tmp_path / "batch"
    d.mkdir()
    rows, good, bad = [], [], {}
    for i in range(110):
        kind = i % 5
        if kind == 0:
            p = ff.make_pdf(d / f"文件{i:03d}.pdf", [f"第{i}号规范文件 学习制度"])
            rows.append([p.name, "Ⅲ—1", "规范文件", "2026-03-01", "市委宣传部", f"制度{i}"])
        elif kind == 1:
            p = ff.make_jpeg(d / f"照片{i:03d}.jpg", exif_date=datetime(2026, 2, 1 + i % 27, 10, 0), seed=i)
            rows.append([p.name, "Ⅲ-5;Ⅲ-2", "实景图片", "", "草场街街道", ""])
        elif kind == 2:
            p = ff.make_docx(d / f"说明{i:03d}.docx", [f"情况说明第{i}份"])
            rows.append([p.name, "iii-1", "情况说明", "2026-04-01", "市委宣传部", ""])
        elif kind == 3:
            p = ff.make_xlsx(d / f"台账{i:03d}.xlsx", [["编号", "事项"], [f"TZ{i:05d}", "门前三包检查"]])
            rows.append([p.name, "Ⅲ—6", "工作台账", "2026-05-01", "市城管局", ""])
        else:
            p = ff.make_csv(d / f"统计{i:03d}.csv", [["学校", "少年宫"], [f"第{i}小学", "1"]], encoding="gbk")
            rows.append([p.name, "Ⅲ—3", "统计表格", "2025-12-01", "市教育局", ""])
        good.append(p.name)
    # Bad files among them, each for its own reason.
    (d / "空文件.pdf").write_bytes(b"")
    bad["空文件.pdf"] = "empty file"
    (d / "病毒.pdf").write_bytes(b"MZ" + b"\x00" * 300)
    bad["病毒.pdf"] = "content does not match extension"
    trunc = ff.make_pdf(d / "截断.pdf", ["截断的文件"])
    trunc.write_bytes(trunc.read_bytes()[:200])
    bad["截断.pdf"] = "corrupt PDF"
    ff.make_pdf(d / "错代码.pdf", ["代码错误"])
    bad["错代码.pdf"] = "unknown code"
    ff.make_pdf(d / "错日期.pdf", ["日期错误"])
    bad["错日期.pdf"] = "bad date"
    rows += [["空文件.pdf", "Ⅲ—1", "规范文件", "", "", ""],
             ["病毒.pdf", "Ⅲ—1", "规范文件", "", "", ""],
             ["截断.pdf", "Ⅲ—1", "规范文件", "", "", ""],
             ["错代码.pdf", "Ⅸ—404", "规范文件", "", "", ""],
             ["错日期.pdf", "Ⅲ—1", "规范文件", "2026-13-01", "", ""],
             ["不存在.pdf", "Ⅲ—1", "规范文件", "", "", ""]]
    bad["不存在.pdf"] = "file not found"
    manifest = write_manifest(d / "manifest.csv", rows, encoding="utf-8-sig")

    result = runner.invoke(cli, ["--instance", str(instance.root), "import", str(manifest), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert sorted(a["path"] for a in data["added"]) == sorted(good)
    refused = {r["path"]: r["reason"] for r in data["refused"]}
    assert set(refused) == set(bad)
    for name, key in bad.items():
        assert refused[name].endswith(f"({key})"), (name, refused[name])
    for name in bad:
        assert f"refused: {name}: " in result.stderr
    assert instance.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == len(good)
    assert fsck(instance)["problems"] == []


def test_cli_add_json_and_exit_codes(instance, tmp_path, runner):
    pdf = ff.make_pdf(tmp_path / "通知.pdf", ["关于开展学习的通知"])
    args = ["--instance", str(instance.root), "add", str(pdf), "--code", "Ⅲ-1", "--type", "规范文件", "--json"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"added", "duplicates", "refused"}
    assert set(data["added"][0]) == {"id", "path", "sha256", "codes"}
    assert "通知.pdf" in r.stdout and "\\u" not in r.stdout   # UTF-8, not ASCII-escaped
    r2 = runner.invoke(cli, args)
    assert r2.exit_code == 0 and json.loads(r2.stdout)["duplicates"][0]["id"] == data["added"][0]["id"]
    r3 = runner.invoke(cli, ["--instance", str(instance.root), "add", str(pdf), "--code", "Ⅲ-1", "--type", "照片"])
    assert r3.exit_code == 1
    assert r3.stderr.splitlines()[0] == f"refused: {pdf}: 未知的材料类型「照片」，可选：规范文件、情况说明、实景图片、统计表格、工作台账 (unknown material type)"


def test_cli_on_missing_instance_is_usage_error(tmp_path, runner):
    r = runner.invoke(cli, ["--instance", str(tmp_path / "nope"), "show", "1"])
    assert r.exit_code == 2
    assert "evidence init" in r.stderr


def test_show_and_review(instance, tmp_path, runner):
    jpg = ff.make_jpeg(tmp_path / "背街.jpg", exif_date=datetime(2026, 3, 3, 15, 0))
    item_id = add(instance, jpg, codes=["Ⅲ—5"], material_type="实景图片").added[0]["id"]
    base = ["--instance", str(instance.root)]
    r = runner.invoke(cli, base + ["review", str(item_id), "--reject", "--comment", "照片模糊", "--by", "王审核"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, base + ["show", str(item_id), "--json"])
    data = json.loads(r.stdout)
    assert data["review_state"] == "rejected"
    assert data["reviews"][0]["comment"] == "照片模糊" and data["reviews"][0]["reviewer"] == "王审核"
    assert data["exif"]["exif_date"] == "2026-03-03"
    assert data["codes"] == [{"code": "Ⅲ—5", "name": "背街小巷环境整洁"}]
    assert [h["action"] for h in data["history"]] == ["item.add", "item.review.rejected"]
    r = runner.invoke(cli, base + ["show", str(item_id)])
    assert "已退回" in r.output and "取自 EXIF" in r.output
    assert runner.invoke(cli, base + ["review", str(item_id)]).exit_code == 2
    assert runner.invoke(cli, base + ["show", "999"]).exit_code == 2


def test_backup_restore_fsck_clean(instance, tmp_path, runner):
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["备份测试 学习制度"])
    jpg = ff.make_jpeg(tmp_path / "b.jpg", exif_date=datetime(2026, 1, 5, 9, 0))
    add(instance, pdf)
    add(instance, jpg, codes=["Ⅲ—5"], material_type="实景图片")
    out = tmp_path / "backup"
    r = runner.invoke(cli, ["--instance", str(instance.root), "backup", str(out)])
    assert r.exit_code == 0, r.output
    # Restore: the backup folder is an instance; copy it to a new place and use it.
    restored = tmp_path / "restored"
    shutil.copytree(out, restored)
    r = runner.invoke(cli, ["--instance", str(restored), "fsck", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["problems"] == []
    inst2 = Instance.open(restored)
    assert inst2.db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 2
    assert sorted(inst2.store.iter_all()) == sorted(instance.store.iter_all())
    inst2.close()
    # A second backup into a non-empty folder is refused, not merged.
    assert runner.invoke(cli, ["--instance", str(instance.root), "backup", str(out)]).exit_code == 2


def test_fsck_finds_tampered_and_missing_files(instance, tmp_path, runner):
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文一"])
    sha = add(instance, pdf).added[0]["sha256"]
    p = instance.store.path(sha)
    p.chmod(0o644)
    data = bytearray(p.read_bytes())
    data[-10] ^= 0xFF
    p.write_bytes(bytes(data))
    r = runner.invoke(cli, ["--instance", str(instance.root), "fsck"])
    assert r.exit_code == 1
    assert "hash mismatch" in r.stderr
    p.unlink()
    r = runner.invoke(cli, ["--instance", str(instance.root), "fsck", "--json"])
    assert [x["key"] for x in json.loads(r.stdout)["problems"]] == ["missing file"]


def test_import_shows_progress_only_on_a_terminal(instance, tmp_path):
    """A clerk at a terminal sees a progress bar on stderr; scripts (pipes) get none."""
    import os
    import pty
    import subprocess
    import sys

    rows = []
    for i in range(3):
        p = ff.make_pdf(tmp_path / f"p{i}.pdf", [f"第{i}份文件"])
        rows.append([p.name, "Ⅲ—1", "规范文件", "2026-03-01", "", ""])
    manifest = write_manifest(tmp_path / "m.csv", rows)
    cmd = [sys.executable, "-m", "cli", "--instance", str(instance.root), "import", str(manifest)]
    root = Path(__file__).resolve().parent.parent

    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=secondary, cwd=root, timeout=120)
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:   # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(primary)
    tty_err = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "批量入库" in tty_err and "3/3" in tty_err

    piped = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=120)
    assert "批量入库" not in piped.stderr and "3/3" not in piped.stderr


def test_unreadable_file_is_refused_and_batch_goes_on(instance, tmp_path, monkeypatch):
    """An OS error on one file (no permission, vanished, disk full) refuses that file only."""
    import archive.evidence.ingest

    good = ff.make_pdf(tmp_path / "好.pdf", ["正常文件"])
    bad = ff.make_pdf(tmp_path / "坏.pdf", ["读不出的文件"])
    real = archive.evidence.ingest.sha256_file

    def flaky(path):
        if Path(path).name == "坏.pdf":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(archive.evidence.ingest, "sha256_file", flaky)
    result = ingest_files(instance, [IngestRequest(bad, ["Ⅲ—1"], "规范文件"),
                                     IngestRequest(good, ["Ⅲ—1"], "规范文件")], user="t")
    assert [a["path"] for a in result.added] == [str(good)]
    assert result.refused == [{"path": str(bad), "key": "cannot read file",
                               "reason": "无法读取或保存文件：没有权限（Permission denied） (cannot read file)"}]
    assert_store_clean(instance)


@pytest.mark.parametrize("typed,iso", [
    ("2026-07-01", "2026-07-01"), ("2026/7/1", "2026-07-01"), ("2026.07.01", "2026-07-01"),
    ("20260701", "2026-07-01"), ("2026年7月1日", "2026-07-01"), ("２０２６－０７－０１", "2026-07-01"),
    ("2026/7/1 0:00", "2026-07-01"), ("2026-07-01 09:30:15", "2026-07-01"),
])
def test_dates_clerks_and_excel_write(typed, iso):
    from archive.core.dates import parse_date

    assert parse_date(typed).isoformat() == iso


@pytest.mark.parametrize("typed", ["2026-02-30", "昨天", "0001-01-15", "2026-7", "26/7/1", "3026-01-01"])
def test_bad_dates_are_refused(typed):
    from archive.core.dates import parse_date
    from archive.core.errors import Refusal

    with pytest.raises(Refusal) as e:
        parse_date(typed)
    assert e.value.key == "bad date"


def test_bad_inputs_are_usage_errors_not_tracebacks(instance, tmp_path, runner):
    base = ["--instance", str(instance.root)]
    # a manifest with a runaway quoted field
    m = tmp_path / "m.csv"
    m.write_text("path,code,type\n" + '"' + "x" * (2 * 1024 * 1024) + "\n", encoding="utf-8")
    r = runner.invoke(cli, base + ["import", str(m)])
    assert r.exit_code == 2 and "(bad manifest)" in r.stderr and "Traceback" not in r.output
    # an id past SQLite's range
    r = runner.invoke(cli, base + ["show", "99999999999999999999"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    # both decisions, or none
    pdf = ff.make_pdf(tmp_path / "a.pdf", ["正文"])
    item = add(instance, pdf).added[0]["id"]
    for flags in (["--approve", "--reject"], []):
        r = runner.invoke(cli, base + ["review", str(item), *flags])
        assert r.exit_code == 2 and "exactly one decision" in r.stderr
    assert instance.db.execute("SELECT review_state FROM items WHERE id = ?", [item]).fetchone()[0] == "pending"


def test_garbage_database_is_a_clear_error(tmp_path, runner):
    inst = tmp_path / "broken"
    inst.mkdir()
    (inst / "archive.db").write_bytes(b"this is not sqlite at all" * 100)
    r = runner.invoke(cli, ["--instance", str(inst), "fsck"])
    assert r.exit_code == 2 and "(not an archive database)" in r.stderr


def test_backup_of_a_damaged_archive_copies_the_rest_and_exits_1(instance, tmp_path, runner):
    kept = add(instance, ff.make_pdf(tmp_path / "a.pdf", ["保留的文件"])).added[0]["sha256"]
    lost = add(instance, ff.make_pdf(tmp_path / "b.pdf", ["丢失的文件"])).added[0]["sha256"]
    instance.store.path(lost).unlink()
    out = tmp_path / "bk"
    r = runner.invoke(cli, ["--instance", str(instance.root), "backup", str(out)])
    assert r.exit_code == 1
    assert f"missing: {lost}: " in r.stderr
    assert (out / "archive.db").is_file() and not (out / "archive.db.partial").exists()
    copy = Instance.open(out)
    assert list(copy.store.iter_all()) == [kept]
    copy.close()
