"""Units, duties, deadlines, the clerk's 本单位任务, reviewers' 催办 and the ranking (docs/units.md).

Thin: archive.units does the work. Personal data (leaders' and contacts' names and phones)
is rendered only for reviewers and admins, and for a clerk their own unit's."""
from __future__ import annotations

import functools
import io
from datetime import date, timedelta

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_login import current_user

from archive.core.dates import today_beijing
from archive.core.errors import ArchiveError, NotFound, Refusal
from archive.units import records
from archive.units.deadlines import list_deadlines, set_deadline
from archive.units.duties import ROLE_ZH, ensure_seeded, set_duty, show_duties
from archive.units.obligations import OPEN_STATES, STATE_ZH, counts_by_unit, round_now
from archive.units.ranking import pct, ranking, ranking_xlsx
from archive.units.reminders import (channel_of, last_reminders, reminder_history, send_reminders,
                                     set_webhook_url, webhook_url)
from archive.units.service import owed_report
from archive.units.urge import due_soon, urge_rows, urge_xlsx
from .charts import trend_line, unit_bars
from .common import (ALL_ROLES, REVIEW_ROLES, client_ip, current_map, date_arg, get_db, get_instance,
                     roles_required)

bp = Blueprint("units", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DUE_SOON_DAYS = 7
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def sees_personal(unit_name: str | None = None) -> bool:
    """Leaders' and contacts' names and phones: reviewers and admins; a clerk for their own unit."""
    if current_user.role in ("reviewer", "admin"):
        return True
    return current_user.role == "clerk" and unit_name is not None and current_user.unit == unit_name


def domain_errors(view):
    """An ArchiveError from the domain: a Chinese error page (GET) or a flash and back (POST)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        try:
            current_map()   # share the process's parsed map with the domain calls
            ensure_seeded(get_instance())
            return view(*args, **kwargs)
        except ArchiveError as e:
            code = 404 if isinstance(e, NotFound) and request.method == "GET" else 400
            if request.method == "POST":
                flash(e.message_zh, "error")
                return redirect(request.referrer or url_for("units.units_page"))
            return render_template("error.html", code=code, title="无法显示", message=e.message_zh,
                                   detail=None), code
    return wrapped


@bp.app_context_processor
def inject_unit_tasks():
    return {"unit_task_summary": unit_task_summary}


def unit_task_summary() -> dict | None:
    """The signed-in clerk's open obligations (for the card on the dashboard), or None."""
    if current_user.role != "clerk" or not current_user.unit:
        return None
    try:
        current_map()
        ensure_seeded(get_instance())
        report = owed_report(get_instance(), unit=current_user.unit)
    except ArchiveError:
        return None
    s = report["summary"]
    soon = sum(1 for r in report["obligations"] if r["state"] in ("owed", "returned")
               and r["days_left"] is not None and 0 <= r["days_left"] <= DUE_SOON_DAYS)
    return {"overdue": s["overdue"], "open": s["owed"] + s["returned"] + s["overdue"], "soon": soon,
            "round": report["round"]}


def _xlsx_response(data: bytes, name: str):
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)


def _unit_or_404(unit_id: int) -> records.Unit:
    try:
        return records.get_unit(get_db(), unit_id)
    except NotFound:
        abort(404)


# ---------------------------------------------------------------- units
@bp.route("/units")
@roles_required(*ALL_ROLES)
@domain_errors
def units_page():
    db = get_db()
    show_retired = request.args.get("all") == "1"
    units = records.list_units(db, include_retired=show_retired)
    report = owed_report(get_instance())
    counts = counts_by_unit(report["obligations"])
    return render_template("units/list.html", units=units, counts=counts, kinds=records.KINDS,
                           show_retired=show_retired, personal=sees_personal(),
                           own_unit=current_user.unit if current_user.role == "clerk" else None)


@bp.route("/units", methods=["POST"])
@roles_required("admin")
@domain_errors
def add_unit():
    f = request.form
    fields = {k: f.get(k, "") for k in records.EDITABLE if f.get(k, "").strip()}
    u = records.add_unit(get_db(), f.get("name", ""), fields, by=current_user.name, ip=client_ip())
    flash(f"已添加单位 {u.name}", "success")
    return redirect(url_for("units.unit_page", unit_id=u.id))


@bp.route("/units/import", methods=["POST"])
@roles_required("admin")
@domain_errors
def import_units_view():
    import tempfile
    from pathlib import Path

    from archive.units.tables import import_units

    up = request.files.get("file")
    if up is None or not up.filename:
        flash("请选择要导入的 .xlsx 或 .csv 文件", "error")
        return redirect(url_for("units.units_page"))
    suffix = Path(up.filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        flash(f"「{up.filename}」不是 .xlsx 或 .csv 文件", "error")
        return redirect(url_for("units.units_page"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"名录{suffix}"
        data = up.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            flash("文件超过 10 MB，不像单位名录", "error")
            return redirect(url_for("units.units_page"))
        path.write_bytes(data)
        try:
            r = import_units(get_instance(), path, by=current_user.name, ip=client_ip())
        except ArchiveError as e:
            flash(f"导入失败，未写入任何单位：{e.message_zh.replace('名录' + suffix, up.filename)}", "error")
            return redirect(url_for("units.units_page"))
    flash(f"导入完成：新增 {len(r['added'])} 个，更新 {len(r['updated'])} 个，未变 {len(r['unchanged'])} 个", "success")
    return redirect(url_for("units.units_page"))


@bp.route("/units/export.<any(xlsx, csv):fmt>")
@roles_required(*REVIEW_ROLES)
@domain_errors
def export_units_view(fmt):
    import tempfile
    from pathlib import Path

    from archive.units.tables import export_units

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"单位名录.{fmt}"
        export_units(get_db(), out)
        data = out.read_bytes()
    if fmt == "xlsx":
        return _xlsx_response(data, "单位名录.xlsx")
    return send_file(io.BytesIO(data), mimetype="text/csv; charset=utf-8", as_attachment=True,
                     download_name="单位名录.csv")


@bp.route("/units/<int:unit_id>")
@roles_required(*ALL_ROLES)
@domain_errors
def unit_page(unit_id):
    unit = _unit_or_404(unit_id)
    inst = get_instance()
    report = owed_report(inst, unit=unit.name)
    duties = show_duties(inst, unit=unit.name) if unit.active else []
    children = [u for u in records.list_units(get_db()) if u.parent_id == unit.id]
    history = reminder_history(get_db(), unit.id) if current_user.role in REVIEW_ROLES else []
    return render_template("units/unit.html", unit=unit, report=report, duties=duties, children=children,
                           personal=sees_personal(unit.name), kinds=records.KINDS, history=history,
                           role_zh=ROLE_ZH)


@bp.route("/units/<int:unit_id>/<any(edit, rename, retire, restore, delete):action>", methods=["POST"])
@roles_required("admin")
@domain_errors
def unit_action(unit_id, action):
    unit = _unit_or_404(unit_id)
    db, by, ip = get_db(), current_user.name, client_ip()
    if action == "edit":
        fields = {k: request.form.get(k, "") for k in records.EDITABLE if k in request.form}
        records.update_unit(db, unit.id, fields, by=by, ip=ip)
        flash("已保存", "success")
    elif action == "rename":
        u = records.rename_unit(db, unit.id, request.form.get("new_name", ""), by=by, ip=ip)
        flash(f"已改名为 {u.name}；材料与账号上的单位名已一并更新，旧名保留为曾用名", "success")
    elif action in ("retire", "restore"):
        records.set_active(db, unit.id, action == "restore", by=by, ip=ip)
        flash("已撤销（不再承担任务）" if action == "retire" else "已恢复在用", "success")
    else:
        from archive.units.removal import delete_unit

        try:
            delete_unit(get_instance(), unit.id, by=by, ip=ip)
        except Refusal as e:
            flash(e.message_zh, "error")
            return redirect(url_for("units.unit_page", unit_id=unit.id))
        flash(f"已删除单位 {unit.name}", "success")
        return redirect(url_for("units.units_page"))
    return redirect(url_for("units.unit_page", unit_id=unit.id))


# ---------------------------------------------------------------- duties
@bp.route("/duties")
@roles_required(*ALL_ROLES)
@domain_errors
def duties_page():
    unit = request.args.get("unit") or None
    rows = show_duties(get_instance(), unit=unit)
    active = [u.name for u in records.list_units(get_db(), include_retired=False)]
    return render_template("units/duties.html", rows=rows, unit=unit, units=active,
                           several_maps=len({r["map_id"] for r in rows}) > 1)


@bp.route("/duties/<path:code>", methods=["POST"])
@roles_required("admin")
@domain_errors
def set_duty_view(code):
    f = request.form
    coops = [c.strip() for c in f.get("coops", "").replace("，", "、").replace(",", "、").split("、") if c.strip()]
    persons = {k[len("person:"):]: v for k, v in f.items() if k.startswith("person:")}
    r = set_duty(get_instance(), code, lead=f.get("lead") or None, coops=coops, persons=persons,
                 by=current_user.name, ip=client_ip())
    flash(f"已保存 {r['code']} 的分工", "success")
    return redirect(url_for("units.duties_page") + f"#duty-{r['map_id']}-{r['code']}")


# ---------------------------------------------------------------- deadlines
@bp.route("/deadlines", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
@domain_errors
def deadlines_page():
    inst = get_instance()
    if request.method == "POST":
        if current_user.role not in REVIEW_ROLES:
            abort(403)
        f = request.form
        r = set_deadline(inst, f.get("round", ""), f.get("due_on", ""), starts_on=f.get("starts_on") or None,
                         code=f.get("code") or None, unit=f.get("unit") or None,
                         by=current_user.name, ip=client_ip())
        scope = "、".join(x for x in (r["code"], r["unit"]) if x) or "全部任务"
        flash(f"已设定：{r['round']} {scope} 截止 {r['due_on']}", "success")
        return redirect(url_for("units.deadlines_page"))
    rows = list_deadlines(get_db())
    units = [u.name for u in records.list_units(get_db(), include_retired=False)]
    rounds = sorted({r["round"] for r in rows})
    return render_template("units/deadlines.html", rows=rows, units=units, rounds=rounds,
                           leaves=current_map().leaves(), can_set=current_user.role in REVIEW_ROLES)


# ---------------------------------------------------------------- the clerk's home
@bp.route("/my")
@roles_required(*ALL_ROLES)
@domain_errors
def my_page():
    """本单位任务: what the unit owes, overdue first, days left, upload into the right leaf."""
    db = get_db()
    if current_user.role == "clerk":
        if not current_user.unit:
            return render_template("error.html", code=400, title="账号没有所属单位",
                                   message="您的资料员账号没有所属单位，无法列出本单位任务。请联系管理员在“用户管理”中设定单位。",
                                   detail=None), 400
        name = current_user.unit
        if request.args.get("unit") and request.args.get("unit") != name:
            abort(403)
    else:
        name = request.args.get("unit") or None
    units = [u.name for u in records.list_units(db, include_retired=False)]
    if name is None:
        return render_template("units/my.html", unit=None, units=units, report=None)
    unit = records.get_unit(db, name)
    report = owed_report(get_instance(), unit=unit.name)
    rows = report["obligations"]
    show_all = request.args.get("all") == "1"
    shown = rows if show_all else [r for r in rows if r["state"] in OPEN_STATES or r["state"] == "submitted"]
    return render_template("units/my.html", unit=unit, units=units, report=report, rows=shown,
                           show_all=show_all, state_zh=STATE_ZH, role_zh=ROLE_ZH,
                           can_upload=current_user.role in ("clerk", "reviewer", "admin"))


# ---------------------------------------------------------------- 催办
def _urge_link(row) -> str:
    return url_for("evidence.upload", code=row["code"], type=row["type"], _external=True)


@bp.route("/urge")
@roles_required(*REVIEW_ROLES)
@domain_errors
def urge_page():
    days = request.args.get("days", DUE_SOON_DAYS, type=int)
    days = min(max(days if days is not None else DUE_SOON_DAYS, 0), 365)
    report = owed_report(get_instance())
    rows = report["obligations"]
    per: dict[int, dict] = {}
    for r in rows:
        if r["state"] not in OPEN_STATES:
            continue
        u = per.setdefault(r["unit_id"], {"unit_id": r["unit_id"], "unit": r["unit"], "open": 0, "overdue": 0,
                                          "soon": 0, "oldest_due": None})
        u["open"] += 1
        if r["state"] == "overdue":
            u["overdue"] += 1
            if u["oldest_due"] is None or (r["due_on"] and r["due_on"] < u["oldest_due"]):
                u["oldest_due"] = r["due_on"]
    for r in due_soon(rows, days):
        per[r["unit_id"]]["soon"] += 1
    units = sorted(per.values(), key=lambda u: (-u["overdue"], -u["soon"], -u["open"], u["unit"]))
    last = last_reminders(get_db())
    url = webhook_url(get_db())
    return render_template("units/urge.html", units=units, report=report, days=days, last=last,
                           webhook=url if current_user.role == "admin" else None,
                           channel=channel_of(url) if url else None)


@bp.route("/urge/send", methods=["POST"])
@roles_required(*REVIEW_ROLES)
@domain_errors
def urge_send():
    ids = [int(x) for x in request.form.getlist("unit_id") if x.isdigit()]
    if not ids:
        flash("请先勾选要催办的单位", "error")
        return redirect(url_for("units.urge_page"))
    report = owed_report(get_instance())
    results = send_reminders(get_instance(), report, ids, by=current_user.name, ip=client_ip(),
                             link_for=lambda uid: url_for("units.urge_sheet", unit_id=uid, _external=True))
    done = [r for r in results if r["recorded"]]
    flash(f"已记录催办 {len(done)} 个单位：{'、'.join(r['unit'] for r in done) or '无'}", "success")
    skipped = [r["unit"] for r in results if not r["recorded"]]
    if skipped:
        flash(f"{'、'.join(skipped)} 没有未报送的材料，未催办", "warning")
    failed = [r for r in results if r["webhook"] and not r["webhook"]["ok"]]
    if failed:
        flash("群机器人推送失败（催办已记录）：" + "；".join(f"{r['unit']}：{r['webhook']['error']}" for r in failed),
              "error")
    elif any(r["webhook"] for r in results):
        flash(f"已推送到{results[0]['webhook']['channel']}群", "success")
    return redirect(url_for("units.urge_page"))


@bp.route("/urge/webhook", methods=["POST"])
@roles_required("admin")
@domain_errors
def urge_webhook():
    url = "" if request.form.get("clear") else request.form.get("url", "")
    set_webhook_url(get_db(), url, by=current_user.name, ip=client_ip())
    flash("群机器人地址已保存" if url.strip() else "已关闭群机器人推送（只记录催办）", "success")
    return redirect(url_for("units.urge_page"))


@bp.route("/urge/<int:unit_id>")
@roles_required(*REVIEW_ROLES)
@domain_errors
def urge_sheet(unit_id):
    """The printable 催办单 of one unit."""
    unit = _unit_or_404(unit_id)
    report = owed_report(get_instance())
    rows = urge_rows(report, unit.id, link_for=_urge_link)
    return render_template("units/urge_sheet.html", unit=unit, report=report, rows=rows,
                           personal=sees_personal(unit.name))


@bp.route("/urge/<int:unit_id>.xlsx")
@roles_required(*REVIEW_ROLES)
@domain_errors
def urge_sheet_xlsx(unit_id):
    unit = _unit_or_404(unit_id)
    report = owed_report(get_instance())
    return _xlsx_response(urge_xlsx(unit.name, report, unit.id, link_for=_urge_link),
                          f"催办单_{unit.name}_{report['today']}.xlsx")


# ---------------------------------------------------------------- ranking
def _period() -> tuple[date, date, list[str]]:
    errors: list[str] = []
    today = today_beijing()
    start = date_arg(request.args.get("from"), errors, "开始日期")
    end = date_arg(request.args.get("to"), errors, "结束日期")
    if start is None:
        rnd = round_now(get_instance(), today)
        start = date.fromisoformat(rnd["starts_on"]) if rnd else today - timedelta(days=30)
        start = min(start, today)
    end = end or today
    if end < start:
        errors.append(f"结束日期 {end} 早于开始日期 {start}，已按开始日期起 30 天显示")
        end = start + timedelta(days=30)
    return start, end, errors


@bp.route("/ranking")
@roles_required(*ALL_ROLES)
@domain_errors
def ranking_page():
    start, end, errors = _period()
    result = ranking(get_instance(), start, end)
    return render_template("units/ranking.html", result=result, errors=errors, pct=pct,
                           bars=unit_bars(result["units"]), line=trend_line(result["trend"]),
                           start=start.isoformat(), end=end.isoformat()), (400 if errors else 200)


@bp.route("/ranking.xlsx")
@roles_required(*ALL_ROLES)
@domain_errors
def ranking_xlsx_view():
    start, end, errors = _period()
    if errors:
        return Response(errors[0], status=400, mimetype="text/plain; charset=utf-8")
    result = ranking(get_instance(), start, end)
    return _xlsx_response(ranking_xlsx(result), f"排名_{result['from']}_{result['to']}.xlsx")
