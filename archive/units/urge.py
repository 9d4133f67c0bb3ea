"""催办单: one unit's open obligations as a sheet to send or print — what, since when, by when,
how late, and where to upload it."""
from __future__ import annotations

from .obligations import OPEN_STATES

HEADERS = ["序号", "测评内容", "名称", "材料类型", "状态", "应报起始", "截止日期", "逾期天数", "分工", "责任人", "上传链接"]


def due_soon(rows: list[dict], days: int) -> list[dict]:
    return [r for r in rows if r["state"] in ("owed", "returned") and r["days_left"] is not None
            and 0 <= r["days_left"] <= days]


def urge_rows(report: dict, unit_id: int, link_for=None) -> list[list]:
    """Sheet rows of the unit's open obligations (overdue first); `link_for(row)` → URL."""
    out = []
    for r in (x for x in report["obligations"] if x["unit_id"] == unit_id and x["state"] in OPEN_STATES):
        late = -r["days_left"] if r["days_left"] is not None and r["days_left"] < 0 else ""
        out.append([len(out) + 1, r["code"], r["name"], r["type"], r["state_zh"], r["since"] or "",
                    r["due_on"] or "未设", late, "牵头" if r["role"] == "lead" else "配合", r["person"] or "",
                    link_for(r) if link_for else ""])
    return out


def urge_xlsx(unit: str, report: dict, unit_id: int, link_for=None) -> bytes:
    from .sheets import simple_sheet

    rnd = report.get("round") or {}
    title = (f"催办单：{unit}（{rnd.get('name') or '未设报送轮次'}，截至 {report['today']} 北京时间）")
    return simple_sheet("催办单", title, HEADERS, urge_rows(report, unit_id, link_for))
