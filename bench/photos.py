"""Reuse check benchmark: are copies found, are distinct photos left alone, is lookup fast?

    .venv/bin/python bench/photos.py [--families 12] [--per 25] [--fill 100000] [--real 2000]

1. Quality, on photos drawn here (tests/photo_scenes.py: street scenes with buildings, trees
   and a red banner with Chinese text; a "family" shares palette and layout, like one street
   office's photos of its 背街小巷): every original is stored through the real code
   (archive.evidence.photos: hashes, band lookup, the distance rule), then each of its copies
   (resized 50 %/25 %, recompressed q40/q20, cropped 3 %/6 %, one side 8 %, all at once,
   brighter) is looked up. Recall = copies whose original is found; false pairs = pairs of
   distinct originals that match, of all pairs (and of pairs in one family: similar scenes).
2. Speed at `--fill` photos: the table is filled with hashes of `--real` drawn scenes plus
   variants of them with 16–40 random bits flipped (distinct pictures that keep the real
   hashes' uneven band values, which is what makes buckets crowded), then 300 lookups time
   the band index (`similar`) against a scan of every row (the baseline), same run.
"""
from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _hashes_of(im):
    from archive.evidence.photos import photo_hashes
    import io

    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=90)
    buf.seek(0)
    return photo_hashes(buf)


def quality(inst, families: int, per: int) -> None:
    from archive.core.db import transaction
    from archive.evidence import photos
    from tests.photo_scenes import copies, scene

    db = inst.db
    originals = {}
    t = time.perf_counter()
    for f in range(families):
        for s in range(per):
            im = scene(s, f)
            sha = f"orig-{f}-{s}"
            with transaction(db):
                photos.record_photo(db, sha, hashes=_hashes_of(im))
            photos.link_photo(db, sha)
            originals[sha] = im
    print(f"{len(originals)} originals drawn and stored in {time.perf_counter() - t:.0f} s", flush=True)
    found: dict[str, list[int]] = {}
    for sha, im in originals.items():
        for name, c in copies(im).items():
            hits = {s for s, _ in photos.similar(db, _hashes_of(c))}
            found.setdefault(name, []).append(sha in hits)
    total = sum(len(v) for v in found.values())
    ok = sum(sum(v) for v in found.values())
    print()
    print("| copy | found |")
    print("|---|---|")
    for name, v in found.items():
        print(f"| {name} | {sum(v)}/{len(v)} ({sum(v) / len(v):.1%}) |")
    print(f"| **all copies** | **{ok}/{total} ({ok / total:.1%})** |")
    pairs = db.execute("SELECT a_sha256, b_sha256 FROM photo_matches").fetchall()
    same_family = sum(1 for a, b in pairs if a.split("-")[1] == b.split("-")[1])
    n = len(originals)
    all_pairs = n * (n - 1) // 2
    family_pairs = families * per * (per - 1) // 2
    print()
    print(f"false pairs among distinct originals: {len(pairs)} of {all_pairs:,} pairs "
          f"({len(pairs) / all_pairs:.3%}); within one family (similar scenes): {same_family} of "
          f"{family_pairs:,} ({same_family / family_pairs:.3%})")


def speed(inst, fill: int, real: int) -> None:
    from archive.core.db import transaction
    from archive.evidence import photos
    from tests.photo_scenes import scene

    db = inst.db
    rng = random.Random(5)
    t = time.perf_counter()
    base = [_hashes_of(scene(i, rng.randrange(40))) for i in range(real)]
    print(f"{real} real scene hashes in {time.perf_counter() - t:.0f} s", flush=True)

    def variant(h):
        p, d = photos._unsigned(h[0]), photos._unsigned(h[1])
        for _ in range(rng.randint(8, 20)):
            p ^= 1 << rng.randrange(64)
            d ^= 1 << rng.randrange(64)
        return photos._signed(p), photos._signed(d)

    rows = [(f"f{i}", *(base[i] if i < real else variant(base[rng.randrange(real)]))) for i in range(fill)]
    with transaction(db):
        db.execute("DELETE FROM photo_hashes")
        db.execute("DELETE FROM photo_matches")
        db.conn.executemany("INSERT INTO photo_hashes (sha256, phash, dhash, computed_at) VALUES (?, ?, ?, '')", rows)
    db.execute("ANALYZE")
    queries = [variant(base[rng.randrange(real)]) if i % 2 else base[rng.randrange(real)] for i in range(300)]
    band_ms, cands, scan_ms = [], [], []
    values = "|".join(str(i) for i in range(16))
    assert values
    for q in queries:
        t = time.perf_counter()
        photos.similar(db, q)
        band_ms.append((time.perf_counter() - t) * 1000)
    # how many rows the bands hand to the distance check
    p, d = queries[0]
    for q in queries[:50]:
        p, d = q
        vals = [(p >> (8 * i)) & 255 for i in range(8)] + [(d >> (8 * i)) & 255 for i in range(8)]
        where = " OR ".join(f"{b} = ?" for b in photos._BANDS)
        cands.append(db.execute(f"SELECT COUNT(*) FROM photo_hashes WHERE {where}", vals).fetchone()[0])
    all_rows = db.execute("SELECT sha256, phash, dhash FROM photo_hashes").fetchall()
    for q in queries[:30]:
        t = time.perf_counter()
        [s for s, a, b in db.execute("SELECT sha256, phash, dhash FROM photo_hashes")
         if photos.distance(q, (a, b)) <= photos.MATCH_DISTANCE]
        scan_ms.append((time.perf_counter() - t) * 1000)
    del all_rows

    def p95(v):
        return sorted(v)[int(len(v) * 0.95) - 1]

    print()
    print(f"| lookup at {fill:,} photos | p50 | p95 |")
    print("|---|---|---|")
    print(f"| band index (`similar`, 300 lookups) | {statistics.median(band_ms):.1f} ms | {p95(band_ms):.1f} ms |")
    print(f"| scan of every row (baseline, 30 lookups) | {statistics.median(scan_ms):.0f} ms | {p95(scan_ms):.0f} ms |")
    print(f"| rows the bands hand over per lookup | {statistics.median(cands):.0f} | {p95(cands):.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", type=int, default=12)
    ap.add_argument("--per", type=int, default=25)
    ap.add_argument("--fill", type=int, default=100_000)
    ap.add_argument("--real", type=int, default=2_000)
    args = ap.parse_args()
    from archive.core.instance import Instance

    with tempfile.TemporaryDirectory() as tmp:
        inst = Instance(Path(tmp) / "instance")
        inst.create()
        try:
            quality(inst, args.families, args.per)
            speed(inst, args.fill, args.real)
        finally:
            inst.close()


if __name__ == "__main__":
    main()
