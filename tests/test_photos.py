"""Photo checks (issue 11): perceptual hashes and near-duplicates, the evaluation-date window,
dates that disagree, photos without a date; through ingest, the CLI and the settings."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from archive.evidence import photos
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.readiness.photochecks import (evaluation_date_for_checks, photo_warnings,
                                           set_evaluation_date)
from cli import cli
from tests import filefactory as ff
from tests.photo_scenes import copies, scene

EVAL = "2026-07-15"          # window 2025-07-01 .. 2026-06-30


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Real JPEGs with EXIF: an original street scene, copies of it (resized, recompressed,
    cropped), a distinct scene of the same kind, a photo from before the window, one without
    any date."""
    d = tmp_path_factory.mktemp("photos")
    im = scene(1, family=0)
    out = {"orig": ff.make_scene_jpeg(d / "原图.jpg", image=im, exif_date=datetime(2026, 3, 1, 9))}
    for name, key in (("resized 50%", "resized"), ("recompressed q20", "recompressed"), ("cropped 3%", "cropped"),
                      ("resized+recompressed+cropped", "all")):
        out[key] = ff.make_scene_jpeg(d / f"{key}.jpg", image=copies(im)[name], exif_date=datetime(2026, 3, 1, 9))
    out["sibling"] = ff.make_scene_jpeg(d / "相似场景.jpg", seed=2, family=0, exif_date=datetime(2026, 3, 5, 9))
    out["other"] = ff.make_scene_jpeg(d / "另一场景.jpg", seed=3, family=4, exif_date=datetime(2026, 4, 5, 9))
    out["old"] = ff.make_scene_jpeg(d / "去年的照片.jpg", seed=5, family=2, exif_date=datetime(2025, 5, 20, 9))
    out["nodate"] = ff.make_scene_jpeg(d / "无日期.jpg", seed=6, family=3)
    return out


def _add(instance, path, code="Ⅲ—5", unit="草场街街道", date=None, user="clerk"):
    res = ingest_files(instance, [IngestRequest(path=path, codes=[code], material_type="实景图片", unit=unit,
                                                date=date)], user=user)
    assert not res.refused, res.refused
    return (res.added or res.duplicates)[0]["id"]


def _keys(instance, item_id) -> list[str]:
    return [w["key"] for w in photo_warnings(instance, [item_id]).get(item_id, [])]


def test_copies_are_near_and_distinct_scenes_are_not(shots):
    orig = photos.photo_hashes(shots["orig"])
    for key in ("resized", "recompressed", "cropped", "all"):
        assert photos.distance(orig, photos.photo_hashes(shots[key])) <= photos.MATCH_DISTANCE, key
    for key in ("sibling", "other", "old", "nodate"):
        assert photos.distance(orig, photos.photo_hashes(shots[key])) > photos.MATCH_DISTANCE, key


def test_ingest_hashes_photos_and_finds_the_copy_of_another_units_photo(instance, shots):
    first = _add(instance, shots["orig"], code="Ⅲ—5", unit="草场街街道")
    sibling = _add(instance, shots["sibling"], code="Ⅲ—5", unit="草场街街道")
    copy = _add(instance, shots["all"], code="Ⅲ—2", unit="市教育局", user="clerk_other")
    assert instance.db.execute("SELECT COUNT(*) FROM photo_hashes").fetchone()[0] == 3
    ws = photo_warnings(instance, [first, sibling, copy])
    assert sibling not in ws
    reused = [w for w in ws[copy] if w["key"] == "reused"]
    assert len(reused) == 1 and reused[0]["item_id"] == first
    assert f"#{first}" in reused[0]["message"] and "草场街街道" in reused[0]["message"]
    assert "另一测评内容 Ⅲ—5" in reused[0]["message"] and reused[0]["message"].endswith("(reused)")
    # the original is flagged too: a reviewer looking at either sees the other
    assert [w["item_id"] for w in ws[first] if w["key"] == "reused"] == [copy]
    # a deleted copy no longer counts
    instance.db.execute("UPDATE items SET deleted_at = '2026-06-01T00:00:00Z' WHERE id = ?", [copy])
    assert first not in photo_warnings(instance, [first])


def test_window_dates_and_missing_date(instance, shots):
    assert evaluation_date_for_checks(instance.db) is None
    old = _add(instance, shots["old"])
    nodate = _add(instance, shots["nodate"])
    late = _add(instance, shots["other"], date="2026-02-01")      # EXIF 2026-04-05, given 2026-02-01
    assert _keys(instance, old) == []                              # no evaluation date yet: no window check
    assert _keys(instance, nodate) == ["no date"]
    assert _keys(instance, late) == ["dates disagree"]
    set_evaluation_date(instance.db, EVAL, by="审核员甲")
    assert evaluation_date_for_checks(instance.db).isoformat() == EVAL
    msg = photo_warnings(instance, [old])[old][0]["message"]
    assert msg == "拍摄日期 2025-05-20 不在材料时间窗口 2025-07-01 至 2026-06-30 内 (out of window)"
    assert _keys(instance, late) == ["dates disagree"]
    row = instance.db.execute("SELECT user, action, target, detail FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    assert row[:3] == ("审核员甲", "settings.set", "evaluation_date") and EVAL in row[3]
    # the evaluation date does not stand in for a missing photo date; another date moves the window
    assert _keys(instance, nodate) == ["no date"]
    set_evaluation_date(instance.db, "2025-06-15", by="审核员甲")   # window 2024-06-01 .. 2025-05-31
    assert _keys(instance, old) == [] and "out of window" in _keys(instance, late)


def test_a_document_is_not_a_photo(instance, tmp_path):
    pdf = ff.make_pdf(tmp_path / "制度.pdf", ["制度 全文"])
    res = ingest_files(instance, [IngestRequest(path=pdf, codes=["Ⅲ—1"], material_type="规范文件")], user="t")
    item_id = res.added[0]["id"]
    assert photo_warnings(instance, [item_id]) == {}
    assert instance.db.execute("SELECT COUNT(*) FROM photo_hashes").fetchone()[0] == 0


def test_bad_evaluation_date_is_refused(instance):
    from archive.core.errors import UsageError

    with pytest.raises(UsageError, match="bad evaluation date"):
        set_evaluation_date(instance.db, "2026-13-01", by="x")
    assert evaluation_date_for_checks(instance.db) is None


def _cli(runner, instance, *args):
    return runner.invoke(cli, ["--instance", str(instance.root), *args])


def test_cli_settings_add_warnings_reuse_and_backfill(instance, runner, shots):
    res = _cli(runner, instance, "settings", "set", "evaluation-date", EVAL)
    assert res.exit_code == 0 and "测评日期已设为 2026-07-15" in res.stderr
    res = _cli(runner, instance, "settings", "show", "--json")
    assert json.loads(res.stdout) == {"evaluation-date": EVAL}
    res = _cli(runner, instance, "settings", "set", "evaluation-date", "明天")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "(bad evaluation date)" in res.stderr

    res = _cli(runner, instance, "add", str(shots["orig"]), "--code", "Ⅲ-5", "--type", "实景图片", "--unit", "草场街街道")
    assert res.exit_code == 0 and "警告" not in res.stderr
    res = _cli(runner, instance, "add", str(shots["resized"]), str(shots["old"]), "--code", "Ⅲ-2", "--type", "实景图片",
               "--unit", "市教育局", "--json")
    assert res.exit_code == 0, res.output
    added = {a["path"]: a for a in json.loads(res.stdout)["added"]}
    copy, old = added[str(shots["resized"])], added[str(shots["old"])]
    assert [w["key"] for w in copy["warnings"]] == ["reused"] and copy["warnings"][0]["item_id"] == 1
    assert [w["key"] for w in old["warnings"]] == ["out of window"]
    res = _cli(runner, instance, "add", str(shots["nodate"]), "--code", "Ⅲ-5", "--type", "实景图片")
    assert res.exit_code == 0
    assert f"警告: {shots['nodate']}: 照片没有拍摄日期（EXIF）也没有填报日期，请补填拍摄日期 (no date)" in res.stderr

    res = _cli(runner, instance, "photos", "reuse", "--json")
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["total"] == 1
    pair = data["pairs"][0]
    assert (pair["a"]["id"], pair["b"]["id"]) == (1, copy["id"]) and pair["other_unit"] and pair["other_leaf"]
    assert "草场街街道" in _cli(runner, instance, "photos", "reuse").stdout

    # an archive from before the hashes: the backfill finds the same pair again
    instance.db.execute("DELETE FROM photo_hashes")
    instance.db.execute("DELETE FROM photo_matches")
    assert json.loads(_cli(runner, instance, "photos", "reuse", "--json").stdout)["total"] == 0
    res = _cli(runner, instance, "photos", "hash", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == {"hashed": 4, "failed": 0, "pairs": 1}
    assert json.loads(_cli(runner, instance, "photos", "hash", "--json").stdout)["hashed"] == 0   # nothing left
    assert json.loads(_cli(runner, instance, "photos", "reuse", "--json").stdout)["total"] == 1
    for args in (["settings", "--help"], ["settings", "set", "--help"], ["photos", "reuse", "--help"],
                 ["photos", "hash", "--help"]):
        assert _cli(runner, instance, *args).exit_code == 0


def test_lookup_uses_the_band_indexes(instance):
    plan = instance.db.execute(
        "EXPLAIN QUERY PLAN SELECT sha256 FROM photo_hashes WHERE (phash & 255) = 1 OR "
        "((dhash >> 56) & 255) = 2").fetchall()
    text = " ".join(str(r[-1]) for r in plan)
    assert "photo_hashes_p0" in text and "photo_hashes_d7" in text and "SCAN" not in text


def test_a_replaced_photo_is_checked_too(instance, shots):
    from archive.evidence.items import replace_file

    first = _add(instance, shots["orig"], code="Ⅲ—5", unit="草场街街道")
    mine = _add(instance, shots["sibling"], code="Ⅲ—2", unit="市教育局")
    assert "reused" not in _keys(instance, mine)
    replace_file(instance, mine, shots["recompressed"], user="clerk_other")
    assert _keys(instance, mine) == ["reused"] and _keys(instance, first) == ["reused"]
