"""Inspection benchmark: problem list pages and the 整改台账 xlsx export at scale.

    .venv/bin/python bench/inspection.py [--problems 20000] [--photos 60000] [--requests 60]
                                         [--dir DIR] [--keep]

Builds an instance with the sample map, 300 点位 of 40 units and N problems with M photo rows
(written with SQL in transactions of 2,000, as report_problem writes them; the photo rows point
at 300 distinct real JPEGs in the store, so thumbnails are real). A quarter of the problems are
open, some overdue, some rebounds. Then:
  1. pages through the Flask app in-process (test client, logged in as a reviewer): p50/p95 of
     the problem list (first page, filtered by unit / overdue / site / leaf, page 100), a problem,
     the dashboard, the sites page and the printable ledger (200 rows); the
     archive's own readiness dashboard `/dashboard` is timed in the same run as the baseline;
  2. the ledger xlsx for N/10 and for N problems, each in a child process: seconds, file size,
     images, and peak RSS (VmHWM), against a child that only opens the instance
     (the baseline RSS). Flat memory = the two exports' peaks differ by little. Peak RSS is the
     child's VmHWM (ru_maxrss would report the parent's size at fork).
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNITS = [f"第{i}街道" for i in range(1, 31)] + ["市城管局", "市市场监管局", "市交通局", "市卫健委", "市教育局",
                                            "市住建局", "市园林局", "市公安局", "市商务局", "市文旅局"]


def build(work: Path, n_problems: int, n_photos: int) -> Path:
    from PIL import Image, ImageDraw

    from archive.core.db import insert, transaction, utcnow
    from archive.core.dates import today_beijing
    from archive.core.instance import Instance
    from archive.maps.loading import current_map, load_map_into
    from archive.users import create_user

    rng = random.Random(13)
    inst = Instance(work / "instance")
    inst.create()
    load_map_into(inst, ROOT / "indicator_map.yaml", user="bench")
    create_user(inst.db, "reviewer", "reviewer", None, "bench-password-1", by="bench")
    imap = current_map(inst)
    leaves = [n.code for n in imap.leaves()]
    shas = []
    tmp = work / "src"
    tmp.mkdir(parents=True, exist_ok=True)
    for i in range(300):
        p = tmp / f"p{i}.jpg"
        img = Image.new("RGB", (1024, 768), tuple(rng.randrange(256) for _ in range(3)))
        d = ImageDraw.Draw(img)
        for _ in range(20):
            x, y = rng.randrange(1024), rng.randrange(768)
            d.rectangle([x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 200)],
                        fill=tuple(rng.randrange(256) for _ in range(3)))
        img.save(p, "JPEG", quality=85)
        sha, size = inst.store.put(p)
        shas.append((sha, size))
    now = utcnow()
    today = today_beijing()
    with transaction(inst.db):
        for sha, size in shas:
            inst.db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, 'jpeg', ?)",
                            [sha, size, now])
        for i in range(300):
            insert(inst.db, "sites", {"kind": rng.choice(["农贸市场", "背街小巷", "公共厕所", "学校", "社区"]),
                                      "name": f"点位{i:03d}", "address": f"某路{i}号", "lat": 36 + rng.random() * 0.2,
                                      "lon": 120.3 + rng.random() * 0.2, "unit": UNITS[i % len(UNITS)],
                                      "person": f"片长{i}", "phone": "139", "active": 1, "created_at": now,
                                      "updated_at": now})
    per = max(1, n_photos // n_problems)
    extra = n_photos - per * n_problems
    done = 0
    while done < n_problems:
        with transaction(inst.db):
            for _ in range(min(2000, n_problems - done)):
                done += 1
                found = today - timedelta(days=rng.randrange(0, 365))
                state = rng.choices(["open", "rectified", "closed"], [25, 15, 60])[0]
                site = rng.randrange(1, 301)
                pid = insert(inst.db, "problems", {
                    "found_on": found.isoformat(), "found_by": "bench", "source": "日常督查", "site_id": site,
                    "description": f"问题描述{done}：占道经营、垃圾堆放、设施破损" * 2, "unit": UNITS[(site - 1) % len(UNITS)],
                    "deadline": (found + timedelta(days=rng.randrange(3, 60))).isoformat(), "severity": "一般",
                    "state": state, "rectified_at": now if state != "open" else None,
                    "closed_at": now if state == "closed" else None,
                    "rebound_of": done - 1 if done > 1 and rng.random() < 0.03 else None,
                    "created_at": now, "updated_at": now})
                insert(inst.db, "problem_codes", {"problem_id": pid, "map_id": imap.id, "code": rng.choice(leaves)})
                k = per + (1 if done <= extra else 0)
                for j in range(k):
                    sha = shas[rng.randrange(len(shas))][0]
                    stage = "before" if j < max(1, k // 2) or state == "open" else "after"
                    insert(inst.db, "problem_photos", {"problem_id": pid, "stage": stage, "sha256": sha,
                                                       "original_name": f"{pid}_{j}.jpg", "kind": "jpeg",
                                                       "phash": "0" * 16, "added_at": now})
                insert(inst.db, "problem_events", {"problem_id": pid, "at": now, "action": "report"})
    inst.close()
    return work / "instance"


def time_pages(root: Path, requests: int, n_problems: int) -> list[tuple[str, float, float]]:
    from archive.web import create_app

    app = create_app({"INSTANCE": str(root), "TESTING": True, "WTF_CSRF_ENABLED": False})
    c = app.test_client()
    c.post("/login", data={"name": "reviewer", "password": "bench-password-1"})
    leaf = "Ⅲ—1"
    pages = [
        ("baseline: readiness dashboard /dashboard", "/dashboard?date=2026-07-15"),
        ("problem list, first page", "/inspection/problems?unit="),
        ("problem list, one unit", "/inspection/problems?unit=第3街道"),
        ("problem list, overdue", "/inspection/problems?unit=&state=overdue"),
        ("problem list, one site", "/inspection/problems?unit=&site=17"),
        ("problem list, one leaf", f"/inspection/problems?unit=&code={leaf}"),
        ("problem list, page 100", "/inspection/problems?unit=&page=100"),
        ("problem page", "/inspection/problems/{pid}"),
        ("inspection dashboard", "/inspection"),
        ("sites page (300)", "/inspection/sites"),
        ("printable ledger (200 rows)", "/inspection/ledger?unit=第5街道"),
    ]
    rng = random.Random(1)
    out = []
    for label, url in pages:
        times = []
        for i in range(requests):
            u = url.format(pid=rng.randrange(1, n_problems + 1))
            t = time.perf_counter()
            r = c.get(u)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (u, r.status_code)
            r.close()
        times.sort()
        out.append((label, statistics.median(times), times[int(0.95 * (len(times) - 1))]))
        print(f"{label:45s} p50 {out[-1][1]:7.1f} ms   p95 {out[-1][2]:7.1f} ms", flush=True)
    return out


def ledger_child(root: Path, out: Path, found_from: str | None) -> tuple[int, int, float, int]:
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from archive.core.instance import Instance
from archive.inspection.ledger import write_ledger
from archive.inspection.problems import ProblemFilter
inst = Instance.open({str(root)!r})
t = time.perf_counter()
res = write_ledger(inst, ProblemFilter(found_from={found_from!r}), {str(out)!r}) if {found_from!r} != "none" else {{"rows": 0, "photos": 0}}
dt = time.perf_counter() - t
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's size at fork
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(res["rows"], res["photos"], round(dt, 2), hwm // 1024)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, photos, secs, rss = r.stdout.split()
    return int(rows), int(photos), float(secs), int(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=20000)
    ap.add_argument("--photos", type=int, default=60000)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-inspection-"))
    try:
        t = time.perf_counter()
        root = build(work, args.problems, args.photos)
        print(f"built {args.problems} problems, {args.photos} photos in {time.perf_counter() - t:.0f} s", flush=True)
        time_pages(root, args.requests, args.problems)
        from archive.core.dates import today_beijing

        base = ledger_child(root, work / "none.xlsx", "none")
        print(f"baseline child (open instance only): peak RSS {base[3]} MB")
        recent = (today_beijing() - timedelta(days=36)).isoformat()   # ≈ 1/10 of a year's problems
        for label, since in (("ledger ~N/10", recent), ("ledger N", None)):
            rows, photos, secs, rss = ledger_child(root, work / "ledger.xlsx", since)
            size = (work / "ledger.xlsx").stat().st_size / 1e6
            print(f"{label:14s} {rows:6d} rows {photos:6d} images {secs:6.1f} s {size:7.1f} MB  "
                  f"peak RSS {rss} MB (+{rss - base[3]} MB over baseline)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
