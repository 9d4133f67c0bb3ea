"""An archive made before several maps, editions and cycles (code at 0ca529c) opens after the
upgrade and exports exactly the same bytes (tests/data/compat, made by its make_fixture.py)."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from archive.core.instance import Instance
from archive.maps.loading import active_maps, current_map
from archive.package import export_package
from archive.readiness.coverage import coverage
from tests.conftest import DATA

COMPAT = DATA / "compat"
EXPECTED = json.loads((COMPAT / "expected.json").read_text(encoding="utf-8"))
OPTIONS = {"default": {}, "approved": {"approved_only": True}, "all": {"include_out_of_window": True}}


@pytest.fixture
def upgraded(tmp_path):
    root = tmp_path / "old"
    shutil.copytree(COMPAT / "instance", root)
    before = _rows(root)
    inst = Instance.open(root)   # applies 0050.. on the copy
    yield inst, before
    inst.close()


def _rows(root) -> dict:
    from archive.core.sqlite import sqlite3
    db = sqlite3.connect(root / "archive.db")
    try:
        return {"versions": [r[0] for r in db.execute("SELECT version FROM migrations ORDER BY version")],
                "codes": db.execute("SELECT rowid, item_id, code FROM item_codes ORDER BY rowid").fetchall()}
    finally:
        db.close()


def test_fixture_is_todays_schema(upgraded):
    _, before = upgraded
    assert before["versions"] == [1, 2, 3, 4, 5, 6, 7]
    assert len(before["codes"]) == 8


def test_upgrade_keeps_codes_in_order_under_the_one_map(upgraded):
    inst, before = upgraded
    after = inst.db.execute("SELECT rowid, item_id, map_id, code FROM item_codes ORDER BY rowid").fetchall()
    assert [(r, i, c) for r, i, _, c in after] == before["codes"]
    assert {m for _, _, m, _ in after} == {"wmcs-2024-sample"}
    assert [m.id for m in active_maps(inst)] == ["wmcs-2024-sample"]
    assert current_map(inst).id == "wmcs-2024-sample"
    assert inst.db.execute("SELECT COUNT(*) FROM cycles").fetchone()[0] == 0


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_upgraded_archive_exports_the_same_bytes(upgraded, tmp_path, name):
    inst, _ = upgraded
    report = export_package(inst, tmp_path / f"{name}.zip", EXPECTED["evaluation_date"], **OPTIONS[name])
    with open(report["path"], "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert digest == EXPECTED["exports_sha256"][name]


def test_upgraded_archive_coverage_is_unchanged(upgraded):
    inst, _ = upgraded
    assert coverage(inst, EXPECTED["evaluation_date"])["summary"] == EXPECTED["coverage_summary"]


def test_upgraded_archive_takes_new_evidence_and_a_second_map(upgraded, tmp_path):
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.maps.loading import load_map_into
    from tests import filefactory as ff
    from tests.conftest import ROOT

    inst, _ = upgraded
    pdf = ff.make_pdf(tmp_path / "新制度.pdf", ["新制度"])
    res = ingest_files(inst, [IngestRequest(pdf, ["Ⅲ-3"], "情况说明", "2026-05-01")], user="t")
    assert res.added[0]["codes"] == ["Ⅲ—3"]
    load_map_into(inst, ROOT / "maps" / "wcn_sample.yaml", user="t")
    # the first map's package is still the same file set plus the new one; codes now qualified
    res = ingest_files(inst, [IngestRequest(pdf, ["wcn-2024-sample:Ⅲ-1"], "情况说明")], user="t")
    assert res.duplicates[0]["codes_added"] == ["wcn-2024-sample:Ⅲ—1"]
