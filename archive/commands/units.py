"""CLI for units, duties, deadlines, obligations, 催办 and ranking (docs/units.md).

COMMANDS (registered by cli.py): `unit …`, `duty …`, `deadline …`, `owed`, `remind`, `rank`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.core.errors import Refusal
from .common import cli_user, emit_json, json_option, one_line
from .common import pass_instance as _pass_instance

OUT_FILE = click.Path(dir_okay=False, path_type=Path)


def pass_instance(fn):
    """common.pass_instance, with units and duties seeded from the map first (once per map)."""
    import functools

    @functools.wraps(fn)
    def seeded(inst, *args, **kwargs):
        from archive.units.duties import ensure_seeded

        ensure_seeded(inst)
        return fn(inst, *args, **kwargs)
    return _pass_instance(seeded)


def refuse(err: Refusal) -> None:
    """Done but refused: one line on stderr, exit 1."""
    click.echo(f"refused: {one_line(str(err))}", err=True)
    sys.exit(1)


# ------------------------------------------------------------------ unit
@click.group("unit")
def unit_group():
    """单位名录：部门、街道、乡镇、社区、学校……（名称、类型、上级、责任领导、联系人）。"""


_FIELD_OPTIONS = [
    click.option("--kind", help="类型：部门/街道/乡镇/社区/村/学校/窗口单位/企业/其他（默认按名称推断）"),
    click.option("--parent", help="上级单位（如社区所属的街道）"),
    click.option("--leader", "leader_name", help="责任领导姓名"),
    click.option("--leader-phone", help="责任领导电话"),
    click.option("--contact", "contact_name", help="联系人姓名"),
    click.option("--contact-phone", help="联系人电话"),
]


def field_options(fn):
    for opt in reversed(_FIELD_OPTIONS):
        fn = opt(fn)
    return fn


def _given(**fields) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


@unit_group.command("add")
@click.argument("name")
@field_options
@pass_instance
def unit_add(inst, name, **fields):
    """新增一个单位。"""
    from archive.units.records import add_unit

    u = add_unit(inst.db, name, _given(**fields), by=cli_user())
    click.echo(f"已添加单位 {u.name}（{u.kind}{'，上级 ' + u.parent if u.parent else ''}）")


@unit_group.command("set")
@click.argument("name")
@field_options
@pass_instance
def unit_set(inst, name, **fields):
    """修改单位的类型、上级、责任领导或联系人（给空字符串即清除）。"""
    from archive.units.records import update_unit

    u = update_unit(inst.db, name, _given(**fields), by=cli_user())
    click.echo(f"已更新单位 {u.name}")


@unit_group.command("rename")
@click.argument("old")
@click.argument("new")
@pass_instance
def unit_rename(inst, old, new):
    """单位改名：材料和账号上的单位名一并改为新名，旧名作为曾用名保留。"""
    from archive.units.records import rename_unit

    u = rename_unit(inst.db, old, new, by=cli_user())
    click.echo(f"单位已改名为 {u.name}（曾用名：{'、'.join(u.former_names)}）")


@unit_group.command("retire")
@click.argument("name")
@pass_instance
def unit_retire(inst, name):
    """撤销单位：保留记录与历史，不再承担任务、不能新建其账号。"""
    from archive.units.records import set_active

    u = set_active(inst.db, name, False, by=cli_user())
    click.echo(f"单位 {u.name} 已撤销")


@unit_group.command("restore")
@click.argument("name")
@pass_instance
def unit_restore(inst, name):
    """恢复已撤销的单位。"""
    from archive.units.records import set_active

    u = set_active(inst.db, name, True, by=cli_user())
    click.echo(f"单位 {u.name} 已恢复在用")


@unit_group.command("delete")
@click.argument("name")
@pass_instance
def unit_delete(inst, name):
    """删除单位（仍欠材料、仍有账号或下级单位时拒绝，退出码 1）。"""
    from archive.units.removal import delete_unit

    try:
        r = delete_unit(inst, name, by=cli_user())
    except Refusal as e:
        refuse(e)
    click.echo(f"已删除单位 {r['deleted']}（连同 {r['duties']} 项分工）")


@unit_group.command("list")
@click.option("--all", "include_retired", is_flag=True, help="包括已撤销的单位")
@click.option("--kind", help="只列出某一类型")
@json_option()
@pass_instance
def unit_list(inst, include_retired, kind, as_json):
    """列出单位（含责任领导与联系人：本命令只有实例管理者能运行）。"""
    from archive.units.records import list_units

    units = list_units(inst.db, include_retired=include_retired, kind=kind)
    if as_json:
        emit_json({"units": [u.as_json() for u in units]})
        return
    for u in units:
        parts = [u.name, u.kind]
        if u.parent:
            parts.append(f"上级 {u.parent}")
        if u.leader_name:
            parts.append(f"领导 {u.leader_name} {u.leader_phone or ''}".strip())
        if u.contact_name:
            parts.append(f"联系人 {u.contact_name} {u.contact_phone or ''}".strip())
        if not u.active:
            parts.append("已撤销")
        click.echo("\t".join(parts))
    click.echo(f"共 {len(units)} 个单位", err=True)


@unit_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option()
@pass_instance
def unit_import(inst, path, as_json):
    """从 .xlsx 或 .csv 导入单位名录（列：名称、类型、上级单位、责任领导、领导电话、联系人、联系电话、状态）。
    全部校验通过才写入；有一处错误则一条也不写。"""
    from archive.units.tables import import_units

    r = import_units(inst, path, by=cli_user())
    if as_json:
        emit_json(r)
        return
    click.echo(f"导入完成：新增 {len(r['added'])}，更新 {len(r['updated'])}，未变 {len(r['unchanged'])}")


@unit_group.command("export")
@click.argument("out", type=OUT_FILE)
@pass_instance
def unit_export(inst, out):
    """导出单位名录到 .xlsx 或 .csv（可改后再导入）。"""
    from archive.units.tables import export_units

    n = export_units(inst.db, out)
    click.echo(f"已导出 {n} 个单位到 {out}")


# ------------------------------------------------------------------ duty
@click.group("duty")
def duty_group():
    """任务分工：每个测评内容的牵头单位、配合单位和责任人。"""


@duty_group.command("show")
@click.option("--code", help="只看一个测评内容")
@click.option("--unit", help="只看某单位承担的")
@json_option()
@pass_instance
def duty_show(inst, code, unit, as_json):
    """列出分工（默认来自指标体系的 units：第一个为牵头单位）。"""
    from archive.units.duties import show_duties

    rows = show_duties(inst, code=code, unit=unit)
    if as_json:
        emit_json({"duties": rows})
        return
    for r in rows:
        people = "；".join(f"{d['unit']} {d['person']}" for d in r["duties"] if d["person"])
        click.echo("\t".join([r["code"], r["name"], f"牵头 {r['lead'] or '—'}",
                              f"配合 {'、'.join(r['coops']) or '—'}"] + ([f"责任人 {people}"] if people else [])))


def _persons(values) -> dict:
    from archive.core.errors import UsageError

    out = {}
    for v in values:
        if "=" not in v:
            raise UsageError("bad person", f"--person 应写作 单位=姓名，而不是「{v}」")
        unit, person = v.split("=", 1)
        out[unit.strip()] = person.strip()
    return out


@duty_group.command("set")
@click.argument("code")
@click.option("--lead", help="牵头单位（原牵头单位不再承担，除非用 --coop 列出）")
@click.option("--coop", "coops", multiple=True, help="配合单位（可多次；给出即替换原有配合单位）")
@click.option("--no-coop", is_flag=True, help="去掉全部配合单位")
@click.option("--remove", multiple=True, help="去掉某单位的分工")
@click.option("--person", "persons", multiple=True, help="责任人：单位=姓名（可多次；姓名留空即清除）")
@pass_instance
def duty_set(inst, code, lead, coops, no_coop, remove, persons):
    """修改一个测评内容的分工。"""
    from archive.units.duties import set_duty

    r = set_duty(inst, code, lead=lead, coops=[] if no_coop else (list(coops) if coops else None),
                 persons=_persons(persons), remove=list(remove), by=cli_user())
    click.echo(f"{r['code']} {r['name']}：牵头 {r['lead'] or '—'}；配合 {'、'.join(r['coops']) or '—'}")


# ------------------------------------------------------------------ deadline
@click.group("deadline")
def deadline_group():
    """报送截止日期（北京时间）：每轮一个总截止日期，可按测评内容、单位单独提前或推后。"""


@deadline_group.command("set")
@click.option("--round", "round_name", required=True, help="报送轮次名称，如 2026年第一轮")
@click.option("--due", required=True, help="截止日期 YYYY-MM-DD")
@click.option("--starts", help="本轮开始日期（设定整轮时需要）")
@click.option("--code", help="只对这个测评内容")
@click.option("--unit", help="只对这个单位")
@click.option("--map", "map_id", help="指标体系 id（多个体系在用时）")
@pass_instance
def deadline_set(inst, round_name, due, starts, code, unit, map_id):
    """设定或修改一个截止日期。"""
    from archive.units.deadlines import set_deadline

    r = set_deadline(inst, round_name, due, starts_on=starts, code=code, unit=unit, map_id=map_id,
                     by=cli_user())
    scope = "、".join(x for x in (r["code"], r["unit"]) if x) or "全部任务"
    click.echo(f"{r['round']}（{r['starts_on']} 起）：{scope} 截止 {r['due_on']}")


@deadline_group.command("list")
@click.option("--round", "round_name", help="只看一轮")
@json_option()
@pass_instance
def deadline_list(inst, round_name, as_json):
    """列出截止日期。"""
    from archive.units.deadlines import list_deadlines

    rows = list_deadlines(inst.db, round_name)
    if as_json:
        emit_json({"deadlines": rows})
        return
    scope_zh = {"round": "整轮", "leaf": "测评内容", "unit": "单位", "leaf_unit": "测评内容×单位"}
    for r in rows:
        what = " ".join(x for x in (r["code"], r["unit"]) if x)
        click.echo("\t".join([r["round"], scope_zh[r["scope"]], what or "全部", f"{r['starts_on']} 起",
                              f"截止 {r['due_on']}"]))


# ------------------------------------------------------------------ owed
@click.command("owed")
@click.option("--unit", help="只看一个单位")
@click.option("--overdue", is_flag=True, help="只看已逾期的")
@click.option("--due-within", type=click.IntRange(0, 3650), help="只看 N 天内到期（含已逾期）仍未报送的")
@click.option("--all", "show_all", is_flag=True, help="也列出已报送、已通过的")
@click.option("--round", "round_name", help="按某一报送轮次的截止日期（默认当前轮次）")
@json_option()
@pass_instance
def owed_cmd(inst, unit, overdue, due_within, show_all, round_name, as_json):
    """各单位应报送的材料（测评内容 × 材料类型）及其状态：待报送、已报送待审核、已通过、被退回、已逾期。"""
    from archive.units.service import owed_report

    report = owed_report(inst, unit=unit, overdue=overdue, due_within=due_within,
                         open_only=not show_all, round_name=round_name)
    if as_json:
        emit_json(report)
        return
    for r in report["obligations"]:
        left = "" if r["days_left"] is None else (f"逾期 {-r['days_left']} 天" if r["days_left"] < 0
                                                  else f"剩 {r['days_left']} 天")
        click.echo("\t".join([r["unit"], r["code"], r["name"], r["type"], r["state_zh"],
                              f"截止 {r['due_on']}" if r["due_on"] else "未设截止", left]).rstrip())
    s = report["summary"]
    click.echo(f"共 {s['total']} 项：待报送 {s['owed']}，已逾期 {s['overdue']}，被退回 {s['returned']}，"
               f"待审核 {s['submitted']}，已通过 {s['approved']}（{report['today']}，北京时间）", err=True)


@unit_group.command("webhook")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="关闭群机器人推送")
@pass_instance
def unit_webhook(inst, url, clear):
    """查看或设置催办推送的企业微信/钉钉群机器人地址（默认不推送，只记录）。"""
    from archive.units.reminders import set_webhook_url, webhook_url

    if clear or url:
        set_webhook_url(inst.db, None if clear else url, by=cli_user())
    current = webhook_url(inst.db)
    click.echo(f"催办推送：{current}" if current else "催办推送：关闭（只记录催办，不向外发送）")


def _date_opt(value, label):
    from archive.core.dates import parse_date
    from archive.core.errors import UsageError

    d = parse_date(value, UsageError)
    if d is None:
        raise UsageError("bad date", f"缺少{label}")
    return d


def upload_links(base_url: str):
    """`--base-url`: each obligation's row links to its upload page (催办单)."""
    from urllib.parse import urlencode

    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageError("bad base url", f"--base-url 应以 http:// 或 https:// 开头，而不是「{base_url}」")
    return lambda r: f"{base}/upload?{urlencode({'code': r['code'], 'type': r['type']})}"


@click.command("remind")
@click.option("--unit", help="只催这个单位（默认：所有尚有未报送、被退回或逾期材料的单位）")
@click.option("--overdue", is_flag=True, help="只催有逾期材料的单位")
@click.option("--xlsx", "xlsx_out", type=click.Path(path_type=Path),
              help="写出催办单：给了 --unit 时为一个 .xlsx 文件，否则为文件夹（每单位一个）")
@click.option("--dry-run", is_flag=True, help="只列出、写催办单，不记录催办、不推送")
@click.option("--base-url", help="网页地址（如 http://10.1.2.3:5000），催办单里写上传链接")
@json_option()
@pass_instance
def remind_cmd(inst, unit, overdue, xlsx_out, dry_run, base_url, as_json):
    """催办：记录谁在何时被催办（审计日志），设置了群机器人时推送消息；可写出催办单 .xlsx。
    推送失败时照常记录并报告，退出码 1。"""
    from archive.core.errors import UsageError
    from archive.units.obligations import OPEN_STATES
    from archive.units.records import get_unit
    from archive.units.reminders import send_reminders
    from archive.units.service import owed_report
    from archive.units.urge import urge_xlsx

    report = owed_report(inst)
    rows = report["obligations"]
    if unit:
        targets = [get_unit(inst.db, unit).id]
    else:
        wanted = ("overdue",) if overdue else OPEN_STATES
        targets = list(dict.fromkeys(r["unit_id"] for r in rows if r["state"] in wanted))
    names = {r["unit_id"]: r["unit"] for r in rows}
    link_for = upload_links(base_url) if base_url else None
    if xlsx_out is not None:
        if unit:
            if xlsx_out.suffix.lower() != ".xlsx" or xlsx_out.is_dir():
                raise UsageError("bad output", f"{xlsx_out}：给了 --unit 时 --xlsx 应是一个 .xlsx 文件名")
            xlsx_out.parent.mkdir(parents=True, exist_ok=True)
            u = get_unit(inst.db, targets[0])
            xlsx_out.write_bytes(urge_xlsx(u.name, report, u.id, link_for))
        else:
            if xlsx_out.exists() and not xlsx_out.is_dir():
                raise UsageError("bad output", f"{xlsx_out} 已是文件：不给 --unit 时 --xlsx 应是文件夹")
            xlsx_out.mkdir(parents=True, exist_ok=True)
            for uid in targets:
                (xlsx_out / f"催办单_{names[uid]}.xlsx").write_bytes(urge_xlsx(names[uid], report, uid, link_for))
    if dry_run:
        results = [{"unit": names.get(uid) or get_unit(inst.db, uid).name, "unit_id": uid,
                    "open": sum(1 for r in rows if r["unit_id"] == uid and r["state"] in OPEN_STATES),
                    "recorded": False, "webhook": None} for uid in targets]
    else:
        results = send_reminders(inst, report, targets, by=cli_user())
    failed = [r for r in results if r["webhook"] and not r["webhook"]["ok"]]
    if as_json:
        emit_json({"today": report["today"], "reminded": results})
    else:
        for r in results:
            if not r["open"]:
                click.echo(f"{r['unit']}：没有未报送的材料，未催办")
                continue
            how = "（未记录：--dry-run）" if dry_run else "，已记录"
            if r["webhook"]:
                how += f"，已推送{r['webhook']['channel']}" if r["webhook"]["ok"] else ""
            click.echo(f"{r['unit']}：{r['open']} 项未报送{how}")
    for r in failed:
        click.echo(f"refused: {r['unit']}: 催办消息推送失败：{r['webhook']['error']} (webhook failed)", err=True)
    if failed:
        sys.exit(1)


@click.command("rank")
@click.option("--from", "day_from", required=True, help="统计开始日期 YYYY-MM-DD")
@click.option("--to", "day_to", required=True, help="统计结束日期 YYYY-MM-DD")
@click.option("--xlsx", "xlsx_out", type=OUT_FILE, help="写出排名表 .xlsx（用于公示）")
@json_option()
@pass_instance
def rank_cmd(inst, day_from, day_to, xlsx_out, as_json):
    """排名公示：各单位的完成率、按时率、退回率及名次。"""
    from archive.core.errors import UsageError
    from archive.units.ranking import pct, ranking, ranking_xlsx

    result = ranking(inst, _date_opt(day_from, "开始日期"), _date_opt(day_to, "结束日期"))
    if xlsx_out is not None:
        if xlsx_out.suffix.lower() != ".xlsx":
            raise UsageError("bad output", f"{xlsx_out}：排名表应保存为 .xlsx")
        xlsx_out.parent.mkdir(parents=True, exist_ok=True)
        xlsx_out.write_bytes(ranking_xlsx(result))
    if as_json:
        emit_json(result)
        return
    for u in result["units"]:
        click.echo("\t".join([str(u["rank"]), u["unit"], f"完成率 {pct(u['completeness'])}",
                              f"按时率 {pct(u['on_time_rate'])}", f"退回率 {pct(u['return_rate'])}"]))


COMMANDS = [unit_group, duty_group, deadline_group, owed_cmd, remind_cmd, rank_cmd]

