"""OCR benchmark: RapidOCR (PP-OCRv4 models inside the wheel) against tuned tesseract, one run,
same files, the real recognition path (archive.extract.ocr.ocr_file) with each engine.

The set, generated here (no downloads): scanned PDFs (pages of Chinese text as 200 dpi images,
slightly rotated, speckled and blurred as a copier makes them) and photos of streets with a red
banner, a blue sign board or a white caption and a date stamp (JPEG, 1600×1200).

Figures per engine: scan CER (edit distance / reference characters, whitespace removed), scan
4-character recall (share of the reference's 4-grams found in the output), photo captions read
(the caption verbatim in the output, whitespace removed), and pages per second with one worker
process per core, one thread each.

    .venv/bin/python bench/ocr.py [--scans 3] [--pages 2] [--photos 12] [--workers 2]
                                  [--engines rapidocr,tesseract,tesseract-psm3]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import filefactory as ff  # noqa: E402

SENTENCES = [
    "深入学习贯彻习近平新时代中国特色社会主义思想，大力弘扬社会主义核心价值观。",
    "各街道办事处要对背街小巷、农贸市场、城乡结合部开展常态化督查，发现问题立即整改。",
    "新时代文明实践站每月至少组织两次主题活动，活动记录和照片按月归档备查。",
    "公共厕所保洁人员每日巡查不少于四次，确保地面干净、无异味、设施完好。",
    "公交站台候车亭广告位优先刊播讲文明树新风公益广告，做到内容规范、画面整洁。",
    "志愿服务站点应当公示服务项目、服务时间和联系电话，志愿者持证上岗。",
    "学校周边二百米范围内不得设立网吧、游戏厅等未成年人不宜进入的场所。",
    "城市管理部门要加强占道经营、乱贴乱画、车辆乱停乱放等问题的综合治理。",
    "窗口单位要设置便民服务台，提供老花镜、雨伞、饮用水等便民物品。",
    "社区要建立健全居民公约，开展文明家庭、好邻居等评选表彰活动。",
    "农贸市场内划行归市、摊位整齐，生熟分开，排水通畅，垃圾日产日清。",
    "各单位要于二〇二六年三月三十一日前将工作台账报送市创建办资料组。",
]
CAPTIONS = [
    "讲文明树新风", "创建全国文明城市", "文明城市人民共建", "社会主义核心价值观",
    "文明交通从我做起", "垃圾分类就是新时尚", "志愿服务站", "新时代文明实践站",
    "爱护环境人人有责", "文明餐桌光盘行动", "礼让斑马线", "共建共享美好家园",
]


def make_scans(out: Path, n_files: int, pages: int, rng: random.Random) -> list[tuple[Path, list[str]]]:
    """Scanned PDFs: each page an image only; returns (pdf, [reference text per page])."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.truetype(str(ff.cjk_font()), 34)   # ~12 pt at 200 dpi
    made = []
    for f in range(n_files):
        pdf = FPDF()
        refs = []
        for p in range(pages):
            lines = []
            body = "".join(rng.sample(SENTENCES, len(SENTENCES)))
            for i in range(0, len(body), 44):
                lines.append(body[i:i + 44])
            lines = lines[:22]
            im = Image.new("L", (1654, 2339), 255)            # A4 at 200 dpi
            d = ImageDraw.Draw(im)
            for i, line in enumerate(lines):
                d.text((120, 150 + i * 80), line, font=font, fill=rng.randint(0, 40))
            im = im.rotate(rng.uniform(-0.6, 0.6), fillcolor=255, resample=Image.BICUBIC)
            px = im.load()
            for _ in range(3000):                               # copier speckles
                px[rng.randrange(im.width), rng.randrange(im.height)] = rng.randint(0, 120)
            im = im.filter(ImageFilter.GaussianBlur(0.6))
            img = out / f".scan{f}-{p}.png"
            im.save(img)
            pdf.add_page()
            pdf.image(str(img), x=0, y=0, w=210)
            img.unlink()
            refs.append("".join(lines))
        path = out / f"scan{f}.pdf"
        pdf.output(str(path))
        made.append((path, refs))
    return made


def make_photos(out: Path, n: int, rng: random.Random) -> list[tuple[Path, str]]:
    """Street photos (1600×1200) with a banner, a sign board or a caption; (jpeg, caption)."""
    return [(ff.make_sign_photo(out / f"photo{i}.jpg", CAPTIONS[i % len(CAPTIONS)], style=i % 3,
                                size=(1600, 1200), seed=rng.randrange(10**6),
                                stamp=f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"), CAPTIONS[i % len(CAPTIONS)])
            for i in range(n)]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def cer(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance, reference length), whitespace removed."""
    a, b = squash(ref), squash(hyp)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1], len(a)


def grams(text: str, n: int = 4) -> list[str]:
    t = squash(text)
    return [t[i:i + n] for i in range(len(t) - n + 1)]


_engine = None


def _init(engine: str) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    global _engine
    _engine = engine


def _work(job):
    from archive.extract import ocr

    import resource

    def cpu() -> float:   # this worker's CPU and its finished children's (pdftoppm, tesseract)
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + ch.ru_utime + ch.ru_stime

    path, kind, pages = job
    start, c0 = time.perf_counter(), cpu()
    out = ocr.ocr_file(Path(path), kind, pages, engine=_engine)
    return out, time.perf_counter() - start, cpu() - c0


def run_engine(engine: str, scans, photos, workers: int) -> dict:
    jobs = [(str(p), "pdf", list(range(1, len(refs) + 1))) for p, refs in scans]
    jobs += [(str(p), "jpeg", []) for p, _ in photos]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(engine,)) as pool:
        # Warm up one model load per worker outside the timing would hide a real cost; the
        # queue worker loads once and then runs for hours, so the load is timed separately.
        list(pool.map(_work, [jobs[-1]] * workers))
        start = time.perf_counter()
        results = list(pool.map(_work, jobs))
    wall = time.perf_counter() - start
    dist = total = hit = ngrams = 0
    for (path, refs), (pages, _, _) in zip(scans, results[:len(scans)]):
        for n, ref in enumerate(refs, 1):
            d, t = cer(ref, pages.get(n, ""))
            dist += d
            total += t
            want = grams(ref)
            have = squash(pages.get(n, ""))
            hit += sum(1 for g in want if g in have)
            ngrams += len(want)
    read = sum(1 for (_, cap), (pages, _, _) in zip(photos, results[len(scans):])
               if cap in squash(pages.get(1, "")))
    n_pages = sum(len(r) for _, r in scans) + len(photos)
    return {"engine": engine, "cer": dist / max(total, 1), "recall4": hit / max(ngrams, 1),
            "captions": read, "photos": len(photos), "pages": n_pages, "wall": wall,
            "pages_per_s": n_pages / wall,
            "s_per_page_worker": sum(s for _, s, _ in results) / n_pages,
            "cpu_per_page": sum(c for _, _, c in results) / n_pages,
            "scan_cpu_per_page": sum(c for _, _, c in results[:len(scans)]) / max(sum(len(r) for _, r in scans), 1),
            "photo_cpu": sum(c for _, _, c in results[len(scans):]) / max(len(photos), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=int, default=3)
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--engines", default="rapidocr,tesseract,tesseract-psm3")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        tmp = Path(tmp)
        scans = make_scans(tmp, args.scans, args.pages, rng)
        photos = make_photos(tmp, args.photos, rng)
        chars = sum(len(squash(r)) for _, refs in scans for r in refs)
        print(f"set: {args.scans} scanned PDFs, {args.scans * args.pages} pages, {chars} characters; "
              f"{len(photos)} photos; {args.workers} worker processes, one thread each")
        print(f"load average at start {os.getloadavg()[0]:.1f}")
        print("| engine | scan CER | scan 4-char recall | photo captions read | pages | s | pages/s | "
              "s/page per worker | CPU s/page | pages/s per core (CPU) | scan page CPU s | photo CPU s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for engine in args.engines.split(","):
            r = run_engine(engine, scans, photos, args.workers)
            print(f"| {engine} | {r['cer']:.4f} | {r['recall4']:.3f} | {r['captions']} / {r['photos']} | "
                  f"{r['pages']} | {r['wall']:.1f} | {r['pages_per_s']:.3f} | {r['s_per_page_worker']:.2f} | "
                  f"{r['cpu_per_page']:.2f} | {1 / r['cpu_per_page']:.3f} | {r['scan_cpu_per_page']:.2f} | "
                  f"{r['photo_cpu']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
