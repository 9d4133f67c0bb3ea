"""The `evidence` command: parses arguments, calls archive/, prints. Nothing else lives here."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.core.config import default_instance_dir
from archive.core.errors import ArchiveError, UsageError
from archive.core.instance import Instance
from archive.maps.loading import current_map


ITEM_ID = click.IntRange(1, 2**63 - 1)   # SQLite's rowid range: a bigger number is a typo, not a crash


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail_usage(err: ArchiveError | str) -> None:
    click.echo(f"错误: {err}", err=True)
    sys.exit(2)


def cli_user() -> str:
    """Who the audit log names for a CLI action: the OS account."""
    import getpass
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def open_instance(ctx: click.Context) -> Instance:
    try:
        return Instance.open(ctx.obj["instance_dir"])
    except ArchiveError as e:
        fail_usage(e)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", "instance_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="实例目录 (默认 $EVIDENCE_INSTANCE 或 ./instance)")
@click.pass_context
def cli(ctx, instance_dir):
    """创文资料档案 Evidence Archive: 材料入库、检索、完整度与网上申报材料包。"""
    ctx.ensure_object(dict)
    ctx.obj["instance_dir"] = instance_dir or default_instance_dir()


# ---- section: map (indicators) -------------------------------------------------
def _fail_map(err: ArchiveError, shown_as: str | None = None) -> None:
    """Print a refused map one problem per line (`file:LINE: 说明 (key)`), exit 2."""
    from archive.maps.indicators import MapError

    if isinstance(err, MapError):
        if shown_as is not None:
            err.source = shown_as
        for line in err.lines():
            click.echo(line, err=True)
        click.echo(f"错误: {err}", err=True)
        sys.exit(2)
    fail_usage(err)


def _counts_text(imap) -> str:
    from archive.maps.indicators import level_name

    parts = [f"{level_name(d)} {n} 项" for d, n in enumerate(imap.level_counts(), start=1)]
    return "，".join(parts)


def _print_load_report(report: dict) -> None:
    for v in report["vanished"]:
        click.echo(f"编码 {v['code']} 已不在新体系中：仍有 {v['item_count']} 份材料"
                   + (f"（另有 {v['deleted_count']} 份已删除）" if v.get("deleted_count") else "")
                   + "，材料保留未删除，请改挂到新编码")
    for v in report["not_leaf"]:
        click.echo(f"编码 {v['code']} 在新体系中不再是测评内容（有下级指标）：仍有 {v['item_count']} 份材料挂在其上")
    for r in report["respelled"]:
        click.echo(f"编码 {r['old_code']} 按新体系写法改为 {r['code']}（{r['item_count']} 份材料）")


@cli.command("init")
@click.option("--map", "map_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="指标体系文件（默认 ./indicator_map.yaml）")
@click.pass_context
def init_cmd(ctx, map_path):
    """初始化实例目录并载入指标体系；可重复运行，已初始化时不作多余改动。"""
    from archive.maps.indicators import load_map
    from archive.maps.loading import current_map_row, load_map_into

    inst = Instance(ctx.obj["instance_dir"])
    given = map_path is not None
    path = map_path or Path("indicator_map.yaml")
    existed = inst.exists()
    try:
        if existed:
            inst.create()   # applies pending migrations only
            current = current_map_row(inst)
            if not given and current is not None:
                # Already has a map: reload ./indicator_map.yaml only when that same file was
                # edited; a map loaded from elsewhere with `map load` is left as it is.
                if not (path.exists() and current["source_path"] == str(path.resolve())):
                    click.echo(f"实例 {inst.root} 已初始化，指标体系（{current['edition']}）保持不变")
                    return
        imap = load_map(path)   # validate before creating anything
        if existed:
            click.echo(f"实例 {inst.root} 已初始化，未重复创建")
        else:
            inst.create()
            click.echo(f"已创建实例 {inst.root}")
        report = load_map_into(inst, path, user=cli_user())
    except ArchiveError as e:
        _fail_map(e, shown_as=str(path))
    finally:
        inst.close()
    if report["changed"]:
        click.echo(f"已载入指标体系 {imap.edition}（{imap.id}）：{_counts_text(imap)}")
        _print_load_report(report)
    else:
        click.echo(f"指标体系 {imap.edition}（{imap.id}）未变化，未重新载入")


@cli.group("map")
def map_group():
    """指标体系（测评项目 / 测评指标 / 测评内容）：校验、查看、载入新版本、比较版本。"""


@map_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="indicator_map.yaml")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
def map_check_cmd(path, as_json):
    """校验指标体系文件（默认 ./indicator_map.yaml），逐条列出错误及其行号。"""
    from archive.maps.indicators import check_map_text, parse_map, read_map_text

    try:
        text = read_map_text(path)
    except ArchiveError as e:
        fail_usage(e)
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
        click.echo(f"错误: 指标体系 {path} 有 {len(problems)} 处错误 (invalid indicator map)", err=True)
        sys.exit(2)
    imap = parse_map(text, source=str(path))
    review = sum(1 for n in imap.leaves() if "材料审核" in n.methods)
    click.echo(f"{path}: 校验通过 — {imap.edition}（{imap.id}）")
    click.echo(f"{_counts_text(imap)}；其中需材料审核的测评内容 {review} 项")


@map_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def map_show_cmd(ctx, as_json):
    """显示已载入的指标体系，每个节点附材料数量（上级节点按不重复材料合计）。"""
    from archive.maps.loading import map_tree

    inst = open_instance(ctx)
    try:
        tree = map_tree(inst)
    except ArchiveError as e:
        fail_usage(e)
    finally:
        inst.close()
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
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def map_load_cmd(ctx, path, as_json):
    """载入新版指标体系；不再存在的编码及其材料数量会列出，材料从不删除。"""
    from archive.maps.loading import load_map_into

    inst = open_instance(ctx)
    try:
        report = load_map_into(inst, path, user=cli_user())
    except ArchiveError as e:
        _fail_map(e, shown_as=str(path))
    finally:
        inst.close()
    if as_json:
        emit_json(report)
        return
    if not report["changed"]:
        click.echo(f"指标体系 {report['edition']}（{report['map_id']}）与当前相同，未重新载入")
        return
    counts = "，".join(f"{n} 项" for n in report["counts"])
    click.echo(f"已载入指标体系 {report['edition']}（{report['map_id']}）：各层 {counts}")
    _print_load_report(report)
    if not (report["vanished"] or report["not_leaf"]):
        click.echo("没有材料挂在已消失的编码上")


@map_group.command("diff")
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def map_diff_cmd(old, new, as_json):
    """比较两个版本的指标体系：新增、删除、改名（同编码新名称）、测评方法或所需材料变化。"""
    from archive.maps.indicators import diff_maps, load_map

    maps = []
    for p in (old, new):
        try:
            maps.append(load_map(p))
        except ArchiveError as e:
            _fail_map(e, shown_as=str(p))
    diff = diff_maps(*maps)
    if as_json:
        emit_json(diff)
        return
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


# ---- end section: map ----------------------------------------------------------

# ---- section: ingest / items ------------------------------------------------------


def progress_bar(label: str, total: int):
    """A progress bar on stderr when it is a terminal; silent otherwise (scripts, CI)."""
    if not sys.stderr.isatty() or total == 0:
        return None, None
    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
    bar.__enter__()

    def update(done, total_, message):
        bar.update(1)
    return bar, update


def print_batch(result, as_json: bool) -> None:
    for r in result.refused:
        click.echo(f"refused: {r['path']}: {r['reason']}", err=True)
    if as_json:
        emit_json(result.as_json())
        return
    for a in result.added:
        click.echo(f"已入库 #{a['id']}  {a['path']}  → {'、'.join(a['codes'])}")
    for d in result.duplicates:
        extra = f"（新增指标 {'、'.join(d['codes_added'])}）" if d.get("codes_added") else ""
        click.echo(f"重复文件 #{d['id']}  {d['path']}  已存在，未重复保存{extra}")
    click.echo(f"共 {len(result.added) + len(result.duplicates) + len(result.refused)} 个文件："
               f"入库 {len(result.added)}，重复 {len(result.duplicates)}，拒收 {len(result.refused)}",
               err=True)


def run_batch(inst, requests, label, as_json, pre_refused=()):
    from archive.evidence.ingest import BatchResult, ingest_files

    bar, update = progress_bar(label, len(requests))
    try:
        result = ingest_files(inst, requests, user=cli_user(), progress=update)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if pre_refused:
        result = BatchResult(result.added, result.duplicates, list(pre_refused) + result.refused)
    print_batch(result, as_json)
    sys.exit(0 if result.ok else 1)


@cli.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--code", "codes", multiple=True, required=True, help="指标代码（可多次给出，如 Ⅲ-1）")
@click.option("--type", "material_type", required=True, help="材料类型：规范文件/情况说明/实景图片/统计表格/工作台账")
@click.option("--date", help="材料日期 YYYY-MM-DD（照片不填则取 EXIF 拍摄日期）")
@click.option("--unit", help="责任单位")
@click.option("--title", help="标题（默认取文件名）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def add_cmd(ctx, files, codes, material_type, date, unit, title, as_json):
    """把文件入库并归入指标。坏文件逐个拒收，其余照常入库。"""
    from archive.evidence.ingest import IngestRequest

    inst = open_instance(ctx)
    try:
        current_map(inst)
    except ArchiveError as e:
        fail_usage(e)
    requests = [IngestRequest(path=f, codes=list(codes), material_type=material_type, date=date,
                              unit=unit, title=title, display=str(f)) for f in files]
    run_batch(inst, requests, "入库", as_json)


@cli.command("import")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def import_cmd(ctx, manifest, as_json):
    """按清单批量入库。清单 CSV 列：path,code,type,date,unit,title（code 可用 ; 分隔多个）。"""
    from archive.evidence.ingest import read_manifest

    inst = open_instance(ctx)
    try:
        current_map(inst)
        requests, refused = read_manifest(manifest)
    except ArchiveError as e:
        fail_usage(e)
    run_batch(inst, requests, "批量入库", as_json, pre_refused=refused)


@cli.command("show")
@click.argument("item_id", type=ITEM_ID)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def show_cmd(ctx, item_id, as_json):
    """查看一件材料：元数据、指标、审核状态、EXIF、版本与操作记录。"""
    from archive.evidence.items import item_detail

    inst = open_instance(ctx)
    try:
        item = item_detail(inst, item_id)
    except ArchiveError as e:
        fail_usage(e)
    if as_json:
        emit_json(item)
        return
    state = {"pending": "待审核", "approved": "已通过", "rejected": "已退回"}[item["review_state"]]
    lines = [
        f"#{item['id']}  {item['title']}" + ("  [已删除]" if item["deleted"] else ""),
        f"  指标：{'；'.join(c['code'] + ' ' + (c['name'] or '(不在当前指标体系)') for c in item['codes'])}",
        f"  类型：{item['type']}    单位：{item['unit'] or '-'}    日期：{item['date'] or '-'}"
        + ("（取自 EXIF）" if item["date_source"] == "exif" else ""),
        f"  原文件名：{item['original_name']}    大小：{item['size']} 字节    SHA-256：{item['sha256']}",
        f"  审核：{state}",
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


@cli.command("review")
@click.argument("item_id", type=ITEM_ID)
@click.option("--approve", is_flag=True, help="审核通过")
@click.option("--reject", is_flag=True, help="退回")
@click.option("--comment", help="审核意见")
@click.option("--by", "by", help="审核人（默认当前系统用户）")
@click.pass_context
def review_cmd(ctx, item_id, approve, reject, comment, by):
    """审核一件材料：--approve 通过，--reject 退回（可附 --comment 意见）。"""
    from archive.evidence.review import review_item

    if approve == reject:
        fail_usage("请给出 --approve 或 --reject 中的一个 (exactly one decision)")
    decision = "approved" if approve else "rejected"
    inst = open_instance(ctx)
    try:
        r = review_item(inst, item_id, decision, comment, by or cli_user())
    except ArchiveError as e:
        fail_usage(e)
    click.echo(f"#{item_id} {'已通过' if decision == 'approved' else '已退回'}"
               + (f"：{r['comment']}" if r["comment"] else ""))


@cli.command("fsck")
@click.option("--quick", is_flag=True, help="不重新计算文件哈希，只核对存在与大小")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def fsck_cmd(ctx, quick, as_json):
    """核对数据库、文件库与全文索引是否一致。发现问题时退出码为 1。"""
    from archive.maintenance import fsck

    inst = open_instance(ctx)
    report = fsck(inst, verify_hashes=not quick)
    if as_json:
        emit_json(report)
    else:
        for p in report["problems"]:
            where = " ".join(f"{k}={v}" for k, v in p.items() if k not in ("key", "message"))
            click.echo(f"problem: {where}: {p['message']} ({p['key']})", err=True)
        for w in report["warnings"]:
            where = " ".join(f"{k}={v}" for k, v in w.items() if k not in ("key", "message"))
            click.echo(f"warning: {where}: {w['message']} ({w['key']})", err=True)
        c = report["checked"]
        click.echo(f"已检查 {c['items']} 件材料、{c['files']} 个文件：问题 {len(report['problems'])}，"
                   f"提示 {len(report['warnings'])}")
    sys.exit(1 if report["problems"] else 0)


@cli.command("ocr")
@click.option("--limit", type=click.IntRange(1), help="最多处理多少件")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def ocr_cmd(ctx, limit, as_json):
    """对待识别的扫描件和文件照片做 OCR，识别出的文字可被检索（网页服务运行时会在后台自动处理）。"""
    from archive.jobs.ocr import ocr_available, pending_count, run_pending

    inst = open_instance(ctx)
    if not ocr_available():
        fail_usage("未安装离线 OCR 引擎：apt-get install tesseract-ocr tesseract-ocr-chi-sim poppler-utils (no OCR engine)")
    bar, update = progress_bar("OCR", min(pending_count(inst.db), limit or 10**9))
    try:
        result = run_pending(inst, limit=limit, progress=update)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for f in result["failed"]:
        click.echo(f"failed: #{f['id']}: {f['error']} (ocr failed)", err=True)
    if as_json:
        emit_json(result)
    else:
        click.echo(f"OCR 完成 {len(result['done'])} 件，失败 {len(result['failed'])} 件，"
                   f"尚待识别 {pending_count(inst.db)} 件")
    sys.exit(1 if result["failed"] else 0)


@cli.command("backup")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup_cmd(ctx, out):
    """在线备份到目录 OUT（数据库快照 + 文件库），OUT 本身即是可用的实例目录。"""
    from archive.maintenance import backup

    inst = open_instance(ctx)
    try:
        r = backup(inst, out)
    except ArchiveError as e:
        fail_usage(e)
    for sha in r["missing"]:
        click.echo(f"missing: {sha}: 文件库中缺少该文件，未能备份 (missing file)", err=True)
    click.echo(f"已备份 {r['files']} 个文件（{r['bytes']} 字节）到 {r['path']}；"
               f"恢复：evidence --instance {r['path']} fsck 后即可使用")
    sys.exit(1 if r["missing"] else 0)


# ---- end section: ingest / items --------------------------------------------------

# ---- section: search ---------------------------------------------------------------


@cli.command("search")
@click.argument("query", required=False, default="")
@click.option("--code", help="指标代码（含其下级所有测评内容），如 Ⅲ—1 或 III-1")
@click.option("--type", "material_type", help="材料类型，如 实景图片")
@click.option("--unit", help="责任单位（完全一致）")
@click.option("--from", "date_from", help="起始日期 YYYY-MM-DD（含）")
@click.option("--to", "date_to", help="截止日期 YYYY-MM-DD（含）")
@click.option("--limit", type=click.IntRange(0, 1000), default=20, show_default=True, help="最多显示条数")
@click.option("--offset", type=click.IntRange(0), default=0, help="跳过前 N 条（翻页）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def search_cmd(ctx, query, code, material_type, unit, date_from, date_to, limit, offset, as_json):
    """全文检索：词语默认同时出现（AND），支持 OR、NOT、"短语"、code: type: unit: date:[起 TO 止] name:。

    每个检索词按原文精确匹配（汉字任意长度；字母数字不分大小写、按词首匹配）。"""
    from archive.search import search

    inst = open_instance(ctx)
    try:
        result = search(inst, query, code=code, type=material_type, unit=unit,
                        date_from=date_from, date_to=date_to, limit=limit, offset=offset)
    except ArchiveError as e:
        fail_usage(e)
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


@cli.command("reindex")
@click.pass_context
def reindex_cmd(ctx):
    """重建全文索引（检索不中断）；分析规则变更后或 fsck 报索引问题时运行。"""
    from archive.search import check_index, reindex

    inst = open_instance(ctx)
    bar = None

    def progress(done, total):
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="重建索引", file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)
    try:
        report = reindex(inst, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    problems = check_index(inst.db)
    click.echo(f"已重建索引：{report['indexed']} 条资料，移除 {report['removed']} 条过期索引", err=True)
    for p in problems:
        click.echo(f"index: {p['message']} ({p['key']})" + (f" #{p['item_id']}" if "item_id" in p else ""), err=True)
    sys.exit(1 if problems else 0)

# ---- end section: search -------------------------------------------------------------

# ---- section: coverage / export / verify / package ----------------------------------
def _tty_progress(label: str):
    """(bar, callback) drawing a progress bar on stderr when it is a terminal, else (None, None)."""
    if not sys.stderr.isatty():
        return None, None
    state = {}

    def update(done, total, message):
        if "bar" not in state:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            state["bar"].__enter__()
        state["bar"].update(1)
    return state, update


def _close_progress(state) -> None:
    if state and "bar" in state:
        state["bar"].__exit__(None, None, None)


@cli.command("coverage")
@click.option("--evaluation-date", "evaluation_date", required=True, help="测评日期 YYYY-MM-DD（决定材料时间窗口）")
@click.option("--unit", help="只看某责任单位的测评内容（指标体系中的 units）")
@click.option("--xlsx", "xlsx_out", type=click.Path(dir_okay=False, path_type=Path),
              help="另存为《测评材料审核记录表》xlsx")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def coverage_cmd(ctx, evaluation_date, unit, xlsx_out, as_json):
    """各测评内容的材料完整度：必备材料、时间窗口内已有、缺少、待审核、已退回。"""
    from archive.package import coverage_xlsx
    from archive.readiness.coverage import STATUS_ZH, coverage

    inst = open_instance(ctx)
    try:
        report = coverage(inst, evaluation_date, unit=unit)
        if xlsx_out:
            coverage_xlsx(report, xlsx_out)
    except ArchiveError as e:
        fail_usage(e)
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


def _print_export_report(report: dict) -> None:
    for x in report["excluded"]:
        click.echo(f"未收入 #{x['id']} {x['title']}：{x['reason']}")
    for g in report["gaps"]:
        click.echo(f"缺少材料 {g['code']} {g['name']}：{'、'.join(g['missing'])}")
    if report.get("path"):
        click.echo(f"材料包已生成：{report['path']}")
        click.echo(f"收入材料 {report['included']} 件，文件 {report['files']} 个，共 {report['bytes']} 字节；"
                   f"未收入 {len(report['excluded'])} 件；缺少材料的测评内容 {len(report['gaps'])} 项")


@cli.command("export")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--evaluation-date", "evaluation_date", required=True, help="测评日期 YYYY-MM-DD")
@click.option("--format", "fmt", type=click.Choice(["zip", "dir", "bagit"]), default="zip", show_default=True,
              help="zip 文件；dir 在 OUT 下生成材料包文件夹；bagit 在 OUT 生成 BagIt 包")
@click.option("--approved-only", is_flag=True, help="只收入审核通过的材料（默认也收入待审核的）")
@click.option("--include-out-of-window", is_flag=True, help="也收入时间窗口外（或无日期）的材料")
@click.option("--strict", is_flag=True, help="有测评内容缺少必备材料时不生成，退出码 1")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出报告")
@click.pass_context
def export_cmd(ctx, out, evaluation_date, fmt, approved_only, include_out_of_window, strict, as_json):
    """生成网上申报材料包：按指标体系分卷宗，附目录、审核记录表、manifest.json、SHA256SUMS。"""
    from archive.package import PackageRefused, export_package

    inst = open_instance(ctx)
    state, update = _tty_progress("生成材料包")
    try:
        report = export_package(inst, out, evaluation_date, fmt=fmt, approved_only=approved_only,
                                include_out_of_window=include_out_of_window, strict=strict,
                                progress=update, user=cli_user())
    except PackageRefused as e:
        _close_progress(state)
        if as_json:
            emit_json(dict(e.report, refused=e.reason))
        else:
            _print_export_report(e.report)
        click.echo(f"refused: {out}: {e.reason}", err=True)
        sys.exit(1)
    except UsageError as e:
        _close_progress(state)
        fail_usage(e)
    except ArchiveError as e:
        _close_progress(state)
        click.echo(f"错误: {out}: {e}", err=True)
        sys.exit(1)
    _close_progress(state)
    if as_json:
        emit_json(report)
    else:
        _print_export_report(report)


@cli.command("verify")
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出问题列表")
def verify_cmd(package, as_json):
    """按材料包自带的 SHA256SUMS 与 manifest.json 校验材料包（zip、文件夹或 BagIt 包）。"""
    from archive.package import verify_package

    try:
        problems = verify_package(package)
    except ArchiveError as e:
        fail_usage(e)
    if as_json:
        emit_json({"package": str(package), "ok": not problems, "problems": problems})
    else:
        for p in problems:
            click.echo(p["message"])
        click.echo(f"校验未通过：{len(problems)} 处问题" if problems else "校验通过：材料包与其清单一致", err=True)
    sys.exit(1 if problems else 0)


@cli.group("package")
def package_group():
    """材料包的比较。"""


@package_group.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def package_diff_cmd(old, new, as_json):
    """比较两个材料包：新增、移除、替换（同一材料换了文件）、移到别的测评内容。"""
    from archive.package import diff_packages

    try:
        d = diff_packages(old, new)
    except ArchiveError as e:
        fail_usage(e)
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
# ---- end section: coverage / export / verify / package ------------------------------

# ---- section: users / serve ------------------------------------------------------------
@cli.group("user")
def user_group():
    """账号管理：资料员 clerk、审核员 reviewer、审计员 auditor、管理员 admin。"""


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["clerk", "reviewer", "auditor", "admin"]),
              help="角色：clerk 资料员 / reviewer 审核员 / auditor 审计员 / admin 管理员")
@click.option("--unit", default=None, help="所属单位（资料员必填）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行），不提示")
@click.pass_context
def user_add(ctx, name, role, unit, password_stdin):
    """新建账号；密码提示输入两次（或 --password-stdin）。"""
    from archive import users

    inst = open_instance(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    try:
        user = users.create_user(inst.db, name, role, unit, password, by=cli_user())
    except ArchiveError as e:
        fail_usage(e)
    click.echo(f"已创建账号 {user.name}（{user.role_label}{'，' + user.unit if user.unit else ''}）")


def probe_port(host: str, port: int) -> None:
    """Raise OSError when host:port cannot be bound (busy, or not an address of this machine)."""
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=int, help="端口")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(8, 256),
              help="waitress 工作线程数 (≥ 8)")
@click.pass_context
def serve(ctx, host, port, threads):
    """启动网页服务（waitress）。首次运行且无账号时创建 admin 并在终端打印一次性密码。"""
    import waitress

    from archive import users
    from archive.web import create_app

    open_instance(ctx).close()   # a missing instance is a usage error before anything binds
    app = create_app({"INSTANCE": str(ctx.obj["instance_dir"])})
    try:
        # Bind first, so a busy port is a clear message before any first-run password is made.
        # The probe is ours: waitress leaks its socket when its own bind fails.
        probe_port(host, port)
        # One file per request, up to Limits.max_request_bytes; waitress must not cap it lower.
        server = waitress.create_server(app, host=host, port=port, threads=threads,
                                        max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024,
                                        ident="evidence-archive")
    except OSError as e:
        fail_usage(f"无法在 {host}:{port} 上启动服务：{e.strerror}（端口已被占用？可用 --port 换一个） (cannot bind)")
    inst = open_instance(ctx)
    password = users.ensure_first_admin(inst.db)
    inst.close()
    if password:
        click.echo("=" * 60)
        click.echo("首次运行：已创建管理员账号 admin")
        click.echo(f"一次性密码：{password}")
        click.echo("请立即登录并在“修改密码”中更改；此密码不会再次显示。")
        click.echo("=" * 60)
    from archive.jobs.ocr import start_background_worker

    if start_background_worker(ctx.obj["instance_dir"]) is None:
        click.echo("提示：未安装离线 OCR 引擎（tesseract-ocr-chi-sim），扫描件暂不能按图像内容检索")
    click.echo(f"创文资料档案 正在 http://{host}:{port}/ 提供服务（Ctrl+C 停止）")
    server.run()
# ---- end section: users / serve --------------------------------------------------------

# ---- section: inspection (督查整改, 模拟测评) --------------------------------------------
from archive.commands import inspection as _inspection  # noqa: E402
cli.add_command(_inspection.site_group)
cli.add_command(_inspection.problem_group)
cli.add_command(_inspection.round_group)
cli.add_command(_inspection.ledger_cmd)


if __name__ == "__main__":
    cli()
