"""`reindex`, `fsck`, `backup`, `ocr`: keeping an instance healthy."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import cli_user, emit_json, fail_usage, json_option, one_line, pass_instance, progress_bar


@click.command("reindex")
@pass_instance
def reindex_cmd(inst):
    """重建全文索引（检索不中断）与单位材料汇总；分析规则变更后或 fsck 报索引、汇总问题时运行。"""
    from archive.search import build_grams, check_index, compact, keep_doc_counts, merge_grams, reindex

    with progress_bar("重建索引") as update:
        report = reindex(inst, progress=update)
    with progress_bar("合并索引段") as update:
        compact(inst, progress=update)   # one segment: every query looks terms up once
    click.echo("正在统计词的文档数（用于多词检索排序）……", err=True)
    keep_doc_counts(inst)
    with progress_bar("统计常用词组") as update:   # 50,000+ items: frequent terms counted without positions
        common = build_grams(inst, progress=update, merge=False)
    if common["grams"]:
        with progress_bar("合并常用词组索引段") as update:
            merge_grams(inst, progress=update)
    problems = check_index(inst.db)
    click.echo(f"已重建索引：{report['indexed']} 条资料，移除 {report['removed']} 条过期索引", err=True)
    from archive.units.facts import rebuild

    click.echo(f"已重建单位材料汇总：{rebuild(inst.db)} 组", err=True)
    for p in problems:
        click.echo(f"index: {p['message']} ({p['key']})" + (f" #{p['item_id']}" if "item_id" in p else ""), err=True)
    sys.exit(1 if problems else 0)


def _finding(label: str, f: dict) -> str:
    where = " ".join(f"{k}={v}" for k, v in f.items() if k not in ("key", "message"))
    return one_line(f"{label}: {where + ': ' if where else ''}{f['message']} ({f['key']})")


@click.command("fsck")
@click.option("--quick", is_flag=True, help="不重新计算文件哈希，只核对存在与大小")
@click.option("--repair", is_flag=True,
              help="删除被中断的入库、导出、OCR 留下的临时文件（已登记的内容从不删除）")
@json_option()
@pass_instance
def fsck_cmd(inst, quick, repair, as_json):
    """核对数据库、文件库、全文索引与单位材料汇总是否一致。发现问题时退出码为 1；数据库损坏时说明如何恢复。"""
    from archive.maintenance import fsck

    report = fsck(inst, verify_hashes=not quick, repair=repair)
    if not any(p["key"] in ("database damaged", "db integrity") for p in report["problems"]):
        from archive.units.facts import check

        report["problems"] += check(inst.db)   # derived per-unit counts (units/facts.py)
    if as_json:
        emit_json(report)
    else:
        for p in report["problems"]:
            click.echo(_finding("problem", p), err=True)
        for w in report["warnings"]:
            if w.get("path") in report["repaired"]:
                continue
            click.echo(_finding("warning", w), err=True)
        for path in report["repaired"]:
            click.echo(one_line(f"repaired: {path}: 已删除中断操作留下的临时文件"), err=True)
        c = report["checked"]
        warnings = len(report["warnings"]) - len(report["repaired"])
        click.echo(f"已检查 {c['items']} 件材料、{c['files']} 个文件：问题 {len(report['problems'])}，"
                   f"提示 {warnings}" + (f"，已清理 {len(report['repaired'])} 个临时文件" if report["repaired"] else ""))
    sys.exit(1 if report["problems"] else 0)


@click.command("backup")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@pass_instance
def backup_cmd(inst, out):
    """在线备份到目录 OUT（数据库快照 + 文件库），OUT 本身即是可用的实例目录。"""
    from archive.maintenance import backup

    r = backup(inst, out)
    for sha in r["missing"]:
        click.echo(f"missing: {sha}: 文件库中缺少该文件，未能备份 (missing file)", err=True)
    for d in r["damaged"]:
        items = "；".join(f"#{i['id']} {i['title']} [{i['codes']}]" for i in d["items"])
        click.echo(one_line(f"damaged: {d['sha256']}{' ' + items if items else ''}: "
                            "文件内容与其 SHA-256 不符，未备份这份损坏的文件 (hash mismatch)"), err=True)
    click.echo(f"已备份 {r['files']} 个文件（{r['bytes']} 字节，逐个核对了 SHA-256）到 {r['path']}；"
               f"恢复：evidence --instance {r['path']} fsck 后即可使用")
    sys.exit(1 if r["missing"] or r["damaged"] else 0)


@click.command("ocr")
@click.option("--limit", type=click.IntRange(1), help="最多处理多少件")
@json_option()
@pass_instance
def ocr_cmd(inst, limit, as_json):
    """对待识别的扫描件和文件照片做 OCR，识别出的文字可被检索（网页服务运行时会在后台自动处理）。"""
    from archive.jobs.ocr import ocr_available, pending_count, run_pending

    if not ocr_available():
        fail_usage("未安装离线 OCR 引擎：apt-get install tesseract-ocr tesseract-ocr-chi-sim poppler-utils (no OCR engine)")
    with progress_bar("OCR") as update:
        result = run_pending(inst, limit=limit, progress=update)
    for f in result["failed"]:
        click.echo(f"failed: #{f['id']}: {f['error']} (ocr failed)", err=True)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"OCR 完成 {len(result['done'])} 件，失败 {len(result['failed'])} 件，"
                   f"尚待识别 {pending_count(inst.db)} 件")
    sys.exit(1 if result["failed"] else 0)


@click.command("rebuild")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path), default="indicator_map.yaml",
              show_default=True, help="指标体系文件（数据库中的指标体系随数据库一起丢失）")
@click.pass_context
def rebuild_cmd(ctx, map_path):
    """数据库丢失或损坏且没有备份时，按文件库中每个文件旁的记录重建材料目录（原数据库改名保留）。"""
    from archive.core.instance import Instance
    from archive.evidence.records import rebuild

    inst = Instance(ctx.find_root().obj["instance_dir"])
    try:
        r = rebuild(inst, map_path, user=cli_user())
    finally:
        inst.close()
    if r["moved_aside"]:
        click.echo(f"原数据库已改名保留：{r['moved_aside']}", err=True)
    for sha in r["without_record"]:
        click.echo(f"warning: sha256={sha}: 文件旁没有记录，未重建为材料（可重新入库） (no record)", err=True)
    click.echo(f"已从文件库重建 {r['items']} 件材料（{r['files']} 个文件；指标体系 {r['map']}）。"
               "账号与操作记录不在文件库中：请用 evidence user add 重新建立账号；随后运行 evidence fsck 检查")
    sys.exit(1 if r["without_record"] else 0)


COMMANDS = [reindex_cmd, fsck_cmd, backup_cmd, ocr_cmd, rebuild_cmd]
