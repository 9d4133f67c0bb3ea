"""JPEG and PNG: pixel limit from the header before decoding, full decode, EXIF date/GPS/orientation."""
from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from archive.core.config import Limits
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt, quiet

LABEL = {"jpeg": "JPEG", "png": "PNG"}
THUMB_PX = 640


def too_large() -> Refusal:
    return Refusal("image too large", "图片像素超过上限，疑似解压炸弹")


def corrupt_image(kind: str) -> Refusal:
    return Refusal(f"corrupt {LABEL[kind]}", "图片已损坏")


def _extract(path: Path, limits: Limits, kind: str):
    from PIL import Image


    fmt = [LABEL[kind]]
    try:
        with quiet():  # Pillow's DecompressionBombWarning and EXIF warnings never leak
            # Image.open is lazy: it reads the header (the size) and decodes no pixels, so the
            # pixel limit is checked before Pillow allocates or decodes anything.
            with Image.open(path, formats=fmt) as img:
                width, height = img.size
                if width * height > limits.max_image_pixels:
                    raise too_large()
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


def image_thumbnail(src: Path, dest: Path, max_pixels: int) -> bool:
    """A JPEG preview, EXIF orientation applied; the pixel limit is checked before decoding."""
    from PIL import Image, ImageOps

    try:
        with Image.open(src) as im:
            if im.width * im.height > max_pixels:
                return False
            # JPEG: decode at a reduced scale (1/2..1/8), far less memory for 50 MP photos.
            im.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))
            im = ImageOps.exif_transpose(im)
            im.thumbnail((THUMB_PX, THUMB_PX))
            if im.mode not in ("RGB", "L"):
                im = im.convert("RGB")
            im.save(dest, "JPEG", quality=82)
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


class _ImageParser(Parser):
    preview = "image"
    thumbnails = True
    ocr_image = True
    upload_accept = ("image/*",)   # phones offer the camera and the gallery

    def extract(self, path, limits):
        return _extract(path, limits, self.kind)

    def thumbnail(self, src, dest, limits):
        return image_thumbnail(src, dest, limits.max_image_pixels)


class JpegParser(_ImageParser):
    kind = "jpeg"
    label = "JPEG 图片"
    extensions = (".jpg", ".jpeg", ".jpe")
    mime = "image/jpeg"
    package_ext = ".jpg"
    family = "jpeg"
    magic = (b"\xff\xd8\xff",)
    rank = 60


class PngParser(_ImageParser):
    kind = "png"
    label = "PNG 图片"
    extensions = (".png",)
    mime = "image/png"
    package_ext = ".png"
    family = "png"
    magic = (b"\x89PNG\r\n\x1a\n",)
    rank = 70


PARSERS = [JpegParser(), PngParser()]
