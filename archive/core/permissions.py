"""Roles and what each may do: one table for the CLI, the web and the domain.

Pure functions of (role, unit); the web passes the logged-in user's, the CLI its own.
"""
from __future__ import annotations

ROLES: dict[str, str] = {
    "clerk": "资料员",
    "reviewer": "审核员",
    "auditor": "审计员",
    "admin": "管理员",
}
ALL_ROLES = tuple(ROLES)
EDIT_ROLES = ("clerk", "reviewer", "admin")      # auditors are read-only everywhere
REVIEW_ROLES = ("reviewer", "admin")
AUDIT_ROLES = ("auditor", "admin")               # the audit log, and items' audit history
EXPORT_VIEW_ROLES = ("reviewer", "admin", "auditor")   # auditors may look and download, never build
ADMIN_ROLES = ("admin",)


def can_edit_unit(role: str | None, own_unit: str | None, unit: str | None) -> bool:
    """Clerks edit only their own unit's items; reviewers and admins any; auditors none."""
    if role not in EDIT_ROLES:
        return False
    if role == "clerk":
        return bool(own_unit) and unit == own_unit
    return True


def sees_audit(role: str | None) -> bool:
    """Whether a role may read audit rows (the audit log, an item's history)."""
    return role in AUDIT_ROLES


def can_review(role: str | None) -> bool:
    return role in REVIEW_ROLES
