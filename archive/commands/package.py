"""`export`, `verify`, `package diff`: the declaration package (网上申报材料包)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.core.errors import ArchiveError, UsageError
from .maps_editions import cycle_option, map_option, use_map
from .common import CommandError, cli_user, emit_json, json_option, pass_instance, progress_bar, refused_line


def print_export_report(report: dict) -> None:
    for x in report["excluded"]:
        click.echo(f"未收入 #{x['id']} {x['title']}：{x['reason']}")
    for g in report["gaps"]:
        click.echo(f"缺少材料 {g['code']} {g['name']}：{'、'.join(g['missing'])}")
    if report.get("path"):
        click.echo(f"材料包已生成：{report['path']}")
        click.echo(f"收入材料 {report['included']} 件，文件 {report['files']} 个，共 {report['bytes']} 字节；"
                   f"未收入 {len(report['excluded'])} 件；缺少材料的测评内容 {len(report['gaps'])} 项")


@click.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--evaluation-date", "evaluation_date", help="测评日期 YYYY-MM-DD（给出 --cycle 时取该周期的）")
@map_option("材料包所属的指标体系编号（启用多个时必须指定）")
@cycle_option("测评周期名称：往期按结束时固定的版本与审核结论原样重建")
@click.option("--format", "fmt", type=click.Choice(["zip", "dir", "bagit"]), default="zip", show_default=True,
              help="zip 文件；dir 在 OUT 下生成材料包文件夹；bagit 在 OUT 生成 BagIt 包")
@click.option("--approved-only", is_flag=True, help="只收入审核通过的材料（默认也收入待审核的）")
@click.option("--include-out-of-window", is_flag=True, help="也收入时间窗口外（或无日期）的材料")
@click.option("--strict", is_flag=True, help="有测评内容缺少必备材料时不生成，退出码 1")
@json_option()
@pass_instance
def export_cmd(inst, out, evaluation_date, map_id, cycle, fmt, approved_only, include_out_of_window, strict, as_json):
    """生成网上申报材料包：按指标体系分卷宗，附目录、审核记录表、manifest.json、SHA256SUMS。"""
    from archive.package import PackageRefused, export_package

    try:
        with progress_bar("生成材料包") as update:
            use_map(inst, map_id)
            options = dict(fmt=fmt, approved_only=approved_only,
                                    include_out_of_window=include_out_of_window, strict=strict,
                                    progress=update, user=cli_user())
            if cycle:
                from archive.cycles.packages import cycle_export
                report = cycle_export(inst, cycle, out, map_id=inst.map_id, evaluation_date=evaluation_date, **options)
            elif not evaluation_date:
                raise UsageError("missing evaluation date", "请给出 --evaluation-date 或 --cycle")
            else:
                report = export_package(inst, out, evaluation_date, **options)
    except PackageRefused as e:
        if as_json:
            emit_json(dict(e.report, refused=e.reason))
        else:
            print_export_report(e.report)
        click.echo(refused_line(str(out), e.reason), err=True)
        sys.exit(1)
    except UsageError:
        raise
    except ArchiveError as e:   # the package could not be written (disk, permissions): done but failed
        raise CommandError(f"{out}: {e}", exit_code=1) from e
    if as_json:
        emit_json(report)
    else:
        print_export_report(report)


@click.command("verify")
@click.argument("package", type=click.Path(path_type=Path))
@json_option()
def verify_cmd(package, as_json):
    """按材料包自带的 SHA256SUMS 与 manifest.json 校验材料包（zip、文件夹或 BagIt 包）。"""
    from archive.package import verify_package

    problems = verify_package(package)
    if as_json:
        emit_json({"package": str(package), "ok": not problems, "problems": problems})
    else:
        for p in problems:
            click.echo(p["message"])
        click.echo(f"校验未通过：{len(problems)} 处问题" if problems else "校验通过：材料包与其清单一致", err=True)
    sys.exit(1 if problems else 0)


@click.group("package")
def package_group():
    """材料包的比较。"""


@package_group.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@json_option()
def package_diff_cmd(old, new, as_json):
    """比较两个材料包：新增、移除、替换（同一材料换了文件）、移到别的测评内容。"""
    from archive.package import diff_packages

    d = diff_packages(old, new)
    if as_json:
        emit_json(d)
        return
    for a in d["added"]:
        click.echo(f"+ 新增 #{a['id']} {a['leaf']} {a['path']}")
    for r in d["removed"]:
        click.echo(f"- 移除 #{r['id']} {r['leaf']} {r['path']}")
    for r in d["replaced"]:
        click.echo(f"~ 替换 #{r['id']} {r['leaf']} {r['new_path']}（{r['old_sha256'][:12]} → {r['new_sha256'][:12]}）")
    for m in d["moved"]:
        click.echo(f"> 移动 #{m['id']} {m['from']} → {m['to']} {m['new_path']}")
    for g in d["gaps_closed"]:
        click.echo(f"✓ 已补齐 {g['code']} {g['name']}：{'、'.join(g['types'])}")
    for g in d["gaps_opened"]:
        click.echo(f"! 新缺 {g['code']} {g['name']}：{'、'.join(g['types'])}")
    click.echo(f"新增 {len(d['added'])}，移除 {len(d['removed'])}，替换 {len(d['replaced'])}，"
               f"移动 {len(d['moved'])}，未变 {d['unchanged']}")


COMMANDS = [export_cmd, verify_cmd, package_group]
