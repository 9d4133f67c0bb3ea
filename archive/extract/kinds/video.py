"""Short videos (.mp4, .mov): validated and described by ffprobe (duration, size, codec, the
creation time as the item's date), a poster frame by ffmpeg as the thumbnail. Subprocesses
without a shell, with timeouts. No OCR (a frame is no document)."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from archive.core.config import Limits
from archive.core.dates import BEIJING
from archive.core.errors import Refusal
from ..registry import Extraction, Parser
from .._util import corrupt

PROBE_TIMEOUT_S = 60
THUMB_TIMEOUT_S = 60
THUMB_PX = 640
# Top-level boxes of an ISO base media file (MP4) or QuickTime movie.
BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot", b"meta", b"styp", b"sidx",
         b"moof", b"mfra", b"pdin", b"prft", b"emsg"}
PROTECTED = (b"encv", b"enca", b"sinf", b"pssh", b"drms", b"drmi")
MAX_HEADER_BOX = 64 * 1024 * 1024    # a movie header past this is read no further


def encrypted() -> Refusal:
    return Refusal("encrypted video", "视频已加密（DRM），无法读取")


def too_large(limits: Limits) -> Refusal:
    return Refusal("video too large", f"视频超过大小上限 {limits.max_video_bytes // (1024 * 1024)} MB，请剪短或压缩后上传")


def _top_boxes(path: Path, size: int) -> tuple[bool, bool]:
    """(whole, encrypted). Whole: the top-level boxes tile the file exactly (a cut-off upload
    ends inside a box). Encrypted: the movie header holds protected sample entries (encv/enca,
    sinf) or DRM system data (pssh); ffmpeg hides these behind the original codec's name."""
    pos, protected = 0, False
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                return False, protected
            length, kind = struct.unpack(">I4s", head[:8])
            if kind not in BOXES:
                return False, protected
            if length == 1:
                if len(head) < 16:
                    return False, protected
                length = struct.unpack(">Q", head[8:16])[0]
            elif length == 0:
                length = size - pos            # the last box runs to the end of the file
            if length < 8 or pos + length > size:
                return False, protected
            if kind in (b"moov", b"moof") and length <= MAX_HEADER_BOX:
                f.seek(pos + 8)
                body = f.read(length - 8)
                protected = protected or any(tag in body for tag in PROTECTED)
            pos += length
    return pos == size, protected


def _probe(path: Path) -> dict:
    if shutil.which("ffprobe") is None:
        raise Refusal("no video reader", "本机未安装 ffmpeg（ffprobe），无法读取视频")
    try:
        r = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                            os.path.abspath(path)], capture_output=True, timeout=PROBE_TIMEOUT_S,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Refusal("video probe timeout", f"读取视频超时（{PROBE_TIMEOUT_S} 秒）") from None
    if r.returncode != 0:
        raise Refusal("corrupt video", "视频已损坏")
    try:
        return json.loads(r.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise Refusal("corrupt video", "视频已损坏") from None


def _created(tags: dict) -> datetime | None:
    """creation_time (UTC by the MP4 spec; phones write it) as 北京时间."""
    value = (tags or {}).get("creation_time") or ""
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    stamp = stamp.astimezone(BEIJING)
    return stamp if 1990 <= stamp.year <= 2100 else None   # unset clocks write 1904 or 1970


def extract_video(path: Path, limits: Limits) -> Extraction:
    size = path.stat().st_size
    if size > limits.max_video_bytes:
        raise too_large(limits)
    whole, protected = _top_boxes(path, size)
    if protected:
        raise encrypted()
    if not whole:
        raise Refusal("corrupt video", "视频已损坏或不完整")
    info = _probe(path)
    streams = info.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    fmt = info.get("format") or {}
    try:
        duration = float(fmt.get("duration") or (video or {}).get("duration") or 0)
    except ValueError:
        duration = 0.0
    if video is None or duration <= 0:
        raise Refusal("corrupt video", "视频已损坏（没有可读的画面）")
    meta = {"duration_s": round(duration, 2), "width": video.get("width"), "height": video.get("height"),
            "video_codec": video.get("codec_name")}
    created = _created(fmt.get("tags")) or _created(video.get("tags"))
    if created:
        meta["media_datetime"] = created.replace(tzinfo=None).isoformat(timespec="seconds")
        meta["media_date"] = created.date().isoformat()
    title = (fmt.get("tags") or {}).get("title")
    if title:
        meta["title"] = title
    return Extraction(text=title or "", meta=meta)


def poster_frame(src: Path, dest: Path) -> bool:
    """A frame one second in (or the first, for shorter clips) as a JPEG thumbnail."""
    if shutil.which("ffmpeg") is None:
        return False
    for at in ("1", "0"):
        try:
            subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", at, "-i", os.path.abspath(src),
                            "-frames:v", "1", "-vf", f"scale='min({THUMB_PX},iw)':-2", "-f", "image2",
                            "-c:v", "mjpeg", os.path.abspath(dest)],
                           check=True, timeout=THUMB_TIMEOUT_S, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except (subprocess.SubprocessError, OSError):
            return False
        if dest.is_file() and dest.stat().st_size > 0:
            return True
    return False


class _Video(Parser):
    family = "mp4"
    preview = "video"
    thumbnails = True

    def extract(self, path, limits):
        return extract_video(path, limits)

    def thumbnail(self, src, dest, limits):
        return poster_frame(src, dest)


class Mp4Parser(_Video):
    kind = "mp4"
    label = "MP4 视频"
    extensions = (".mp4", ".m4v")
    mime = "video/mp4"
    package_ext = ".mp4"
    upload_accept = ("video/mp4",)
    rank = 80

    def claims(self, sample, expected):
        return sample.family == "mp4" and (expected or sample.head[8:12] != b"qt  ")


class MovParser(_Video):
    kind = "mov"
    label = "MOV 视频（QuickTime）"
    extensions = (".mov",)
    mime = "video/quicktime"
    package_ext = ".mov"
    upload_accept = ("video/quicktime",)
    rank = 81

    def claims(self, sample, expected):
        return sample.family == "mp4" and (expected or sample.head[8:12] == b"qt  ")


PARSERS = [Mp4Parser(), MovParser()]
