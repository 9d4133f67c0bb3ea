"""`init` and `map check|show|load|diff`: the indicator map (测评体系) of an instance.

Domain modules are imported inside the commands, so `evidence --help` stays fast."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.core.errors import ArchiveError
from archive.core.instance import Instance
from . import maps_editions
from .maps_editions import map_option
from .common import open_instance, CommandError, cli_user, emit_json, json_option, pass_instance


def fail_map(err: ArchiveError, shown_as: str | None = None) -> None:
    """Print a refused map one problem per line (`file:LINE: 说明 (key)`), then exit 2."""
    from archive.maps.indicators import MapError

    if isinstance(err, MapError):
        if shown_as is not None:
            err.source = shown_as
        for line in err.lines():
            click.echo(line, err=True)
    raise CommandError(err) from err


def counts_text(imap) -> str:
    from archive.maps.indicators import level_name

    parts = [f"{level_name(d)} {n} 项" for d, n in enumerate(imap.level_counts(), start=1)]
    return "，".join(parts)


def print_load_report(report: dict) -> None:
    for v in report["vanished"]:
        click.echo(f"编码 {v['code']} 已不在新体系中：仍有 {v['item_count']} 份材料"
                   + (f"（另有 {v['deleted_count']} 份已删除）" if v.get("deleted_count") else "")
                   + "，材料保留未删除，请改挂到新编码")
    for v in report["not_leaf"]:
        click.echo(f"编码 {v['code']} 在新体系中不再是测评内容（有下级指标）：仍有 {v['item_count']} 份材料挂在其上")
    for r in report["respelled"]:
        click.echo(f"编码 {r['old_code']} 按新体系写法改为 {r['code']}（{r['item_count']} 份材料）")


@click.command("init")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="指标体系文件（默认 ./indicator_map.yaml）")
@click.pass_context
def init_cmd(ctx, map_path):
    """初始化实例目录并载入指标体系；可重复运行，已初始化时不作多余改动。"""
    from archive.maps.indicators import load_map
    from archive.maps.loading import load_map_into, map_kept_on_init

    inst = Instance(ctx.find_root().obj["instance_dir"])
    path = map_path or Path("indicator_map.yaml")
    existed = inst.exists()
    try:
        if existed:
            inst.create()   # applies pending migrations only
            kept = map_kept_on_init(inst, path, given=map_path is not None)
            if kept is not None:
                click.echo(f"实例 {inst.root} 已初始化，指标体系（{kept['edition']}）保持不变")
                return
        imap = load_map(path)   # validate before creating anything
        if existed:
            click.echo(f"实例 {inst.root} 已初始化，未重复创建")
        else:
            inst.create()
            click.echo(f"已创建实例 {inst.root}")
        report = load_map_into(inst, path, user=cli_user())
    except ArchiveError as e:
        fail_map(e, shown_as=str(path))
    finally:
        inst.close()
    if report["changed"]:
        click.echo(f"已载入指标体系 {imap.edition}（{imap.id}）：{counts_text(imap)}")
        print_load_report(report)
    else:
        click.echo(f"指标体系 {imap.edition}（{imap.id}）未变化，未重新载入")


@click.group("map")
def map_group():
    """指标体系（测评项目 / 测评指标 / 测评内容）：校验、查看、载入新版本、比较版本。"""


@map_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="indicator_map.yaml")
@json_option()
def map_check_cmd(path, as_json):
    """校验指标体系文件（默认 ./indicator_map.yaml），逐条列出错误及其行号。"""
    from archive.maps.indicators import check_map_text, parse_map, read_map_text

    text = read_map_text(path)
    problems = check_map_text(text, source=str(path))
    if as_json:
        data = {"path": str(path), "valid": not problems, "problems": [p.as_json() for p in problems]}
        if not problems:
            imap = parse_map(text, source=str(path))
            data.update(edition=imap.edition, id=imap.id, counts=imap.level_counts(),
                        leaves=len(imap.leaves()))
        emit_json(data)
        sys.exit(2 if problems else 0)
    if problems:
        for p in problems:
            click.echo(p.format(str(path)), err=True)
        raise CommandError(f"指标体系 {path} 有 {len(problems)} 处错误 (invalid indicator map)")
    imap = parse_map(text, source=str(path))
    review = sum(1 for n in imap.leaves() if "材料审核" in n.methods)
    click.echo(f"{path}: 校验通过 — {imap.edition}（{imap.id}）")
    click.echo(f"{counts_text(imap)}；其中需材料审核的测评内容 {review} 项")


@map_group.command("show")
@map_option("要显示的指标体系编号（启用多个时必须指定）")
@json_option()
@pass_instance
def map_show_cmd(inst, map_id, as_json):
    """显示已载入的指标体系，每个节点附材料数量（上级节点按不重复材料合计）。"""
    from archive.maps.loading import map_tree

    tree = map_tree(inst, map_id)
    if as_json:
        emit_json(tree)
        return
    click.echo(f"{tree['edition']}（{tree['id']}），载入于 {tree['loaded_at']}")

    def show(node, depth):
        pad = "  " * depth
        line = f"{pad}{node['code']} {node['name']}  [材料 {node['evidence']}]"
        if "children" not in node:
            extra = []
            if node["methods"]:
                extra.append("方法: " + "、".join(node["methods"]))
            if node["requires"]:
                extra.append("需: " + "、".join(node["requires"]))
            if node["units"]:
                extra.append("单位: " + "、".join(node["units"]))
            if extra:
                line += "  " + "；".join(extra)
        click.echo(line)
        for child in node.get("children", ()):
            show(child, depth + 1)

    for root in tree["indicators"]:
        show(root, 0)


@map_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--new", "new_map", is_flag=True, help="这是一个新的指标体系：其 id 已被使用时拒绝（不当作新版本）")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="新版本的新旧编码对照 CSV：载入并迁移材料（同 map migrate）")
@json_option()
@click.pass_context
def map_load_cmd(ctx, path, new_map, mapping, as_json):
    """载入指标体系：新 id 为新增的体系（与已有体系同时启用）；已有 id 为其新版本，
    不再存在的编码及其材料数量会列出，材料从不删除。"""
    from archive.maps.loading import load_map_into

    if mapping is not None:
        ctx.invoke(maps_editions.map_migrate_cmd, path=path, mapping=mapping, dry_run=False, as_json=as_json)
        return
    inst = open_instance(ctx)
    try:
        report = load_map_into(inst, path, user=cli_user(), new=new_map)
    except ArchiveError as e:
        fail_map(e, shown_as=str(path))
    if as_json:
        emit_json(report)
        return
    if not report["changed"]:
        click.echo(f"指标体系 {report['edition']}（{report['map_id']}）与当前相同，未重新载入")
        return
    counts = "，".join(f"{n} 项" for n in report["counts"])
    if report.get("added"):
        click.echo(f"已新增指标体系 {report['edition']}（{report['map_id']}）：各层 {counts}；"
                   f"与其他启用的体系同时使用，编码可写成 {report['map_id']}:编码")
        return
    click.echo(f"已载入指标体系 {report['edition']}（{report['map_id']}）：各层 {counts}")
    print_load_report(report)
    if not (report["vanished"] or report["not_leaf"]):
        click.echo("没有材料挂在已消失的编码上")


@map_group.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="新旧编码对照 CSV（列 old,new）；不给则只按同名推断改号")
@json_option()
def map_diff_cmd(old, new, mapping, as_json):
    """比较两个版本的指标体系：新增、删除、改号（同名换编码）、拆分、合并、撤销、改名、测评方法或所需材料变化。"""
    from archive.maps.editions import MappingError, diff_editions, read_mapping
    from archive.maps.indicators import load_map

    maps = []
    for p in (old, new):
        try:
            maps.append(load_map(p))
        except ArchiveError as e:
            fail_map(e, shown_as=str(p))
    try:
        rows, source = read_mapping(mapping) if mapping is not None else ([], "mapping.csv")
        diff = diff_editions(*maps, rows, source)
    except MappingError as e:
        maps_editions.print_mapping_error(e)
        raise CommandError(e) from e
    if as_json:
        emit_json(diff)
        return
    for d in diff["moved"]:
        click.echo(f"改号 {d['old_code']} → {d['code']} {d['name']}")
    for d in diff["split"]:
        click.echo(f"拆分 {d['old_code']} → {'、'.join(d['codes'])}")
    for d in diff["merged"]:
        click.echo(f"合并 {'、'.join(d['old_codes'])} → {d['code']}")
    for d in diff["dropped"]:
        click.echo(f"撤销 {d['code']} {d['name']}")
    for d in diff["added"]:
        click.echo(f"新增 {d['code']} {d['name']}")
    for d in diff["removed"]:
        click.echo(f"删除 {d['code']} {d['name']}")
    for d in diff["renamed"]:
        click.echo(f"改名 {d['code']} {d['old_name']} → {d['new_name']}")
    for d in diff["requirements_changed"]:
        o, n = d["old"], d["new"]
        click.echo(f"要求变化 {d['code']} {d['name']}: 方法 [{'、'.join(o['methods'])}] → "
                   f"[{'、'.join(n['methods'])}]，材料 [{'、'.join(o['requires'])}] → "
                   f"[{'、'.join(n['requires'])}]")
    if not any(diff.values()):
        click.echo("两个版本的指标没有差别")


COMMANDS = [init_cmd, map_group]
for _c in maps_editions.MAP_COMMANDS:   # map list|activate|retire|delete|migrate
    map_group.add_command(_c)
