"""`add`, `import`, `show`, `review`: material in, one item out, a review decision."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .maps_editions import map_option, use_map
from .common import ITEM_ID, cli_user, emit_json, fail_usage, json_option, one_line, open_instance, \
    pass_instance, progress_bar, refused_line


def print_batch(result, as_json: bool) -> None:
    for r in result.refused:
        click.echo(refused_line(r["path"], r["reason"]), err=True)
    for r in result.added + result.duplicates:
        for w in r.get("warnings", []):   # photo checks: out of window, dates disagree, no date, reused
            click.echo(one_line(f"警告: {r['path']}: {w['message']}"), err=True)
    if as_json:
        emit_json(result.as_json())
        return
    for a in result.added:
        click.echo(one_line(f"已入库 #{a['id']}  {a['path']}  → {'、'.join(a['codes'])}"))
    for d in result.duplicates:
        extra = f"（新增指标 {'、'.join(d['codes_added'])}）" if d.get("codes_added") else ""
        click.echo(one_line(f"重复文件 #{d['id']}  {d['path']}  已存在，未重复保存{extra}"))
    click.echo(f"共 {len(result.added) + len(result.duplicates) + len(result.refused)} 个文件："
               f"入库 {len(result.added)}，重复 {len(result.duplicates)}，拒收 {len(result.refused)}",
               err=True)


def run_batch(inst, requests, label, as_json, pre_refused=()):
    """Ingest, print, exit 0 when nothing was refused, else 1 (CONTRACT: one bad file never stops a batch)."""
    from archive.evidence.ingest import BatchResult, ingest_files
    from archive.readiness.photochecks import annotate

    with progress_bar(label) as update:
        result = ingest_files(inst, requests, user=cli_user(), progress=update)
    if pre_refused:
        result = BatchResult(result.added, result.duplicates, list(pre_refused) + result.refused)
    annotate(inst, result.added + result.duplicates)
    print_batch(result, as_json)
    sys.exit(0 if result.ok else 1)


@click.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--code", "codes", multiple=True, required=True, help="指标代码（可多次给出，如 Ⅲ-1）")
@click.option("--type", "material_type", required=True, help="材料类型：规范文件/情况说明/实景图片/统计表格/工作台账")
@click.option("--date", help="材料日期 YYYY-MM-DD（照片不填则取 EXIF 拍摄日期）")
@click.option("--unit", help="责任单位")
@click.option("--title", help="标题（默认取文件名）")
@map_option()
@json_option()
@pass_instance
def add_cmd(inst, files, codes, material_type, date, unit, title, map_id, as_json):
    """把文件入库并归入指标（编码可写成 体系编号:编码）。坏文件逐个拒收，其余照常入库。"""
    from archive.evidence.ingest import IngestRequest
    from archive.maps.loading import require_map

    use_map(inst, map_id)
    require_map(inst)
    requests = [IngestRequest(path=f, codes=list(codes), material_type=material_type, date=date,
                              unit=unit, title=title, display=str(f)) for f in files]
    run_batch(inst, requests, "入库", as_json)


@click.command("import")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-outside", is_flag=True,
              help="允许清单中的路径指向清单所在文件夹之外（指向外部的符号链接仍拒收）")
@click.option("--encoding", help="清单的编码（默认自动判断 UTF-8 或 GBK，判断不清时拒绝），如 gbk、latin-1")
@json_option()
@map_option()
@pass_instance
def import_cmd(inst, manifest, map_id, allow_outside, encoding, as_json):
    """按清单批量入库。清单 CSV 列：path,code,type,date,unit,title（code 可用 ; 分隔多个）。

    路径相对于清单所在文件夹，且须在该文件夹之内（或加 --allow-outside）。"""
    from archive.evidence.ingest import ENCODING_NAMES, read_manifest
    from archive.maps.loading import require_map

    use_map(inst, map_id)
    require_map(inst)
    m = read_manifest(manifest, allow_outside=allow_outside, encoding=encoding)
    if m.guessed and m.encoding == "gb18030":   # UTF-8 is checked strictly; GBK is a guess: say so
        click.echo(one_line(f"清单 {manifest} 不是 UTF-8，已按 {ENCODING_NAMES[m.encoding]} 编码读取 "
                            "(manifest read as GBK)"), err=True)
    run_batch(inst, m.requests, "批量入库", as_json, pre_refused=m.refused)


@click.command("show")
@click.argument("item_id", type=ITEM_ID)
@json_option()
@pass_instance
def show_cmd(inst, item_id, as_json):
    """查看一件材料：元数据、指标、审核状态、EXIF、版本与操作记录。"""
    from archive.evidence.items import item_detail
    from archive.evidence.review import STATES

    item = item_detail(inst, item_id)
    if as_json:
        emit_json(item)
        return
    lines = [
        f"#{item['id']}  {item['title']}" + ("  [已删除]" if item["deleted"] else ""),
        f"  指标：{'；'.join(c['code'] + ' ' + (c['name'] or '(不在当前指标体系)') for c in item['codes'])}",
        f"  类型：{item['type']}    单位：{item['unit'] or '-'}    日期：{item['date'] or '-'}"
        + ("（取自 EXIF）" if item["date_source"] == "exif" else ""),
        f"  原文件名：{item['original_name']}    大小：{item['size']} 字节    SHA-256：{item['sha256']}",
        f"  审核：{STATES[item['review_state']]}",
    ]
    if item["exif"]:
        lines.append("  EXIF：" + "，".join(f"{k}={v}" for k, v in item["exif"].items()))
    for r in item["reviews"]:
        lines.append(f"  审核记录：{r['at']} {r['reviewer'] or '-'} {r['decision']} {r['comment'] or ''}")
    for v in item["versions"]:
        lines.append(f"  版本：{v['at']} {v['original_name']} {v['sha256'][:12]}")
    for h in item["history"]:
        lines.append(f"  记录：{h['at']} {h['user'] or '-'} {h['action']}")
    click.echo("\n".join(lines))


@click.command("review")
@click.argument("item_id", type=ITEM_ID)
@click.option("--approve", is_flag=True, help="审核通过")
@click.option("--reject", is_flag=True, help="退回")
@click.option("--comment", help="审核意见")
@click.option("--by", "by", help="审核人（默认当前系统用户）")
@click.pass_context
def review_cmd(ctx, item_id, approve, reject, comment, by):
    """审核一件材料：--approve 通过，--reject 退回（可附 --comment 意见）。"""
    from archive.evidence.review import STATES, review_item

    if approve == reject:
        fail_usage("请给出 --approve 或 --reject 中的一个 (exactly one decision)")
    decision = "approved" if approve else "rejected"
    r = review_item(open_instance(ctx), item_id, decision, comment, by or cli_user())
    click.echo(f"#{item_id} {STATES[decision]}" + (f"：{r['comment']}" if r["comment"] else ""))


COMMANDS = [add_cmd, import_cmd, show_cmd, review_cmd]
