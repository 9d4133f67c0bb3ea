"""`cycle add|list|show|start|close`: evaluation cycles (测评周期, docs/maps.md)."""
from __future__ import annotations

import click

from .common import cli_user, emit_json, json_option, pass_instance


def _cycle_line(c: dict) -> str:
    maps = "；".join(f"{m['map_id']}（{m['edition']}，测评日期 {m['evaluation_date']}）" for m in c["maps"])
    return f"{c['name']}  [{c['state_zh']}]  测评日期 {c['evaluation_date']}  指标体系：{maps}"


@click.group("cycle")
def cycle_group():
    """测评周期（如 2026年度测评）：测评日期、所用指标体系版本、本周期的审核结论；往期只读。"""


@cycle_group.command("add")
@click.argument("name")
@click.option("--evaluation-date", "evaluation_date", required=True, help="测评日期 YYYY-MM-DD")
@click.option("--map", "maps", multiple=True, help="本周期评判的指标体系编号（可多次给出；默认全部启用的体系）")
@click.option("--map-date", "map_dates", multiple=True, metavar="ID=YYYY-MM-DD",
              help="某个体系另有测评日期，如 wcn-2024-sample=2026-09-01（可多次给出）")
@click.option("--start/--no-start", default=None,
              help="立即设为进行中（默认：当前没有进行中的周期时才开始）；原进行中的周期随之结束并只读")
@json_option()
@pass_instance
def cycle_add_cmd(inst, name, evaluation_date, maps, map_dates, start, as_json):
    """新建测评周期。"""
    from archive.core.errors import UsageError
    from archive.cycles.cycles import add_cycle

    dates = {}
    for pair in map_dates:
        if "=" not in pair:
            raise UsageError("bad --map-date", f"--map-date 应写成 ID=YYYY-MM-DD，而不是「{pair}」")
        k, v = pair.split("=", 1)
        dates[k.strip()] = v.strip()
    c = add_cycle(inst, name, evaluation_date, maps=list(maps) or None, map_dates=dates, start=start,
                  user=cli_user())
    if as_json:
        emit_json(c)
    else:
        click.echo("已新建测评周期 " + _cycle_line(c))


@cycle_group.command("list")
@json_option()
@pass_instance
def cycle_list_cmd(inst, as_json):
    """列出测评周期（新的在前）。"""
    from archive.cycles.cycles import list_cycles

    cycles = list_cycles(inst.db)
    if as_json:
        emit_json({"cycles": cycles})
        return
    if not cycles:
        click.echo("还没有测评周期；用 evidence cycle add 名称 --evaluation-date YYYY-MM-DD 新建")
    for c in cycles:
        click.echo(_cycle_line(c) + f"  审核结论 {c['reviews']} 条")


@cycle_group.command("show")
@click.argument("name", required=False)
@click.option("--map", "map_id", help="只看这个指标体系（周期含多个体系时）")
@json_option()
@pass_instance
def cycle_show_cmd(inst, name, map_id, as_json):
    """一个测评周期（默认当前周期）及其每个体系的完整度汇总。"""
    from archive.core.errors import UsageError
    from archive.cycles.cycles import current_cycle, get_cycle
    from archive.cycles.packages import cycle_coverage

    c = get_cycle(inst.db, name) if name else current_cycle(inst.db)
    if c is None:
        raise UsageError("no current cycle", "当前没有进行中的测评周期，请给出周期名称")
    ids = [map_id] if map_id else [m["map_id"] for m in c["maps"]]
    c["coverage"] = {m: cycle_coverage(inst, c["id"], map_id=m)["summary"] for m in ids}
    if as_json:
        emit_json(c)
        return
    click.echo(_cycle_line(c))
    for m, s in c["coverage"].items():
        click.echo(f"  {m}：测评内容 {s['leaves']} 项，齐全 {s['complete']}，不全 {s['partial']}，缺失 {s['empty']}")


@cycle_group.command("start")
@click.argument("name")
@pass_instance
def cycle_start_cmd(inst, name):
    """开始一个测评周期；原进行中的周期结束（冻结材料包依据，只读）。"""
    from archive.cycles.cycles import start_cycle

    c = start_cycle(inst, name, user=cli_user())
    click.echo("当前测评周期：" + _cycle_line(c))


@cycle_group.command("close")
@click.argument("name")
@pass_instance
def cycle_close_cmd(inst, name):
    """结束进行中的测评周期：固定所用版本与审核结论，此后只读，材料包可原样重建。"""
    from archive.cycles.cycles import close_cycle

    c = close_cycle(inst, name, user=cli_user())
    click.echo("已结束：" + _cycle_line(c))


COMMANDS = [cycle_group]
