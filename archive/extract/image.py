"""JPEG and PNG: pixel limit from the header before decoding, full decode, EXIF date/GPS/orientation."""
from __future__ import annotations

import math
import struct
from datetime import datetime
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ._util import corrupt, quiet

LABEL = {"jpeg": "JPEG", "png": "PNG"}
# Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def too_large() -> Refusal:
    return Refusal("image too large", "图片像素超过上限，疑似解压炸弹")


def corrupt_image(kind: str) -> Refusal:
    return Refusal(f"corrupt {LABEL[kind]}", "图片已损坏")


def extract_jpeg(path: Path, limits: Limits):
    return _extract(path, limits, "jpeg")


def extract_png(path: Path, limits: Limits):
    return _extract(path, limits, "png")


def header_size(path: Path, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the file header without decoding, or None if unreadable."""
    with open(path, "rb") as f:
        if kind == "png":
            head = f.read(24)
            if len(head) < 24 or head[12:16] != b"IHDR":
                return None
            return struct.unpack(">II", head[16:24])
        if f.read(2) != b"\xff\xd8":
            return None
        while True:
            byte = f.read(1)
            if not byte:
                return None
            if byte != b"\xff":
                continue  # tolerate junk between segments, as decoders do
            marker = f.read(1)
            while marker == b"\xff":  # fill bytes
                marker = f.read(1)
            if not marker:
                return None
            m = marker[0]
            if m == 0xD8 or 0xD0 <= m <= 0xD7 or m == 0x01:
                continue  # markers without a length
            if m in (0xD9, 0xDA):
                return None  # end of image or scan data before any frame header
            raw = f.read(2)
            if len(raw) < 2:
                return None
            length = struct.unpack(">H", raw)[0]
            if m in SOF_MARKERS:
                frame = f.read(5)
                if len(frame) < 5:
                    return None
                height, width = struct.unpack(">HH", frame[1:5])
                return width, height
            f.seek(length - 2, 1)


def _extract(path: Path, limits: Limits, kind: str):
    from PIL import Image

    from . import Extraction

    size = header_size(path, kind)
    if size is None:
        raise corrupt_image(kind)
    width, height = size
    if width * height > limits.max_image_pixels:
        raise too_large()  # refused before Pillow allocates or decodes anything
    fmt = [LABEL[kind]]
    try:
        with quiet():  # Pillow's DecompressionBombWarning and EXIF warnings never leak
            with Image.open(path, formats=fmt) as img:
                img.verify()  # PNG: chunk CRCs and structure
            with Image.open(path, formats=fmt) as img:
                if (img.width, img.height) != (width, height):
                    raise corrupt_image(kind)
                if kind == "jpeg":
                    # Decode at 1/8 scale: every byte of scan data is still read (truncation
                    # is caught), in 1/64 of the memory.
                    img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
                img.load()
                meta = {"width": width, "height": height}
                meta.update(_exif(img.getexif()))
    except Refusal:
        raise
    except Image.DecompressionBombError:
        raise too_large() from None
    except Exception:  # OSError "truncated", SyntaxError, struct.error, ValueError...
        raise corrupt_image(kind) from None
    return Extraction(text="", meta=meta, ocr_pages=[])


def _exif(exif) -> dict:
    """orientation, exif_date (YYYY-MM-DD), exif_datetime, gps {lat, lon}, camera."""
    from PIL import ExifTags

    out: dict = {}
    orientation = exif.get(ExifTags.Base.Orientation)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        out["orientation"] = orientation
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        sub = {}
    # DateTimeOriginal is when the shutter fired; Digitized equals it on cameras. IFD0's
    # DateTime changes whenever software saves the file, so it is not used.
    for tag in (ExifTags.Base.DateTimeOriginal, ExifTags.Base.DateTimeDigitized):
        stamp = _parse_stamp(sub.get(tag))
        if stamp:
            out["exif_datetime"] = stamp.isoformat(timespec="seconds")
            out["exif_date"] = stamp.date().isoformat()
            break
    try:
        gps = _gps(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception:
        gps = None
    if gps:
        out["gps"] = gps
    make = _clean(exif.get(ExifTags.Base.Make))
    model = _clean(exif.get(ExifTags.Base.Model))
    camera = model if make and model.lower().startswith(make.lower()) else " ".join(filter(None, [make, model]))
    if camera:
        out["camera"] = camera
    return out


def _clean(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 ").strip() if value else ""


def _parse_stamp(value) -> datetime | None:
    text = _clean(value)
    # Sub-second or time-zone suffixes after the 19 standard characters are ignored.
    for fmt, length in (("%Y:%m:%d %H:%M:%S", 19), ("%Y-%m-%d %H:%M:%S", 19),
                        ("%Y:%m:%d", 10), ("%Y-%m-%d", 10)):
        try:
            stamp = datetime.strptime(text[:length], fmt)
        except ValueError:
            continue
        # Cameras with an unset clock write 0000:00:00 (fails to parse) or years like 1970.
        return stamp if 1990 <= stamp.year <= 2100 else None
    return None


def _gps(ifd) -> dict | None:
    from PIL import ExifTags

    def degrees(values, ref, positive):
        d, m, s = (float(v) for v in values)
        value = d + m / 60 + s / 3600
        return value if _clean(ref).upper() in ("", positive) else -value

    lat_v, lon_v = ifd.get(ExifTags.GPS.GPSLatitude), ifd.get(ExifTags.GPS.GPSLongitude)
    if not lat_v or not lon_v:
        return None
    lat = degrees(lat_v, ifd.get(ExifTags.GPS.GPSLatitudeRef), "N")
    lon = degrees(lon_v, ifd.get(ExifTags.GPS.GPSLongitudeRef), "E")
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0 and lon == 0:  # "no fix" written as zeros
        return None
    return {"lat": round(lat, 6), "lon": round(lon, 6)}
