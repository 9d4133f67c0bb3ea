"""Real files for tests: PDFs with Chinese text, Office files, ledgers, photos with EXIF, bad files.

Plain functions (no pytest): every maker writes `path` and returns it as a Path.
"""
from __future__ import annotations

import csv
import io
import os
import random
import struct
import tempfile
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

# Fonts for fpdf2. The Droid fallback TTF (Debian fonts-droid-fallback) has the CJK glyphs but
# no Latin letters or digits, so DejaVu Sans (fonts-dejavu-core) fills those in. Noto CJK is not
# used: fpdf2 embeds its CFF outlines so that pypdf reads "1 2" for "12".
FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]
LATIN_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
]


def _find_font(candidates: list[str], env: str, package: str) -> Path:
    chosen = os.environ.get(env)
    for candidate in ([chosen] if chosen else []) + candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"No font for test PDFs: install Debian's {package} (apt-get install {package}) "
        f"or set {env}. Looked in: " + ", ".join(candidates))


def cjk_font() -> Path:
    """Path of a CJK TrueType font, or a clear error naming the package to install."""
    return _find_font(FONT_CANDIDATES, "EVIDENCE_CJK_FONT", "fonts-droid-fallback")


def latin_font() -> Path:
    """Path of a TrueType font with Latin letters and digits."""
    return _find_font(LATIN_FONT_CANDIDATES, "EVIDENCE_LATIN_FONT", "fonts-dejavu-core")


def _common_chars() -> set[int]:
    """GB2312 (the 6,763 common hanzi and its symbols), ASCII and full-width forms."""
    chars = set(range(0x20, 0x7F)) | set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


_fast_font: tuple[Path, frozenset] | None = None


def _fast_cjk_font() -> tuple[Path, frozenset]:
    """The CJK font cut down to GB2312, cached in the temp dir: fpdf2 parses the whole
    49,000-glyph font for every PDF (~0.5 s); the cut-down one takes a fifth of that."""
    global _fast_font
    if _fast_font is None:
        from fontTools import subset, ttLib

        full = cjk_font()
        st = full.stat()
        cache = Path(tempfile.gettempdir()) / "evidence-archive-test-fonts"
        target = cache / f"{full.stem}-{st.st_size}-{int(st.st_mtime)}-gb2312.ttf"
        if not target.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            font = ttLib.TTFont(str(full))
            options = subset.Options()
            options.notdef_outline = True
            options.layout_features = []
            subsetter = subset.Subsetter(options)
            subsetter.populate(unicodes=_common_chars())
            subsetter.subset(font)
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            font.save(str(tmp))
            os.replace(tmp, target)  # atomic: parallel test workers may race to build it
        with ttLib.TTFont(str(target), lazy=True) as font:
            covered = frozenset(font.getBestCmap())
        _fast_font = (target, covered)
    return _fast_font


def _p(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- PDF

def make_pdf(path, pages: list[str], encrypt: str | None = None,
             image_only_pages=(), title: str | None = None) -> Path:
    """A PDF with one page per string (Chinese text layer). Pages whose 1-based number is in
    `image_only_pages` carry only a picture, no text (as a scan would). `encrypt` sets a user
    password (RC4-128: pypdf writes it without extra packages)."""
    from fpdf import FPDF

    path = _p(path)
    pdf = FPDF()
    fast, covered = _fast_cjk_font()
    pdf.add_font("cjk", fname=str(fast))
    pdf.add_font("latin", fname=str(latin_font()))
    fallbacks = ["latin"]  # digits and Latin letters
    if any(ord(c) not in covered for c in "".join(pages)):
        pdf.add_font("cjk-full", fname=str(cjk_font()))  # rare characters: the whole font
        fallbacks.append("cjk-full")
    pdf.set_font("cjk", size=14)
    pdf.set_fallback_fonts(fallbacks)
    if title:
        pdf.set_title(title)
    image_only = set(image_only_pages)
    for number, text in enumerate(pages, start=1):
        pdf.add_page()
        if number in image_only:
            pdf.image(_png_bytes((400, 300), (230, 230, 230)), x=20, y=20, w=160)
        else:
            pdf.multi_cell(0, 10, text)
    data = bytes(pdf.output())
    if encrypt is not None:
        import pypdf

        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
        writer.encrypt(user_password=encrypt, owner_password=encrypt + "-owner", algorithm="RC4-128")
        out = io.BytesIO()
        writer.write(out)
        data = out.getvalue()
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- Office

def make_docx(path, paragraphs: list[str], table: list[list] | None = None,
              title: str | None = None, textbox: str | None = None,
              header: str | None = None) -> Path:
    """A DOCX with paragraphs and optionally one table (rows of cells), a text box (as red-header
    titles often are) and a page header."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    path = _p(path)
    document = docx.Document()
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if textbox:
        document.element.body.insert(0, parse_xml(
            f'<w:p {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml"><w:r><w:pict><v:shape style="width:400pt;height:40pt">'
            f'<v:textbox><w:txbxContent><w:p><w:r><w:t>{textbox}</w:t></w:r></w:p></w:txbxContent>'
            f'</v:textbox></v:shape></w:pict></w:r></w:p>'))
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=max(len(r) for r in table))
        for i, row in enumerate(table):
            for j, value in enumerate(row):
                t.cell(i, j).text = "" if value is None else str(value)
    if title:
        document.core_properties.title = title
    document.save(str(path))
    return path


def make_xlsx(path, rows: list[list], sheet: str = "台账", more_sheets: dict | None = None) -> Path:
    """An XLSX with `rows` on sheet `sheet` (and `more_sheets` {name: rows} after it)."""
    import openpyxl

    path = _p(path)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(list(row))
    for name, more in (more_sheets or {}).items():
        extra = wb.create_sheet(name)
        for row in more:
            extra.append(list(row))
    wb.save(str(path))
    wb.close()
    return path


def make_csv(path, rows: list[list], encoding: str = "utf-8") -> Path:
    """A CSV in utf-8, utf-8-sig (with BOM, as Excel writes it) or gbk."""
    path = _p(path)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def make_xls(path, rows: list[list], sheet: str = "台账") -> Path:
    """A real BIFF8 .xls (Excel 97-2003) written by hand: strings and numbers, one sheet.

    No writer package is kept up for .xls, so this builds the OLE2 container and the BIFF8
    records directly; python-calamine (and Excel/LibreOffice) read it."""
    path = _p(path)
    path.write_bytes(_ole2({"Workbook": _biff8_workbook(rows, sheet)}))
    return path


def _biff_rec(rtype: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _biff_str(s: str, length_bytes: int = 2) -> bytes:
    """XLUnicodeString: length, flags (1 = UTF-16LE), characters."""
    head = struct.pack("<H" if length_bytes == 2 else "<B", len(s))
    return head + b"\x01" + s.encode("utf-16-le")


def _biff8_workbook(rows: list[list], sheet: str) -> bytes:
    def bof(dt):  # BIFF8, dt 0x0005 = workbook globals, 0x0010 = worksheet
        return _biff_rec(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 6))

    xf = struct.pack("<HHHBBBBIIH", 0, 0, 0xFFF5, 0x20, 0, 0, 0, 0, 0, 0x20C0)  # a style XF
    cell_xf = struct.pack("<HHHBBBBIIH", 0, 0, 0x0001, 0x20, 0, 0, 0, 0, 0, 0x20C0)
    font = struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + _biff_str("Arial", 1)
    globals_ = [bof(0x0005), _biff_rec(0x0042, struct.pack("<H", 1200))]  # CODEPAGE UTF-16
    globals_ += [_biff_rec(0x0031, font)] * 5
    globals_ += [_biff_rec(0x00E0, xf)] * 15 + [_biff_rec(0x00E0, cell_xf)]
    boundsheet_at = sum(map(len, globals_))
    name = _biff_str(sheet, 1)
    boundsheet_len = 4 + 6 + len(name)
    eof = _biff_rec(0x000A)
    sheet_offset = boundsheet_at + boundsheet_len + len(eof)
    globals_ += [_biff_rec(0x0085, struct.pack("<IBB", sheet_offset, 0, 0) + name), eof]

    ncols = max((len(r) for r in rows), default=0)
    body = [bof(0x0010), _biff_rec(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0))]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body.append(_biff_rec(0x0203, struct.pack("<HHHd", r, c, 15, float(value))))
            else:
                body.append(_biff_rec(0x0204, struct.pack("<HHH", r, c, 15) + _biff_str(str(value))))
    body.append(eof)
    return b"".join(globals_) + b"".join(body)


def _ole2(streams: dict[str, bytes]) -> bytes:
    """A minimal compound file (CFB v3, 512-byte sectors). Streams are padded to 4096 bytes so
    none lives in the mini stream, which keeps the container simple."""
    sec = 512
    end, free, fat_sec = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    body, fat, entries = b"", [], []
    for name, data in streams.items():
        data = data + b"\x00" * (max(4096, -(-len(data) // sec) * sec) - len(data))
        start, n = len(fat), len(data) // sec
        fat += [start + i + 1 for i in range(n - 1)] + [end]
        entries.append((name, start, len(data)))
        body += data
    dir_start = len(fat)
    dir_sectors = -(-(len(entries) + 1) // 4)
    fat += [dir_start + i + 1 for i in range(dir_sectors - 1)] + [end]
    n_fat = 1
    while len(fat) + n_fat > n_fat * (sec // 4):
        n_fat += 1
    fat_start = len(fat)
    fat += [fat_sec] * n_fat
    fat += [free] * (n_fat * (sec // 4) - len(fat))

    def dir_entry(name, kind, start, size, child=free):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", free, free, child) + b"\x00" * 16 + b"\x00" * 4
                + b"\x00" * 16 + struct.pack("<IIi", start, size, 0))

    # A single stream hangs directly under the root (a valid red-black tree of one node).
    directory = dir_entry("Root Entry", 5, end, 0, child=1 if entries else free)
    for name, start, size in entries:
        directory += dir_entry(name, 2, start, size)
    directory = directory.ljust(dir_sectors * sec, b"\x00")

    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096, end, 0, end, 0))
    difat = [fat_start + i for i in range(n_fat)] + [free] * (109 - n_fat)
    header += struct.pack("<109I", *difat)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    return header + body + directory + fat_bytes


# ---------------------------------------------------------------- images

def _png_bytes(size=(64, 48), color=(40, 120, 200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _dms(value: float):
    from PIL.TiffImagePlugin import IFDRational

    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(round(seconds * 10000), 10000))


def make_jpeg(path, size=(640, 480), exif_date: datetime | None = None,
              gps: tuple[float, float] | None = None, orientation: int | None = None,
              make: str | None = None, model: str | None = None, seed: int = 0) -> Path:
    """A JPEG photo with real EXIF: DateTimeOriginal (Exif IFD), GPS IFD, Orientation, Make/Model.
    `seed` varies the pixels so each call can give distinct bytes."""
    from PIL import ExifTags, Image

    path = _p(path)
    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    # A little noise so the JPEG has real entropy-coded data to truncate.
    for _ in range(200):
        img.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), (255, 255, 255))
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if make:
        exif[ExifTags.Base.Make] = make
    if model:
        exif[ExifTags.Base.Model] = model
    if exif_date is not None:
        stamp = exif_date.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
    if gps is not None:
        lat, lon = gps
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        g[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        g[ExifTags.GPS.GPSLatitude] = _dms(lat)
        g[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        g[ExifTags.GPS.GPSLongitude] = _dms(lon)
    img.save(path, format="JPEG", quality=85, exif=exif)
    return path


def make_png(path, size=(320, 240), color=(40, 120, 200)) -> Path:
    path = _p(path)
    path.write_bytes(_png_bytes(size, color))
    return path


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def make_png_bomb(path, size=(20000, 20000)) -> Path:
    """A decompression-bomb PNG: 400 megapixels declared, a few hundred KB on disk (1-bit grey,
    all zeros). Written by hand, row by row, so making it costs no memory."""
    path = _p(path)
    width, height = size
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))
    return path


def make_jpeg_bomb(path, size=(60000, 60000)) -> Path:
    """A JPEG whose frame header declares `size` (tiny file): a pixel bomb by its header."""
    path = _p(path)
    data = bytearray(make_jpeg(path, size=(16, 16)).read_bytes())
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            data[at + 5:at + 9] = struct.pack(">HH", size[1], size[0])
            break
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------- bad files

def make_truncated(src, path, fraction: float = 0.5) -> Path:
    """A copy of `src` cut to `fraction` of its length."""
    data = Path(src).read_bytes()
    path = _p(path)
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_with_member(src, path, member: str, data: bytes) -> Path:
    """A copy of the zip-based file `src` (DOCX/XLSX) with one member's bytes replaced."""
    path = _p(path)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, data if info.filename == member else zin.read(info))
    return path


def make_exe(path) -> Path:
    """A DOS/Windows executable header (MZ) under whatever name `path` has (e.g. 通知.pdf)."""
    path = _p(path)
    path.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50
                     + b"This program cannot be run in DOS mode.\r\n" + b"\x00" * 400)
    return path


def _add_zeros_entry(path: Path, name: str, inflated: int) -> None:
    """Append an entry of `inflated` zero bytes, streamed so memory stays flat."""
    chunk = b"\x00" * (1024 * 1024)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(name, "w", force_zip64=inflated > 0x7FFFFFFF) as f:
            left = inflated
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)


def make_docx_bomb(path, inflated: int = 64 * 1024 * 1024) -> Path:
    """A real DOCX with an extra entry of zeros that inflates to `inflated` bytes (ratio ~1000:1)."""
    path = make_docx(path, ["正常的段落"])
    _add_zeros_entry(path, "word/media/image1.bin", inflated)
    return path


def make_xlsx_bomb(path, inflated: int = 64 * 1024 * 1024) -> Path:
    """A real XLSX with an extra entry of zeros that inflates to `inflated` bytes."""
    path = make_xlsx(path, [["序号", "内容"], [1, "台账"]])
    _add_zeros_entry(path, "xl/media/image1.bin", inflated)
    return path


def make_ole2(path, streams: dict[str, bytes]) -> Path:
    """An OLE2 compound file holding `streams` (e.g. {"WordDocument": ...} for a fake .doc)."""
    path = _p(path)
    path.write_bytes(_ole2(streams))
    return path


def make_encrypted_office(path) -> Path:
    """What Office writes for "encrypt with password": an OLE2 container holding the real
    DOCX/XLSX as an EncryptedPackage stream, under the .docx/.xlsx name."""
    path = _p(path)
    path.write_bytes(_ole2({"EncryptedPackage": os.urandom(2048)}))
    return path


def make_zip(path, files: dict[str, bytes]) -> Path:
    """A plain ZIP archive (neither DOCX nor XLSX)."""
    path = _p(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


# ---------------------------------------------------------------- scans (for OCR)

def make_text_image(path, lines: list[str], font_size: int = 32) -> Path:
    """A clean "photo of a document": black Chinese text on white, as a PNG or JPEG by extension.
    32 px glyphs: tesseract reads them reliably (56 px single lines were misread in trials)."""
    from PIL import Image, ImageDraw, ImageFont

    path = _p(path)
    font = ImageFont.truetype(str(cjk_font()), font_size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * font_size
    height = (len(lines) + 2) * int(font_size * 1.6)
    im = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((font_size, font_size + i * int(font_size * 1.6)), line, font=font, fill="black")
    im.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else im.save(path)
    return path


def make_scan_pdf(path, pages: list[list[str]]) -> Path:
    """A scanned PDF: every page is only a picture of text (no text layer), as a copier makes it."""
    from fpdf import FPDF

    path = _p(path)
    pdf = FPDF()
    for n, lines in enumerate(pages):
        img = make_text_image(path.with_name(f".{path.stem}-scan{n}.png"), lines)
        pdf.add_page()
        from PIL import Image
        with Image.open(img) as im:
            width_mm = im.width / 200 * 25.4   # placed as a 200 dpi scan would be
        pdf.image(str(img), x=10, y=10, w=width_mm)
        img.unlink()
    pdf.output(str(path))
    return path


def make_scene_jpeg(path, seed: int = 0, family: int = 0, exif_date: datetime | None = None,
                    size=(800, 600), quality: int = 90, image=None) -> Path:
    """A photo of a street scene (tests/photo_scenes.py: buildings, trees, a red banner with
    Chinese text) with EXIF DateTimeOriginal: distinct seeds give distinct pictures for the
    reuse check. `image`: save this (e.g. a resized copy) instead of drawing a new scene."""
    from PIL import ExifTags, Image

    from tests.photo_scenes import scene

    path = _p(path)
    im = image if image is not None else scene(seed, family, size)
    exif = Image.Exif()
    if exif_date is not None:
        stamp = exif_date.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
    im.convert("RGB").save(path, format="JPEG", quality=quality, exif=exif)
    return path


def make_layout_pdf(path, paragraphs: list[str], layout: str, chars_per_line: int = 28) -> Path:
    """A Chinese PDF whose drawing order differs from its reading order, as real producers
    write them; lines wrap at `chars_per_line`, mid-phrase.

    - "quotes": each line's Han text first, then its full-width quotes “ ” in a Western font
      (LibreOffice and Word draw runs font by font).
    - "columns": two columns drawn baseline by baseline (left line, right line, ...).
    - "table": a two-column table, cells wrapped, drawn baseline by baseline across a row.
    """
    import re

    from fpdf import FPDF

    def wrap(text, n):
        return [text[i:i + n] for i in range(0, len(text), n)]

    def draw_line(x, y, line):
        pdf.set_font("cjk", size=11)
        em = pdf.get_string_width("国")
        for m in re.finditer(r"[^“”]+", line):
            pdf.text(x + m.start() * em, y, m.group())
        pdf.set_font("latin", size=11)
        for i, ch in enumerate(line):
            if ch in "“”":
                pdf.text(x + i * em + (em / 2 if ch == "“" else 0), y, ch)

    path = _p(path)
    pdf = FPDF()
    fast, _ = _fast_cjk_font()
    pdf.add_font("cjk", fname=str(fast))
    pdf.add_font("latin", fname=str(latin_font()))
    pdf.add_page()
    y, step = 20.0, 5.2      # 11 pt lines 5.2 mm apart: one paragraph block to a layout engine
    if layout == "quotes":
        for p in paragraphs:
            for line in wrap(p, chars_per_line):
                draw_line(15, y, line)
                y += step
            y += 4
    elif layout == "columns":
        half = (len(paragraphs) + 1) // 2
        n = chars_per_line // 2
        left = [line for p in paragraphs[:half] for line in wrap(p, n) + [""]]
        right = [line for p in paragraphs[half:] for line in wrap(p, n) + [""]]
        for i in range(max(len(left), len(right))):
            for x, col in ((15, left), (110, right)):
                if i < len(col) and col[i]:
                    draw_line(x, y, col[i])
            y += step
    elif layout == "table":
        for number, p in enumerate(paragraphs, start=1):
            top = y - 5
            for i, line in enumerate(wrap(p, chars_per_line * 2 // 3)):
                if i == 0:
                    pdf.set_font("cjk", size=11)
                    pdf.text(17, y, f"第{number}项")
                draw_line(45, y, line)
                y += step
            pdf.rect(15, top, 25, y - top - 2)
            pdf.rect(40, top, 150, y - top - 2)
            y += 1
    else:
        raise ValueError(layout)
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------- legacy office, OFD, video

FORMATS = Path(__file__).resolve().parent / "data" / "formats"


def copy_fixture(name: str, path) -> Path:
    """A LibreOffice-made file from tests/data/formats (see its README) copied to `path`."""
    path = _p(path)
    path.write_bytes((FORMATS / name).read_bytes())
    return path


def make_encrypted_doc(src, path) -> Path:
    """A Word 97 file with the FIB's fEncrypted flag set, as Word marks a password-protected
    document (the FIB starts the WordDocument stream: wIdent 0xA5EC, nFib; flags at offset 0x0A,
    bit 0x0100)."""
    data = bytearray(Path(src).read_bytes())
    off = data.find(b"\xec\xa5")
    while off >= 0 and not 0xC1 <= int.from_bytes(data[off + 2:off + 4], "little") <= 0x112:
        off = data.find(b"\xec\xa5", off + 1)   # wIdent, then nFib (Word 97: 0xC1 … 2003)
    if off < 0:
        raise ValueError("no Word FIB found")
    flags = int.from_bytes(data[off + 10:off + 12], "little") | 0x0100
    data[off + 10:off + 12] = flags.to_bytes(2, "little")
    path = _p(path)
    path.write_bytes(bytes(data))
    return path


def make_ofd(path, pages: list[list[str]], title: str | None = None, encrypted: bool = False,
             root: str = "OFD.xml") -> Path:
    """An OFD package (GB/T 33190-2016): OFD.xml → Doc_0/Document.xml → Pages/Page_N/Content.xml,
    one TextObject with one TextCode per line."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    info = f"<ofd:DocInfo><ofd:DocID>0a1b2c</ofd:DocID>{f'<ofd:Title>{title}</ofd:Title>' if title else ''}" \
           "<ofd:CreationDate>2026-03-05</ofd:CreationDate></ofd:DocInfo>"
    files = {root: f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD">'
                   f"<ofd:DocBody>{info}<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"}
    page_refs = "".join(f'<ofd:Page ID="{10 + n}" BaseLoc="Pages/Page_{n}/Content.xml"/>' for n in range(len(pages)))
    files["Doc_0/Document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID>'
        '<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
        '<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>'
        f"<ofd:Pages>{page_refs}</ofd:Pages></ofd:Document>")
    files["Doc_0/PublicRes.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res {ns} BaseLoc="Res"><ofd:Fonts>'
                                    '<ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>')
    for n, lines in enumerate(pages):
        objs = "".join(
            f'<ofd:TextObject ID="{100 + i}" Boundary="20 {30 + 8 * i} 170 8" Font="2" Size="5">'
            f'<ofd:TextCode X="0" Y="5">{line}</ofd:TextCode></ofd:TextObject>' for i, line in enumerate(lines))
        files[f"Doc_0/Pages/Page_{n}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {ns}><ofd:Content><ofd:Layer ID="3">{objs}'
            "</ofd:Layer></ofd:Content></ofd:Page>")
    if encrypted:
        files["Encryptions.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Encryptions {ns}>'
                                    '<ofd:Encryption ID="1" Provider="SM4"/></ofd:Encryptions>')
    return make_zip(path, {k: v.encode("utf-8") for k, v in files.items()})


def make_video(path, seconds: float = 1.0, creation_time: str | None = "2026-03-15T02:30:00Z",
               encrypt: bool = False, title: str | None = None) -> Path:
    """A short real video by ffmpeg (test pattern, H.264 when available); .mov gives QuickTime."""
    import shutil
    import subprocess

    path = _p(path)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FileNotFoundError("ffmpeg not installed (apt-get install ffmpeg)")
    args = [ffmpeg, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
            f"testsrc=size=320x240:rate=10:duration={seconds}", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "ultrafast"]
    if creation_time:
        args += ["-metadata", f"creation_time={creation_time}"]
    if title:
        args += ["-metadata", f"title={title}"]
    if encrypt:
        key = "00112233445566778899aabbccddeeff"
        args += ["-encryption_scheme", "cenc-aes-ctr", "-encryption_key", key, "-encryption_kid", key]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


def make_sign_photo(path, caption: str, style: int = 0, size=(1000, 750), seed: int = 7,
                    stamp: str | None = "2026-03-15") -> Path:
    """A street photo with text on it, as clerks photograph 公益广告 and signs: a red banner
    (style 0), a blue sign board (1) or a white caption with a shadow (2), a date stamp in the
    corner, slightly rotated and blurred, saved as JPEG."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    w, h = size
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    sky = (rng.randint(120, 200), rng.randint(160, 220), rng.randint(200, 255))
    for y in range(h // 2):                                   # sky
        t = y / (h / 2)
        d.line([(0, y), (w, y)], fill=tuple(int(c * (1 - 0.3 * t)) for c in sky))
    d.rectangle([0, h // 2, w, h], fill=(rng.randint(80, 120),) * 3)   # road
    for _ in range(8):                                        # buildings and trees
        x, top = rng.randint(0, w - w // 8), rng.randint(h // 8, h // 2)
        d.rectangle([x, top, x + rng.randint(w // 12, w // 5), h // 2 + h // 30],
                    fill=(rng.randint(60, 200), rng.randint(60, 200), rng.randint(60, 200)))
    text_px = rng.randint(w // 22, w // 15)
    font = ImageFont.truetype(str(cjk_font()), text_px)
    tw = int(font.getlength(caption))
    x0 = rng.randint(w // 25, max(w // 25 + 1, w - tw - w // 10))
    y0 = rng.randint(h // 6, h // 2 - text_px)
    if style == 0:      # red banner, white or yellow letters
        d.rectangle([x0 - 30, y0 - 15, x0 + tw + 30, y0 + text_px + 25], fill=(200, 20, 30))
        d.text((x0, y0), caption, font=font, fill=rng.choice([(255, 255, 255), (255, 230, 0)]))
    elif style == 1:    # blue sign board with a frame
        d.rectangle([x0 - 40, y0 - 30, x0 + tw + 40, y0 + text_px + 40], fill=(20, 60, 160),
                    outline=(230, 230, 230), width=6)
        d.text((x0, y0), caption, font=font, fill=(255, 255, 255))
    else:               # a caption added by a photo app
        y0 = h - text_px - h // 10
        d.text((x0 + 3, y0 + 3), caption, font=font, fill=(20, 20, 20))
        d.text((x0, y0), caption, font=font, fill=(255, 255, 255))
    if stamp:
        d.text((w - w // 4, h - h // 12), stamp, font=ImageFont.truetype(str(latin_font()), w // 30),
               fill=(255, 140, 0))
    im = im.rotate(rng.uniform(-3, 3), resample=Image.BICUBIC, fillcolor=(90, 90, 90))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    path = _p(path)
    im.save(path, quality=82)
    return path
