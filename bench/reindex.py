"""Reindex benchmark: `evidence reindex` (in place, and full) on one instance, by this checkout's
code and by a baseline checkout's, alternately, each run in its own process; items/s wall and
items per CPU-second (the process and its worker together).

    .venv/bin/python bench/search.py --items 100000 --dir /tmp/b100k --keep --no-scan   # the data
    git worktree add /tmp/base <commit>
    .venv/bin/python bench/reindex.py --dir /tmp/b100k --baseline /tmp/base [--modes in-place,full] [--rounds 2]
    .venv/bin/python bench/reindex.py --dir /tmp/b1m --only-this --modes fresh     # one build, this code

`fresh` makes the index tables anew, as the code under test makes them (its FTS5 tokenizer and
hashsize), and builds the index by catch_up (what a bulk load costs).
Both codes must read the instance's schema (a baseline from before a migration cannot).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import archive
from archive.core.instance import Instance
from archive.search import catch_up, reindex
assert archive.__file__.startswith(sys.argv[1]), archive.__file__
if sys.argv[4] != "-":   # --grams-min-items: common grams in a smaller archive too (code that has them)
    try:
        from archive.search import grams
        grams.MIN_ITEMS = int(sys.argv[4])
    except ImportError:
        pass
inst = Instance.open(sys.argv[2])
n = inst.db.execute("SELECT count(*) FROM items WHERE deleted_at IS NULL").fetchone()[0]
def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime
mode = sys.argv[3]
if mode == "fresh":   # an empty index and every item waiting: the bulk build of a loaded archive
    from archive.core.db import transaction
    with transaction(inst.db):
        # the tables as each code makes them: its tokenizer (ascii from the fifteenth session,
        # unicode61 before) and FTS5's hashsize (1 MB before 0063) live in the table, not the code
        from archive.search import index
        try:
            from archive.search.fts5 import TOKENIZE as tok
        except ImportError:
            tok = "unicode61 remove_diacritics 0"
        inst.db.execute("DROP TABLE search_fts")
        inst.db.execute("CREATE VIRTUAL TABLE search_fts USING fts5(text, title, name, unit, f, content='', "
                        f"tokenize='{tok}')")
        inst.db.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 16)")
        inst.db.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', ?)",
                        [getattr(index, "FTS_HASH_SIZE", 1024 * 1024)])
        if inst.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_grams'").fetchone():
            inst.db.execute("DROP TABLE search_grams")
            inst.db.execute("CREATE VIRTUAL TABLE search_grams USING fts5(grams, content='', detail='none', "
                            f"columnsize=0, tokenize='{tok}')")
            inst.db.execute("INSERT INTO search_grams (search_grams, rank) VALUES ('hashsize', 33554432)")
        inst.db.execute("DELETE FROM search_docs")
        inst.db.execute("INSERT OR IGNORE INTO search_pending (item_id) SELECT id FROM items")
        try:   # common grams (the fourteenth session's code on): none yet either
            from archive.search import grams
            grams.forget(inst.db)
        except ImportError:
            pass
        try:   # nor kept document counts: the rows they counted are gone (a real fresh build has none)
            from archive.search import doccounts
            doccounts.forget(inst.db)
        except ImportError:
            pass
t, (c0, k0) = time.perf_counter(), cpu()
report = {"mode": "fresh", **catch_up(inst)} if mode == "fresh" else reindex(inst, full=mode == "full")
wall, (c1, k1) = time.perf_counter() - t, cpu()
from archive.search import engine
t = time.perf_counter()
if hasattr(engine, "compact"):   # `evidence reindex` then merges the segments (timed apart)
    engine.compact(inst)
merge = time.perf_counter() - t
t = time.perf_counter()
if hasattr(engine, "keep_doc_counts"):   # as `evidence reindex` ends
    engine.keep_doc_counts(inst)
counts = time.perf_counter() - t
t = time.perf_counter()
if hasattr(engine, "build_grams"):   # then the common grams (a fresh build wrote them inline: merged)
    engine.build_grams(inst)
common = time.perf_counter() - t
inst.close()
print(json.dumps({"items": n, "wall": wall, "tokenizer": tok if mode == "fresh" else None, "cpu": c1 - c0, "worker_cpu": k1 - k0, "mode": report["mode"],
                  "merge": merge, "counts": counts, "grams": common}))
"""


def run(code: Path, inst: Path, mode: str, grams_min_items=None) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, str(code.resolve()), str(inst), mode,
                          "-" if grams_min_items is None else str(grams_min_items)],
                         check=True, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="an instance built before (bench/search.py --keep)")
    ap.add_argument("--baseline", help="a checkout of the code to compare with")
    ap.add_argument("--modes", default="in-place,full",
                    help="in-place, full (`evidence reindex` and `reindex(full=True)`), fresh (the index "
                         "emptied, every item pending, then catch_up: building the index of a loaded archive)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only-this", action="store_true", help="this checkout's code only (no baseline run)")
    ap.add_argument("--grams-min-items", type=int,
                    help="common grams from this many items (default: the code's own, 50,000): what they "
                         "cost a build of a smaller instance")
    args = ap.parse_args(argv)
    if not args.baseline and not args.only_this:
        ap.error("--baseline or --only-this")
    codes = {"this": ROOT} if args.only_this else {"baseline": Path(args.baseline), "this": ROOT}
    print(f"# reindex benchmark: {args.dir}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"baseline {args.baseline}")
    results: dict = {}
    for r in range(args.rounds):
        for mode in args.modes.split(","):
            order = ["baseline", "this"] if r % 2 == 0 else ["this", "baseline"]
            order = [name for name in order if name in codes]
            for name in order:
                res = run(codes[name], Path(args.dir), mode, args.grams_min_items)
                results.setdefault((mode, name), []).append(res)
                print(f"  round {r + 1} {mode} {name}: {res['items'] / res['wall']:.0f} items/s wall, "
                      f"CPU {res['cpu']:.1f} s + worker {res['worker_cpu']:.1f} s, then merging segments "
                      f"{res['merge']:.1f} s, counts {res.get('counts', 0):.1f} s, common grams {res.get('grams', 0):.1f} s, "
                      f"in all {res['items'] / (res['wall'] + res['merge'] + res.get('counts', 0) + res.get('grams', 0)):.0f} items/s, "
                      f"load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
    print("| mode | code | items/s wall (median) | items per CPU-second | CPU s: main + worker | wall s |")
    print("|---|---|---|---|---|---|")
    for (mode, name), runs in results.items():
        rate = statistics.median(x["items"] / x["wall"] for x in runs)
        per_cpu = statistics.median(x["items"] / (x["cpu"] + x["worker_cpu"]) for x in runs)
        main_cpu = statistics.median(x["cpu"] for x in runs)
        worker = statistics.median(x["worker_cpu"] for x in runs)
        print(f"| {mode} | {name} | {rate:.0f} | {per_cpu:.0f} | {main_cpu:.1f} + {worker:.1f} "
              f"| {statistics.median(x['wall'] for x in runs):.1f} |")
    for mode in args.modes.split(","):
        base, this = results.get((mode, "baseline")), results.get((mode, "this"))
        if base and this:
            ratio = statistics.median(x["wall"] for x in base) / statistics.median(x["wall"] for x in this)
            print(f"{mode}: this code {ratio:.2f}× the baseline's rate (wall)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
