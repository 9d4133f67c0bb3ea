"""Inline SVG charts drawn on the server (no script, no CDN): bars per unit, a line over days.

Markup only uses presentation attributes (fill, stroke), never style="": the CSP forbids
inline styles. Every label is escaped."""
from __future__ import annotations

from markupsafe import Markup, escape

GREEN, BLUE, GREY, RED, INK = "#2e7d32", "#1f6fb2", "#d9dee5", "#c62828", "#333"


def _t(x, y, text, anchor="start", size=12, fill=INK, weight=None) -> str:
    w = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{w}>'
            f"{escape(text)}</text>")


def unit_bars(units: list[dict], width: int = 900) -> Markup:
    """One horizontal bar per unit: approved (green) and awaiting review (blue) as shares of
    what it owes, the rest grey; completeness in % at the end. `units` in rank order."""
    if not units:
        return Markup("")
    row_h, top, label_w, right = 22, 28, 190, 70
    bar_w = width - label_w - right
    height = top + row_h * len(units) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="各单位完成率">',
           _t(label_w, 16, "已通过", fill=GREEN, weight="bold"), _t(label_w + 60, 16, "待审核", fill=BLUE, weight="bold"),
           _t(label_w + 120, 16, "未报送 / 被退回", fill="#777", weight="bold")]
    for i, u in enumerate(units):
        y = top + i * row_h
        total = u["total"] or 1
        a = bar_w * u["approved"] / total
        s = bar_w * u["submitted"] / total
        name = f'{u["rank"]}. {u["unit"]}'
        out.append(f'<g class="bar" data-unit="{escape(u["unit"])}">')
        out.append(_t(label_w - 8, y + 15, name if len(name) <= 14 else name[:13] + "…", anchor="end"))
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="{GREY}"/>')
        if a:
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{a:.1f}" height="{row_h - 6}" fill="{GREEN}"/>')
        if s:
            out.append(f'<rect x="{label_w + a:.1f}" y="{y + 3}" width="{s:.1f}" height="{row_h - 6}" fill="{BLUE}"/>')
        pct = "—" if u["completeness"] is None else f'{u["completeness"] * 100:.0f}%'
        out.append(_t(label_w + bar_w + 8, y + 15, pct, weight="bold"))
        out.append(f"<title>{escape(u['unit'])}：应报 {u['total']}，已通过 {u['approved']}，"
                   f"待审核 {u['submitted']}，未报送/被退回 {u['open']}</title></g>")
    out.append("</svg>")
    return Markup("".join(out))


def trend_line(points: list[dict], key: str = "open", width: int = 900, height: int = 260) -> Markup:
    """A line of `key` per day (daily snapshots), with the first, last and highest values labelled."""
    if not points:
        return Markup("")
    left, right, top, bottom = 50, 20, 20, 40
    w, h = width - left - right, height - top - bottom
    values = [p[key] for p in points]
    vmax = max(max(values), 1)
    n = len(points)

    def xy(i, v):
        x = left + (w * i / (n - 1) if n > 1 else w / 2)
        return x, top + h - h * v / vmax

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart line" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="尚欠材料数量变化">']
    for frac in (0, 0.5, 1):
        y = top + h - h * frac
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(_t(left - 6, y + 4, f"{round(vmax * frac)}", anchor="end", size=11, fill="#777"))
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
    if n > 1:
        out.append(f'<polyline points="{pts}" fill="none" stroke="{RED}" stroke-width="2.5"/>')
    for i, p in enumerate(points):
        x, y = xy(i, p[key])
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{RED}"><title>{escape(p["day"])}：'
                   f'{p[key]}</title></circle>')
    labelled = {0, n - 1, values.index(max(values))}
    for i in sorted(labelled):
        x, y = xy(i, values[i])
        out.append(_t(x, y - 8, str(values[i]), anchor="middle", size=11, weight="bold"))
    step = max(1, n // 8)
    for i in range(0, n, step):
        x, _ = xy(i, 0)
        out.append(_t(x, height - 14, points[i]["day"][5:], anchor="middle", size=11, fill="#555"))
    out.append("</svg>")
    return Markup("".join(out))
