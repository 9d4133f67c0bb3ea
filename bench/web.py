"""Web benchmark: an archive of N items served by waitress on loopback; p50/p95 of the
dashboard, indicator pages and the search page, then U concurrent uploaders × F files each
through the real upload endpoint (POST /api/items, session cookie + CSRF header), checking
that no request failed and no file was lost (items counted in the DB afterwards).

The archive: a few hundred real files through the one ingest pipeline (photos with EXIF,
DOCX, XLSX, CSV), then synthetic items (Chinese text 200–1,500 characters) written as rows and
indexed with archive.search.index_item inside transactions, as ingest does. The sample map
(indicator_map.yaml) is loaded. The server runs in a child process (`waitress.serve`), so the
client's threads do not share its GIL.

    .venv/bin/python bench/web.py [--items 20000] [--real 300] [--requests 120] [--baseline DIR]
                                  [--uploaders 8] [--files 50] [--dir DIR] [--keep]
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.core.db import transaction, utcnow  # noqa: E402
from archive.evidence.ingest import IngestRequest, ingest_files  # noqa: E402
from archive.core.instance import Instance  # noqa: E402
from archive.maps.loading import load_map_into  # noqa: E402
from archive.search import index_item  # noqa: E402
from archive.users import create_user  # noqa: E402
from archive.maps.loading import current_map

PASSWORD = "bench-password-2026"
SEED = """全国文明城市测评体系对农贸市场管理提出明确要求草场街街道组织红马甲志愿服务队开展门前三包宣传活动
背街小巷环境整洁是实地考察的重点点位之一市委宣传部健全理论学习中心组学习制度并形成工作台账新时代文明实践站每月
开展不少于两次志愿服务活动公益广告在公交站和主要道路两侧实现全覆盖乡村学校少年宫建设情况按季度统计上报市教育局
城乡结合部的公共厕所实行专人管理定时保洁窗口单位开展文明服务示范岗评选群众满意率明显提升文明交通劝导志愿者在早晚
高峰时段上岗执勤市市场监管局对农贸市场的经营秩序进行日常巡查责任书签订率达到百分之百台账资料齐全未成年人思想道德
建设工作纳入年度考核学习宣传贯彻重要讲话精神组织专题学习研讨社区志愿服务站点配备急救药箱和便民服务设施"""
PHRASES = [p for p in re.split(r"[的和对在是为并按]", SEED.replace("\n", "")) if len(p) >= 4]
QUERIES = ["志愿服务", "农贸市场", "背街小巷", "门前三包", "公益广告", "学习制度", "少年宫", "公共厕所",
           "文明实践站", "工作台账", "志愿服务 活动", "农贸市场 巡查", "\"红马甲志愿服务队\"",
           "市场 OR 厕所", "志愿 NOT 交通", "文明", "台账"]


# -- building the archive ------------------------------------------------------------------

def text_of(rng: random.Random, n_chars: int) -> str:
    out, size = [], 0
    while size < n_chars:
        p = rng.choice(PHRASES)
        a = rng.randrange(len(p))
        piece = p[a:a + rng.randint(4, 16)]
        out.append(piece + rng.choice("，。；、"))
        size += len(piece) + 1
    return "".join(out)


def real_files(dest: Path, n: int, rng: random.Random) -> list[tuple[Path, str]]:
    from tests import filefactory as ff

    made = []
    for i in range(n):
        k = i % 4
        if k in (0, 1):
            p = street_photo(dest / f"现场照片_{i:04d}.jpg", (480, 360), 10_000 + i,
                             datetime(2026, 1, 1) + timedelta(days=rng.randint(0, 150)))
            made.append((p, "实景图片"))
        elif k == 2:
            p = ff.make_docx(dest / f"情况说明_{i:04d}.docx", [text_of(rng, 400), text_of(rng, 300)])
            made.append((p, "情况说明"))
        else:
            rows = [["日期", "内容", "人数"]] + [[f"2026-0{rng.randint(1, 6)}-1{rng.randint(0, 9)}",
                                               text_of(rng, 12), rng.randint(3, 60)] for _ in range(20)]
            p = ff.make_xlsx(dest / f"工作台账_{i:04d}.xlsx", rows)
            made.append((p, "工作台账"))
    return made


def build(inst: Instance, n_items: int, n_real: int, rng: random.Random, work: Path) -> dict:
    imap = current_map(inst)
    leaves = [leaf for leaf in imap.leaves()]
    t0 = time.perf_counter()
    files = real_files(work / "real", n_real, rng)
    t_make = time.perf_counter() - t0
    reqs = []
    for path, mtype in files:
        leaf = rng.choice(leaves)
        unit = rng.choice(leaf.units) if leaf.units else None
        reqs.append(IngestRequest(path, [leaf.code], mtype, unit=unit,
                                  date=None if mtype == "实景图片" else f"2026-0{rng.randint(1, 6)}-15"))
    t0 = time.perf_counter()
    result = ingest_files(inst, reqs, user="bench")
    t_real = time.perf_counter() - t0
    assert not result.refused, result.refused[:3]

    db = inst.db
    types = list(imap.material_types)
    states = ["pending"] * 5 + ["approved"] * 4 + ["rejected"]
    now = utcnow()
    synthetic = n_items - len(result.added)
    t0 = time.perf_counter()
    batch = 500
    for start in range(0, synthetic, batch):
        with transaction(db):
            for j in range(start, min(start + batch, synthetic)):
                sha = hashlib.sha256(f"bench-{j}".encode()).hexdigest()
                leaf = rng.choice(leaves)
                codes = {leaf.code} | ({rng.choice(leaves).code} if rng.random() < 0.15 else set())
                unit = rng.choice(leaf.units) if leaf.units else None
                mtype = rng.choice(leaf.requires) if leaf.requires and rng.random() < 0.8 else rng.choice(types)
                d = date(2024, 7, 1) + timedelta(days=rng.randint(0, 730))
                size = rng.randint(20_000, 3_000_000)
                text = text_of(rng, rng.randint(200, 1500))
                db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, ?, 'pdf', ?)", [sha, size, now])
                cur = db.execute(
                    "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, date_source, "
                    "size, text, meta, review_state, created_at, created_by, updated_at) "
                    "VALUES (?, 'pdf', ?, ?, ?, ?, ?, 'given', ?, ?, '{}', ?, ?, 'bench', ?)",
                    [sha, mtype, f"{text[:12]} {j}", f"材料_{j:05d}.pdf", unit, d.isoformat(), size, text,
                     rng.choice(states), now, now])
                item_id = cur.lastrowid
                for c in codes:
                    db.execute("INSERT INTO item_codes (item_id, code, added_at, added_by) VALUES (?, ?, ?, 'bench')",
                               [item_id, c, now])
                index_item(db, item_id)
    t_bulk = time.perf_counter() - t0
    return {"real": len(result.added), "synthetic": synthetic, "make_s": t_make, "real_s": t_real,
            "bulk_s": t_bulk, "leaves": [leaf.code for leaf in leaves],
            "branches": [c for c, n in imap.nodes.items() if not n.is_leaf],
            "units": sorted({u for leaf in leaves for u in leaf.units})}


# -- an HTTP client with a session -----------------------------------------------------------

class Session:
    """A logged-in browser-like client over one keep-alive connection (http.client)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.csrf = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return resp.status, data, resp

    def get(self, path: str):
        return self.request("GET", path)

    def login(self, name: str, password: str = PASSWORD) -> "Session":
        status, page, _ = self.get("/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urlencode({"csrf_token": token, "name": name, "password": password}).encode()
        status, _, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, f"login {name}: {status}"
        status, page, _ = self.get("/upload" if not name.startswith("reviewer") else "/dashboard")
        self.csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
        return self

    def upload(self, path: Path, fields: dict) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in fields.items():
            for one in (v if isinstance(v, list) else [v]):
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{one}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"; '
                     f"filename*=UTF-8''{quote(path.name)}\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
        parts.append(path.read_bytes())
        parts.append(f"\r\n--{boundary}--\r\n".encode())
        status, data, _ = self.request("POST", "/api/items", b"".join(parts), {
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": self.csrf,
            "Accept": "application/json"})
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {"raw": data[:200].decode("utf-8", "replace")}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def timed(session: Session, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        t0 = time.perf_counter()
        status, body, _ = session.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert status == 200, (path, status, body[:300])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, port: int, threads: int, extract_workers: int = 0, ocr: bool = False,
          tree: Path = ROOT) -> subprocess.Popen:
    """The app under waitress in a child process (its own session: its workers die with it).
    extract_workers=0 and no OCR is the old server (extraction in waitress's threads); with
    workers, uploads are extracted in worker processes and the OCR queue runs as in `serve`.
    tree: the checkout whose code serves (another one: the baseline, e.g. a worktree of an
    earlier commit, on the same archive)."""
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import waitress\nfrom archive.web import create_app\n"
            "app = create_app({'INSTANCE': %r, 'EXTRACT_WORKERS': %d})\n"
            "if %r:\n"
            "    from archive.jobs.ocr import start_background_worker\n"
            "    start_background_worker(%r, interval_s=2)\n"
            "waitress.serve(app, host='127.0.0.1', port=%d, threads=%d, "
            "connection_limit=200, channel_timeout=300)\n") % (str(tree), str(root), extract_workers, ocr,
                                                                str(root), port, threads)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("server died: " + proc.stderr.read().decode("utf-8", "replace")[-2000:])
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit("server did not start")


def stop_server(proc: subprocess.Popen | None) -> None:
    """The server and every worker process it started."""
    if proc is None:
        return
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def idle_phase(label, inst, port, pages, n, args):
    """Sequential page reads on a quiet server, then the dashboard with a commit before each."""
    rv = Session(port).login("reviewer1")
    for kind, paths in pages.items():   # warm-up: map parse, page cache
        timed(rv, paths[:5])
    print(f"\n[{label}] load average {os.getloadavg()[0]:.1f}; page latency over loopback, {n} sequential "
          f"requests each (waitress, {args.threads} threads, server in a child process):")
    print(f"  {'page':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    results = {}
    for kind, paths in pages.items():
        ms = timed(rv, paths)
        results[kind] = (statistics.median(ms), pct(ms, 95), max(ms))
        print(f"  {kind:<10} {results[kind][0]:8.1f} {results[kind][1]:8.1f} {results[kind][2]:8.1f}", flush=True)
    # The dashboard reuses a coverage report until the next commit; measure it cold too: a
    # commit (an audit row, from this process) before every request, and fresh=1.
    ms = []
    for path in pages["dashboard"][: max(20, n // 2)]:
        path += "&fresh=1"
        with transaction(inst.db):
            inst.db.execute("INSERT INTO audit (at, user, action) VALUES (?, 'bench', 'bench.touch')", [utcnow()])
        ms.extend(timed(rv, [path]))
    cold = (statistics.median(ms), pct(ms, 95), max(ms))
    print(f"  dashboard, a commit before each request, fresh=1: p50 {cold[0]:.1f}, p95 {cold[1]:.1f}, "
          f"max {cold[2]:.1f}", flush=True)
    return results, cold


def street_photo(path: Path, size, seed: int, taken: datetime) -> Path:
    """A distinct street scene with its EXIF date (tests/photo_scenes.py): plain coloured
    frames would all be "the same picture" to the reuse check, and every upload would then
    record a thousand reuse pairs, which real photos do not."""
    from PIL import ExifTags, Image
    from tests.photo_scenes import jpeg_bytes, scene

    exif = Image.Exif()
    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif[ExifTags.Base.DateTime] = stamp
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(scene(seed, family=seed % 97, size=size), quality=85, exif=exif))
    return path


def upload_phase(label, inst, port, pages, n, leaves, args, work, seed_base) -> dict:
    """U uploaders × F JPEGs through POST /api/items while one reader times pages."""
    # concurrent uploaders
    up_dir = work / f"uploads-{seed_base}"
    from tests import filefactory as ff
    plan = {}
    for u in range(args.uploaders):
        plan[u] = [street_photo(up_dir / f"u{u}" / f"现场照片_{u}_{seed_base}_{k:03d}.jpg", (640, 480),
                                seed_base + u * 1000 + k, datetime(2026, 3, 1, 8, 0) + timedelta(hours=u * 100 + k))
                   for k in range(args.files)]
    sessions = [Session(port).login(f"clerk{u}") for u in range(args.uploaders)]
    leaf = next((c for c in leaves), None)
    before = inst.db.execute("SELECT count(*) FROM items").fetchone()[0]
    print(f"\n[{label}] load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    outcomes: list[tuple[int, int, str, float]] = []
    lock = threading.Lock()
    during: dict[str, list[float]] = {"search": [], "indicator": [], "dashboard": []}
    stop = threading.Event()

    def uploader(u: int):
        for p in plan[u]:
            t0 = time.perf_counter()
            status, body = sessions[u].upload(p, {"code": leaf, "type": "实景图片", "title": p.stem})
            ms = (time.perf_counter() - t0) * 1000
            ok_id = body.get("added", [{}])[0].get("id") if status == 201 else None
            with lock:
                outcomes.append((u, status, str(ok_id) if ok_id else json.dumps(body, ensure_ascii=False)[:200], ms))

    def reader():
        s = Session(port).login("reviewer1")
        i = 0
        kinds = list(during)
        while not stop.is_set() and i < 2000:
            kind = kinds[i % len(kinds)]
            t0 = time.perf_counter()
            status, _, _ = s.get(pages[kind][i % n])
            during[kind].append((time.perf_counter() - t0) * 1000)
            assert status == 200, (kind, status)
            i += 1

    threads = [threading.Thread(target=uploader, args=(u,)) for u in range(args.uploaders)]
    rt = threading.Thread(target=reader)
    t0 = time.perf_counter()
    rt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    rt.join()
    after = inst.db.execute("SELECT count(*) FROM items").fetchone()[0]
    ok = [o for o in outcomes if o[1] == 201]
    errors = [o for o in outcomes if o[1] != 201]
    ids = {o[2] for o in ok}
    total = args.uploaders * args.files
    stored = inst.db.execute(
        "SELECT count(*) FROM items WHERE original_name LIKE ? AND created_by LIKE 'clerk%'", [f"现场照片_%_{seed_base}_%"]
    ).fetchone()[0]
    up_ms = [o[3] for o in outcomes]
    print(f"\n{args.uploaders} concurrent uploaders × {args.files} JPEGs (640×480, EXIF) through POST /api/items:")
    print(f"  requests {len(outcomes)}/{total}, 201 Created {len(ok)}, errors {len(errors)}, "
          f"distinct new ids {len(ids)}")
    print(f"  items before {before}, after {after} (+{after - before}); clerk uploads in DB {stored}; "
          f"lost {total - (after - before)}")
    print(f"  wall {elapsed:.1f} s, {total / elapsed:.1f} files/s; per upload p50 {statistics.median(up_ms):.0f} ms, "
          f"p95 {pct(up_ms, 95):.0f} ms")
    for kind, ms in during.items():
        if ms:
            print(f"  meanwhile one reader, {kind} page: {len(ms)} requests, "
                  f"p50 {statistics.median(ms):.0f} ms, p95 {pct(ms, 95):.0f} ms")
    for e in errors[:5]:
        print("  error:", e)
    good = not errors and after - before == total and len(ids) == total
    return {"good": good, "p95": {k: pct(ms, 95) for k, ms in during.items() if ms}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--real", type=int, default=300)
    ap.add_argument("--requests", type=int, default=120, help="timed requests per page kind")
    ap.add_argument("--uploaders", type=int, default=8)
    ap.add_argument("--files", type=int, default=50, help="files per uploader")
    ap.add_argument("--threads", type=int, default=16, help="waitress threads (evidence serve: 16)")
    ap.add_argument("--extract-workers", type=int, default=os.cpu_count() or 1,
                    help="extraction worker processes of the new server (default: one per core)")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="a work dir kept by an earlier --keep run: skip building (uploads add to it)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a checkout of an earlier commit (git worktree add --detach D COMMIT) served first, "
                         "on the same archive, as the same-run baseline")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    work = args.reuse or Path(tempfile.mkdtemp(prefix="bench-web-", dir=args.dir))
    root = work / "instance"
    proc = None
    try:
        inst = Instance(root)
        if args.reuse:
            info = json.loads((work / "info.json").read_text(encoding="utf-8"))
            units = info["units"] or ["草场街街道"]
            n_items = inst.db.execute("SELECT count(*) FROM items").fetchone()[0]
            print(f"reusing {root}: {n_items} items", flush=True)
        else:
            inst.create()
            load_map_into(inst, ROOT / "indicator_map.yaml", user="bench")
            print(f"building {args.items} items ({args.real} real files) in {root} …", flush=True)
            info = build(inst, args.items, args.real, rng, work)
            create_user(inst.db, "reviewer1", "reviewer", None, PASSWORD, by="bench")
            units = info["units"] or ["草场街街道"]
            for i in range(args.uploaders):
                create_user(inst.db, f"clerk{i}", "clerk", units[i % len(units)], PASSWORD, by="bench")
            n_items = inst.db.execute("SELECT count(*) FROM items").fetchone()[0]
            print(f"  made {args.real} real files in {info['make_s']:.1f} s; ingested {info['real']} in "
                  f"{info['real_s']:.1f} s ({info['real'] / info['real_s']:.1f} files/s); "
                  f"{info['synthetic']} rows + FTS in {info['bulk_s']:.1f} s "
                  f"({info['synthetic'] / info['bulk_s']:.0f} items/s); {n_items} items", flush=True)
            (work / "info.json").write_text(json.dumps({k: info[k] for k in ("units", "leaves", "branches")},
                                                       ensure_ascii=False), encoding="utf-8")
        inst.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        n = args.requests
        leaves, branches = info["leaves"], info["branches"]
        pages = {
            "dashboard": [f"/dashboard?date=2026-07-15" + (f"&unit={quote(rng.choice(units))}" if i % 4 == 3 else "")
                          for i in range(n)],
            "indicator": [f"/indicators/{quote(rng.choice(leaves if i % 5 else branches))}" for i in range(n)],
            "search": ["/search?" + urlencode({"q": QUERIES[i % len(QUERIES)],
                                               **({"type": "情况说明"} if i % 6 == 5 else {}),
                                               **({"page": 3} if i % 7 == 6 else {})}) for i in range(n)],
        }
        # Two servers one after the other on the same archive, both as `evidence serve` runs
        # (extraction in worker processes, the OCR queue busy on the uploaded photos): the
        # baseline checkout's code (--baseline), then this checkout's.
        outcome, idle, colds = {}, {}, {}
        runs = [(f"before: {args.baseline}", args.baseline, 50_000)] if args.baseline else []
        runs.append(("now: this checkout", ROOT, 90_000))
        for label, tree, seed in runs:
            port = free_port()
            proc = serve(root, port, args.threads, args.extract_workers, True, tree=tree)
            try:
                idle[label], colds[label] = idle_phase(label, inst, port, pages, n, args)
                # seeds move on with the archive's size: a reused archive gets new photos, not duplicates
                outcome[label] = upload_phase(label, inst, port, pages, n, leaves, args, work, seed + n_items)
            finally:
                stop_server(proc)
                proc = None
        good = all(o["good"] for o in outcome.values())
        labels = list(outcome)
        print("\nRESULT:", "ok" if good else "FAILED")
        for label in labels:
            print(f"  [{label}] idle p95 ms: " + ", ".join(f"{k} {v[1]:.0f}" for k, v in idle[label].items())
                  + f" (dashboard cold {colds[label][1]:.0f}) | during uploads p95 ms: "
                  + ", ".join(f"{k} {v:.0f}" for k, v in outcome[label]["p95"].items()))
        now = outcome[labels[-1]]
        print(f"  goal ≤ 300 ms p95 while uploading: {'met' if all(v <= 300 for v in now['p95'].values()) else 'NOT met'}")
        if not good:
            sys.exit(1)
    finally:
        stop_server(proc)
        if args.keep or args.reuse:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
