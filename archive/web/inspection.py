"""督查整改 and 模拟测评 pages: dashboard, problems (list, report, detail, rectify, close, return),
the phone page, 点位, rounds with ranking and chart, the ledger (printable, xlsx, file into the
archive). Thin: every action is one call into archive/inspection/."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from flask import (Blueprint, abort, after_this_request, flash, jsonify, redirect, render_template,
                   request, send_file, url_for)
from flask_login import current_user

from archive.core.dates import today_beijing
from archive.core.errors import ArchiveError, NotFound
from archive.inspection import ledger as ledger_mod
from archive.inspection import photos as photos_mod
from archive.inspection import problems as pr
from archive.inspection import rounds as rounds_mod
from archive.inspection import sites as sites_mod
from archive.inspection import stats
from .common import (ALL_ROLES, EDIT_ROLES, MAX_PAGE_NUMBER, REVIEW_ROLES, client_ip, current_map,
                     get_instance, int_arg, page_args, roles_required)

bp = Blueprint("inspection", __name__, url_prefix="/inspection")

REPORT_ROLES = pr.REPORT_ROLES
PAGE_SIZE = 50
PRINT_LIMIT = 200          # rows per printable page (the xlsx holds them all)
DEFAULT_DAYS = 7          # the deadline a report form proposes


@bp.before_request
def share_parsed_map():
    """Domain calls below read the map through the instance; hand them the process-wide parsed
    copy so no request parses the YAML again."""
    current_map()


def actor() -> pr.Actor:
    return pr.Actor(current_user.name, current_user.role, current_user.unit, client_ip())


def sees_contacts(unit: str | None) -> bool:
    """片长 names and phones: reviewers, admins and the unit's own clerks (personal data)."""
    return current_user.role in REVIEW_ROLES or (current_user.role == "clerk" and unit == current_user.unit)


@contextmanager
def uploaded_photos(field: str = "photos"):
    """The request's photos saved to temp files as PhotoIn (original names kept verbatim)."""
    tmp = Path(tempfile.mkdtemp(prefix="inspection-upload-"))
    try:
        out = []
        for n, f in enumerate(request.files.getlist(field)):
            if not f or not f.filename:
                continue
            path = tmp / f"{n}"
            f.save(path)
            out.append(photos_mod.PhotoIn(path, f.filename))
        yield out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def back_to(default: str) -> str:
    """Where a form goes back to: the inspection page it was sent from (the phone page or the
    problem page), by path only, so a forged Referer cannot send anyone off the site."""
    from urllib.parse import urlsplit

    ref = urlsplit(request.referrer or "")
    if ref.netloc == request.host and ref.path.startswith("/inspection/"):
        return ref.path + (f"?{ref.query}" if ref.query else "")
    return default


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def refuse(err: ArchiveError, back: str):
    """One clear line: JSON for the phone page's script, a flash and a redirect otherwise."""
    if wants_json():
        return jsonify({"error": err.message_zh, "key": err.key}), 400
    flash(err.message_zh, "error")
    return redirect(back)


def _filter_from_args(errors: list[str]) -> pr.ProblemFilter:
    from .common import iso_date_arg

    state = request.args.get("state") or None
    if state not in (None, "open", "rectified", "closed", "overdue", "rebound", "unclosed"):
        state = None
    code = (request.args.get("code") or "").strip() or None
    if code:
        node = current_map().find(code)
        if node is None or not node.is_leaf:
            errors.append(f"未知的测评内容代码“{code}”")
            code = None
        else:
            code = node.code
    return pr.ProblemFilter(unit=(request.args.get("unit") or "").strip() or None, state=state,
                            site_id=request.args.get("site", type=int), code=code,
                            round_id=request.args.get("round", type=int),
                            found_from=iso_date_arg("from", errors), found_to=iso_date_arg("to", errors),
                            q=(request.args.get("q") or "").strip()[:100] or None)


FILTER_ARGS = ("unit", "state", "site", "code", "round", "from", "to", "q")


# ------------------------------------------------------------------------------ dashboard
@bp.route("")
@roles_required(*ALL_ROLES)
def dashboard():
    inst = get_instance()
    sites = stats.by_site(inst)
    return render_template("inspection/dashboard.html", totals=stats.totals(inst), units=stats.by_unit(inst),
                           sites=sites, plot=stats.site_plot(sites), today=today_beijing())


# ------------------------------------------------------------------------------ problems
@bp.route("/problems")
@roles_required(*ALL_ROLES)
def problems():
    errors: list[str] = []
    if current_user.role == "clerk" and "unit" not in request.args and current_user.unit:
        return redirect(url_for(".problems", **page_args(FILTER_ARGS, unit=current_user.unit)))
    flt = _filter_from_args(errors)
    page = int_arg("page", 1, 1, MAX_PAGE_NUMBER)
    data = pr.list_problems(get_instance(), flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("inspection/problems.html", data=data, flt=flt, page=page, page_size=PAGE_SIZE,
                           errors=errors, states=pr.STATES, filter_args=FILTER_ARGS,
                           sites=_site_choices())


def _site_choices() -> list[tuple[int, str, str]]:
    return [tuple(r) for r in get_instance().db.execute(
        "SELECT id, name, unit FROM sites WHERE active = 1 ORDER BY name").fetchall()]


@bp.route("/problems/new")
@roles_required(*REPORT_ROLES)
def new_problem():
    return render_template("inspection/new_problem.html", **_report_form_context())


def _report_form_context() -> dict:
    return {"sites": _site_choices(), "sources": pr.SOURCES, "severities": pr.SEVERITIES,
            "default_deadline": (today_beijing() + timedelta(days=DEFAULT_DAYS)).isoformat(),
            "today": today_beijing().isoformat(), "max_mb": photos_mod.MAX_PHOTO_BYTES // (1024 * 1024),
            "leaves": [(n.code, n.name) for n in current_map().leaves()]}


@bp.route("/problems", methods=["POST"])
@roles_required(*REPORT_ROLES)
def create_problem():
    f = request.form
    back = back_to(url_for(".new_problem"))
    codes = [c for c in f.getlist("code") if c.strip()]
    for extra in (f.get("codes") or "").replace("；", ";").replace("，", ";").replace(",", ";").split(";"):
        if extra.strip():
            codes.append(extra.strip())
    unit = f.get("unit", "").strip() or None
    try:
        with uploaded_photos() as photos:
            pid = pr.report_problem(get_instance(), actor(), pr.NewProblem(
                description=f.get("description", ""), unit=unit, deadline=f.get("deadline"),
                codes=codes, site=f.get("site") or None, source=f.get("source") or "日常督查",
                severity=f.get("severity") or "一般", found_on=f.get("found_on") or None, photos=photos))
    except ArchiveError as e:
        return refuse(e, back)
    p = pr.problem_detail(get_instance(), pid)
    far = [x for x in p["photos"] if x["far_m"]]
    message = f"已登记问题 #{pid}，责任单位 {p['unit']}，限期 {p['deadline']}"
    if p["rebound_of"]:
        message += f"（反弹：问题 #{p['rebound_of']} 销号后再次发现）"
    if wants_json():
        return jsonify({"id": pid, "url": url_for(".problem", problem_id=pid), "message": message,
                        "far": [{"photo": x["original_name"], "far_m": x["far_m"]} for x in far]}), 201
    flash(message, "success")
    for x in far:
        flash(f"注意：照片 {x['original_name']} 的拍摄位置距点位约 {x['far_m']} 米", "warning")
    return redirect(url_for(".problem", problem_id=pid))


@bp.route("/problems/<int:problem_id>")
@roles_required(*ALL_ROLES)
def problem(problem_id):
    try:
        p = pr.problem_detail(get_instance(), problem_id)
    except NotFound:
        abort(404)
    may_rectify = p["state"] == "open" and (current_user.role in REVIEW_ROLES or (
        current_user.role == "clerk" and current_user.unit == p["unit"]))
    may_decide = current_user.role in REVIEW_ROLES
    return render_template("inspection/problem.html", p=p, may_rectify=may_rectify, may_decide=may_decide,
                           event_labels=pr.EVENT_LABELS, far_m=photos_mod.FAR_METRES,
                           max_mb=photos_mod.MAX_PHOTO_BYTES // (1024 * 1024))


@bp.route("/problems/<int:problem_id>/rectify", methods=["POST"])
@roles_required(*EDIT_ROLES)
def rectify(problem_id):
    back = back_to(url_for(".problem", problem_id=problem_id))
    try:
        with uploaded_photos() as photos:
            pr.rectify(get_instance(), actor(), problem_id, request.form.get("note"), photos)
    except NotFound:
        abort(404)
    except ArchiveError as e:
        if e.key == "not allowed":
            abort(403)
        return refuse(e, back)
    if wants_json():
        return jsonify({"id": problem_id, "message": f"问题 #{problem_id} 已提交整改，待复核"})
    flash(f"问题 #{problem_id} 已提交整改，等待资料组复核销号", "success")
    return redirect(back)


def _decide(problem_id, fn, *args, done: str):
    try:
        fn(get_instance(), actor(), problem_id, *args)
    except NotFound:
        abort(404)
    except ArchiveError as e:
        return refuse(e, url_for(".problem", problem_id=problem_id))
    flash(done, "success")
    return redirect(url_for(".problem", problem_id=problem_id))


@bp.route("/problems/<int:problem_id>/close", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def close(problem_id):
    return _decide(problem_id, pr.close, request.form.get("note") or None, done=f"问题 #{problem_id} 已销号")


@bp.route("/problems/<int:problem_id>/return", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def send_back(problem_id):
    return _decide(problem_id, pr.send_back, request.form.get("reason", ""),
                   done=f"问题 #{problem_id} 已退回，待整改")


@bp.route("/photos/<int:photo_id>")
@roles_required(*ALL_ROLES)
def photo(photo_id):
    try:
        row = pr.photo_row(get_instance(), photo_id)
    except NotFound:
        abort(404)
    path = get_instance().store.path(row["sha256"])
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png" if row["kind"] == "png" else "image/jpeg",
                     download_name=row["original_name"].replace("/", "_").replace("\\", "_"), max_age=3600)


@bp.route("/photos/<int:photo_id>/thumb")
@roles_required(*ALL_ROLES)
def photo_thumb(photo_id):
    try:
        row = pr.photo_row(get_instance(), photo_id)
    except NotFound:
        abort(404)
    px = 320 if request.args.get("size") != "s" else photos_mod.THUMB_PX
    thumb = photos_mod.thumbnail(get_instance(), row["sha256"], px)
    if thumb is None:
        abort(404)
    return send_file(thumb, mimetype="image/jpeg", max_age=3600)


# ------------------------------------------------------------------------------ phone
@bp.route("/m")
@roles_required(*REPORT_ROLES)
def phone():
    inst = get_instance()
    mine = []
    if current_user.role == "clerk" and current_user.unit:
        mine = pr.list_problems(inst, pr.ProblemFilter(unit=current_user.unit, state="open"), limit=30)["problems"]
    return render_template("inspection/phone.html", mine=mine, **_report_form_context())


# ------------------------------------------------------------------------------ sites
@bp.route("/sites")
@roles_required(*ALL_ROLES)
def sites():
    rows = sites_mod.list_sites(get_instance())
    return render_template("inspection/sites.html", sites=rows, kinds=sites_mod.SITE_KINDS,
                           sees_contacts=sees_contacts, columns=sites_mod.SITE_COLUMNS)


@bp.route("/sites", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def add_site():
    f = request.form
    try:
        sid = sites_mod.add_site(get_instance(), {k: f.get(k) for k in (
            "name", "kind", "address", "lat", "lon", "unit", "person", "phone")},
            user=current_user.name, ip=client_ip())
    except ArchiveError as e:
        return refuse(e, url_for(".sites"))
    flash(f"已登记点位 {f.get('name', '').strip()}", "success")
    return redirect(url_for(".site", site_id=sid))


@bp.route("/sites/import", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def import_sites():
    up = request.files.get("file")
    if not up or not up.filename:
        flash("请选择点位名录 xlsx 文件", "error")
        return redirect(url_for(".sites"))
    fd, tmp = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        up.save(tmp)
        result = sites_mod.import_sites(get_instance(), Path(tmp), user=current_user.name, ip=client_ip())
    except ArchiveError as e:
        return refuse(e, url_for(".sites"))
    finally:
        os.unlink(tmp)
    flash(f"导入完成：新增 {result['added']} 个点位，更新 {result['updated']} 个", "success")
    return redirect(url_for(".sites"))


@bp.route("/sites/export.xlsx")
@roles_required(*REVIEW_ROLES)
def export_sites():
    fd, tmp = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    sites_mod.export_sites(get_instance(), Path(tmp))

    @after_this_request
    def cleanup(resp):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return resp
    return send_file(tmp, as_attachment=True, download_name="点位名录.xlsx")


@bp.route("/sites/<int:site_id>")
@roles_required(*ALL_ROLES)
def site(site_id):
    inst = get_instance()
    try:
        s = sites_mod.get_site(inst, site_id)
    except NotFound:
        abort(404)
    probs = pr.list_problems(inst, pr.ProblemFilter(site_id=site_id), limit=200)
    photos = inst.db.execute(
        "SELECT ph.id, ph.stage, ph.taken_at, ph.added_at, ph.problem_id, ph.far_m FROM problem_photos ph "
        "JOIN problems p ON p.id = ph.problem_id WHERE p.site_id = ? ORDER BY ph.id DESC LIMIT 60",
        [site_id]).fetchall()
    return render_template("inspection/site.html", s=s, problems=probs, photos=photos,
                           contacts=sees_contacts(s["unit"]))


# ------------------------------------------------------------------------------ rounds
@bp.route("/rounds")
@roles_required(*ALL_ROLES)
def rounds():
    inst = get_instance()
    rows = rounds_mod.list_rounds(inst)
    return render_template("inspection/rounds.html", rounds=rows, chart=round_chart(rows),
                           rank=rounds_mod.ranking(inst), evaluators=rounds_mod.EVALUATORS,
                           today=today_beijing().isoformat())


def round_chart(rows: list[dict], width: int = 640, height: int = 240, pad: int = 36) -> dict:
    """Points scored and lost per round, as coordinates for an inline SVG bar chart."""
    if not rows:
        return {"bars": [], "width": width, "height": height}
    top = max(r["full"] for r in rows) or 1
    slot = (width - 2 * pad) / len(rows)
    bars = []
    for i, r in enumerate(rows):
        h_score = (height - 2 * pad) * r["score"] / top
        h_lost = (height - 2 * pad) * r["lost"] / top
        w = min(slot * 0.6, 56)
        x = pad + i * slot + (slot - w) / 2
        bars.append({"x": round(x, 1), "w": round(w, 1), "y_score": round(height - pad - h_score, 1),
                     "h_score": round(h_score, 1), "y_lost": round(height - pad - h_score - h_lost, 1),
                     "h_lost": round(h_lost, 1), "label": r["name"], "date": r["held_on"],
                     "score": r["score"], "lost": r["lost"], "rate": r["rate"]})
    return {"bars": bars, "width": width, "height": height, "top": top, "pad": pad}


@bp.route("/rounds", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def create_round():
    f = request.form
    inst = get_instance()
    up = request.files.get("file")
    try:
        if up and up.filename:
            fd, tmp = tempfile.mkstemp(suffix=".xlsx")
            os.close(fd)
            try:
                up.save(tmp)
                rid = rounds_mod.import_round(inst, Path(tmp), f.get("name", ""), f.get("held_on"),
                                              f.get("evaluator", ""), user=current_user.name, ip=client_ip())
            finally:
                os.unlink(tmp)
        else:
            rid = rounds_mod.create_round(inst, f.get("name", ""), f.get("held_on"), f.get("evaluator", ""),
                                          user=current_user.name, ip=client_ip())
    except ArchiveError as e:
        return refuse(e, url_for(".rounds"))
    flash("已建立测评轮次", "success")
    return redirect(url_for(".round_page", round_id=rid))


@bp.route("/rounds/<int:round_id>")
@roles_required(*ALL_ROLES)
def round_page(round_id):
    inst = get_instance()
    try:
        r = rounds_mod.get_round(inst, round_id)
    except NotFound:
        abort(404)
    scores = rounds_mod.round_scores(inst, round_id)
    return render_template("inspection/round.html", r=r, scores=scores, rank=rounds_mod.ranking(inst, round_id),
                           default_deadline=(today_beijing() + timedelta(days=DEFAULT_DAYS * 2)).isoformat(),
                           total_full=sum(s["full"] for s in scores), total_score=sum(s["score"] for s in scores))


@bp.route("/rounds/<int:round_id>/scores", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def round_scores(round_id):
    f = request.form
    try:
        rounds_mod.get_round(get_instance(), round_id)
    except NotFound:
        abort(404)
    try:
        rounds_mod.set_scores(get_instance(), round_id, [rounds_mod.ScoreIn(
            code=f.get("code", ""), full=f.get("full"), score=f.get("score"), lost=f.get("lost"),
            reason=f.get("reason"))], user=current_user.name, ip=client_ip())
    except ArchiveError as e:
        return refuse(e, url_for(".round_page", round_id=round_id))
    flash("评分已保存", "success")
    return redirect(url_for(".round_page", round_id=round_id))


@bp.route("/rounds/<int:round_id>/problems", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def round_problems(round_id):
    codes = request.form.getlist("code")
    try:
        result = rounds_mod.open_problems(get_instance(), actor(), round_id, request.form.get("deadline"),
                                          codes or None)
    except NotFound:
        abort(404)
    except ArchiveError as e:
        return refuse(e, url_for(".round_page", round_id=round_id))
    flash(f"已为扣分项登记 {len(result['opened'])} 个问题"
          + (f"，跳过 {len(result['skipped'])} 项（已有问题或无责任单位）" if result["skipped"] else ""), "success")
    return redirect(url_for(".problems", round=round_id, unit=""))


# ------------------------------------------------------------------------------ ledger
@bp.route("/ledger")
@roles_required(*ALL_ROLES)
def ledger():
    errors: list[str] = []
    flt = _filter_from_args(errors)
    inst = get_instance()
    page = int_arg("page", 1, 1, MAX_PAGE_NUMBER)
    rows = []
    more = False
    for r in ledger_mod.iter_rows(inst, flt, offset=(page - 1) * PRINT_LIMIT):
        if len(rows) >= PRINT_LIMIT:
            more = True
            break
        rows.append(r)
    photo_ids = {}
    if rows:
        ids = [r.problem["id"] for r in rows]
        for pid, stage, phid in inst.db.execute(
                f"SELECT problem_id, stage, id FROM problem_photos WHERE problem_id IN ({','.join('?' * len(ids))}) "
                "ORDER BY id", ids):
            photo_ids.setdefault((pid, stage), []).append(phid)
    return render_template("inspection/ledger.html", rows=rows, more=more, limit=PRINT_LIMIT, flt=flt, page=page,
                           errors=errors, photo_ids=photo_ids, label=ledger_mod.describe_filter(inst, flt),
                           today=today_beijing(), state_label=pr.state_label, filter_args=FILTER_ARGS,
                           default_leaves=ledger_mod.default_leaves(current_map()))


@bp.route("/ledger.xlsx")
@roles_required(*ALL_ROLES)
def ledger_xlsx():
    errors: list[str] = []
    flt = _filter_from_args(errors)
    fd, tmp = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        ledger_mod.write_ledger(get_instance(), flt, tmp)
    except BaseException:
        os.unlink(tmp)
        raise

    @after_this_request
    def cleanup(resp):
        try:
            os.unlink(tmp)   # the open handle keeps streaming on POSIX
        except OSError:
            pass
        return resp
    return send_file(tmp, as_attachment=True, download_name=f"问题整改台账_{today_beijing().isoformat()}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/ledger/file", methods=["POST"])
@roles_required(*REVIEW_ROLES)
def ledger_file():
    errors: list[str] = []
    flt = _filter_from_args(errors)
    back = url_for(".ledger", **page_args(FILTER_ARGS))
    if errors:
        flash("；".join(errors), "error")
        return redirect(back)
    codes = [c.strip() for c in (request.form.get("codes") or "").replace("；", ";").split(";") if c.strip()]
    try:
        result = ledger_mod.file_ledger(get_instance(), actor(), flt, codes or None)
    except ArchiveError as e:
        return refuse(e, back)
    flash(f"已归档到 {'、'.join(result['codes'])}：台账 1 份、照片 {len(result['added']) - 1 if result['added'] else 0} 张新入库，"
          f"{len(result['duplicates'])} 件已在档案中" + (f"，{len(result['refused'])} 件拒收" if result["refused"] else ""),
          "success" if not result["refused"] else "warning")
    return redirect(back)
