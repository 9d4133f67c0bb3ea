"""Synthetic 点位 photos for the reuse check (tests, bench/photos.py): scenes of shapes, a
banner with Chinese text and street furniture, drawn with Pillow; "similar scenes" share a
family (palette, layout, banner place) and differ in details, like two photos of two
different 背街小巷 taken by one street office; copies are resized, recompressed, cropped."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

PHRASES = ["讲文明树新风", "创建全国文明城市", "文明交通从我做起", "垃圾分类就是新时尚", "社会主义核心价值观",
           "志愿服务温暖你我", "门前三包责任落实", "农贸市场规范经营", "爱护环境人人有责", "新时代文明实践站",
           "文明餐桌光盘行动", "公筷公勺健康生活"]
SIZE = (800, 600)


def _font(size: int):
    try:
        from tests.filefactory import cjk_font
        return ImageFont.truetype(str(cjk_font()), size)
    except Exception:   # no CJK font: shapes still make distinct scenes
        return ImageFont.load_default()


def scene(seed: int, family: int = 0, size=SIZE) -> Image.Image:
    """One photo: the family fixes palette and layout, the seed the details."""
    fam = random.Random(family * 7919 + 17)
    rng = random.Random(seed * 104729 + family)
    w, h = size
    sky = tuple(fam.randrange(120, 230) for _ in range(3))
    ground = tuple(fam.randrange(40, 140) for _ in range(3))
    im = Image.new("RGB", size, sky)
    d = ImageDraw.Draw(im)
    horizon = int(h * fam.uniform(0.45, 0.65)) + rng.randint(-40, 40)
    d.rectangle([0, horizon, w, h], fill=tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in ground))
    for _ in range(rng.randint(3, 7)):   # buildings
        x0 = rng.randrange(-50, w)
        bw, bh = rng.randint(80, 260), rng.randint(120, horizon)
        color = tuple(max(0, min(255, c + rng.randint(-60, 60))) for c in fam.choice([(170, 160, 150), (120, 110, 100), (200, 190, 170)]))
        d.rectangle([x0, horizon - bh, x0 + bw, horizon], fill=color, outline=(60, 60, 60))
        for wy in range(horizon - bh + 15, horizon - 20, 30):   # windows
            for wx in range(x0 + 10, x0 + bw - 20, 28):
                if rng.random() < 0.7:
                    d.rectangle([wx, wy, wx + 14, wy + 16], fill=(80, 100, 130) if rng.random() < .6 else (230, 220, 160))
    for _ in range(rng.randint(2, 6)):   # trees, bins, people
        cx, cy, r = rng.randrange(w), rng.randrange(horizon, h), rng.randint(15, 60)
        d.ellipse([cx - r, cy - 2 * r, cx + r, cy], fill=(rng.randrange(20, 90), rng.randrange(90, 170), rng.randrange(20, 80)))
        d.rectangle([cx - 4, cy, cx + 4, cy + r], fill=(90, 60, 30))
    # the banner: the family decides where, the seed what it says
    by = int(h * fam.uniform(0.05, 0.3))
    bx = int(w * fam.uniform(0.05, 0.3)) + rng.randint(-30, 30)
    bw = int(w * fam.uniform(0.4, 0.6))
    d.rectangle([bx, by, bx + bw, by + 70], fill=(200, 20, 30))
    d.text((bx + 15, by + 12), rng.choice(PHRASES), font=_font(42), fill=(255, 240, 200))
    # sensor noise, so recompression has something to lose
    noise = Image.effect_noise(size, rng.randint(8, 20)).convert("RGB")
    im = Image.blend(im, noise, 0.08).filter(ImageFilter.GaussianBlur(0.6))
    return im


def jpeg_bytes(im: Image.Image, quality: int = 90, exif=None) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def copies(im: Image.Image) -> dict[str, Image.Image]:
    """The ways a photo is reused: resized, recompressed, lightly cropped, both."""
    w, h = im.size

    def recompress(x, q):
        return Image.open(io.BytesIO(jpeg_bytes(x, q))).convert("RGB")

    def crop(x, f):
        cw, ch = int(x.size[0] * f), int(x.size[1] * f)
        return x.crop((cw, ch, x.size[0] - cw, x.size[1] - ch))

    return {
        "resized 50%": im.resize((w // 2, h // 2), Image.LANCZOS),
        "resized 25%": im.resize((w // 4, h // 4), Image.LANCZOS),
        "recompressed q40": recompress(im, 40),
        "recompressed q20": recompress(im, 20),
        "cropped 3%": crop(im, 0.03),
        "cropped 6%": crop(im, 0.06),
        "cropped one side 8%": im.crop((int(w * 0.08), 0, w, h)),
        "resized+recompressed+cropped": recompress(crop(im, 0.04).resize((w // 2, h // 2)), 50),
        "brighter": Image.eval(im, lambda v: min(255, int(v * 1.15))),
    }
