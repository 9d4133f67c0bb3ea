"""Units benchmark: `owed` and the ranking over U units × L leaves × N items (issue 12: 60 × 600 ×
100,000, p95 ≤ 200 ms cold), against the way they were computed before in the same run.

- In this process, first call after a change (an item's review decided before every run, so
  nothing can be reused): obligations from the `unit_owed_facts` aggregate (migration 0070) vs the
  old grouped query over items × item_codes (`source="grouped"`).
- In a new process, as a user runs it: `evidence owed --json` etc., wall and CPU of the whole
  process; the baseline process runs the same command the old way (grouped queries, the map
  parsed by the pure-Python YAML parser, the search package imported by units, numpy loaded by
  sqlite_utils): what main did before. `evidence --help` is the floor (interpreter + imports).
- The triggers' price per upload: items + codes inserted with and without them (raw SQL, rolled
  back), and real uploads through the ingest pipeline with and without them.

Items are written with raw SQL (no files are parsed: this measures the obligations, not
ingest); each leaf gets 1–3 units (first = lead) and 1–3 required types, ~70 % of items carry
their unit's name and a leaf that unit answers for, review states are mixed, every decided item
has its review row.

    .venv/bin/python bench/units.py [--units 60] [--leaves 600] [--items 100000] [--runs 20]
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
            if state != "pending" or rng.random() < 0.1:   # decided, or decided once and sent back in
                decided = f"{created[:8]}{int(created[8:10]) + rng.randint(0, 2):02d}T1{rng.randint(0, 9)}:00:00Z"
                db.execute("INSERT INTO reviews (item_id, decision, comment, reviewer, created_at) "
                           "VALUES (?, ?, NULL, 'bench', ?)", [i + 1, "rejected" if state == "pending" else state, decided])
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


def change(inst) -> None:
    """An item's review state flips (with its audit row, as every writer does): whatever was
    computed before is stale."""
    from archive.core import audit

    db = inst.db
    with transaction(db):
        item_id, state = db.execute("SELECT id, review_state FROM items WHERE deleted_at IS NULL "
                                    "ORDER BY random() LIMIT 1").fetchone()
        db.execute("UPDATE items SET review_state = ? WHERE id = ?",
                   ["approved" if state != "approved" else "pending", item_id])
        audit.log(db, "bench", "item.review", f"item:{item_id}", None)


def after_change(inst, fn):
    def run():
        change(inst)
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    return run


def timed_runs(fn, runs: int) -> tuple[float, float, float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        w, c = fn()
        wall.append(w)
        cpu.append(c)
    return statistics.median(wall), p95(wall), statistics.median(cpu), p95(cpu)


OLD_WAY = """
import numpy                               # sqlite_utils loaded numpy before (core.db now hides it)
import functools, yaml
import archive.search                      # units imported the search package (whoosh) before
import archive.maps.indicators as ind
ind._compose = lambda text: yaml.compose(text, Loader=yaml.SafeLoader)   # pure-Python YAML before
import archive.units.obligations as o, archive.units.service as s, archive.units.ranking as r
s.obligations = functools.partial(o.obligations, source="grouped")      # the grouped query before
r.review_counts = functools.partial(r.review_counts, source="grouped")  # reviews × items before
"""


def process_runs(root: Path, args: list[str], runs: int, old: bool = False) -> tuple[float, float, float, float]:
    """Wall and CPU (user + system of the child) of a new `evidence` process, ms."""
    import resource
    import subprocess

    code = (OLD_WAY if old else "") + "import cli; cli.cli(prog_name='evidence')"
    cmd = [sys.executable, "-c", code, "--instance", str(root), *args]
    wall, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall.append((time.perf_counter() - t0) * 1000)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr}")
    return statistics.median(wall), p95(wall), statistics.median(cpu), p95(cpu)


def owed_triggers(inst_db) -> list[str]:
    """The CREATE TRIGGER statements in force (to put them back after a run without)."""
    return [r[0] for r in inst_db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND (name LIKE 'unit_owed_%' OR name LIKE 'unit_review_days_%')")]


def drop_triggers(db) -> None:
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                              "AND (name LIKE 'unit_owed_%' OR name LIKE 'unit_review_days_%')").fetchall():
        db.execute(f"DROP TRIGGER {name}")


def insert_cost(inst, n: int, with_triggers: bool) -> float:
    """µs per item (+ its codes) inserted in one transaction, rolled back afterwards."""
    db = inst.db
    rng = random.Random(3)
    leaves = [r[0] for r in db.execute("SELECT DISTINCT code FROM duties").fetchall()]
    units = [r[0] for r in db.execute("SELECT name FROM units").fetchall()]
    base = db.execute("SELECT max(id) FROM items").fetchone()[0] + 1
    db.execute("BEGIN IMMEDIATE")
    try:
        if not with_triggers:
            drop_triggers(db)
        t0 = time.perf_counter()
        for i in range(base, base + n):
            sha = f"f{i:063x}"
            db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 'x')", [sha])
            db.execute("INSERT INTO items (id, sha256, kind, material_type, title, original_name, unit, size, "
                       "review_state, created_at, updated_at) VALUES (?, ?, 'pdf', ?, 't', 'f.pdf', ?, 1, 'pending', "
                       "'2026-06-01T00:00:00Z', 'x')", [i, sha, rng.choice(TYPES), rng.choice(units)])
            for code in rng.sample(leaves, 1 + (rng.random() < 0.3)):
                db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, 'x')", [i, code])
        return (time.perf_counter() - t0) * 1e6 / n
    finally:
        db.execute("ROLLBACK")


def update_cost(inst, n: int, with_triggers: bool, sql: str) -> float:
    """µs per item for an UPDATE of existing items (review decided, deleted…), rolled back."""
    db = inst.db
    ids = [r[0] for r in db.execute("SELECT id FROM items WHERE deleted_at IS NULL AND unit IS NOT NULL "
                                    "ORDER BY random() LIMIT ?", [n]).fetchall()]
    db.execute("BEGIN IMMEDIATE")
    try:
        if not with_triggers:
            drop_triggers(db)
        t0 = time.perf_counter()
        for i in ids:
            db.execute(sql, [i])
        return (time.perf_counter() - t0) * 1e6 / len(ids)
    finally:
        db.execute("ROLLBACK")


def bulk_cost(inst, sql: str, with_triggers: bool) -> tuple[int, float]:
    """(rows, seconds) of one bulk statement (a map taking over another id, a cycle start), rolled back."""
    db = inst.db
    db.execute("BEGIN IMMEDIATE")
    try:
        if not with_triggers:
            drop_triggers(db)
        t0 = time.perf_counter()
        rows = db.execute(sql).rowcount
        return rows, time.perf_counter() - t0
    finally:
        db.execute("ROLLBACK")


def ingest_rate(inst, tmp: Path, n: int, with_triggers: bool, tag: str) -> float:
    """ms per upload through the one ingest pipeline (small CSV ledgers, one commit each)."""
    from archive.evidence.ingest import IngestRequest, ingest_files
    from archive.units import facts

    db = inst.db
    code, unit = db.execute("SELECT d.code, u.name FROM duties d JOIN units u ON u.id = d.unit_id LIMIT 1").fetchone()
    triggers = owed_triggers(db)
    if not with_triggers:
        with transaction(db):
            drop_triggers(db)
    src = Path(tempfile.mkdtemp(prefix=f"csv-{tag}-", dir=tmp))
    paths = []
    for k in range(n):
        p = src / f"台账{k}.csv"
        p.write_text(f"日期,事项\n2026-05-0{k % 9 + 1},{src.name} 第{k}份 台账\n", encoding="utf-8")
        paths.append(p)
    t0 = time.perf_counter()
    for p in paths:
        res = ingest_files(inst, [IngestRequest(p, [code], "工作台账", "2026-05-01", unit=unit, title=p.stem)], user="bench")
        assert res.ok, res.refused
    ms = (time.perf_counter() - t0) * 1000 / n
    if not with_triggers:
        with transaction(db):
            for st in triggers:
                db.execute(st)
        facts.rebuild(db)
    return ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--leaves", type=int, default=600)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dir", type=Path, default=None, help="keep the instance here (built when missing)")
    args = ap.parse_args()
    tmp = args.dir or Path(tempfile.mkdtemp(prefix="bench-units-"))
    try:
        root = tmp / "instance"
        if (root / "archive.db").exists():
            inst = Instance.open(root)
        else:
            inst = build(root, args.units, args.leaves, args.items)
        import functools

        from archive.units import facts
        from archive.units import ranking as ranking_mod
        from archive.units import service
        from archive.units.obligations import obligations
        from archive.units.ranking import ranking
        from archive.units.service import owed_report

        today = date(2026, 6, 10)
        owed_report(inst, today=today)   # map parsed, seeded, snapshot written
        n_obl = len(obligations(inst, today=today)["obligations"])
        n_codes = inst.db.execute("SELECT count(*) FROM item_codes").fetchone()[0]
        n_rev = inst.db.execute("SELECT count(*) FROM reviews").fetchone()[0]
        n_facts = inst.db.execute("SELECT count(*) FROM unit_owed_facts").fetchone()[0]
        assert not facts.drift(inst.db), "aggregate differs from the grouped query"
        print(f"{args.units} units × {args.leaves} leaves × {args.items:,} items ({n_codes:,} item-code rows, "
              f"{n_rev:,} reviews) → {n_obl:,} obligations; aggregate {n_facts:,} rows; {args.runs} runs each, ms")
        grouped_obl = functools.partial(obligations, source="grouped")

        grouped_reviews = functools.partial(ranking_mod.review_counts, source="grouped")
        new_reviews = ranking_mod.review_counts

        def old_way(fn):
            def run():
                service.obligations, ranking_mod.review_counts = grouped_obl, grouped_reviews
                try:
                    return fn()
                finally:
                    service.obligations, ranking_mod.review_counts = obligations, new_reviews
            return run

        rank = lambda: ranking(inst, date(2026, 3, 1), date(2026, 6, 30), today=today)  # noqa: E731
        cases = [
            ("owed (all units)", lambda: owed_report(inst, today=today)),
            ("owed --overdue", lambda: owed_report(inst, overdue=True, today=today)),
            ("owed --unit (one unit)", lambda: owed_report(inst, unit="单位00街道", today=today)),
            ("rank --from --to", rank),
        ]
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print("in this process, first call after a change:")
        print(f"  {'what':34} {'wall p50':>9} {'p95':>8} {'CPU p50':>9} {'p95':>8}")
        for name, fn in cases:
            for label, f in ((name, fn), (f"  before (grouped query)", old_way(fn))):
                w50, w95, c50, c95 = timed_runs(after_change(inst, f), args.runs if "before" not in label else max(5, args.runs // 2))
                print(f"  {label:34} {w50:9.1f} {w95:8.1f} {c50:9.1f} {c95:8.1f}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        print("a new process (evidence …), whole process:")
        runs = max(5, args.runs // 2)
        for name, cli_args in (("evidence --help (floor)", ["--help"]),
                               ("owed --json", ["owed", "--json"]),
                               ("owed --overdue --json", ["owed", "--overdue", "--json"]),
                               ("owed --unit U --json", ["owed", "--unit", "单位00街道", "--json"]),
                               ("rank --from --to --json", ["rank", "--from", "2026-03-01", "--to", "2026-06-30", "--json"])):
            change(inst)
            w50, w95, c50, c95 = process_runs(root, cli_args, runs)
            print(f"  {name:34} {w50:9.1f} {w95:8.1f} {c50:9.1f} {c95:8.1f}")
            if "floor" not in name:
                w50, w95, c50, c95 = process_runs(root, cli_args, max(3, runs // 2), old=True)
                print(f"  {'  before (main until now)':34} {w50:9.1f} {w95:8.1f} {c50:9.1f} {c95:8.1f}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        print("the triggers' price (µs per item, rolled back; with / without triggers):")
        n = 3000
        for label, fn in (
                ("insert item + codes", lambda t: insert_cost(inst, n, t)),
                ("review decided", lambda t: update_cost(inst, n, t, "UPDATE items SET review_state = "
                                                         "CASE review_state WHEN 'approved' THEN 'rejected' ELSE 'approved' END WHERE id = ?")),
                ("soft delete", lambda t: update_cost(inst, n, t, "UPDATE items SET deleted_at = 'x' WHERE id = ?")),
                ("unit changed", lambda t: update_cost(inst, n, t, "UPDATE items SET unit = '单位01局' WHERE id = ?"))):
            with_t, without = fn(True), fn(False)
            print(f"  {label:34} {with_t:8.0f} / {without:6.0f}")
        for label, sql in (("map taken over by a new id (s)", "UPDATE item_codes SET map_id = 'bench-new' "
                                                             "WHERE map_id = 'bench-units'"),
                           ("cycle start: all back to 待审核 (s)", "UPDATE items SET review_state = 'pending'"),
                           ("unit renamed (s)", "UPDATE items SET unit = '单位99局' WHERE unit = '单位01局'")):
            (rows, with_t), (_, without) = bulk_cost(inst, sql, True), bulk_cost(inst, sql, False)
            print(f"  {label:34} {with_t:8.2f} / {without:6.2f}   ({rows:,} rows)")
        k = 40
        with_t = ingest_rate(inst, tmp, k, True, "a")
        without = ingest_rate(inst, tmp, k, False, "b")
        print(f"  {'upload (ingest_files, ms each)':34} {with_t:8.1f} / {without:6.1f}   ({k} CSV files each)")
        assert not facts.drift(inst.db), "aggregate differs after the uploads"
        print(f"load average {os.getloadavg()[0]:.1f}")
        inst.close()
    finally:
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
