"""`map list|activate|retire|delete|migrate`: several maps and their editions (docs/maps.md).

Added to the `map` group beside check/show/load/diff; `use_map`/`map_option` give any command
a `--map ID` (the map bare codes belong to)."""
from __future__ import annotations

from pathlib import Path

import click

from archive.core.errors import ArchiveError
from .common import cli_user, emit_json, fail_usage, json_option, pass_instance


def use_map(inst, map_id: str | None) -> None:
    """`--map ID`: the map bare codes belong to for this command (docs/maps.md)."""
    if map_id:
        from archive.core.errors import NotFound, UsageError
        from archive.maps.loading import get_map

        try:
            inst.map_id = get_map(inst, map_id).id
        except NotFound as e:   # a typo in --map is a usage error (exit 2)
            raise UsageError(e.key, e.message_zh) from None


def map_option(help_text: str = "指标体系编号（启用多个体系时指定；编码也可写成 ID:编码）"):
    return click.option("--map", "map_id", default=None, metavar="ID", help=help_text)


def cycle_option(help_text: str = "测评周期名称（按该周期的测评日期；往期按结束时固定的内容）"):
    return click.option("--cycle", default=None, metavar="NAME", help=help_text)


@click.command("list")
@json_option()
@pass_instance
def map_list_cmd(inst, as_json):
    """列出已载入的指标体系：编号、当前版本、启用/停用、版本数、材料数、所用的测评周期。"""
    from archive.maps.loading import list_maps

    maps = list_maps(inst)
    if as_json:
        emit_json({"maps": maps})
        return
    if not maps:
        click.echo("尚未载入指标体系")
    for m in maps:
        state = "启用" if m["active"] else "已停用"
        cycles = f"；测评周期：{'、'.join(m['cycles'])}" if m["cycles"] else ""
        click.echo(f"{m['id']}  [{state}]  {m['edition']}（{m['editions']} 个版本，材料 {m['items']} 件）{cycles}")


def _set_state(inst, map_id, active):
    from archive.maps.loading import set_active

    r = set_active(inst, map_id, active, user=cli_user())
    word = "启用" if active else "停用"
    click.echo(f"已{word}指标体系 {r['id']}" if r["changed"] else f"指标体系 {r['id']} 本已{word}")


@click.command("activate")
@click.argument("map_id")
@pass_instance
def map_activate_cmd(inst, map_id):
    """启用一个指标体系（其材料的类型须都在该体系的 material_types 中）。"""
    _set_state(inst, map_id, True)


@click.command("retire")
@click.argument("map_id")
@pass_instance
def map_retire_cmd(inst, map_id):
    """停用一个指标体系：材料与编码保留，编码改为带编号显示；可再启用。"""
    _set_state(inst, map_id, False)


@click.command("delete")
@click.argument("map_id")
@pass_instance
def map_delete_cmd(inst, map_id):
    """删除没有材料、也没有测评周期使用的指标体系（含其全部版本）。"""
    from archive.maps.loading import delete_map

    r = delete_map(inst, map_id, user=cli_user())
    click.echo(f"已删除指标体系 {r['id']}（{r['deleted_editions']} 个版本）")


def print_mapping_error(err) -> None:
    """A refused mapping file: one line per problem (`file:LINE: 说明 (key)`) on stderr."""
    from archive.maps.editions import MappingError

    if isinstance(err, MappingError):
        for line in err.lines():
            click.echo(line, err=True)


@click.command("migrate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="新旧编码对照 CSV（列 old,new；new 可用 ; 分隔多个，留空表示撤销）；不给则按同名推断")
@click.option("--dry-run", is_flag=True, help="只列出每件材料的编码将变成什么、哪些材料无处安放，不作改动")
@json_option()
@pass_instance
def map_migrate_cmd(inst, path, mapping, dry_run, as_json):
    """把同一指标体系的材料迁移到新版本：改号、拆分、合并、撤销；一次事务完成并记入审计日志。"""
    from archive.maps.editions import MappingError, migrate

    try:
        plan = migrate(inst, path, mapping, dry_run=dry_run, user=cli_user())
    except MappingError as e:
        print_mapping_error(e)
        raise
    except ArchiveError as e:
        _fail_map_file(e, str(path))
    if as_json:
        emit_json(plan)
        return
    how_zh = {"moved": "改号", "split": "拆分", "merged": "合并", "dropped": "撤销", "homeless": "无对应",
              "renamed": "改名", "mapped": "对照"}
    click.echo(f"{plan['map_id']}：{plan['from']} → {plan['to']}")
    for code, v in plan["leaves"].items():
        if v["how"] != "same":
            click.echo(f"  {how_zh.get(v['how'], v['how'])} {code} → {'、'.join(v['to']) or '（无）'}")
    for it in plan["items"]:
        tail = f"；无处安放：{'、'.join(it['homeless'])}" if it["homeless"] else ""
        click.echo(f"  材料 #{it['id']} {it['title']}：{'、'.join(it['old'])} → {'、'.join(it['new']) or '（无）'}{tail}")
    click.echo(f"编码改变的材料 {len(plan['items'])} 件，不变 {plan['unchanged']} 件，"
               f"无处安放 {len(plan['homeless'])} 件（保留原编码，不删除）")
    click.echo("以上为预演，未作改动；去掉 --dry-run 执行" if dry_run else "已迁移到新版本")


def _fail_map_file(err, shown_as: str) -> None:
    """A refused map file: one line per problem (`file:LINE: 说明 (key)`), then the error, exit 2."""
    from archive.maps.indicators import MapError

    if isinstance(err, MapError):
        err.source = shown_as
        for line in err.lines():
            click.echo(line, err=True)
    fail_usage(err)


MAP_COMMANDS = [map_list_cmd, map_activate_cmd, map_retire_cmd, map_delete_cmd, map_migrate_cmd]
