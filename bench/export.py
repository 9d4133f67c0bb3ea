"""Export benchmark: `export_package` (zip) vs `zip -0 -r` of the same files, and peak RSS.

    .venv/bin/python bench/export.py [--gb 2.0] [--many 0] [--work /tmp/bench_export] [--keep]
    .venv/bin/python bench/export.py --items 100000      # memory per file (tiny files)

Builds an instance with the sample indicator_map.yaml and fills it, straight through the
store (no extraction: this measures the package, not ingest), with real-sized files:
photos of 2.5–6 MB and PDFs of 0.2–3 MB (random bytes inside JPEG/PDF framing, so they
compress as badly as real media), 15 % of them on two leaves. Then, each in a child process
whose peak RSS is read with resource.getrusage:
  1. `export --format dir` (gives the same files as a folder tree);
  2. `zip -0 -r -q` of that tree (Info-ZIP, no compression), best of two;
  3. `export_package(fmt="zip")`, best of two — the same files plus the 目录/审核记录表;
  4. `verify_package` of the zip.
Prints package MB/s, the ratio export / zip -0 (goal ≥ 0.8) and peak RSS (goal < 300 MB).
Also measures DEFLATE on a real Pillow JPEG and an fpdf2 PDF, the reason media are STORED.

`--items N` measures memory against the number of files instead: archives of N/4 and N tiny
items (0.5–2 KB; 15 % on two leaves, so ~1.15 files per item), each exported as a zip and
verified in a child process; prints peak RSS of both, the growth per 1,000 files between the
two sizes and the projection to 200,000 files (goal < 300 MB).
"""
from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL = "2026-07-15"
MB = 1024 * 1024


def fake_media(rng: random.Random, kind: str, size: int) -> bytes:
    if kind == "jpeg":
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        tail = b"\xff\xd9"
    else:
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        tail = b"\n%%EOF\n"
    return head + rng.randbytes(size - len(head) - len(tail)) + tail


def build(work: Path, gigabytes: float, many: int = 0, small: tuple[int, int] = (4 * 1024, 20 * 1024),
          sync: bool = True) -> tuple[Path, int, int]:
    from archive.core.db import insert, transaction, utcnow
    from archive.core.instance import Instance
    from archive.maps.loading import current_map, load_map_into

    inst = Instance(work / "instance")
    inst.create()
    load_map_into(inst, ROOT / "indicator_map.yaml", user="bench")
    leaves = [n.code for n in current_map(inst).leaves()]
    rng = random.Random(11)
    target = int(gigabytes * 1024 * MB)
    total = count = 0
    now = utcnow()
    rows = []
    while total < target or count < many:
        photo = rng.random() < 0.6
        if total >= target:     # --many: the rest are small scans, to count items, not bytes
            size = rng.randint(*small)
        else:
            size = rng.randint(int(2.5 * MB), 6 * MB) if photo else rng.randint(200 * 1024, 3 * MB)
        kind = "jpeg" if photo else "pdf"
        data = fake_media(rng, kind, size)
        if sync:
            sha, size = inst.store.put_stream(io.BytesIO(data))
        else:   # --items: 100,000 fsyncs would take longer than the measure
            sha, size = _put_nosync(inst.store, data)
        codes = rng.sample(leaves, 2 if rng.random() < 0.15 else 1)
        rows.append((sha, size, kind, codes, count))
        total += size
        count += 1
    db = inst.db
    with transaction(db):
        for sha, size, kind, codes, i in rows:
            insert(db, "files", {"sha256": sha, "size": size, "kind": kind, "stored_at": now})
            ext = ".jpg" if kind == "jpeg" else ".pdf"
            item_id = insert(db, "items", {
                "sha256": sha, "kind": kind, "material_type": "实景图片" if kind == "jpeg" else "规范文件",
                "title": f"{'点位照片' if kind == 'jpeg' else '创建工作文件'}{i:05d}", "original_name": f"F{i:05d}{ext}",
                "unit": "草场街街道", "date": f"2026-{1 + i % 6:02d}-{1 + i % 28:02d}", "date_source": "given",
                "size": size, "created_at": now, "updated_at": now})
            for code in codes:
                insert(db, "item_codes", {"item_id": item_id, "code": code, "added_at": now})
            insert(db, "versions", {"item_id": item_id, "sha256": sha, "original_name": f"F{i:05d}{ext}",
                                    "kind": kind, "size": size, "created_at": now})
    inst.close()
    return work / "instance", count, total


def _put_nosync(store, data: bytes) -> tuple[str, int]:
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    path = store.path(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha, len(data)


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from archive.core.instance import Instance
from archive.package import export_package, verify_package
t = time.perf_counter()
if {what!r} == "verify":
    problems = verify_package({out!r}); out = {{"problems": len(problems)}}
else:
    inst = Instance.open({instance!r})
    r = export_package(inst, {out!r}, {ev!r}, fmt={what!r})
    out = {{"files": r["files"], "bytes": r["bytes"], "path": r["path"]}}
out["seconds"] = time.perf_counter() - t
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(what: str, instance: Path, out: Path) -> dict:
    code = CHILD.format(root=str(ROOT), what=what, instance=str(instance), out=str(out), ev=EVAL)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def zip0(tree_parent: Path, name: str, out: Path) -> float:
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["zip", "-0", "-r", "-q", str(out), name], cwd=tree_parent, check=True)
    return time.perf_counter() - t


def deflate_sample(work: Path) -> list[str]:
    """DEFLATE on a photo-like JPEG (noise, blurred, quality 90) and a text PDF from fpdf2."""
    from PIL import Image, ImageFilter

    from tests import filefactory as ff

    rng = random.Random(5)
    img = Image.frombytes("RGB", (3000, 2000), rng.randbytes(3000 * 2000 * 3)).filter(ImageFilter.GaussianBlur(1.2))
    jpg = work / "sample.jpg"
    img.save(jpg, quality=90)
    pdf = ff.make_pdf(work / "sample.pdf", ["创建全国文明城市工作方案，按月建立工作台账。" * 30] * 40)
    lines = []
    for p in (jpg, pdf):
        data = p.read_bytes()
        t = time.perf_counter()
        packed = zlib.compress(data, 6)
        dt = time.perf_counter() - t
        lines.append(f"| {p.suffix} ({len(data) / MB:.2f} MB) | {len(packed) / len(data):.3f} | "
                     f"{len(data) / MB / dt:.0f} MB/s |")
    return lines


def per_file(work: Path, items: int) -> None:
    """Peak RSS of export (zip) and verify for N/4 and N tiny items; growth per 1,000 files."""
    rows = []
    for n in (items // 4, items):
        sub = work / f"items{n}"
        t = time.perf_counter()
        instance, count, total = build(sub, 0.0, n, small=(512, 2048), sync=False)
        built = time.perf_counter() - t
        e = child("zip", instance, sub / "pkg.zip")
        v = child("verify", instance, sub / "pkg.zip")
        rows.append((count, e, v))
        print(f"{count} items ({total / MB:.0f} MB, built in {built:.0f} s): package {e['files']} files; "
              f"export {e['seconds']:.1f} s, peak {e['maxrss_mb']:.0f} MB; "
              f"verify {v['seconds']:.1f} s, peak {v['maxrss_mb']:.0f} MB, {v['problems']} problems", flush=True)
        (sub / "pkg.zip").unlink(missing_ok=True)
    (_, e1, v1), (_, e2, v2) = rows
    files = e2["files"] - e1["files"]
    print()
    print("| items / files | export peak RSS | verify peak RSS | export s | verify s |")
    print("|---|---|---|---|---|")
    for count, e, v in rows:
        print(f"| {count:,} / {e['files']:,} | {e['maxrss_mb']:.0f} MB | {v['maxrss_mb']:.0f} MB | "
              f"{e['seconds']:.1f} | {v['seconds']:.1f} |")
    for what, a, b in (("export", e1, e2), ("verify", v1, v2)):
        per_k = (b["maxrss_mb"] - a["maxrss_mb"]) / files * 1000
        at_200k = b["maxrss_mb"] + per_k * (200_000 - e2["files"]) / 1000
        print(f"| {what}: growth per 1,000 files | {per_k * 1024:.0f} KB | projected at 200,000 files | "
              f"{at_200k:.0f} MB | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_export"))
    ap.add_argument("--many", type=int, default=0, help="at least this many items (small ones fill up)")
    ap.add_argument("--items", type=int, default=0,
                    help="memory per file: N/4 and N tiny items, export + verify peak RSS")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if args.items:
        per_file(work, args.items)
        if not args.keep:
            shutil.rmtree(work)
        return
    t = time.perf_counter()
    instance, count, total = build(work, args.gb, args.many)
    print(f"archive: {count} files, {total / MB:.0f} MB stored, built in {time.perf_counter() - t:.0f} s", flush=True)

    d = child("dir", instance, work / "tree")
    root_name = Path(d["path"]).name
    print(f"export --format dir: {d['bytes'] / MB:.0f} MB in {d['seconds']:.1f} s, peak RSS {d['maxrss_mb']:.0f} MB", flush=True)
    zip_times = [zip0(work / "tree", root_name, work / "zip0.zip") for _ in range(2)]
    z = min(zip_times)
    zip_size = (work / "zip0.zip").stat().st_size
    (work / "zip0.zip").unlink()
    runs = []
    for _ in range(2):
        out = work / "pkg.zip"
        runs.append(child("zip", instance, out))
    e = min(runs, key=lambda r: r["seconds"])
    pkg_size = (work / "pkg.zip").stat().st_size
    v = child("verify", instance, work / "pkg.zip")
    rss = max(r["maxrss_mb"] for r in runs + [d, v])
    mbps_zip = zip_size / MB / z
    mbps_exp = pkg_size / MB / e["seconds"]
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| archive | {count} files, {total / MB:.0f} MB; package {e['files']} files, {pkg_size / MB:.0f} MB |")
    print(f"| `zip -0 -r` of the exported tree (best of 2) | {z:.1f} s, {mbps_zip:.0f} MB/s |")
    print(f"| `export_package` zip (best of 2) | {e['seconds']:.1f} s, {mbps_exp:.0f} MB/s |")
    print(f"| ratio export / zip -0 (goal ≥ 0.8) | {mbps_exp / mbps_zip:.2f} |")
    print(f"| `export --format dir` | {d['seconds']:.1f} s |")
    print(f"| `verify_package` of the zip | {v['seconds']:.1f} s, {v['problems']} problems |")
    print(f"| peak RSS, any of the above (goal < 300 MB) | {rss:.0f} MB (zip export {e['maxrss_mb']:.0f} MB) |")
    print()
    print("| DEFLATE level 6 on | compressed / original | speed |")
    print("|---|---|---|")
    for line in deflate_sample(work):
        print(line)
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
