"""CLI for 督查整改 and 模拟测评: `site …`, `problem …`, `round …`, `ledger`. Thin: parse,
call archive/inspection/, print. A refused step (not allowed, wrong state, bad photo) exits 1;
bad arguments exit 2."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from archive.core.errors import ArchiveError, Refusal
from .common import ITEM_ID, cli_user, emit_json, fail_usage, json_option, one_line, open_instance


def run(fn):
    """The open instance as first argument; Refusal → `refused: …` exit 1, other errors exit 2."""
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx, *args, **kwargs):
        inst = open_instance(ctx)
        try:
            return fn(inst, *args, **kwargs)
        except Refusal as e:
            click.echo(f"refused: {one_line(str(e))}", err=True)
            sys.exit(1)
        except ArchiveError as e:
            fail_usage(e)
    return wrapper


def actor_for(inst, by: str | None):
    """--by NAME acts as that account (its role and unit); otherwise the OS user as admin."""
    from archive.inspection.problems import Actor
    from archive.users import get_user_by_name

    if not by:
        return Actor(cli_user(), "admin")
    user = get_user_by_name(inst.db, by)
    if user is None or user.disabled:
        fail_usage(f"没有可用的账号「{by}」 (unknown user)")
    return Actor(user.name, user.role, user.unit)


by_option = click.option("--by", "by", default=None, help="以该账号的身份操作（角色与单位随账号）；默认当前系统用户（管理员权限）")


# ------------------------------------------------------------------------------ site
@click.group("site")
def site_group():
    """点位：登记、查看、xlsx 导入导出。"""


@site_group.command("add")
@click.argument("name")
@click.option("--kind", required=True, help="点位类型：农贸市场、背街小巷、公共厕所、学校、社区、窗口单位 …")
@click.option("--unit", required=True, help="包抓单位")
@click.option("--address", help="地址")
@click.option("--lat", help="纬度（WGS-84，如 36.0671）")
@click.option("--lon", help="经度（如 120.3826）")
@click.option("--person", help="片长")
@click.option("--phone", help="片长电话")
@json_option()
@run
def site_add(inst, name, kind, unit, address, lat, lon, person, phone, as_json):
    """登记一个点位。"""
    from archive.inspection.sites import add_site, get_site

    sid = add_site(inst, {"name": name, "kind": kind, "unit": unit, "address": address, "lat": lat,
                          "lon": lon, "person": person, "phone": phone}, user=cli_user())
    if as_json:
        emit_json(get_site(inst, sid))
    else:
        click.echo(f"已登记点位 #{sid} {name}")


@site_group.command("list")
@click.option("--unit", help="只列该包抓单位的点位")
@click.option("--kind", help="只列该类型")
@json_option()
@run
def site_list(inst, unit, kind, as_json):
    """列出点位及其未销号、逾期、反弹问题数。"""
    from archive.inspection.sites import list_sites

    rows = list_sites(inst, unit=unit, kind=kind)
    if as_json:
        emit_json({"sites": rows})
        return
    for s in rows:
        gps = f"{s['lat']},{s['lon']}" if s["lat"] is not None else "-"
        click.echo(f"#{s['id']}  {s['kind']}  {s['name']}  {s['unit']}  GPS {gps}  "
                   f"未销号 {s['open']}  逾期 {s['overdue']}  反弹 {s['rebound']}")
    click.echo(f"共 {len(rows)} 个点位", err=True)


@site_group.command("show")
@click.argument("site")
@json_option()
@run
def site_show(inst, site, as_json):
    """查看一个点位（编号或名称）及其问题。"""
    from archive.inspection.problems import ProblemFilter, list_problems
    from archive.inspection.sites import find_site

    s = find_site(inst, site)
    probs = list_problems(inst, ProblemFilter(site_id=s["id"]), limit=1000)
    if as_json:
        emit_json({**s, "problems": probs["problems"]})
        return
    click.echo(f"#{s['id']} {s['name']}（{s['kind']}）包抓单位：{s['unit']}  片长：{s['person'] or '-'}")
    click.echo(f"  地址：{s['address'] or '-'}  GPS：{s['lat'] or '-'},{s['lon'] or '-'}")
    for p in probs["problems"]:
        click.echo(f"  问题 #{p['id']} {p['found_on']} {p['state_label']} 限期 {p['deadline']} {p['description']}")


@site_group.command("import")
@click.argument("xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option()
@run
def site_import(inst, xlsx, as_json):
    """从 xlsx 导入点位（表头：名称 类型 地址 纬度 经度 包抓单位 片长 电话）；同名点位更新。"""
    from archive.inspection.sites import import_sites

    result = import_sites(inst, xlsx, user=cli_user())
    if as_json:
        emit_json(result)
    else:
        click.echo(f"新增 {result['added']} 个点位，更新 {result['updated']} 个")


@site_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@run
def site_export(inst, out):
    """把点位名录导出为 xlsx（可改后再导入）。"""
    from archive.inspection.sites import export_sites

    n = export_sites(inst, out)
    click.echo(f"已导出 {n} 个点位到 {out}")


# ------------------------------------------------------------------------------ problem
@click.group("problem")
def problem_group():
    """问题清单：登记、整改、销号、退回。"""


@problem_group.command("add")
@click.option("--desc", "description", required=True, help="问题描述")
@click.option("--unit", help="责任单位（不填则取点位的包抓单位）")
@click.option("--deadline", help="整改期限 YYYY-MM-DD（北京时间，不早于今天）")
@click.option("--code", "codes", multiple=True, help="对应的测评内容代码（可多次给出）")
@click.option("--site", help="点位编号或名称")
@click.option("--source", default="日常督查", show_default=True, help="来源：日常督查 暗访 模拟测评 省市反馈 …")
@click.option("--severity", default="一般", show_default=True, help="一般 / 较重 / 严重")
@click.option("--round", "round_id", type=ITEM_ID, help="所属测评轮次编号")
@click.option("--found-on", help="发现日期（默认今天）")
@click.option("--photo", "photos", multiple=True, type=click.Path(path_type=Path), help="整改前照片（可多次给出）")
@by_option
@json_option()
@run
def problem_add(inst, description, unit, deadline, codes, site, source, severity, round_id, found_on,
                photos, by, as_json):
    """登记一个问题（附整改前照片）。"""
    from archive.inspection.photos import PhotoIn
    from archive.inspection.problems import NewProblem, problem_detail, report_problem

    pid = report_problem(inst, actor_for(inst, by), NewProblem(
        description=description, unit=unit, deadline=deadline, codes=list(codes), site=site,
        source=source, severity=severity, round_id=round_id, found_on=found_on,
        photos=[PhotoIn(p, p.name, display=str(p)) for p in photos]))
    p = problem_detail(inst, pid)
    if as_json:
        emit_json(p)
        return
    click.echo(f"已登记问题 #{pid}  {p['unit']}  限期 {p['deadline']}"
               + (f"  （反弹：#{p['rebound_of']} 已销号后再次发现）" if p["rebound_of"] else ""))
    for photo in p["photos"]:
        if photo["far_m"]:
            click.echo(f"  注意：照片 {photo['original_name']} 拍摄位置距点位约 {photo['far_m']} 米", err=True)


@problem_group.command("list")
@click.option("--unit", help="责任单位")
@click.option("--state", type=click.Choice(["open", "rectified", "closed", "overdue", "rebound", "unclosed"]),
              help="open 待整改 / rectified 已整改待复核 / closed 已销号 / overdue 已逾期 / rebound 反弹 / unclosed 未销号")
@click.option("--site", help="点位编号或名称")
@click.option("--code", help="测评内容代码")
@click.option("--round", "round_id", type=ITEM_ID, help="测评轮次编号")
@click.option("--from", "found_from", help="发现日期起")
@click.option("--to", "found_to", help="发现日期止")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000), help="最多列出几个")
@click.option("--offset", default=0, type=click.IntRange(0, 2**62), help="跳过前几个（翻页）")
@json_option()
@run
def problem_list(inst, unit, state, site, code, round_id, found_from, found_to, limit, offset, as_json):
    """列出问题（新登记的在前），逾期按今天（北京时间）计算。"""
    from archive.inspection.problems import list_problems

    flt = _filter(inst, unit, state, site, code, round_id, found_from, found_to)
    data = list_problems(inst, flt, limit=limit, offset=offset)
    if as_json:
        emit_json(data)
        return
    for p in data["problems"]:
        click.echo(f"#{p['id']}  {p['found_on']}  {p['state_label']}  {p['unit']}  限期 {p['deadline']}  "
                   f"{'、'.join(p['codes']) or '-'}  {p['site'] or '-'}  {p['description']}"
                   + ("  [反弹]" if p["rebound_of"] else ""))
    click.echo(f"共 {data['total']} 个问题", err=True)


def _filter(inst, unit, state, site, code, round_id, found_from, found_to):
    from archive.core.dates import parse_date
    from archive.core.errors import UsageError
    from archive.inspection.problems import ProblemFilter, resolve_leaves
    from archive.inspection.sites import find_site

    s = find_site(inst, site)
    leaf = resolve_leaves(inst, [code])[0][1] if code else None
    d1 = parse_date(found_from, UsageError)
    d2 = parse_date(found_to, UsageError)
    return ProblemFilter(unit=unit, state=state, site_id=s["id"] if s else None, code=leaf,
                         round_id=round_id, found_from=d1.isoformat() if d1 else None,
                         found_to=d2.isoformat() if d2 else None)


@problem_group.command("show")
@click.argument("problem_id", type=ITEM_ID)
@json_option()
@run
def problem_show(inst, problem_id, as_json):
    """查看一个问题：状态、期限、照片（EXIF 时间与位置）、每一步记录。"""
    from archive.inspection.problems import EVENT_LABELS, problem_detail

    p = problem_detail(inst, problem_id)
    if as_json:
        emit_json(p)
        return
    click.echo(f"问题 #{p['id']}  {p['state_label']}  责任单位 {p['unit']}  限期 {p['deadline']}"
               f"（{'剩余' if p['days_left'] >= 0 else '逾期'} {abs(p['days_left'])} 天）")
    click.echo(f"  {p['description']}")
    click.echo(f"  来源 {p['source']}  发现 {p['found_on']} {p['found_by'] or ''}  点位 {p['site'] or '-'}  "
               f"指标 {'、'.join(p['codes']) or '-'}  程度 {p['severity']}")
    if p["rebound_of"]:
        click.echo(f"  反弹：问题 #{p['rebound_of']} 销号后在同一点位再次发现")
    for ph in p["photos"]:
        stage = "整改前" if ph["stage"] == "before" else "整改后"
        where = f"{ph['lat']},{ph['lon']}" if ph["lat"] is not None else "无位置"
        far = f"  距点位 {ph['far_m']} 米" if ph["far_m"] else ""
        click.echo(f"  照片 {stage} {ph['original_name']}  拍摄 {ph['taken_at'] or '-'}  {where}{far}")
    for e in p["events"]:
        click.echo(f"  记录 {e['at']} {e['by'] or '-'} {EVENT_LABELS.get(e['action'], e['action'])} {e['note'] or ''}")


@problem_group.command("rectify")
@click.argument("problem_id", type=ITEM_ID)
@click.option("--photo", "photos", multiple=True, required=True, type=click.Path(path_type=Path),
              help="整改后照片（可多次给出）")
@click.option("--note", help="整改说明")
@by_option
@run
def problem_rectify(inst, problem_id, photos, note, by):
    """提交整改：上传整改后照片（与整改前相同的照片会被拒收）。"""
    from archive.inspection.photos import PhotoIn
    from archive.inspection.problems import rectify

    rectify(inst, actor_for(inst, by), problem_id, note, [PhotoIn(p, p.name, display=str(p)) for p in photos])
    click.echo(f"问题 #{problem_id} 已提交整改，待复核")


@problem_group.command("close")
@click.argument("problem_id", type=ITEM_ID)
@click.option("--note", help="复核意见")
@by_option
@run
def problem_close(inst, problem_id, note, by):
    """销号（审核员）：复核整改到位。"""
    from archive.inspection.problems import close

    close(inst, actor_for(inst, by), problem_id, note)
    click.echo(f"问题 #{problem_id} 已销号")


@problem_group.command("reopen")
@click.argument("problem_id", type=ITEM_ID)
@click.option("--reason", required=True, help="退回原因")
@by_option
@run
def problem_reopen(inst, problem_id, reason, by):
    """退回（审核员）：未整改到位，回到待整改；对已销号的问题即撤销销号。"""
    from archive.inspection.problems import send_back

    send_back(inst, actor_for(inst, by), problem_id, reason)
    click.echo(f"问题 #{problem_id} 已退回，待整改")


# ------------------------------------------------------------------------------ round
@click.group("round")
def round_group():
    """模拟测评轮次：导入评分表、查看、丢分排名、为扣分项登记问题。"""


@round_group.command("import")
@click.argument("xlsx", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="轮次名称，如 2026年第3次模拟测评")
@click.option("--date", "held_on", required=True, help="测评日期 YYYY-MM-DD")
@click.option("--evaluator", required=True, type=click.Choice(["第三方", "市级", "自查"]), help="测评方")
@click.option("--kind", default="模拟测评", show_default=True, type=click.Choice(["模拟测评", "督查"]), help="轮次类型")
@json_option()
@run
def round_import(inst, xlsx, name, held_on, evaluator, kind, as_json):
    """导入测评方的评分表 xlsx（表头含 代码、满分、得分 或 扣分、扣分原因）；有一行出错则不导入。"""
    from archive.inspection.rounds import import_round, list_rounds

    rid = import_round(inst, xlsx, name, held_on, evaluator, kind, user=cli_user())
    r = next(x for x in list_rounds(inst) if x["id"] == rid)
    if as_json:
        emit_json(r)
        return
    click.echo(f"已导入轮次 #{rid} {r['name']}：{r['leaves']} 项，满分 {r['full']:g}，得分 {r['score']:g}，"
               f"扣分 {r['lost']:g}（{r['leaves_lost']} 项丢分）")


@round_group.command("list")
@json_option()
@run
def round_list(inst, as_json):
    """列出各轮次及其得分、扣分。"""
    from archive.inspection.rounds import list_rounds

    rows = list_rounds(inst)
    if as_json:
        emit_json({"rounds": rows})
        return
    for r in rows:
        click.echo(f"#{r['id']}  {r['held_on']}  {r['name']}（{r['evaluator']}）  得分 {r['score']:g}/{r['full']:g}  "
                   f"扣分 {r['lost']:g}  问题 {r['problems']}")


@round_group.command("show")
@click.argument("round_ref")
@json_option()
@run
def round_show(inst, round_ref, as_json):
    """查看一轮（编号或名称）的逐项评分与责任单位。"""
    from archive.inspection.rounds import get_round, round_scores

    r = get_round(inst, round_ref)
    scores = round_scores(inst, r["id"])
    if as_json:
        emit_json({**r, "scores": scores})
        return
    click.echo(f"#{r['id']} {r['name']}  {r['held_on']}  {r['evaluator']}  {r['kind']}")
    for s in scores:
        mark = f"  扣 {s['lost']:g}" if s["lost"] > 0 else ""
        click.echo(f"  {s['code']} {s['name']}  {s['score']:g}/{s['full']:g}{mark}  {s['lead'] or '-'}"
                   + (f"  {s['reason']}" if s["reason"] else ""))


@round_group.command("rank")
@click.option("--round", "round_ref", help="只看这一轮（编号或名称）；默认全部轮次合计")
@click.option("--by", "by", type=click.Choice(["unit", "leaf"]), default="unit", show_default=True, help="按单位或按测评内容排名")
@json_option()
@run
def round_rank(inst, round_ref, by, as_json):
    """丢分排名：扣分记在牵头单位（谁丢分谁负责）。"""
    from archive.inspection.rounds import get_round, ranking

    rid = get_round(inst, round_ref)["id"] if round_ref else None
    rank = ranking(inst, rid)
    if as_json:
        emit_json(rank)
        return
    if by == "unit":
        for n, u in enumerate(rank["units"], start=1):
            click.echo(f"{n:3d}. {u['unit']}  丢分 {u['lost']:g}  丢分项 {u['leaves']}  配合项 {u['coop_leaves']}")
    else:
        for n, x in enumerate(rank["leaves"], start=1):
            click.echo(f"{n:3d}. {x['code']} {x['name']}  丢分 {x['lost']:g}  {x['lead'] or '-'}")


@round_group.command("problems")
@click.argument("round_ref")
@click.option("--deadline", required=True, help="整改期限 YYYY-MM-DD")
@click.option("--code", "codes", multiple=True, help="只为这些测评内容登记（默认全部扣分项）")
@by_option
@json_option()
@run
def round_problems(inst, round_ref, deadline, codes, by, as_json):
    """为一轮的扣分项一键登记问题（来源“模拟测评”，责任单位为牵头单位）。"""
    from archive.inspection.problems import resolve_leaves
    from archive.inspection.rounds import get_round, open_problems

    r = get_round(inst, round_ref)
    wanted = [c for _, c in resolve_leaves(inst, list(codes))] if codes else None
    result = open_problems(inst, actor_for(inst, by), r["id"], deadline, wanted)
    if as_json:
        emit_json(result)
        return
    click.echo(f"已登记 {len(result['opened'])} 个问题" + (f"：#{'、#'.join(map(str, result['opened']))}" if result["opened"] else ""))
    for s in result["skipped"]:
        click.echo(f"跳过 {s['code']}：{s['reason']}", err=True)


# ------------------------------------------------------------------------------ ledger
@click.command("ledger")
@click.option("--xlsx", "out", type=click.Path(dir_okay=False, path_type=Path), help="写出 问题整改台账.xlsx 到此路径")
@click.option("--file", "file_codes", multiple=True, help="把台账和照片归档到这些测评内容（可多次给出）")
@click.option("--file-default", is_flag=True, help="归档到指标体系中名称含“整改”的测评内容")
@click.option("--unit", help="责任单位")
@click.option("--code", help="测评内容代码")
@click.option("--site", help="点位编号或名称")
@click.option("--state", type=click.Choice(["open", "rectified", "closed", "overdue", "rebound", "unclosed"]), help="状态")
@click.option("--from", "found_from", help="发现日期起")
@click.option("--to", "found_to", help="发现日期止")
@json_option()
@run
def ledger_cmd(inst, out, file_codes, file_default, unit, code, site, state, found_from, found_to, as_json):
    """问题整改台账：--xlsx 写出（整改前后照片并排），--file/--file-default 归档为材料。"""
    from archive.core.errors import UsageError
    from archive.inspection.ledger import file_ledger, write_ledger

    if not out and not file_codes and not file_default:
        raise UsageError("nothing to do", "请给出 --xlsx OUT 或 --file CODE / --file-default")
    if out is not None and out.is_dir():
        raise UsageError("output is a folder", f"{out} 是文件夹，请给出 .xlsx 文件路径")
    flt = _filter(inst, unit, state, site, code, None, found_from, found_to)
    data = {}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        try:
            data["xlsx"] = {"path": str(out), **write_ledger(inst, flt, tmp)}
            tmp.replace(out)
        finally:
            if tmp.exists():
                tmp.unlink()
    if file_codes or file_default:
        data["filed"] = file_ledger(inst, actor_for(inst, None), flt, list(file_codes) or None)
    if as_json:
        emit_json(data)
    else:
        if "xlsx" in data:
            click.echo(f"已写出 {out}：{data['xlsx']['rows']} 个问题，{data['xlsx']['photos']} 张照片")
        if "filed" in data:
            f = data["filed"]
            click.echo(f"已归档到 {'、'.join(f['codes'])}：新入库 {len(f['added'])} 件，已在档案中 {len(f['duplicates'])} 件")
            for r in f["refused"]:
                click.echo(f"refused: {r['path']}: {r['reason']}", err=True)
    if data.get("filed", {}).get("refused"):
        sys.exit(1)


COMMANDS = [site_group, problem_group, round_group, ledger_cmd]
