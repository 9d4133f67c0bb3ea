"""OCR with an offline engine: Debian's `tesseract-ocr` + `tesseract-ocr-chi-sim` (models ship in
the packages; nothing is downloaded at run time). PDF pages are rendered with poppler's `pdftoppm`.

Scanned PDF pages (no text layer) come back from `extract` in `Extraction.ocr_pages`, and photos
filed as documents (any material type but 实景图片) are queued too; ingest records such items with
`items.ocr_status = 'pending'` and `meta.ocr_pages`. `archive/jobs/ocr.py` works the queue. The
archive works fully without an engine: pending items are just not yet searchable by their images.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from archive.core import leftovers

from . import registry

LANGUAGES = "chi_sim+eng"
RENDER_DPI = 200
MAX_OCR_SIDE = 4000          # larger photos are scaled down first: tesseract gains nothing above it
TIMEOUT_S = 120
TMP_PREFIX = "evidence-ocr-"   # + pid + "-": see archive.core.leftovers


class OcrError(Exception):
    """One file could not be recognised (the item is marked 'failed', the queue goes on)."""


def ocr_available() -> bool:
    """True when tesseract with Simplified Chinese (and pdftoppm for PDFs) is installed."""
    if shutil.which("tesseract") is None or shutil.which("pdftoppm") is None:
        return False
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "chi_sim" in out.split()


def ocr_file(path: Path, kind: str, pages: list[int] | None = None) -> dict[int, str]:
    """Recognise text: {page number: text} (an image is page 1)."""
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
        return {n: _tesseract(img) for n, img in images.items()}


def _render_pdf_page(pdf: Path, page: int, tmp: Path) -> Path:
    prefix = tmp / f"p{page}"
    _run(["pdftoppm", "-r", str(RENDER_DPI), "-f", str(page), "-l", str(page), "-png", "-singlefile",
          str(pdf), str(prefix)])
    return prefix.with_suffix(".png")


def _upright_image(path: Path, tmp: Path) -> Path:
    """EXIF orientation applied and oversized photos scaled down, as a PNG for tesseract."""
    from PIL import Image, ImageOps

    out = tmp / "image.png"
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
        im.convert("RGB").save(out)
    return out


def _tesseract(image: Path) -> str:
    return _run(["tesseract", str(image), "stdout", "-l", LANGUAGES, "--psm", "3"])


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
