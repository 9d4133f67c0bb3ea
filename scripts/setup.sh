# Shared by ./run and ./test: idempotent setup. Sourced, not executed.

# Debian packages the tests use: chromium + driver (browser tests), poppler-utils (pdftotext in
# bench, pdftoppm for PDF previews), p7zip-full (7-Zip listing of package names),
# fonts-droid-fallback (a CJK TrueType font for fixture PDFs and screenshots), fonts-dejavu-core
# (its Latin letters and digits, which the Droid fallback font lacks).
SYSTEM_PACKAGES="chromium chromium-driver poppler-utils p7zip-full fonts-droid-fallback fonts-dejavu-core fonts-noto-cjk zip unzip tesseract-ocr tesseract-ocr-chi-sim antiword catdoc ffmpeg libgl1 libglib2.0-0 gcc libsqlite3-dev"

# ./run needs poppler (pdftotext: PDF text; pdftoppm: previews, OCR page rendering), tesseract with
# Simplified Chinese (the OCR fallback when RapidOCR is missing), antiword + catdoc (.doc, .wps) and
# ffmpeg (ffprobe: video duration and date; ffmpeg: poster frames), libgl1 + libglib2.0-0 (OpenCV,
# which RapidOCR uses, links them even without a screen), gcc + libsqlite3-dev (the C compiler and
# SQLite's headers for ea_rank, search's ranking extension: archive/search/rank_ext.py; search
# works without it, slower); ./test needs them all.
RUN_PACKAGES="poppler-utils tesseract-ocr tesseract-ocr-chi-sim antiword catdoc ffmpeg libgl1 libglib2.0-0 gcc libsqlite3-dev"

setup_system_packages() {
  local wanted="${1:-$SYSTEM_PACKAGES}" missing=()
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "正在安装系统软件包 (installing): ${missing[*]}" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "缺少系统软件包，相关测试将跳过 (missing, not root): ${missing[*]}" >&2
  fi
}

setup_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # Reinstall only when pyproject.toml changed since the last install.
  local stamp=".venv/.installed${extras//[^a-z]/}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "正在安装 Python 依赖到 .venv (installing)…" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # Quiet on success (setuptools' editable-install notices are noise); the full log on failure.
    if ! .venv/bin/python -m pip install -q -e ".${extras}" > .venv/pip-install.log 2>&1; then
      cat .venv/pip-install.log >&2
      echo "依赖安装失败，见上方日志 (pip install failed)" >&2
      return 1
    fi
    touch "$stamp"
  fi
}

# ea_rank, search's ranking extension (archive/search/rank_ext.c): compiled when missing or older
# than its source. Never fails setup: without a compiler search falls back to FTS5's bm25().
build_rank_ext() {
  .venv/bin/python -c "from archive.search.rank_ext import build; build()" || true
}
