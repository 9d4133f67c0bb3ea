"""`coverage`: readiness per leaf for an evaluation date (and the 审核记录表 as xlsx)."""
from __future__ import annotations

from pathlib import Path

import click

from archive.core.errors import UsageError
from .maps_editions import cycle_option, map_option, use_map
from .common import emit_json, json_option, pass_instance


@click.command("coverage")
@click.option("--evaluation-date", "evaluation_date", help="测评日期 YYYY-MM-DD（决定材料时间窗口；给出 --cycle 时取该周期的）")
@click.option("--unit", help="只看某责任单位的测评内容（指标体系中的 units）")
@map_option()
@cycle_option()
@click.option("--xlsx", "xlsx_out", type=click.Path(dir_okay=False, path_type=Path),
              help="另存为《测评材料审核记录表》xlsx")
@json_option()
@pass_instance
def coverage_cmd(inst, evaluation_date, unit, map_id, cycle, xlsx_out, as_json):
    """各测评内容的材料完整度：必备材料、时间窗口内已有、缺少、待审核、已退回。"""
    from archive.package import coverage_xlsx
    from archive.readiness.coverage import STATUS_ZH, coverage

    use_map(inst, map_id)
    if cycle:
        from archive.cycles.packages import cycle_coverage
        report = cycle_coverage(inst, cycle, map_id=inst.map_id, unit=unit, evaluation_date=evaluation_date)
    elif not evaluation_date:
        raise UsageError("missing evaluation date", "请给出 --evaluation-date 或 --cycle")
    else:
        report = coverage(inst, evaluation_date, unit=unit)
    if xlsx_out:
        coverage_xlsx(report, xlsx_out)
    if as_json:
        emit_json(report)
    else:
        w = report["window"]
        click.echo(f"测评日期 {report['evaluation_date']}，材料时间窗口 {w['from']} 至 {w['to']}"
                   + (f"，责任单位 {unit}" if unit else ""))
        for r in report["indicators"]:
            need = "、".join(r["required"]) or "无需材料"
            line = f"[{STATUS_ZH[r['status']]}] {r['code']} {r['name']}  必备：{need}"
            if r["missing"]:
                line += f"  缺：{'、'.join(r['missing'])}"
            line += (f"  （材料 {r['evidence']}，窗口外 {r['out_of_window']}，待审核 {r['pending']}，"
                     f"已退回 {r['rejected']}）")
            click.echo(line)
        s = report["summary"]
        click.echo(f"共 {s['leaves']} 项：齐全 {s['complete']}，不全 {s['partial']}，缺失 {s['empty']}")
    if xlsx_out:
        click.echo(f"审核记录表已写入 {xlsx_out}", err=True)


COMMANDS = [coverage_cmd]
