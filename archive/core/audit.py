"""The audit log: who did what, when, from where. Written in the caller's transaction."""
from __future__ import annotations

import json

from .db import insert, utcnow

# Every action the code writes, as people read it (the audit page, its filter, an item's
# 操作记录). tests/test_audit_labels.py fails for an action written without a label here.
ACTION_LABELS = {
    "login": "登录", "login.failed": "登录失败", "login.locked": "登录被锁定", "logout": "退出登录",
    "user.create": "新建账号", "user.update": "修改角色/单位", "user.password": "修改密码",
    "user.disable": "停用账号", "user.enable": "启用账号", "user.token": "签发 API 令牌",
    "user.token_revoke": "撤销 API 令牌",
    "item.add": "材料入库", "item.refused": "上传被拒收", "item.duplicate": "重复上传",
    "item.codes": "修改指标", "item.edit": "修改信息", "item.replace": "替换文件",
    "item.delete": "删除材料", "item.restore": "恢复材料", "item.download": "下载材料",
    "item.review": "审核", "item.review.approved": "审核通过", "item.review.rejected": "审核退回",
    "item.review.reset": "修改后重新待审核",
    "item.ocr": "文字识别（OCR）完成", "item.ocr.failed": "文字识别（OCR）失败",
    "map.load": "载入指标体系", "settings.set": "修改系统设置", "photos.rehash": "重算照片指纹", "item.reextract": "重新提取文字",
    "search": "检索", "export.start": "发起生成材料包", "export.download": "下载材料包",
    "package.export": "生成材料包",
    "site.add": "新增点位", "site.update": "修改点位", "site.import": "导入点位",
    "problem.report": "登记问题", "problem.rectify": "提交整改", "problem.close": "问题销号",
    "problem.return": "整改退回", "problem.reopen": "销号后重新打开",
    "round.create": "新建测评轮次", "round.scores": "录入测评得分",
    "map.activate": "启用指标体系", "map.retire": "停用指标体系", "map.replace": "替换指标体系版本",
    "map.delete": "删除指标体系", "map.migrate": "材料改挂新体系编码",
    "cycle.add": "新建测评周期", "cycle.start": "开始测评周期", "cycle.close": "结束测评周期",
    "archive.rebuild": "从存储文件重建目录",
    "unit.add": "新增单位", "unit.update": "修改单位信息", "unit.rename": "单位改名",
    "unit.retire": "撤销单位", "unit.restore": "恢复单位", "unit.delete": "删除单位",
    "unit.remind": "催办", "unit.remind.failed": "催办发送失败",
    "duty.set": "设置任务分工", "duty.seed": "按指标体系生成任务分工", "deadline.set": "设置截止日期",
}


def action_label(action: str | None) -> str:
    """The Chinese name of an audit action; an unknown one (a newer version's) by its nearest
    known parent, else as written."""
    key = action or ""
    while key:
        if key in ACTION_LABELS:
            return ACTION_LABELS[key]
        key = key.rpartition(".")[0]
    return action or ""


def log(db, user: str | None, action: str, target: str | None = None,
        detail: dict | None = None, ip: str | None = None, at: str | None = None) -> None:
    """One audit row; `at` (UTC timestamp) defaults to now."""
    insert(db, "audit", {
        "at": at or utcnow(), "user": user, "ip": ip, "action": action, "target": target,
        "detail": json.dumps(detail, ensure_ascii=False) if detail else None,
    })


def query(db, *, user=None, action=None, target=None, at_from=None, at_to=None,
          limit=100, offset=0) -> tuple[int, list[dict]]:
    """(total, rows newest first) of audit rows matching the filters. `action` matches itself
    and its sub-actions (`item.review` finds `item.review.approved`); `at_from`/`at_to` are
    UTC timestamps (inclusive)."""
    where, params = [], []
    if user:
        where.append("user = ?")
        params.append(user)
    if action:
        where.append("(action = ? OR action LIKE ? ESCAPE '\\')")
        params += [action, action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"]
    if target:
        where.append("target = ?")
        params.append(target)
    if at_from:
        where.append("at >= ?")
        params.append(at_from)
    if at_to:
        where.append("at <= ?")
        params.append(at_to)
    sql_where = ("WHERE " + " AND ".join(where)) if where else ""
    total = db.execute(f"SELECT count(*) FROM audit {sql_where}", params).fetchone()[0]
    rows = []
    for r in db.execute(f"SELECT id, at, user, ip, action, target, detail FROM audit {sql_where} "
                        "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]):
        row = dict(zip(("id", "at", "user", "ip", "action", "target", "detail"), r))
        if row["detail"]:
            try:
                row["detail"] = json.dumps(json.loads(row["detail"]), ensure_ascii=False)
            except ValueError:
                pass
        rows.append(row)
    return total, rows


def actions(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT action FROM audit ORDER BY action")]


def user_names(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT user FROM audit WHERE user IS NOT NULL ORDER BY user")]
