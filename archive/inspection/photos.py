"""Problem photos: validated as images, EXIF time and GPS kept, a perceptual hash for the
"after equals before" check, distance from the 点位, small cached thumbnails for the ledger.

Photos go into the content store and the `files` table like any upload; they become items
(evidence under a leaf) only when filed (archive/inspection/ledger.py `file_ledger`).
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from archive.core.errors import Refusal
from archive.core.store import sha256_file

MiB = 1024 * 1024
MAX_PHOTO_BYTES = 20 * MiB      # a phone's full-size JPEG is 3–8 MB; the phone page shrinks to < 1 MB
FAR_METRES = 500                # a before photo taken further than this from the 点位's GPS is flagged
SAME_PHASH_BITS = 6             # pHash Hamming distance ≤ this (of 64) = the same picture
THUMB_PX = 160                  # ledger thumbnails (longest side)
PHOTO_KINDS = ("jpeg", "png")


@dataclass
class PhotoIn:
    """A photo as handed in: a path on disk, the name the user gave it (kept verbatim), and how
    messages name it (the CLI: the path as typed)."""
    path: Path
    original_name: str | None = None
    display: str | None = None

    @property
    def name(self) -> str:
        return self.original_name or Path(self.path).name

    @property
    def label(self) -> str:
        return self.display or self.name


@dataclass
class CheckedPhoto:
    path: Path
    original_name: str
    kind: str
    sha256: str
    size: int
    taken_at: str | None
    lat: float | None
    lon: float | None
    phash: str
    label: str = ""        # how messages name it


def not_image(label: str) -> Refusal:
    return Refusal("not an image", f"{label}: 不是照片（只收 JPEG、PNG 图片）")


def check_photo(instance, photo: PhotoIn) -> CheckedPhoto:
    """Validate one photo fully (size, magic bytes, decode, pixel limit) and read its EXIF;
    raises Refusal naming the file. Nothing is stored yet."""
    from archive.extract import extract
    from archive.extract.sniff import content_type

    label = photo.label
    path = Path(photo.path)
    try:
        size = os.stat(path).st_size
    except OSError:
        raise Refusal("file not found", f"{label}: 找不到文件") from None
    if size == 0:
        raise Refusal("empty file", f"{label}: 文件为空")
    if size > MAX_PHOTO_BYTES:
        raise Refusal("photo too large", f"{label}: 照片超过 {MAX_PHOTO_BYTES // MiB} MB 上限")
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    # Phones name files anything (image.jpg, blob); the bytes decide, not the extension.
    kind = content_type(path, head, "jpeg")
    if kind not in PHOTO_KINDS:
        raise not_image(label)
    try:
        meta = extract(path, kind, instance.limits).meta or {}
    except Refusal as e:
        raise Refusal(e.key, f"{label}: {e.message_zh}") from None
    gps = meta.get("gps") or {}
    return CheckedPhoto(path=path, original_name=photo.name, kind=kind, sha256=sha256_file(path),
                        size=size, taken_at=meta.get("exif_datetime"), lat=gps.get("lat"),
                        lon=gps.get("lon"), phash=perceptual_hash(path, instance.limits.max_image_pixels),
                        label=label)


def perceptual_hash(path: Path, max_pixels: int) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) of the upright picture, as 16 hex digits."""
    import imagehash
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        if img.width * img.height > max_pixels:
            raise Refusal("image too large", "图片像素超过上限")
        img.draft("RGB", (256, 256))     # JPEG: decode at reduced scale, the hash needs 32×32
        upright = ImageOps.exif_transpose(img)
        return str(imagehash.phash(upright.convert("L")))


def phash_distance(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def same_picture(a: CheckedPhoto, before: list[tuple[str, str | None]]) -> bool:
    """Whether `a` is byte-identical or near-identical (pHash) to any (sha256, phash) given."""
    for sha, ph in before:
        if sha == a.sha256:
            return True
        d = phash_distance(a.phash, ph)
        if d is not None and d <= SAME_PHASH_BITS:
            return True
    return False


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for "is it within 500 m")."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def far_from_site(photo: CheckedPhoto, site: dict | None) -> int | None:
    """Metres from the 点位 when both have GPS and it is beyond FAR_METRES, else None."""
    if not site or site.get("lat") is None or site.get("lon") is None:
        return None
    if photo.lat is None or photo.lon is None:
        return None
    d = distance_m(photo.lat, photo.lon, site["lat"], site["lon"])
    return round(d) if d > FAR_METRES else None


def store_photo(instance, photo: CheckedPhoto) -> None:
    """Copy into the content store (temp → fsync → rename); the `files` row is written by the
    caller in its transaction."""
    sha, _ = instance.store.put(photo.path)
    if sha != photo.sha256:
        raise Refusal("file changed while reading", f"{photo.label}: 读取过程中文件被修改，请重新上传")


def insert_photo(db, problem_id: int, stage: str, photo: CheckedPhoto, far_m: int | None,
                 user: str | None, now: str) -> int:
    from archive.core.db import insert

    db.execute("INSERT OR IGNORE INTO files (sha256, size, kind, stored_at) VALUES (?, ?, ?, ?)",
               [photo.sha256, photo.size, photo.kind, now])
    return insert(db, "problem_photos", {
        "problem_id": problem_id, "stage": stage, "sha256": photo.sha256,
        "original_name": photo.original_name, "kind": photo.kind, "taken_at": photo.taken_at,
        "lat": photo.lat, "lon": photo.lon, "far_m": far_m, "phash": photo.phash,
        "added_at": now, "added_by": user})


def thumbnail(instance, sha256: str, px: int = THUMB_PX) -> Path | None:
    """A small upright JPEG of a stored photo, cached under thumbs/inspection/ (derived: deleting
    it loses nothing); None when the stored file is missing or unreadable."""
    out = instance.thumbs_dir / "inspection" / str(px) / sha256[:2] / f"{sha256}.jpg"
    if out.is_file():
        return out
    src = instance.store.path(sha256)
    if not src.is_file():
        return None
    from PIL import Image, ImageOps

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".t-", suffix=".jpg")
    os.close(fd)
    try:
        with Image.open(src) as img:
            if img.width * img.height > instance.limits.max_image_pixels:
                return None
            img.draft("RGB", (px * 2, px * 2))
            small = ImageOps.exif_transpose(img).convert("RGB")
            small.thumbnail((px, px))
            small.save(tmp, "JPEG", quality=80)
        os.replace(tmp, out)
        return out
    except Exception:   # an unreadable stored file: no thumbnail, the ledger row says so
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
