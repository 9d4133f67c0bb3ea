"""`evidence settings …` (the evaluation date reviewers work to) and `evidence photos …`
(the reuse check: near-duplicate photos, hashing older archives)."""
from __future__ import annotations

import sys

import click

from .common import cli_user, emit_json, json_option, pass_instance

SETTING_NAMES = {"evaluation-date": "测评日期"}


@click.group("settings")
def settings_group():
    """实例设置：审核员设定一次、全体共用的值（如测评日期）。"""


@settings_group.command("set")
@click.argument("name", type=click.Choice(sorted(SETTING_NAMES)))
@click.argument("value")
@pass_instance
def settings_set(inst, name, value):
    """设定一个值。evaluation-date：照片时间窗口检查所用的测评日期（YYYY-MM-DD；空字符串清除）。"""
    from archive.readiness.photochecks import set_evaluation_date

    d = set_evaluation_date(inst.db, value, by=cli_user())
    click.echo(f"测评日期已设为 {d}" if d else "测评日期已清除", err=True)


@settings_group.command("show")
@json_option()
@pass_instance
def settings_show(inst, as_json):
    """列出实例设置。"""
    from archive.readiness.photochecks import evaluation_date_for_checks

    d = evaluation_date_for_checks(inst.db)
    data = {"evaluation-date": d.isoformat() if d else None}
    if as_json:
        emit_json(data)
        return
    for k, v in data.items():
        click.echo(f"{k}\t{SETTING_NAMES[k]}\t{v or '（未设定）'}")


@click.group("photos")
def photos_group():
    """照片检查：几乎相同的照片（跨单位、跨测评内容重复使用）。"""


@photos_group.command("reuse")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True, help="最多列出多少对")
@json_option()
@pass_instance
def photos_reuse(inst, limit, as_json):
    """列出内容几乎相同的照片对（缩放、重新压缩、轻微裁剪后的副本也算），较早的在前。"""
    from archive.evidence.photos import reuse_pairs

    total, pairs = reuse_pairs(inst.db, limit=limit)
    if as_json:
        emit_json({"total": total, "pairs": [
            {"distance": p["distance"], "other_unit": p["other_unit"], "other_leaf": p["other_leaf"],
             "a": _brief(p["a"]), "b": _brief(p["b"])} for p in pairs]})
        return
    for p in pairs:
        a, b = p["a"], p["b"]
        flags = "、".join(x for x, on in (("跨单位", p["other_unit"]), ("跨测评内容", p["other_leaf"])) if on)
        click.echo(f"#{b['id']} {b['title']}（{b['unit'] or '未指定单位'}，{'、'.join(b['codes'])}）"
                   f" ≈ #{a['id']} {a['title']}（{a['unit'] or '未指定单位'}，{'、'.join(a['codes'])}）"
                   f"  距离 {p['distance']}" + (f"  [{flags}]" if flags else ""))
    click.echo(f"共 {total} 对几乎相同的照片" + (f"，列出前 {len(pairs)} 对" if total > len(pairs) else ""),
               err=True)


def _brief(it: dict) -> dict:
    return {k: it[k] for k in ("id", "title", "unit", "codes", "date", "sha256", "created_at", "review_state")}


@photos_group.command("hash")
@click.option("--rebuild", is_flag=True, help="先清空已有的指纹和配对，全部重算")
@json_option()
@pass_instance
def photos_hash(inst, rebuild, as_json):
    """为库中尚无感知指纹的照片计算指纹并查找几乎相同的照片（旧档案升级后运行一次；可中断、可重复运行）。"""
    from archive.evidence.photos import backfill

    bar = click.progressbar(length=1, label="计算照片指纹", file=sys.stderr) if sys.stderr.isatty() else None

    def progress(done, total, _):
        if bar is not None:
            bar.length = total
            bar.update(1)
    report = backfill(inst, rebuild=rebuild, progress=progress)
    if bar is not None:
        bar.render_finish()
    if as_json:
        emit_json(report)
    else:
        click.echo(f"已计算 {report['hashed']} 张照片的指纹，失败 {report['failed']} 张；几乎相同的照片共 {report['pairs']} 对")
    sys.exit(1 if report["failed"] else 0)


COMMANDS = [settings_group, photos_group]
