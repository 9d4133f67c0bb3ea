"""`evidence reextract`: items whose PDF text came from pypdf (text_version 1) get poppler's text
from their stored originals, one transaction per item, OCR text kept, safe to kill and re-run."""
from __future__ import annotations

import json
import shutil

import pytest

from archive.core.db import transaction
from archive.evidence.ingest import IngestRequest, ingest_files
from archive.evidence.reextract import reextract, stale_items
from archive.extract.kinds.pdf import extract_pdf
from archive.extract.ocr import OCR_SEPARATOR
from archive.search import index_item, search
from cli import cli
from tests import filefactory as ff
from tests.test_pdf_text import SOURCE

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils 未安装")
PHRASE = "坚持问题导向"   # pypdf reads "坚“ ”\n持问题导向" here


def _old_archive(instance, tmp_path, n=2):
    """PDFs ingested, then set back to what the pypdf-era code stored (text_version 1)."""
    paths = [ff.make_layout_pdf(tmp_path / f"p{i}.pdf", SOURCE[i:] + SOURCE[:i], "quotes", 17)
             for i in range(n)]
    res = ingest_files(instance, [IngestRequest(path=p, codes=["Ⅲ—1"], material_type="规范文件",
                                                date="2026-01-05") for p in paths], user="t")
    ids = [a["id"] for a in res.added]
    db = instance.db
    with transaction(db):
        for item_id, path in zip(ids, paths):
            old = extract_pdf(path, instance.limits, engine="pypdf").text
            db.execute("UPDATE items SET text = ?, text_version = 1 WHERE id = ?", [old, item_id])
            index_item(db, item_id)
    return ids


def _hits(instance, q):
    return {h["id"] for h in search(instance, f'"{q}"', limit=50)["hits"]}


def test_reextract_brings_old_pdf_text_up_to_date(instance, tmp_path):
    ids = _old_archive(instance, tmp_path)
    with transaction(instance.db):   # the second item had OCR text added later: it must stay
        instance.db.execute("UPDATE items SET text = text || ? WHERE id = ?",
                            [OCR_SEPARATOR + "扫描识别的印章文字", ids[1]])
        index_item(instance.db, ids[1])
    assert not _hits(instance, PHRASE) >= set(ids)          # the old text loses the phrase
    assert [r[0] for r in stale_items(instance.db)] == ids

    seen = []
    report = reextract(instance, user="t", progress=lambda n, total, label: seen.append((n, total)))
    assert report["done"] == ids and not report["failed"] and seen[-1] == (2, 2)
    assert _hits(instance, PHRASE) >= set(ids)
    assert ids[1] in _hits(instance, "扫描识别的印章文字")
    rows = instance.db.execute("SELECT text_version FROM items WHERE id IN (?, ?)", ids).fetchall()
    assert [r[0] for r in rows] == [2, 2]
    audit = instance.db.execute("SELECT target, detail FROM audit WHERE action = 'item.reextract' "
                                "ORDER BY id").fetchall()
    assert [a[0] for a in audit] == [f"item:{i}" for i in ids]
    assert json.loads(audit[0][1])["text_version"] == [1, 2]
    assert stale_items(instance.db) == [] and reextract(instance)["total"] == 0   # idempotent


def test_a_killed_run_leaves_nothing_half_done(instance, tmp_path, monkeypatch):
    ids = _old_archive(instance, tmp_path, n=3)
    from archive.evidence import reextract as mod

    real, calls = mod.extract, []

    def dies_on_second(path, kind, limits):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt   # Ctrl+C (or a kill) in the middle of the second item
        return real(path, kind, limits)

    monkeypatch.setattr(mod, "extract", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        reextract(instance)
    versions = dict(instance.db.execute("SELECT id, text_version FROM items").fetchall())
    assert [versions[i] for i in ids] == [2, 1, 1]
    monkeypatch.setattr(mod, "extract", real)
    assert reextract(instance)["done"] == ids[1:]              # the rerun continues
    assert _hits(instance, PHRASE) >= set(ids)


def test_reextract_cli(instance, instance_dir, tmp_path, runner):
    ids = _old_archive(instance, tmp_path, n=1)
    instance.store.path(instance.db.execute("SELECT sha256 FROM items").fetchone()[0])
    r = runner.invoke(cli, ["--instance", str(instance_dir), "reextract", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"total": 1, "done": ids, "failed": []}
    r = runner.invoke(cli, ["--instance", str(instance_dir), "reextract"])
    assert r.exit_code == 0 and "已重新提取 0 条" in r.output


def test_reextract_reports_a_missing_original(instance, instance_dir, tmp_path, runner):
    _old_archive(instance, tmp_path, n=1)
    sha = instance.db.execute("SELECT sha256 FROM items").fetchone()[0]
    path = instance.store.path(sha)
    path.chmod(0o600)
    path.unlink()
    r = runner.invoke(cli, ["--instance", str(instance_dir), "reextract"])
    assert r.exit_code == 1
    assert "原件缺失 (original missing)" in r.output
    assert instance.db.execute("SELECT text_version FROM items").fetchone()[0] == 1
