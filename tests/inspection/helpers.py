"""Real photos for inspection tests: distinct scenes (shapes on a gradient, so perceptual
hashes differ as real photos do) with EXIF time and GPS."""
from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

SITE_GPS = (36.0671, 120.3826)


def scene_jpeg(path, seed: int, exif_date: datetime | None = datetime(2026, 3, 1, 9, 30),
               gps: tuple[float, float] | None = SITE_GPS, size=(480, 360)) -> Path:
    """A JPEG of a random scene (seeded), with EXIF DateTimeOriginal and GPS like a phone's."""
    from PIL import Image, ImageDraw

    from tests import filefactory

    path = Path(path)
    filefactory.make_jpeg(path, size=size, exif_date=exif_date, gps=gps, seed=seed)
    rng = random.Random(seed)
    with Image.open(path) as img:
        exif = img.info.get("exif", b"")
        canvas = Image.new("RGB", size)
        d = ImageDraw.Draw(canvas)
        for x in range(size[0]):
            shade = int(255 * x / size[0])
            d.line([(x, 0), (x, size[1])], fill=(shade, rng.randrange(256) if x == 0 else shade // 2, 255 - shade))
        for _ in range(12):
            x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
            w, h = rng.randrange(30, 200), rng.randrange(30, 160)
            d.rectangle([x0, y0, x0 + w, y0 + h], fill=tuple(rng.randrange(256) for _ in range(3)))
        canvas.save(path, "JPEG", quality=88, exif=exif)
    return path


def resaved(src, dest, scale: float = 0.5, quality: int = 70) -> Path:
    """The same picture shrunk and re-encoded (what a phone app or WeChat does to a photo)."""
    from PIL import Image

    dest = Path(dest)
    with Image.open(src) as img:
        small = img.resize((int(img.width * scale), int(img.height * scale)))
        small.save(dest, "JPEG", quality=quality)
    return dest


def count(db, table: str) -> int:
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def big_map(path, leaves: int = 600, units: int = 12) -> Path:
    """A map with `leaves` leaves C1..Cn (score 2 each; lead 单位{i % units}, co-unit the next),
    in 10 测评项目 of 6 测评指标 each, as a real YAML file."""
    path = Path(path)
    lines = ["edition: 大体系（测试）", "id: big-test", "indicators:"]
    per_item = -(-leaves // 60)
    n = 0
    for a in range(1, 11):
        lines += [f"  - code: A{a}", f"    name: 项目{a}", "    children:"]
        for b in range(1, 7):
            lines += [f"      - code: B{a}-{b}", f"        name: 指标{a}-{b}", "        children:"]
            for _ in range(per_item):
                n += 1
                if n > leaves:
                    break
                lines += [f"          - code: C{n}", f"            name: 内容{n}",
                          "            methods: [实地考察]", "            score: 2",
                          f"            units: [单位{n % units}, 单位{(n + 1) % units}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
