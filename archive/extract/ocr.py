"""OCR with an offline engine, chosen by measurement (bench/ocr.py, bench/RESULTS.md):

- RapidOCR (`rapidocr-onnxruntime`: PaddleOCR's PP-OCRv4 models inside the wheel, run by
  onnxruntime on the CPU) reads scans and the text on photos (banners, boards, captions);
- Debian's tesseract (`chi_sim`, `--psm 6`) is the fallback when RapidOCR is not installed.

Nothing is downloaded at run time and nothing is sent: onnxruntime's telemetry is switched off
before it is imported (it would otherwise also write a device id under ~/.cache). One thread
per engine: the queue runs one worker process per core (archive/jobs/ocr.py).

Scanned PDF pages (no text layer) come back from `extract` in `Extraction.ocr_pages`; images
are read whole. PDF pages are rendered with poppler's `pdftoppm`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from archive.core import leftovers

from . import registry

RENDER_DPI = 200
MAX_OCR_SIDE = 4000          # larger photos are scaled down first: no engine gains above it
TIMEOUT_S = 120
TMP_PREFIX = "evidence-ocr-"   # + pid + "-": see archive.core.leftovers
ENGINES = ("rapidocr", "tesseract", "tesseract-psm3", "rapidocr-det2000")
# RapidOCR scales the image to this longest side before it finds and reads the text. A 200 dpi
# scan page reads as well at 1,280 px as at the package's 2,000 in about half the time
# (bench/ocr.py, where "rapidocr-det2000" is the old setting); photos keep 2,000 px: a sign
# across the street is a few pixels high in a 4,000 px photo, and photos are cheap anyway.
RAPID_DET_MAX_SIDE = 1280
RAPID_PHOTO_MAX_SIDE = 2000
# psm 6 (one uniform block) reads whole scan pages; psm 3 (today's old setting, kept for the
# bench baseline) drops a whole line of each scan.
TESSERACT_ARGS = {"tesseract": ["-l", "chi_sim", "--psm", "6"],
                  "tesseract-psm3": ["-l", "chi_sim+eng", "--psm", "3"]}


# Between a file's own text and the text OCR read from its images, in items.text. Search and
# the item page use it to say "read from the image".
OCR_SEPARATOR = "\n\n[OCR]\n"


def needs_ocr(kind: str, ocr_pages: list[int]) -> bool:
    """Scanned PDF pages, and every photo: the text on banners, boards, signs and captions is
    evidence too (a photographed 通知 as much as a 公益广告 board)."""
    return bool(ocr_pages) or registry.is_image(kind)


def split_recognised(text: str) -> tuple[str, str | None]:
    """(the file's own text, the text OCR read from its images or None)."""
    own, sep, recognised = (text or "").partition(OCR_SEPARATOR)
    return own, (recognised if sep else None)


class OcrError(Exception):
    """One file could not be recognised (the item is marked 'failed', the queue goes on)."""


def _offline_env() -> None:
    """Before onnxruntime or tesseract start: no telemetry, one thread each."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    os.environ["OMP_THREAD_LIMIT"] = "1"


_rapid_ok: bool | None = None


def rapidocr_available() -> bool:
    """RapidOCR imports here (its OpenCV needs libGL). Tried once, in a child process, so the
    web server does not load onnxruntime and OpenCV itself."""
    global _rapid_ok
    if _rapid_ok is None:
        import importlib.util
        import sys

        _rapid_ok = importlib.util.find_spec("rapidocr_onnxruntime") is not None
        if _rapid_ok:
            try:
                r = subprocess.run([sys.executable, "-c", "import rapidocr_onnxruntime"], capture_output=True,
                                   timeout=120, env={**os.environ, "ORT_DISABLE_TELEMETRY": "1"})
                _rapid_ok = r.returncode == 0
            except (OSError, subprocess.SubprocessError):
                _rapid_ok = False
    return _rapid_ok


def tesseract_available() -> bool:
    if shutil.which("tesseract") is None:
        return False
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "chi_sim" in out.split()


def default_engine() -> str | None:
    """The engine the queue uses: EVIDENCE_OCR_ENGINE if set, else RapidOCR, else tesseract."""
    chosen = os.environ.get("EVIDENCE_OCR_ENGINE")
    if chosen in ENGINES:
        return chosen
    if rapidocr_available():
        return "rapidocr"
    return "tesseract" if tesseract_available() else None


def ocr_available() -> bool:
    """True when an engine (and pdftoppm for PDFs) is installed."""
    return shutil.which("pdftoppm") is not None and default_engine() is not None


def ocr_file(path: Path, kind: str, pages: list[int] | None = None, engine: str | None = None) -> dict[int, str]:
    """Recognise text: {page number: text} (an image is page 1)."""
    engine = engine or default_engine()
    if engine is None:
        raise OcrError("未安装 OCR 引擎")
    stale = stale_ocr_dirs()   # a killed run's page images: its pid is in the folder name
    if stale:
        leftovers.remove(stale)
    with tempfile.TemporaryDirectory(prefix=leftovers.tag(TMP_PREFIX)) as tmp:
        tmp = Path(tmp)
        if kind == "pdf":
            images = {n: _render_pdf_page(path, n, tmp) for n in (pages or [])}
        elif registry.is_image(kind):
            images = {1: _upright_image(path, tmp)}
        else:
            raise OcrError(f"不支持对 {kind} 做 OCR")
        if engine.startswith("rapidocr"):
            side = RAPID_PHOTO_MAX_SIDE if engine == "rapidocr-det2000" or kind != "pdf" else RAPID_DET_MAX_SIDE
            read = lambda img: _rapidocr(img, side)   # noqa: E731
        else:
            read = lambda img: _tesseract(img, engine)   # noqa: E731
        return {n: read(img) for n, img in images.items()}


def _render_pdf_page(pdf: Path, page: int, tmp: Path) -> Path:
    prefix = tmp / f"p{page}"
    _run(["pdftoppm", "-r", str(RENDER_DPI), "-f", str(page), "-l", str(page), "-png", "-singlefile",
          str(pdf), str(prefix)])
    return prefix.with_suffix(".png")


def _upright_image(path: Path, tmp: Path) -> Path:
    """EXIF orientation applied and oversized photos scaled down, as a PNG for the engine."""
    from PIL import Image, ImageOps

    out = tmp / "image.png"
    with Image.open(path) as im:
        im.draft("RGB", (MAX_OCR_SIDE, MAX_OCR_SIDE))   # JPEG: decode big photos at a lower scale
        im = ImageOps.exif_transpose(im)
        im.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
        im.convert("RGB").save(out)
    return out


def _tesseract(image: Path, engine: str) -> str:
    _offline_env()
    return _run(["tesseract", str(image), "stdout", *TESSERACT_ARGS[engine]])


_rapid = None


def _rapid_engine():
    """One RapidOCR per process, loaded on first use (~2–5 s), single-threaded."""
    global _rapid
    if _rapid is None:
        _offline_env()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from rapidocr_onnxruntime import RapidOCR

            _rapid = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    return _rapid


def _rapidocr(image: Path, max_side: int = RAPID_DET_MAX_SIDE) -> str:
    """Boxes grouped into lines top to bottom, left to right within a line."""
    engine = _rapid_engine()
    engine.max_side_len = max_side   # read per call (preprocess); one call at a time per process
    try:
        result, _ = engine(str(image))
    except Exception as e:   # onnxruntime and OpenCV raise their own types on odd input
        raise OcrError(f"RapidOCR 失败：{type(e).__name__}: {e}") from e
    boxes = []
    for box, text, _score in result or []:
        ys = [p[1] for p in box]
        boxes.append((min(ys), max(ys), min(p[0] for p in box), text))
    boxes.sort()
    lines: list[list] = []
    for top, bottom, left, text in boxes:
        # Same line: the box's vertical middle falls inside the previous line's span.
        if lines and top + (bottom - top) / 2 < lines[-1][1]:
            lines[-1][2].append((left, text))
            lines[-1][1] = max(lines[-1][1], bottom)
        else:
            lines.append([top, bottom, [(left, text)]])
    return "\n".join(" ".join(t for _, t in sorted(parts)) for _, _, parts in lines)


def stale_ocr_dirs() -> list[Path]:
    """Page-image folders of OCR runs that were killed (their process is gone)."""
    return leftovers.stale(Path(tempfile.gettempdir()), TMP_PREFIX)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies (Linux
    prctl PR_SET_PDEATHSIG), so a killed `evidence ocr` or server leaves no tesseract running."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # not Linux: the timeout still bounds the child
        pass


def _run(args: list[str]) -> str:
    try:
        r = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        raise OcrError(f"{args[0]} 超时（{TIMEOUT_S} 秒）") from e
    except OSError as e:
        raise OcrError(f"无法运行 {args[0]}：{e.strerror}") from e
    if r.returncode != 0:
        raise OcrError(f"{args[0]} 失败：{r.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    return r.stdout.decode("utf-8", "replace")
