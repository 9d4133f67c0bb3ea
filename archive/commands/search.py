"""`search`: the one full-text search (the same function as the 检索 page and /api/search)."""
from __future__ import annotations

import click

from .maps_editions import map_option, use_map
from .common import emit_json, json_option, pass_instance


@click.command("search")
@click.argument("query", required=False, default="")
@click.option("--code", help="指标代码（含其下级所有测评内容），如 Ⅲ—1 或 III-1")
@click.option("--type", "material_type", help="材料类型，如 实景图片")
@click.option("--unit", help="责任单位（完全一致）")
@click.option("--from", "date_from", help="起始日期 YYYY-MM-DD（含）")
@click.option("--to", "date_to", help="截止日期 YYYY-MM-DD（含）")
@click.option("--limit", type=click.IntRange(0, 1000), default=20, show_default=True, help="最多显示条数")
@click.option("--offset", type=click.IntRange(0), default=0, help="跳过前 N 条（翻页）")
@map_option("只检索归入该指标体系的材料（编码按该体系解释）")
@json_option()
@pass_instance
def search_cmd(inst, query, code, material_type, unit, date_from, date_to, limit, offset, map_id, as_json):
    """全文检索：词语默认同时出现（AND），支持 OR、NOT、"短语"、code: type: unit: date:[起 TO 止] name:。

    每个检索词按原文精确匹配（汉字任意长度；字母数字不分大小写、按词首匹配）。"""
    from archive.search import search

    if map_id:
        use_map(inst, map_id)
        query = (f"({query}) " if query.strip() else "") + f"map:{inst.map_id}"
    result = search(inst, query, code=code, type=material_type, unit=unit,
                    date_from=date_from, date_to=date_to, limit=limit, offset=offset)
    if as_json:
        emit_json(result)
        return
    for h in result["hits"]:
        click.echo(f"#{h['id']}  {h['title']}")
        meta = [", ".join(h["codes"]) or "（无指标）", h["type"], h["date"] or "无日期", h["unit"] or ""]
        click.echo("    " + "  ".join(m for m in meta if m) + f"  {h['original_name']}")
        if h["snippet"]:
            click.echo("    " + h["snippet"])
        click.echo()
    shown = len(result["hits"])
    click.echo(f"共 {result['total']} 条，显示第 {offset + 1 if shown else 0}–{offset + shown} 条", err=True)
    if result["order"] == "recent":
        click.echo("命中较多，按入库时间倒序排列", err=True)


COMMANDS = [search_cmd]
