"""Several maps: what the map context costs, and how long the 0050 upgrade and a migration take.

    .venv/bin/python bench/maps.py [--items 20000] [--work /tmp/bench_maps]

Builds an instance with the sample map and N items (rows straight in SQL, no files: this
measures the queries), 15 % on two leaves. Then, best of three each:
  1. coverage's item read with no map filter (the query before several maps: the baseline)
     and with the map filter (items filed in the map, their codes in it), one map active;
  2. the same after a second map (maps/wcn_sample.yaml) is loaded and a third of the items are
     also filed in it;
  3. the 0050 upgrade (item_codes rebuilt with map_id) on a copy whose item_codes is as before;
  4. `map migrate --dry-run` and the applied migration to an edition that renumbers every leaf
     (Ⅲ—n → Ⅲ—n0, derived by name).
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.core.sqlite import sqlite3  # noqa: E402


def best(fn, n=3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_maps"))
    args = ap.parse_args()

    from archive.core.db import transaction, utcnow
    from archive.core.instance import Instance
    from archive.maps.editions import migrate
    from archive.maps.loading import current_map, load_map_into
    from archive.readiness.coverage import load_items, snapshot

    shutil.rmtree(args.work, ignore_errors=True)
    inst = Instance(args.work / "instance")
    inst.create()
    load_map_into(inst, ROOT / "indicator_map.yaml", user="bench")
    imap = current_map(inst)
    leaves = [n.code for n in imap.leaves()]
    rng = random.Random(7)
    now = utcnow()
    with transaction(inst.db) as db:
        for i in range(1, args.items + 1):
            sha = f"{i:064x}"
            db.execute("INSERT INTO files VALUES (?, 1, 'pdf', ?)", [sha, now])
            db.execute("INSERT INTO items (id, sha256, kind, material_type, title, original_name, size, date, "
                       "created_at, updated_at) VALUES (?, ?, 'pdf', '规范文件', ?, ?, 1, '2026-03-01', ?, ?)",
                       [i, sha, f"材料{i}", f"材料{i}.pdf", now, now])
            for code in rng.sample(leaves, 2 if rng.random() < 0.15 else 1):
                db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at) VALUES (?, ?, ?, ?)",
                           [i, imap.id, code, now])

    def read(map_id):
        with snapshot(inst.db) as db:
            return load_items(db, map_id=map_id)

    print(f"items: {args.items}, item_codes rows: "
          f"{inst.db.execute('SELECT COUNT(*) FROM item_codes').fetchone()[0]}")
    print(f"1 map   load_items  no filter (baseline) {best(lambda: read(None)) * 1000:7.1f} ms   "
          f"map filter {best(lambda: read(imap.id)) * 1000:7.1f} ms")
    load_map_into(inst, ROOT / "maps" / "wcn_sample.yaml", user="bench")
    wcn = [n.code for n in load_map_into.__globals__["get_map"](inst, "wcn-2024-sample").leaves()]
    with transaction(inst.db) as db:
        for i in range(1, args.items + 1, 3):
            db.execute("INSERT INTO item_codes (item_id, map_id, code, added_at) VALUES (?, ?, ?, ?)",
                       [i, "wcn-2024-sample", rng.choice(wcn), now])
    print(f"2 maps  load_items  no filter (baseline) {best(lambda: read(None)) * 1000:7.1f} ms   "
          f"map filter wmcs {best(lambda: read(imap.id)) * 1000:7.1f} ms   "
          f"wcn {best(lambda: read('wcn-2024-sample')) * 1000:7.1f} ms")

    # the 0050 upgrade on an item_codes table as it was before
    from archive.core.db import MIGRATIONS
    sql = next(s for v, _, s in MIGRATIONS if v == 50)
    copy = args.work / "old.db"
    src = sqlite3.connect(inst.db_path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.executescript("""DROP TRIGGER item_codes_default_map; DROP TABLE item_codes;
        CREATE TABLE item_codes (item_id INTEGER NOT NULL, code TEXT NOT NULL, added_at TEXT NOT NULL,
        added_by TEXT, PRIMARY KEY (item_id, code));
        CREATE INDEX item_codes_code ON item_codes(code);
        ALTER TABLE maps DROP COLUMN active; ALTER TABLE maps DROP COLUMN retired_at;
        ALTER TABLE maps DROP COLUMN retired_by; DROP INDEX maps_map_id;""")
    dst.execute("INSERT INTO item_codes SELECT i, 'Ⅲ—' || (i % 60 + 1), '2026-01-01', NULL FROM "
                "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) SELECT i FROM n)",
                [int(args.items * 1.15)])
    dst.commit()
    t0 = time.perf_counter()
    dst.executescript("BEGIN;" + sql + "COMMIT;")
    print(f"0050 upgrade of {int(args.items * 1.15)} item_codes rows: {(time.perf_counter() - t0) * 1000:.0f} ms")
    dst.close()

    # an edition that renumbers every leaf (derived by name)
    text = (ROOT / "indicator_map.yaml").read_text(encoding="utf-8")
    import re
    new = re.sub(r"code: Ⅲ—(\d+)", lambda m: f"code: Ⅲ—{m.group(1)}0", text).replace(
        "edition: 全国文明城市测评体系（地级以上城市·示例）", "edition: 全国文明城市测评体系（示例·新版）")
    path = args.work / "new.yaml"
    path.write_text(new, encoding="utf-8")
    t0 = time.perf_counter()
    plan = migrate(inst, path, None, dry_run=True)
    dry = time.perf_counter() - t0
    t0 = time.perf_counter()
    migrate(inst, path, None, dry_run=False, user="bench")
    applied = time.perf_counter() - t0
    print(f"map migrate (every leaf renumbered, {len(plan['items'])} items move): "
          f"dry run {dry * 1000:.0f} ms, applied {applied * 1000:.0f} ms (one transaction, one audit row per item)")
    inst.close()


if __name__ == "__main__":
    main()
