"""Ingest benchmark: `evidence import` of a few hundred real files vs `pdftotext` alone.

    .venv/bin/python bench/ingest.py [--pdfs 300] [--photos 100] [--docs 60]

Makes real text PDFs (3 pages of Chinese each), JPEGs with EXIF and DOCX/XLSX ledgers with
tests/filefactory.py, then measures in the same run on the same files:
  1. pdftotext (poppler-utils), one process per PDF, as a command-line user would run it;
  2. `evidence import` of the same PDFs into a fresh instance (one process, the whole pipeline:
     sniff, hash, dedup, validate + extract with pypdf, store with fsync, record, FTS index);
  3. `evidence import` of the mixed batch (PDFs, photos, DOCX, XLSX).
Prints files/s and the ratio import / pdftotext (goal ≥ 0.5 on text PDFs).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import filefactory as ff  # noqa: E402

SENTENCES = [
    "深入开展社会主义核心价值观宣传教育，推动理论学习中心组学习制度化规范化。",
    "草场街街道组织红马甲志愿服务队开展文明交通劝导活动，覆盖辖区主要路口。",
    "农贸市场实行划行归市，门前三包责任制落实到户，环境卫生每日巡查。",
    "新时代文明实践站常态化开展理论宣讲、政策解读和便民服务活动。",
    "公共厕所保洁、背街小巷整治和公益广告刊播情况按月建立工作台账。",
    "未成年人思想道德建设工作纳入年度考核，乡村学校少年宫活动有序开展。",
]


def make_corpus(out: Path, pdfs: int, photos: int, docs: int) -> tuple[list[Path], list[list[str]]]:
    rng = random.Random(7)
    out.mkdir(parents=True)
    rows, pdf_paths = [], []
    for i in range(pdfs):
        pages = ["".join(rng.choice(SENTENCES) for _ in range(12)) + f" 编号TZ{i:05d}" for _ in range(3)]
        p = ff.make_pdf(out / f"规范文件{i:04d}.pdf", pages)
        pdf_paths.append(p)
        rows.append([p.name, "Ⅲ—1", "规范文件", "2026-03-01", "市委宣传部", ""])
    for i in range(photos):
        p = ff.make_jpeg(out / f"IMG_{i:04d}.jpg", size=(1600, 1200), exif_date=datetime(2026, 1 + i % 12, 1 + i % 28, 10),
                         gps=(39.9, 116.4), seed=i)
        rows.append([p.name, "Ⅲ—5", "实景图片", "", "草场街街道", ""])
    for i in range(docs):
        if i % 2:
            p = ff.make_docx(out / f"情况说明{i:04d}.docx", [rng.choice(SENTENCES) for _ in range(20)])
            rows.append([p.name, "Ⅲ—1", "情况说明", "2026-02-01", "市委宣传部", ""])
        else:
            p = ff.make_xlsx(out / f"台账{i:04d}.xlsx", [["编号", "事项", "日期"]] +
                             [[f"TZ{i:03d}{j:03d}", rng.choice(SENTENCES), "2026-01-01"] for j in range(200)])
            rows.append([p.name, "Ⅲ—6", "工作台账", "2026-02-01", "市城管局", ""])
    return pdf_paths, rows


def write_manifest(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "code", "type", "date", "unit", "title"])
        w.writerows(rows)
    return path


def timed_import(evidence: str, manifest: Path, work: Path, name: str) -> float:
    inst = work / f"inst-{name}"
    subprocess.run([evidence, "--instance", str(inst), "init", "--map", str(ROOT / "tests/data/mini_map.yaml")],
                   check=True, capture_output=True)
    t0 = time.perf_counter()
    r = subprocess.run([evidence, "--instance", str(inst), "import", str(manifest), "--json"],
                       capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"import failed ({r.returncode}): {r.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdfs", type=int, default=300)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--docs", type=int, default=60)
    args = ap.parse_args()
    if not shutil.which("pdftotext"):
        sys.exit("pdftotext not found: apt-get install poppler-utils")
    evidence = str(ROOT / ".venv/bin/evidence")
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        t0 = time.perf_counter()
        pdfs, rows = make_corpus(work / "files", args.pdfs, args.photos, args.docs)
        print(f"corpus: {len(pdfs)} PDFs (3 pages), {args.photos} JPEGs 1600x1200, {args.docs} DOCX/XLSX "
              f"made in {time.perf_counter() - t0:.1f} s; "
              f"{sum(p.stat().st_size for p in (work / 'files').iterdir()) / 1e6:.1f} MB")

        t0 = time.perf_counter()
        for p in pdfs:
            subprocess.run(["pdftotext", str(p), os.devnull], check=True)
        t_pdftotext = time.perf_counter() - t0

        pdf_manifest = write_manifest(work / "files" / "pdfs.csv", rows[: len(pdfs)])
        t_import_pdf = timed_import(evidence, pdf_manifest, work, "pdf")
        all_manifest = write_manifest(work / "files" / "all.csv", rows)
        t_import_all = timed_import(evidence, all_manifest, work, "all")

        n = len(pdfs)
        print(f"pdftotext alone        : {n} PDFs in {t_pdftotext:6.2f} s = {n / t_pdftotext:7.1f} files/s")
        print(f"evidence import (PDFs) : {n} PDFs in {t_import_pdf:6.2f} s = {n / t_import_pdf:7.1f} files/s")
        print(f"ratio import/pdftotext : {t_pdftotext / t_import_pdf:.2f} (goal >= 0.5)")
        print(f"evidence import (mixed): {len(rows)} files in {t_import_all:6.2f} s = {len(rows) / t_import_all:7.1f} files/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
