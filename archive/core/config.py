"""Defaults, limits and instance paths. One place for every number a user may ask about."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Upload and validation limits. Refusals quote these numbers."""

    max_file_bytes: int = 512 * MiB          # one file; a 2 GB batch is many requests
    max_image_pixels: int = 80_000_000       # ~ a 100 MP camera still passes at 10000x8000
    max_zip_inflated_bytes: int = 1024 * MiB  # Office files: total uncompressed size
    max_zip_ratio: int = 200                 # Office files: uncompressed / compressed
    max_zip_entries: int = 20_000
    max_request_bytes: int = 600 * MiB       # Flask MAX_CONTENT_LENGTH (one file per request)
    max_video_bytes: int = 200 * MiB         # a short clip of a site or an activity, not a film


DEFAULT_LIMITS = Limits()

MATERIAL_TYPES_DEFAULT = ["规范文件", "情况说明", "实景图片", "统计表格", "工作台账"]


def default_instance_dir() -> Path:
    return Path(os.environ.get("EVIDENCE_INSTANCE", "./instance"))
