"""Units benchmark: `owed` and the ranking over U units × L leaves × N items (issue 12: 60 × 600 ×
100,000, p95 ≤ 200 ms), with two baselines in the same run: the readiness coverage report the
dashboard's 各单位尚缺材料 list is built from (`readiness.coverage.coverage`), and the naive
way — one query per obligation — timed on a sample and scaled up.

Items are written with raw SQL (no files are parsed: this measures the obligations, not
ingest); each leaf gets 1–3 units (first = lead) and 1–3 required types, ~70 % of items carry
their unit's name and a leaf that unit answers for, review states are mixed.

    .venv/bin/python bench/units.py [--units 60] [--leaves 600] [--items 100000] [--runs 30]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.core.db import transaction  # noqa: E402
from archive.core.instance import Instance  # noqa: E402
from archive.maps.loading import load_map_text_into  # noqa: E402

TYPES = ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]
ROMAN = "Ⅰ Ⅱ Ⅲ".split()


def make_map(leaves: int, units: list[str], rng: random.Random) -> str:
    per_item = 10
    lines = ["edition: 基准测试体系", "id: bench-units", f"material_types: [{', '.join(TYPES)}]", "indicators:"]
    n = 0
    a = 0
    while n < leaves:
        a += 1
        lines += [f"  - code: Ⅰ—{a}", f"    name: 项目{a}", "    children:"]
        for b in range(1, 4):
            if n >= leaves:
                break
            lines += [f"      - code: Ⅱ—{a * 10 + b}", f"        name: 指标{a}-{b}", "        children:"]
            for _ in range(min(per_item, leaves - n)):
                n += 1
                req = rng.sample(TYPES, rng.randint(1, 3))
                us = rng.sample(units, rng.randint(1, 3))
                lines += [f"          - code: Ⅲ—{n}", f"            name: 内容{n}", "            methods: [材料审核]",
                          f"            requires: [{', '.join(req)}]", f"            units: [{', '.join(us)}]"]
    return "\n".join(lines) + "\n"


def build(root: Path, n_units: int, n_leaves: int, n_items: int, seed: int = 7) -> Instance:
    rng = random.Random(seed)
    units = [f"单位{i:02d}{'街道' if i % 3 == 0 else '局'}" for i in range(n_units)]
    inst = Instance(root)
    inst.create()
    load_map_text_into(inst, make_map(n_leaves, units, rng), "bench.yaml", user="bench")
    from archive.maps.loading import current_map
    from archive.units.deadlines import set_deadline
    from archive.units.duties import ensure_seeded

    ensure_seeded(inst)
    imap = current_map(inst)
    leaves = imap.leaves()
    db = inst.db
    duties: dict[str, list[str]] = {}
    for leaf in leaves:
        for u in leaf.units:
            duties.setdefault(u, []).append(leaf.code)
    now = "2026-05-01T00:00:00Z"
    t0 = time.perf_counter()
    with transaction(db):
        for i in range(n_items):
            sha = f"{i:064x}"
            if rng.random() < 0.7:
                unit = rng.choice(units)
                code = rng.choice(duties.get(unit) or [leaves[0].code])
                mtype = rng.choice(imap.nodes[code].requires)
            else:
                unit = rng.choice(units + [None])
                code = rng.choice(leaves).code
                mtype = rng.choice(TYPES)
            state = rng.choices(["pending", "approved", "rejected"], [3, 6, 1])[0]
            created = f"2026-{rng.randint(3, 6):02d}-{rng.randint(1, 28):02d}T0{rng.randint(0, 9)}:00:00Z"
            db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', ?)", [sha, now])
            db.execute("INSERT INTO items (id, sha256, kind, material_type, title, original_name, unit, date, size, "
                       "review_state, created_at, updated_at, deleted_at) VALUES (?, ?, 'pdf', ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
                       [i + 1, sha, mtype, f"材料{i}", f"f{i}.pdf", unit, created[:10], state, created, created,
                        now if rng.random() < 0.02 else None])
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, ?)", [i + 1, code, now])
            if rng.random() < 0.3:   # some items serve a second leaf
                db.execute("INSERT OR IGNORE INTO item_codes (item_id, code, added_at) VALUES (?, ?, ?)",
                           [i + 1, rng.choice(leaves).code, now])
    db.execute("ANALYZE")
    print(f"built {n_items:,} items in {time.perf_counter() - t0:.1f} s")
    set_deadline(inst, "第一轮", "2026-05-31", starts_on="2026-03-01", by="bench")
    for leaf in rng.sample(leaves, len(leaves) // 10):
        set_deadline(inst, "第一轮", "2026-04-30", code=leaf.code, by="bench")
    return inst


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def timed(fn, runs: int) -> tuple[float, float, float, float]:
    """Wall and CPU (this process) p50 / p95 in ms: on a shared machine CPU is the steadier figure."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), p95(wall), statistics.median(cpu), p95(cpu)


def naive_per_obligation(inst, report, sample: int) -> float:
    """Baseline: one SQL query per obligation (what a per-leaf loop does), ms for `sample` of them."""
    rows = report["obligations"][:sample]
    t0 = time.perf_counter()
    for r in rows:
        inst.db.execute("SELECT sum(i.review_state = 'approved'), sum(i.review_state = 'pending'), min(i.created_at) "
                        "FROM items i JOIN item_codes c ON c.item_id = i.id WHERE i.deleted_at IS NULL "
                        "AND i.unit = ? AND c.code = ? AND i.material_type = ?",
                        [r["unit"], r["code"], r["type"]]).fetchone()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--leaves", type=int, default=600)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    tmp = args.dir or Path(tempfile.mkdtemp(prefix="bench-units-"))
    try:
        inst = build(tmp / "instance", args.units, args.leaves, args.items)
        from archive.readiness.coverage import coverage
        from archive.units.obligations import obligations
        from archive.units.ranking import ranking
        from archive.units.service import owed_report

        today = date(2026, 6, 10)
        owed_report(inst, today=today)   # warm: map parsed, seeded, snapshot written
        n_obl = len(obligations(inst, today=today)["obligations"])
        n_codes = inst.db.execute("SELECT count(*) FROM item_codes").fetchone()[0]
        print(f"{args.units} units × {args.leaves} leaves × {args.items:,} items "
              f"({n_codes:,} item-code rows) → {n_obl:,} obligations; {args.runs} runs each, ms")
        from archive.units.obligations import FACTS

        def cold(fn):
            def run():
                FACTS.clear()
                return fn()
            return run

        results = [
            ("owed (all units), cold", cold(lambda: owed_report(inst, today=today))),
            ("rank --from --to, cold", cold(lambda: ranking(inst, date(2026, 3, 1), date(2026, 6, 30), today=today))),
            ("owed (all units)", lambda: owed_report(inst, today=today)),
            ("owed --overdue", lambda: owed_report(inst, overdue=True, today=today)),
            ("owed --unit (one unit)", lambda: owed_report(inst, unit="单位00街道", today=today)),
            ("rank --from --to", lambda: ranking(inst, date(2026, 3, 1), date(2026, 6, 30), today=today)),
            ("baseline: coverage report", lambda: coverage(inst, today)),
        ]
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'what':32} {'wall p50':>9} {'p95':>8} {'CPU p50':>9} {'p95':>8}")
        for name, fn in results:
            w50, w95, c50, c95 = timed(fn, args.runs if "baseline" not in name else max(5, args.runs // 3))
            print(f"{name:32} {w50:9.1f} {w95:8.1f} {c50:9.1f} {c95:8.1f}")
        report = obligations(inst, today=today)
        sample = min(2000, n_obl)
        ms = naive_per_obligation(inst, report, sample)
        print(f"{'baseline: one query/obligation':32} {ms * n_obl / sample:8.1f} (scaled from {sample:,})")
    finally:
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
