"""Search A/B: the same instance and queries through this checkout's search() and another
commit's, in two long-lived processes answering each query alternately (which one goes first
alternates too), cold totals (each process's kept totals cleared before every query).

    .venv/bin/python bench/search_ab.py --dir /work/bench-data/b1m --baseline 0118358 [--rounds 3]

The baseline is checked out with `git worktree add --detach` into a temporary directory (removed
afterwards). The queries are bench/search.py's classes (same seeds, so the same queries).
Figures: wall and CPU (both threads of a split count) ms p50 / p95 per class; the paired
ratio (this / baseline, wall, each query against its own baseline time in the same round):
its median over all queries, and over those of more than 2,000 hits (counted, newest first),
which a noisy machine blurs less than the class percentiles; and how many totals differ.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(root: str, inst_dir: str) -> None:
    """Worker: answer one JSON query a line with {wall, cpu, total}."""
    sys.path.insert(0, root)
    from archive.core.instance import Instance
    from archive.search import engine, search
    inst = Instance.open(Path(inst_dir))
    search(inst, "文明")
    print("ready", flush=True)
    for line in sys.stdin:
        q, code, mtype = json.loads(line)
        engine.COUNT_CACHE.clear()
        t, c = time.perf_counter(), time.process_time()
        r = search(inst, q, code=code, type=mtype, limit=20)
        out = {"wall": (time.perf_counter() - t) * 1000, "cpu": (time.process_time() - c) * 1000,
               "total": r["total"]}
        print(json.dumps(out), flush=True)


class Worker:
    def __init__(self, root: Path, inst_dir: str):
        self.p = subprocess.Popen([sys.executable, __file__, "--serve", str(root), "--dir", inst_dir],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, case) -> dict:
        self.p.stdin.write(json.dumps(case) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def classes(inst_dir: str, k: int):
    """bench/search.py's query classes, each query as (query, code, type)."""
    from archive.core.instance import Instance
    from bench.search import query_classes
    inst = Instance.open(Path(inst_dir))
    try:
        return [(name, [(*case, None)[:3] for case in cases]) for name, cases in query_classes(inst, k)]
    finally:
        inst.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="an instance built by bench/search.py --keep")
    ap.add_argument("--baseline", help="the commit to compare with (default: HEAD)")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="only the classes whose name contains this")
    ap.add_argument("--serve", metavar="ROOT", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.dir)
    # only here, never in a worker: there `archive` must come from the worker's own checkout
    sys.path.insert(0, str(ROOT))
    from bench.search import pct
    base = Path(tempfile.mkdtemp(prefix="search-ab-")) / "base"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.baseline or "HEAD"],
                   cwd=ROOT, check=True)
    try:
        cases = [c for c in classes(args.dir, args.queries) if not args.only or args.only in c[0]]
        old, new = Worker(base, args.dir), Worker(ROOT, args.dir)
        print(f"# {args.dir}: baseline {args.baseline or 'HEAD'} against this checkout, {args.rounds} rounds, "
              f"alternating; load average {os.getloadavg()[0]:.1f}")
        print("| query class | wall p50 / p95: baseline | this | CPU p50 / p95: baseline | this "
              "| paired ratio p50: all | > 2,000 hits (n) | totals differ |")
        print("|---|---|---|---|---|---|---|---|")
        for name, qs in cases:
            got = {"old": [], "new": []}
            differ = 0
            for r in range(args.rounds):
                for i, q in enumerate(qs):
                    order = [("old", old), ("new", new)]
                    if (i + r) % 2:
                        order.reverse()
                    res = {k: w.ask(q) for k, w in order}
                    for k in res:
                        got[k].append(res[k])
                    differ += res["old"]["total"] != res["new"]["total"]
            f = {k: ([x["wall"] for x in v], [x["cpu"] for x in v]) for k, v in got.items()}
            ratios = [(n["wall"] / max(o["wall"], 1e-6), o["total"]) for o, n in zip(got["old"], got["new"])]
            huge = [r for r, total in ratios if total > 2000]
            paired = (f"| {pct([r for r, _ in ratios], 50):.2f} "
                      f"| {f'{pct(huge, 50):.2f} ({len(huge)})' if huge else '–'} ")
            print(f"| {name} | {pct(f['old'][0], 50):.1f} / {pct(f['old'][0], 95):.1f} "
                  f"| {pct(f['new'][0], 50):.1f} / {pct(f['new'][0], 95):.1f} "
                  f"| {pct(f['old'][1], 50):.1f} / {pct(f['old'][1], 95):.1f} "
                  f"| {pct(f['new'][1], 50):.1f} / {pct(f['new'][1], 95):.1f} " + paired + f"| {differ} |", flush=True)
        old.close()
        new.close()
        print(f"load average at end {os.getloadavg()[0]:.1f}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
