"""Search benchmark: builds N synthetic Chinese items (300–3,000 characters) in a fresh instance and
prints indexing items/s, query p50/p95 end to end through archive.search.search (parse, match,
count, order, snippets for 20 hits) for 2-, 4-, 8-character terms, 2-character terms with a type
filter and two-term queries with and without a code filter, how many of each class were ordered
newest first ("recent": more than RECENT_MIN_HITS hits), index size, and the same queries by a
brute-force `instr` scan as the baseline.

Peer mode (`--peer`): the same items and queries through Tantivy (`pip install -e '.[bench]'`, an
optional bench-only dependency), fed the project's own bigram token strings with the whitespace
tokenizer (so phrase positions are consecutive), ids stored and the text stored for snippets;
each query runs through search() and Tantivy alternately, `--rounds` times, and the table gives
both and the ratio of medians per class.

    .venv/bin/python bench/search.py --items 20000 [--queries 40] [--dir /tmp/bench20k] [--keep]
    .venv/bin/python bench/search.py --items 100000 --dir /tmp/b100k --keep --peer --no-scan
    .venv/bin/python bench/search.py --dir /tmp/b100k --reuse --peer --no-scan   # queries again
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.core.db import database_file, transaction  # noqa: E402
from archive.core.instance import Instance  # noqa: E402
from archive.maps.loading import load_map_into  # noqa: E402
from archive.search import engine, index_item, search, unindex_item  # noqa: E402
from archive.search.analysis import normalise, tokens  # noqa: E402
from archive.maps.loading import current_map  # noqa: E402

# Text the generator draws its characters and words from: the vocabulary of 创文 material.
SEED_TEXT = """全国文明城市测评体系对农贸市场管理提出明确要求草场街街道组织红马甲志愿服务队开展门前三包宣传活动
背街小巷环境整洁是实地考察的重点点位之一市委宣传部健全理论学习中心组学习制度并形成工作台账新时代文明实践站每月
开展不少于两次志愿服务活动公益广告在公交站和主要道路两侧实现全覆盖乡村学校少年宫建设情况按季度统计上报市教育局
城乡结合部的公共厕所实行专人管理定时保洁窗口单位开展文明服务示范岗评选群众满意率明显提升文明交通劝导志愿者在早晚
高峰时段上岗执勤市市场监管局对农贸市场的经营秩序进行日常巡查责任书签订率达到百分之百台账资料齐全未成年人思想道德
建设工作纳入年度考核学习宣传贯彻重要讲话精神组织专题学习研讨社区志愿服务站点配备急救药箱和便民服务设施文明城市创建
工作领导小组召开第三次全体会议整体观察显示城市环境卫生状况持续改善问卷调查结果表明市民对创建工作的知晓率较高对占道
经营乱搭乱建等问题开展集中整治诚信建设制度化守信激励和失信惩戒机制健全关于印发通知方案意见报告请示批复会议纪要
根据要求结合我市实际现将有关情况说明如下一是二是三是加强组织领导完善工作机制强化督查考核营造浓厚氛围推进常态长效
社会主义核心价值观宣传教育法治环境政务环境市场环境人文环境生活环境社会环境生态环境垃圾分类绿化美化污水治理噪声
扬尘油烟机动车非机动车停放秩序消防通道老旧小区改造物业管理养老助残关爱留守儿童家庭教育家风家训道德模范身边好人"""

PUNCT = "，。；、：！？"


def make_vocab(rng: random.Random):
    chars = sorted(set(ch for ch in SEED_TEXT if "\u4e00" <= ch <= "\u9fff"))
    rare = [chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(1500)]
    pool = chars + rare
    pool_w = [1.0 / (i + 1) ** 0.6 for i in range(len(chars))] + [0.02] * len(rare)
    seed_runs = [r for r in "".join(ch if "\u4e00" <= ch <= "\u9fff" else " " for ch in SEED_TEXT).split() if r]
    words = []
    for run in seed_runs:
        for _ in range(len(run) // 2):
            a = rng.randrange(max(1, len(run) - 1))
            words.append(run[a:a + rng.choice((2, 2, 3, 4))])
    while len(words) < 4000:
        words.append("".join(rng.choices(pool, pool_w, k=rng.choice((2, 2, 3, 4)))))
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(words))]
    return words, weights


def make_text(rng: random.Random, words, weights, n_chars: int) -> str:
    out, length, since = [], 0, 0
    batch = rng.choices(words, weights, k=n_chars // 2 + 8)
    i = 0
    while length < n_chars:
        w = batch[i % len(batch)]
        i += 1
        out.append(w)
        length += len(w)
        since += len(w)
        r = rng.random()
        if since > 12 and r < 0.12:
            out.append(rng.choice(PUNCT))
            since = 0
        elif r < 0.015:
            out.append(f"TZ{rng.randint(10000, 99999)}")
        elif r < 0.03:
            out.append("\n")  # a PDF line break inside a phrase
    return "".join(out)


def _cpu_with_children() -> float:
    """CPU seconds of this process and its waited-for children (the reindex worker)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def build(inst: Instance, n: int, seed: int = 1, index_by: str = "item") -> dict:
    """n generated items. index_by "item": index_item in each item's transaction (as ingest
    does); "reindex": the items first, then the index in bulk (engine.catch_up, as `evidence
    reindex` builds it for items loaded without it)."""
    rng = random.Random(seed)
    words, weights = make_vocab(rng)
    imap = current_map(inst)
    leaves = [leaf.code for leaf in imap.leaves()]
    units = ["草场街街道", "市委宣传部", "市教育局", "市城管局", "市市场监管局", "城东街道", "城西街道"]
    types = ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]
    db = inst.db
    t_insert = t_index = cpu_index = 0.0
    batch = 500
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        rows = []
        for k in range(start, min(n, start + batch)):
            text = make_text(rng, words, weights, rng.randint(300, 3000))
            sha = hashlib.sha256(f"bench{k}".encode()).hexdigest()
            title = "".join(rng.choices(words, weights, k=3)) + rng.choice(["情况说明", "工作台账", "实施方案", "照片"])
            date = f"{rng.choice([2024, 2025, 2026])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            rows.append((sha, text, title, f"{title}_{k}.pdf", rng.choice(units), date, rng.choice(types),
                         rng.sample(leaves, rng.choice((1, 1, 2)))))
        with transaction(db):
            ids = []
            t1 = time.perf_counter()
            for sha, text, title, name, unit, date, mtype, codes in rows:
                db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [sha])
                cur = db.execute(
                    "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
                    " created_at, updated_at) VALUES (?, 'pdf', ?, ?, ?, ?, ?, 1, ?, 't', 't')",
                    [sha, mtype, title, name, unit, date, text])
                ids.append(cur.lastrowid)
                for c in codes:
                    db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, 't')", [cur.lastrowid, c])
            t2, c2 = time.perf_counter(), time.process_time()
            for item_id in ids if index_by == "item" else ():
                index_item(db, item_id)
            t3, c3 = time.perf_counter(), time.process_time()
        t_insert += t2 - t1
        t_index += t3 - t2
        cpu_index += c3 - c2
        done = min(n, start + batch)
        if done % 10000 == 0 or done == n:
            print(f"  built {done}/{n}  ({done / (time.perf_counter() - t0):.0f} items/s incl. text generation)",
                  file=sys.stderr, flush=True)
    if index_by == "reindex":
        t2, c2 = time.perf_counter(), _cpu_with_children()
        engine.catch_up(inst, progress=lambda done, total, _: done % 20000 == 0 and print(
            f"  indexed {done}/{total}  ({done / (time.perf_counter() - t2):.0f} items/s)", file=sys.stderr, flush=True))
        t_index, cpu_index = time.perf_counter() - t2, _cpu_with_children() - c2
        t3 = time.perf_counter()
        merged = engine.compact(inst)     # as `evidence reindex` ends: one segment
        print(f"  segments merged in {time.perf_counter() - t3:.1f} s ({merged['steps']} steps, "
              f"{merged['pages']} pages)", file=sys.stderr, flush=True)
        t4 = time.perf_counter()
        kept = engine.keep_doc_counts(inst)   # as `evidence reindex` ends: counts for several terms
        print(f"  document counts kept in {time.perf_counter() - t4:.1f} s ({kept['terms']} bigrams); "
              f"bulk index + merge + counts {n / (time.perf_counter() - t2):.0f} items/s",
              file=sys.stderr, flush=True)
        t5 = time.perf_counter()
        common = engine.build_grams(inst)   # as `evidence reindex` ends: 50,000+ items only
        print(f"  common grams in {time.perf_counter() - t5:.1f} s ({common['grams']} strings, {common['added']} rows); "
              f"in all {n / (time.perf_counter() - t2):.0f} items/s", file=sys.stderr, flush=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    return {"words": words, "weights": weights, "t_insert": t_insert, "t_index": t_index,
            "cpu_index": cpu_index}


def old_index_item(db, item_id: int) -> None:
    """index_item as it was before issue 15 (items_fts + zlib'd source in items_fts_src), for a
    same-run baseline of the build rate: the lookups it made, then its insert."""
    from archive.search.index import legacy_write
    row = db.execute("SELECT text, title, original_name, unit, deleted_at FROM items WHERE id = ?",
                     [item_id]).fetchone()
    db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", ["items_fts_rebuild_log"]).fetchone()
    db.execute("SELECT analyzer, source FROM items_fts_src WHERE item_id = ?", [item_id]).fetchone()
    legacy_write(db, item_id, row[:4])


def build_compare(n: int, work: Path) -> None:
    """The same n generated items indexed by the old index_item and the current one, in two fresh
    instances, batch by batch alternately (500 items a batch, the order swapped every batch):
    CPU seconds of the index step alone, so other load on the machine cancels out."""
    rng = random.Random(9)
    words, weights = make_vocab(rng)
    insts = []
    for name in ("old", "new"):
        root = work / f"compare-{name}"
        if root.exists():
            shutil.rmtree(root)
        inst = Instance(root)
        inst.create()
        insts.append(inst)
    cpu = [0.0, 0.0]
    for start in range(0, n, 500):
        rows = []
        for k in range(start, min(n, start + 500)):
            text = make_text(rng, words, weights, rng.randint(300, 3000))
            rows.append((hashlib.sha256(f"cmp{k}".encode()).hexdigest(), text, "".join(rng.choices(words, k=4)),
                         rng.choice(["规范文件", "实景图片"]), f"2025-{rng.randint(1, 12):02d}-01"))
        order = (0, 1) if (start // 500) % 2 == 0 else (1, 0)
        for side in order:
            db = insts[side].db
            with transaction(db):
                ids = []
                for sha, text, title, mtype, date in rows:
                    db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [sha])
                    ids.append(db.execute(
                        "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
                        " created_at, updated_at) VALUES (?, 'pdf', ?, ?, ?, '城东街道', ?, 1, ?, 't', 't')",
                        [sha, mtype, title, title + ".pdf", date, text]).lastrowid)
                    db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, 'Ⅲ—1', 't')", [ids[-1]])
                c = time.process_time()
                for item_id in ids:
                    (old_index_item if side == 0 else index_item)(db, item_id)
                cpu[side] += time.process_time() - c
    sizes = []
    for inst in insts:
        sz = table_sizes(inst.db)
        sizes.append(sum(v for k, v in sz.items() if k.startswith(("items_fts", "search_"))))
        inst.close()
    print(f"build, same {n} items, index step only (CPU): before issue 15 {n / cpu[0]:.0f} items/s, "
          f"now {n / cpu[1]:.0f} items/s (ratio {cpu[0] / cpu[1]:.2f}×); index {sizes[0] / n:.0f} → "
          f"{sizes[1] / n:.0f} bytes per item")
    for name in ("old", "new"):
        shutil.rmtree(work / f"compare-{name}", ignore_errors=True)


def table_sizes(db) -> dict:
    """Bytes per table and index, from SQLite's dbstat. pysqlite3's build has no dbstat: then
    Python's own SQLite reads it in a child process (never two libraries on one file in a process)."""
    try:
        return dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    except Exception:
        pass
    path = database_file(db)
    code = ("import json, sqlite3, sys; c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); "
            "print(json.dumps(dict(c.execute('SELECT name, sum(pgsize) FROM dbstat GROUP BY name').fetchall())))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, path], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def index_size(db) -> dict:
    sizes = table_sizes(db)
    fts = sum(v for k, v in sizes.items() if k.startswith("search_fts"))
    docs = sum(v for k, v in sizes.items() if k.startswith("search_") and not k.startswith("search_fts"))
    items = sizes.get("items", 0)
    return {"fts": fts, "docs": docs, "items": items, "total_db": sum(sizes.values())}


def pick_terms(inst: Instance, rng: random.Random, length: int, k: int) -> list[str]:
    db = inst.db
    n = db.execute("SELECT max(id) FROM items").fetchone()[0]
    terms = []
    while len(terms) < k:
        text = db.execute("SELECT text FROM items WHERE id = ?", [rng.randint(1, n)]).fetchone()[0]
        runs = [r for r in "".join(ch if "\u4e00" <= ch <= "\u9fff" else " " for ch in normalise(text)).split()
                if len(r) >= length]
        if runs:
            r = rng.choice(runs)
            a = rng.randrange(len(r) - length + 1)
            terms.append(r[a:a + length])
    return terms


def pick_pair(inst: Instance, rng: random.Random, lengths=(2, 3)) -> tuple[str, str]:
    """Terms taken from one random item, and a code filter that item satisfies (its leaf or
    the leaf's 测评指标), so the filtered queries have hits."""
    db = inst.db
    n = db.execute("SELECT max(id) FROM items").fetchone()[0]
    while True:
        item_id = rng.randint(1, n)
        text = db.execute("SELECT text FROM items WHERE id = ?", [item_id]).fetchone()[0]
        runs = [r for r in "".join(ch if "\u4e00" <= ch <= "\u9fff" else " " for ch in normalise(text)).split()
                if len(r) >= max(lengths)]
        if len(runs) < len(lengths):
            continue
        terms = []
        for length, r in zip(lengths, rng.sample(runs, len(lengths))):
            a = rng.randrange(len(r) - length + 1)
            terms.append(r[a:a + length])
        code = db.execute("SELECT code FROM item_codes WHERE item_id = ? LIMIT 1", [item_id]).fetchone()[0]
        if rng.random() < 0.5:
            code = current_map(inst).find(code).parent.code
        return " ".join(terms), code


def query_classes(inst: Instance, k: int) -> list[tuple[str, list[tuple]]]:
    """The query classes, k queries each, (query, code[, type]) — the same queries on every run
    over the same items (fixed seeds)."""
    rng = random.Random(5)
    classes = []
    for length in (2, 4, 8):
        classes.append((f"{length}-char term", [(t, None) for t in pick_terms(inst, rng, length, k)]))
    types = [r[0] for r in inst.db.execute("SELECT DISTINCT material_type FROM items ORDER BY 1")]
    trng = random.Random(6)   # its own stream: the other classes keep the queries of earlier runs
    classes.append(("2-char term + type", [(t, None, trng.choice(types)) for t, _ in classes[0][1]]))
    pairs = [pick_pair(inst, rng) for _ in range(k)]
    classes.append(("two terms (2+3 chars)", [(q, None) for q, _ in pairs]))
    classes.append(("two terms + code", [(q, c) for q, c in pairs]))
    quads = [pick_pair(inst, rng, (4,)) for _ in range(k)]
    classes.append(("4-char + code", [(q, c) for q, c in quads]))
    return classes


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def time_fts(inst, cases):
    times, cpu, totals, recent, nxt = [], [], [], 0, []
    for case in cases:
        q, code, mtype = (*case, None)[:3]
        engine.COUNT_CACHE.clear()   # cold: the next-page figures below show the cache
        t, c = time.perf_counter(), time.process_time()
        r = search(inst, q, code=code, type=mtype, limit=20)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        totals.append(r["total"])
        recent += r["order"] == "recent"
        if r["order"] == "recent":   # its next page, as the web page's 下一页 asks it (total cached)
            c = time.process_time()
            search(inst, q, code=code, type=mtype, limit=20, offset=20)
            nxt.append((time.process_time() - c) * 1000)
    return times, cpu, totals, recent, nxt


def _upload(db, q: str, code, mtype) -> int:
    """One committed item holding every term of q (and the filters), as a clerk's upload."""
    sha = hashlib.sha256(f"upload {q} {time.time_ns()}".encode()).hexdigest()
    with transaction(db):
        db.execute("INSERT INTO files (sha256, size, kind, stored_at) VALUES (?, 1, 'pdf', 't')", [sha])
        item_id = db.execute(
            "INSERT INTO items (sha256, kind, material_type, title, original_name, unit, date, size, text,"
            " created_at, updated_at) VALUES (?, 'pdf', ?, '新上传', 'upload.pdf', '草场街街道', '2026-06-01', 1,"
            " ?, 't', 't')", [sha, mtype or "情况说明", "，".join(q.split()) + "。新上传的材料"]).lastrowid
        if code:
            db.execute("INSERT INTO item_codes (item_id, code, added_at) VALUES (?, ?, 't')", [item_id, code])
        index_item(db, item_id)
    return item_id


def _take_back(db, item_id: int) -> None:
    """The upload removed without a trace in the items (max(id) as built: the same queries)."""
    with transaction(db):
        unindex_item(db, item_id)
        sha = db.execute("SELECT sha256 FROM items WHERE id = ?", [item_id]).fetchone()[0]
        db.execute("DELETE FROM item_codes WHERE item_id = ?", [item_id])
        db.execute("DELETE FROM items WHERE id = ?", [item_id])
        db.execute("DELETE FROM search_pending WHERE item_id = ?", [item_id])
        db.execute("DELETE FROM files WHERE sha256 = ?", [sha])


def time_upload_between_pages(inst, cases):
    """For each huge (newest-first) result: page 1 counted cold, one upload holding its terms,
    then page 2 timed (CPU ms; before kept totals grew, every write made it count again: as
    page 1), its total checked against a fresh count, and the upload taken back."""
    db = inst.db
    first, second, wrong = [], [], 0
    for case in cases:
        q, code, mtype = (*case, None)[:3]
        engine.COUNT_CACHE.clear()
        c = time.process_time()
        r = search(inst, q, code=code, type=mtype, limit=20)
        if r["order"] != "recent":
            continue
        first.append((time.process_time() - c) * 1000)
        item_id = _upload(db, q, code, mtype)
        c = time.process_time()
        grown = search(inst, q, code=code, type=mtype, limit=20, offset=20)["total"]
        second.append((time.process_time() - c) * 1000)
        engine.COUNT_CACHE.clear()
        wrong += grown != search(inst, q, code=code, type=mtype, limit=0)["total"]
        _take_back(db, item_id)
    return first, second, wrong


# ---- peer: Tantivy on the same token strings ---------------------------------------------
class Peer:
    """Tantivy (Python bindings) over the items' bigram token strings (whitespace tokenizer, so
    a phrase of bigrams is consecutive positions), id stored, text stored for snippets; type and
    codes as raw-token fields for the filters."""
    FIELDS = ("text", "title", "name", "unit")

    def __init__(self, path: Path, code_sets):
        try:
            import tantivy
        except ImportError:
            raise SystemExit("--peer needs Tantivy's Python bindings: .venv/bin/pip install -e '.[bench]'") from None
        self.t = tantivy
        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("id", stored=True, indexed=True, fast=True)
        for f in self.FIELDS:
            sb.add_text_field(f, stored=(f == "text"), tokenizer_name="whitespace")
        sb.add_text_field("type", tokenizer_name="raw")
        sb.add_text_field("code", tokenizer_name="raw")
        self.schema = sb.build()
        self.path = path
        self.code_sets = code_sets
        self.index = None

    def build(self, db) -> dict:
        t = self.t
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        self.index = t.Index(self.schema, path=str(self.path))
        w = self.index.writer(heap_size=300_000_000, num_threads=1)
        codes: dict[int, list[str]] = {}
        for item_id, code in db.execute("SELECT item_id, code FROM item_codes"):
            codes.setdefault(item_id, []).append(code)
        t0, c0, n = time.perf_counter(), time.process_time(), 0
        for item_id, text, title, name, unit, mtype in db.execute(
                "SELECT id, text, title, original_name, unit, material_type FROM items WHERE deleted_at IS NULL"):
            w.add_document(t.Document(id=item_id, text=tokens(normalise(text)), title=tokens(normalise(title)),
                                      name=tokens(normalise(name)), unit=tokens(normalise(unit)), type=mtype,
                                      code=codes.get(item_id, [])))
            n += 1
        w.commit()
        w.wait_merging_threads()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.open()
        size = sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())
        return {"items": n, "wall": wall, "cpu": cpu, "bytes": size}

    def open(self):
        if self.index is None:
            self.index = self.t.Index.open(str(self.path))
        self.index.reload()
        self.searcher = self.index.searcher()

    def _term(self, term: str):
        t, O = self.t, self.t.Occur
        toks = tokens(normalise(term)).split()
        if len(toks) > 1 and len(toks[-1]) == 1:
            toks = toks[:-1]          # the closing unigram: a term ends anywhere in a run
        per_field = [(O.Should, t.Query.term_query(self.schema, f, toks[0]) if len(toks) == 1
                      else t.Query.phrase_query(self.schema, f, toks)) for f in self.FIELDS]
        return t.Query.boolean_query(per_field)

    def query(self, q: str, code=None, mtype=None):
        t, O = self.t, self.t.Occur
        must = [(O.Must, self._term(term)) for term in q.split()]
        if mtype:
            must.append((O.Must, t.Query.term_query(self.schema, "type", mtype)))
        if code:
            must.append((O.Must, t.Query.boolean_query(
                [(O.Should, t.Query.term_query(self.schema, "code", c)) for c in self.code_sets[code]])))
        return must[0][1] if len(must) == 1 else t.Query.boolean_query(must)

    def search(self, q: str, code=None, mtype=None, limit=20) -> int:
        """Count + top `limit` by BM25 + their ids and snippets, as search() returns them."""
        query = self.query(q, code, mtype)
        res = self.searcher.search(query, limit=limit, count=True)
        gen = self.t.SnippetGenerator.create(self.searcher, query, self.schema, "text")
        for _score, addr in res.hits:
            doc = self.searcher.doc(addr)
            doc["id"]
            gen.snippet_from_doc(doc).to_html()
        return res.count


def time_peer(inst, peer: Peer, cases, rounds: int):
    """search() and Tantivy alternately on each query (who goes first alternates too), `rounds`
    times over the class: every sample of both, and the queries whose totals differ."""
    ours, theirs, ours_cpu, theirs_cpu, differ = [], [], [], [], 0
    for r in range(rounds):
        for k, case in enumerate(cases):
            q, code, mtype = (*case, None)[:3]
            for side in ((0, 1) if (r + k) % 2 == 0 else (1, 0)):
                t, c = time.perf_counter(), time.process_time()
                if side == 0:
                    engine.COUNT_CACHE.clear()
                    total = search(inst, q, code=code, type=mtype, limit=20)["total"]
                    ours.append((time.perf_counter() - t) * 1000)
                    ours_cpu.append((time.process_time() - c) * 1000)
                else:
                    peer_total = peer.search(q, code, mtype)
                    theirs.append((time.perf_counter() - t) * 1000)
                    theirs_cpu.append((time.process_time() - c) * 1000)
            differ += r == 0 and total != peer_total
    return ours, theirs, ours_cpu, theirs_cpu, differ


def ab_rare(inst, cases, rounds: int) -> str:
    """The class with engine._rare_phrase off (RARE_MAX = 0: FTS5's phrase walk and bm25) and on,
    alternately on each query: CPU and wall p50 / p95 of each, and how many results differ."""
    on_max = engine.RARE_MAX
    cpu, wall, differ = {0: [], on_max: []}, {0: [], on_max: []}, 0
    for r in range(rounds):
        for k, case in enumerate(cases):
            q, code, mtype = (*case, None)[:3]
            got = {}
            for m in ((0, on_max) if (r + k) % 2 == 0 else (on_max, 0)):
                engine.RARE_MAX = m
                engine.COUNT_CACHE.clear()
                t, c = time.perf_counter(), time.process_time()
                res = search(inst, q, code=code, type=mtype, limit=20)
                cpu[m].append((time.process_time() - c) * 1000)
                wall[m].append((time.perf_counter() - t) * 1000)
                got[m] = (res["total"], res["order"], [(h["id"], h["score"]) for h in res["hits"]])
            differ += r == 0 and got[0] != got[on_max]
    engine.RARE_MAX = on_max
    return " | ".join(f"{pct(x[m], 50):.2f} / {pct(x[m], 95):.2f}" for x in (cpu, wall) for m in (0, on_max)) + f" | {differ}"


def time_scan(inst, cases, code_sets):
    """Baseline: a brute-force instr scan of the extracted text, count + first 20 by date."""
    db = inst.db
    times, totals = [], []
    for case in cases:
        q, code, mtype = (*case, None)[:3]
        terms = q.split()
        cond = " AND ".join("instr(text, ?) > 0" for _ in terms)
        params = list(terms)
        if mtype:
            cond += " AND material_type = ?"
            params.append(mtype)
        if code:
            codes = code_sets[code]
            cond += f" AND id IN (SELECT item_id FROM item_codes WHERE code IN ({', '.join('?' for _ in codes)}))"
            params += codes
        t = time.perf_counter()
        total = db.execute(f"SELECT count(*) FROM items WHERE deleted_at IS NULL AND {cond}", params).fetchone()[0]
        db.execute(f"SELECT id FROM items WHERE deleted_at IS NULL AND {cond} ORDER BY date DESC, id LIMIT 20",
                   params).fetchall()
        times.append((time.perf_counter() - t) * 1000)
        totals.append(total)
    return times, totals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--queries", type=int, default=40, help="queries per class")
    ap.add_argument("--dir", help="instance directory (default: a temp dir, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the instance")
    ap.add_argument("--reuse", action="store_true", help="reuse an instance built before in --dir")
    ap.add_argument("--no-scan", action="store_true", help="skip the brute-force baseline")
    ap.add_argument("--scan-queries", type=int, default=15,
                    help="queries per class for the (slow) brute-force baseline: the first N of the class")
    ap.add_argument("--peer", action="store_true", help="also Tantivy on the same items and queries (pip tantivy)")
    ap.add_argument("--rounds", type=int, default=3, help="peer mode: passes over each class")
    ap.add_argument("--ab-rare", action="store_true",
                    help="also each class with the long-phrase path off (RARE_MAX=0) and on, interleaved")
    ap.add_argument("--uploads", action="store_true",
                    help="also, per class, the next page of each huge result after one upload (then taken back)")
    ap.add_argument("--index-by", choices=("item", "reindex"), default="item",
                    help="item: index_item in each item's transaction (ingest); reindex: items first, then "
                         "the index in bulk (catch_up, its analysis in a worker process; CPU includes the worker)")
    ap.add_argument("--build-compare", type=int, metavar="N",
                    help="only: index N items with the old and the current index_item, alternately")
    args = ap.parse_args(argv)
    if args.build_compare:
        build_compare(args.build_compare, Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="searchbench")))
        return

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="searchbench")) / "instance"
    size = "the items built before" if args.reuse else f"{args.items} items"
    print(f"# search benchmark: {size}, {os.cpu_count()} cores, instance {root}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    if args.reuse and (root / "archive.db").exists():
        inst = Instance.open(root)
        built = None
    else:
        if root.exists():
            shutil.rmtree(root)
        inst = Instance(root)
        inst.create()
        load_map_into(inst, ROOT / "indicator_map.yaml", user="bench")
        t = time.perf_counter()
        built = build(inst, args.items, index_by=args.index_by)
        wall = time.perf_counter() - t
        how = "index_item" if args.index_by == "item" else "bulk (catch_up)"
        print(f"indexing: {how} {args.items / built['t_index']:.0f} items/s "
              f"(analysis + FTS5 write; {args.items / built['cpu_index']:.0f} items per CPU-second); items INSERT + index {args.items / (built['t_insert'] + built['t_index']):.0f} items/s; "
              f"wall incl. text generation {wall:.1f} s")
    db = inst.db
    n, avg = db.execute("SELECT count(*), avg(length(text)) FROM items").fetchone()
    sz = index_size(db)
    mb = 1024 * 1024
    print(f"corpus: {n} items, avg {avg:.0f} characters; DB {os.path.getsize(inst.db_path) / mb:.0f} MB "
          f"(items table {sz['items'] / mb:.0f} MB)")
    print(f"index size: FTS5 {sz['fts'] / mb:.0f} MB + search_docs etc. {sz['docs'] / mb:.0f} MB "
          f"= {(sz['fts'] + sz['docs']) / mb:.0f} MB, {(sz['fts'] + sz['docs']) / max(1, n):.0f} bytes per item")

    imap = current_map(inst)
    # code filters: half leaves, half 测评指标 (a subtree of several leaves)
    inner = [nd.code for nd in imap.nodes.values() if not nd.is_leaf and nd.depth == 2]
    leaves = [nd.code for nd in imap.leaves()]
    code_sets = {c: [c] + [x.code for x in imap.subtree_leaves(c)] for c in inner + leaves}
    classes = query_classes(inst, args.queries)

    search(inst, "文明")  # warm up (parser, page cache)
    if args.peer:
        peer = Peer(root.parent / (root.name + "-tantivy"), code_sets)
        if args.reuse and peer.path.exists():
            peer.open()
        else:
            b = peer.build(db)
            print(f"Tantivy build: {b['items']} items in {b['wall']:.1f} s ({b['items'] / b['wall']:.0f} items/s, "
                  f"{b['items'] / max(b['cpu'], 1e-9):.0f} per CPU-second; analysis in Python included), "
                  f"index {b['bytes'] / mb:.0f} MB, {b['bytes'] / max(1, b['items']):.0f} bytes per item")
        peer.search("文明")
        print(f"\n{args.rounds} rounds, search() and Tantivy alternating on each query; ms over all samples; "
              f"load average {os.getloadavg()[0]:.1f}")
        print("| query class | search() p50 / p95 | Tantivy + snippets p50 / p95 | ratio p50 | ratio p95 "
              "| CPU: search() p50 / p95 | CPU: Tantivy p50 / p95 | CPU ratio p50 | totals differ |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, cases in classes:
            ours, theirs, oc, tc, differ = time_peer(inst, peer, cases, args.rounds)
            print(f"| {name} | {pct(ours, 50):.1f} / {pct(ours, 95):.1f} | {pct(theirs, 50):.1f} / {pct(theirs, 95):.1f} "
                  f"| {pct(ours, 50) / pct(theirs, 50):.2f}× | {pct(ours, 95) / pct(theirs, 95):.2f}× "
                  f"| {pct(oc, 50):.1f} / {pct(oc, 95):.1f} | {pct(tc, 50):.1f} / {pct(tc, 95):.1f} "
                  f"| {pct(oc, 50) / max(pct(tc, 50), 1e-3):.2f}× | {differ} |", flush=True)
    if args.ab_rare:
        print(f"\nlong-phrase path off / on (engine.RARE_MAX 0 / {engine.RARE_MAX}), interleaved, {args.rounds} rounds; "
              f"CPU ms; load average {os.getloadavg()[0]:.1f}")
        print("| query class | off p50 / p95 | on p50 / p95 | wall off p50 / p95 | wall on p50 / p95 | results differ |")
        print("|---|---|---|---|---|---|")
        for name, cases in classes:
            print(f"| {name} | " + ab_rare(inst, cases, args.rounds) + " |", flush=True)
    if args.uploads:
        print(f"\nhuge results: page 1 counted cold, one upload, then page 2 (CPU ms); load average "
              f"{os.getloadavg()[0]:.1f}")
        print("| query class | huge results | page 1 p50 / p95 | page 2 after an upload p50 / p95 | totals wrong |")
        print("|---|---|---|---|---|")
        for name, cases in classes:
            first, second, wrong = time_upload_between_pages(inst, cases)
            if first:
                print(f"| {name} | {len(first)} | {pct(first, 50):.1f} / {pct(first, 95):.1f} "
                      f"| {pct(second, 50):.1f} / {pct(second, 95):.1f} | {wrong} |", flush=True)
    print()
    print("| query class | search() p50 ms | p95 ms | CPU p50 ms | CPU p95 ms | median hits | newest first "
          "| next page CPU p50 / p95 | scan p50 ms | scan p95 ms | speed-up (p50) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, cases in classes:
        ft, fc, tot, recent, nxt = time_fts(inst, cases)
        head = (f"| {name} | {pct(ft, 50):.1f} | {pct(ft, 95):.1f} | {pct(fc, 50):.1f} | {pct(fc, 95):.1f} "
                f"| {statistics.median(tot):.0f} | {recent}/{len(cases)} "
                f"| {f'{pct(nxt, 50):.1f} / {pct(nxt, 95):.1f}' if nxt else '–'} ")
        if args.no_scan:
            print(head + "| – | – | – |")
            continue
        st, stot = time_scan(inst, cases[:args.scan_queries], code_sets)
        print(head + f"| {pct(st, 50):.0f} | {pct(st, 95):.0f} | {pct(st, 50) / pct(ft, 50):.0f}× |", flush=True)
    print(f"\nload average at end {os.getloadavg()[0]:.1f} (other work on this machine slows every figure)")
    inst.close()
    if not args.keep and not args.dir:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
