"""Counts for the dashboard: open, overdue and 反弹 problems per unit and per 点位, all computed
from the problems table at the moment of asking (overdue against today, 北京时间)."""
from __future__ import annotations

from archive.core.dates import today_beijing
from .counts import count_columns, rows_with_counts as _rows


def by_unit(instance) -> list[dict]:
    """One row per responsible unit, most overdue first."""
    cur = instance.db.execute(f"SELECT p.unit AS unit, {count_columns()} FROM problems p GROUP BY p.unit "
                              "ORDER BY overdue DESC, open DESC, p.unit",
                              {"today": today_beijing().isoformat()})
    return _rows(cur)


def by_site(instance) -> list[dict]:
    """Every 点位 with its counts, most overdue first (the dashboard's table and plot)."""
    from .sites import list_sites

    return sorted(list_sites(instance), key=lambda s: (-s["overdue"], -s["open"], s["name"]))


def totals(instance) -> dict:
    cur = instance.db.execute(f"SELECT {count_columns()} FROM problems p", {"today": today_beijing().isoformat()})
    return _rows(cur)[0]


def site_plot(sites: list[dict], width: int = 640, height: int = 420, pad: int = 30) -> dict:
    """Sites with GPS projected onto a plain plot (equirectangular, scaled to fit; no tiles):
    {"points": [{x, y, r, colour, site...}], "width", "height", "bounds"}."""
    import math

    pts = [s for s in sites if s.get("lat") is not None and s.get("lon") is not None]
    if not pts:
        return {"points": [], "width": width, "height": height, "bounds": None}
    lat0, lat1 = min(s["lat"] for s in pts), max(s["lat"] for s in pts)
    lon0, lon1 = min(s["lon"] for s in pts), max(s["lon"] for s in pts)
    kx = math.cos(math.radians((lat0 + lat1) / 2))     # a degree of longitude is shorter
    min_span = 0.005                                   # ≈ 500 m: one site or a few close ones stay centred
    if (lon1 - lon0) * kx < min_span:
        grow = (min_span / kx - (lon1 - lon0)) / 2
        lon0, lon1 = lon0 - grow, lon1 + grow
    if lat1 - lat0 < min_span:
        grow = (min_span - (lat1 - lat0)) / 2
        lat0, lat1 = lat0 - grow, lat1 + grow
    span_x = (lon1 - lon0) * kx
    span_y = lat1 - lat0
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    ox = (width - span_x * scale) / 2
    oy = (height - span_y * scale) / 2
    out = []
    for s in pts:
        x = ox + (s["lon"] - lon0) * kx * scale
        y = height - (oy + (s["lat"] - lat0) * scale)
        colour = "#c0392b" if s.get("overdue") else "#e67e22" if s.get("open") else "#27ae60"
        out.append({**s, "x": round(x, 1), "y": round(y, 1), "r": 5 + min(int(s.get("open") or 0), 10),
                    "colour": colour})
    # a scale bar: the round number of metres closest to a fifth of the width
    metres_per_px = 111_320 / scale
    target = metres_per_px * width / 5
    bar_m = min((50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000), key=lambda m: abs(m - target))
    return {"points": out, "width": width, "height": height, "scale_px": round(bar_m / metres_per_px, 1),
            "scale_label": f"{bar_m // 1000} 公里" if bar_m >= 1000 else f"{bar_m} 米",
            "bounds": {"lat": (lat0, lat1), "lon": (lon0, lon1)}}
