"""Accounts: roles, hashed passwords, API tokens, login throttling.

Every change writes an audit row in the same transaction. Passwords are hashed with
werkzeug (scrypt); API tokens are random 256-bit strings of which only the SHA-256 is
stored (they are high-entropy, so a fast hash is enough and allows lookup by hash).
Failed logins are audit rows too; the throttle counts them, so it survives restarts
and works across waitress threads without shared memory.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from werkzeug.security import check_password_hash, generate_password_hash

from archive.core import audit
from archive.core.db import insert, transaction, utcnow
from archive.core.errors import NotFound, UsageError
from archive.core.permissions import ROLES  # noqa: F401  (users.ROLES: the one table lives in core)

MIN_PASSWORD_LEN = 8
NAME_MAX_LEN = 64

# Login throttle: this many failures for one (IP, name) inside the window lock that pair
# until the oldest of them leaves the window; a wider cap per IP stops password spraying.
LOGIN_MAX_FAILURES = 5
LOGIN_MAX_FAILURES_PER_IP = 30
LOGIN_WINDOW = timedelta(minutes=10)
SESSION_MAX_AGE = timedelta(days=30)      # a web login lasts at most this long

# A fixed hash to check against when the name is unknown, so timing does not reveal
# which names exist.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    unit: str | None
    disabled: bool
    created_at: str
    has_token: bool = False

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "role_label": self.role_label,
                "unit": self.unit, "disabled": self.disabled, "created_at": self.created_at}


_COLS = "id, name, role, unit, disabled, created_at, api_token_hash IS NOT NULL"


def _row_to_user(row) -> User | None:
    if row is None:
        return None
    return User(id=row[0], name=row[1], role=row[2], unit=row[3], disabled=bool(row[4]),
                created_at=row[5], has_token=bool(row[6]))


# Passwords people pick first; refused whatever their length (compared in lower case).
COMMON_PASSWORDS = frozenset("""
password password1 password123 passw0rd p@ssw0rd 12345678 123456789 1234567890 0123456789
87654321 11111111 88888888 66666666 00000000 qwertyui qwerty123 qwertyuiop 1q2w3e4r 1qaz2wsx
qwe12345 asdfghjk zxcvbnm1 abc12345 abcd1234 a1234567 admin123 admin888 administrator
iloveyou woaini520 woaini1314 5201314520 changeme letmein1 welcome1 zaq12wsx
""".split())


def _weak_reason(password: str, name: str | None) -> str | None:
    """Why a password is too easy to guess, or None."""
    low = password.lower()
    if len(set(low)) == 1:
        return "密码不能由同一个字符重复组成"
    for size in range(1, len(low) // 2 + 1):
        if len(low) % size == 0 and low[:size] * (len(low) // size) == low:
            return "密码不能是同一段字符的重复（如 abcabcabc）"
    steps = {ord(b) - ord(a) for a, b in zip(low, low[1:])}
    if steps in ({1}, {-1}):
        return "密码不能是连续的字母或数字（如 12345678、abcdefgh）"
    if name and len(name.strip()) >= 2 and name.strip().lower() in low:
        return "密码不能包含用户名"
    if low in COMMON_PASSWORDS:
        return "这个密码太常见，很容易被猜到"
    return None


def _check_password(password: str, name: str | None = None) -> None:
    """Length, then what makes a password easy to guess (one character, a repeated piece, a
    run like 12345678, the user name in it, a common password)."""
    if password is None or len(password) < MIN_PASSWORD_LEN:
        raise UsageError("password too short", f"密码至少需要 {MIN_PASSWORD_LEN} 个字符")
    reason = _weak_reason(password, name)
    if reason:
        raise UsageError("weak password", f"{reason}，请换一个更难猜的密码")


def known_units(db) -> set[str]:
    """Unit names the archive knows without a register: the units of every loaded map's current
    edition and those items already carry (the fallback of check_unit while the units register,
    archive/units/, is still empty)."""
    names = {r[0] for r in db.execute("SELECT DISTINCT unit FROM items WHERE unit IS NOT NULL AND unit != ''")}
    from archive.maps.indicators import parse_map

    for yaml_text, source in db.execute(
            "SELECT yaml, source_path FROM maps WHERE id IN (SELECT MAX(id) FROM maps GROUP BY map_id)"):
        names |= set(parse_map(yaml_text, source=source or "indicator_map.yaml").units())
    return names


def validate_new_user(name: str, role: str, unit: str | None, password: str) -> tuple[str, str | None]:
    """Checks a new account's fields; returns the cleaned (name, unit) or raises UsageError."""
    name = (name or "").strip()
    unit = (unit or "").strip() or None
    if not name:
        raise UsageError("empty user name", "用户名不能为空")
    if len(name) > NAME_MAX_LEN or any(c.isspace() or ord(c) < 32 for c in name) or "/" in name:
        raise UsageError("bad user name", f"用户名不能含空格或斜杠，且不超过 {NAME_MAX_LEN} 个字符")
    if role not in ROLES:
        raise UsageError("unknown role", f"未知角色 {role}，可选：" +
                         "、".join(f"{k}（{v}）" for k, v in ROLES.items()))
    if role == "clerk" and not unit:
        raise UsageError("clerk needs a unit", "资料员必须指定所属单位")
    _check_password(password, name)
    return name, unit


def check_unit(db, unit: str | None) -> None:
    """An account's unit must be an active unit of the register (table `units`, archive/units/)
    once the register holds any unit, else one the archive knows (`known_units`); UsageError
    naming the problem otherwise."""
    if unit is None:
        return
    if db.execute("SELECT 1 FROM units LIMIT 1").fetchone() is None:
        # no register yet: a unit of a loaded map or of existing items (no typos like 草场街道)
        known = known_units(db)
        if unit not in known:
            hint = "；尚无已知单位，请先载入指标体系" if not known else "（指标体系中的责任单位或已有材料的单位）"
            raise UsageError("unknown unit", f"未知的单位「{unit}」{hint}")
        return
    row = db.execute("SELECT active FROM units WHERE name = ?", [unit]).fetchone()
    if row is not None:
        if not row[0]:
            raise UsageError("unit retired", f"单位「{unit}」已撤销，不能再给它开账号")
        return
    renamed = db.execute("SELECT u.name FROM unit_names n JOIN units u ON u.id = n.unit_id "
                         "WHERE n.name = ? ORDER BY n.until DESC LIMIT 1", [unit]).fetchone()
    if renamed:
        raise UsageError("unit renamed", f"单位「{unit}」已改名为「{renamed[0]}」，请用新名称")
    raise UsageError("unknown unit", f"未知的单位「{unit}」：请先在单位名录中添加（evidence unit add）")


def create_user(db, name: str, role: str, unit: str | None, password: str,
                by: str | None = None, ip: str | None = None) -> User:
    """Creates an account. Raises UsageError for a bad field or a name already taken."""
    name, unit = validate_new_user(name, role, unit, password)
    check_unit(db, unit)
    password_hash = generate_password_hash(password)
    with transaction(db):
        if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
            raise UsageError("user exists", f"用户名“{name}”已存在，请换一个名字")
        uid = insert(db, "users", {"name": name, "role": role, "unit": unit,
                                   "password_hash": password_hash, "created_at": utcnow()})
        audit.log(db, by, "user.create", target=name,
                  detail={"role": role, "unit": unit}, ip=ip)
    return get_user(db, uid)


def get_user(db, user_id: int) -> User | None:
    return _row_to_user(db.execute(f"SELECT {_COLS} FROM users WHERE id = ?", [user_id]).fetchone())


def get_user_by_name(db, name: str) -> User | None:
    return _row_to_user(db.execute(f"SELECT {_COLS} FROM users WHERE name = ?", [name]).fetchone())


def list_users(db) -> list[User]:
    return [_row_to_user(r) for r in db.execute(f"SELECT {_COLS} FROM users ORDER BY role, name").fetchall()]


def count_users(db) -> int:
    return db.execute("SELECT count(*) FROM users").fetchone()[0]


def _require(db, user_id: int) -> User:
    user = get_user(db, user_id)
    if user is None:
        raise NotFound("no such user", f"用户 {user_id} 不存在")
    return user


def authenticate(db, name: str, password: str) -> User | None:
    """The user for these credentials, or None (unknown name, wrong password, disabled)."""
    row = db.execute("SELECT id, password_hash, disabled FROM users WHERE name = ?",
                     [(name or "").strip()]).fetchone()
    if row is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(row[1], password or "") or row[2]:
        return None
    return get_user(db, row[0])


def set_password(db, user_id: int, password: str, by: str | None = None, ip: str | None = None,
                 keep_session: str | None = None) -> None:
    """A new password; every web session of the user ends except `keep_session` (the one
    that changed its own password stays logged in)."""
    user = _require(db, user_id)
    _check_password(password, user.name)
    password_hash = generate_password_hash(password)
    with transaction(db):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user_id])
        end_sessions(db, user_id, keep=keep_session)
        audit.log(db, by, "user.password", target=user.name, ip=ip)


def disable(db, user_id: int, by: str | None = None, ip: str | None = None) -> None:
    """Disables an account, revokes its API token and ends its web sessions. Accounts are
    never deleted (audit)."""
    user = _require(db, user_id)
    with transaction(db):
        db.execute("UPDATE users SET disabled = 1, api_token_hash = NULL WHERE id = ?", [user_id])
        end_sessions(db, user_id)
        audit.log(db, by, "user.disable", target=user.name, ip=ip)


# -- web sessions -------------------------------------------------------------------------

def open_session(db, user_id: int, ip: str | None = None) -> str:
    """A new web session for the user; returns the token the session cookie carries (only its
    SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    oldest = _ts(datetime.now(timezone.utc) - SESSION_MAX_AGE)
    with transaction(db):
        # sessions nobody logged out of do not pile up: past SESSION_MAX_AGE they end
        db.execute("DELETE FROM web_sessions WHERE created_at < ?", [oldest])
        insert(db, "web_sessions", {"token_hash": _token_hash(token), "user_id": user_id,
                                    "created_at": utcnow(), "ip": ip})
    return token


def session_user(db, token: str | None) -> User | None:
    """The enabled user a session token belongs to, or None (logged out, ended, unknown)."""
    if not token:
        return None
    oldest = _ts(datetime.now(timezone.utc) - SESSION_MAX_AGE)
    row = db.execute("SELECT u.id, u.name, u.role, u.unit, u.disabled, u.created_at, "
                     "u.api_token_hash IS NOT NULL FROM web_sessions s JOIN users u ON u.id = s.user_id "
                     "WHERE s.token_hash = ? AND u.disabled = 0 AND s.created_at >= ?",
                     [_token_hash(token), oldest]).fetchone()
    return _row_to_user(row)


def close_session(db, token: str | None) -> None:
    """Logout: this session's token stops working, even if the cookie was copied."""
    if token:
        with transaction(db):
            db.execute("DELETE FROM web_sessions WHERE token_hash = ?", [_token_hash(token)])


def end_sessions(db, user_id: int, keep: str | None = None) -> None:
    """Inside the caller's transaction: every web session of the user ends but `keep`."""
    db.execute("DELETE FROM web_sessions WHERE user_id = ? AND token_hash != ?",
               [user_id, _token_hash(keep) if keep else ""])


def enable(db, user_id: int, by: str | None = None, ip: str | None = None) -> None:
    user = _require(db, user_id)
    with transaction(db):
        db.execute("UPDATE users SET disabled = 0 WHERE id = ?", [user_id])
        audit.log(db, by, "user.enable", target=user.name, ip=ip)


def update_user(db, user_id: int, role: str, unit: str | None, by: str | None = None,
                ip: str | None = None) -> User:
    """Changes an account's role and unit (same rules as creation: a clerk needs a unit)."""
    user = _require(db, user_id)
    unit = (unit or "").strip() or None
    if role not in ROLES:
        raise UsageError("unknown role", f"未知角色 {role}")
    if role == "clerk" and not unit:
        raise UsageError("clerk needs a unit", "资料员必须指定所属单位")
    if (role, unit) == (user.role, user.unit):
        return user
    if unit != user.unit:
        check_unit(db, unit)
    with transaction(db):
        db.execute("UPDATE users SET role = ?, unit = ? WHERE id = ?", [role, unit, user_id])
        end_sessions(db, user_id)      # what the user may do changed: log in again
        audit.log(db, by, "user.update", target=user.name,
                  detail={"old": {"role": user.role, "unit": user.unit}, "new": {"role": role, "unit": unit}},
                  ip=ip)
    return get_user(db, user_id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(db, user_id: int, by: str | None = None, ip: str | None = None) -> str:
    """A new API token for the user (replacing any old one). Shown once; only its hash is kept."""
    user = _require(db, user_id)
    if user.disabled:
        raise UsageError("user disabled", f"用户“{user.name}”已停用，不能签发令牌")
    token = "ea_" + secrets.token_urlsafe(32)
    with transaction(db):
        db.execute("UPDATE users SET api_token_hash = ? WHERE id = ?", [_token_hash(token), user_id])
        audit.log(db, by, "user.token", target=user.name, ip=ip)
    return token


def revoke_token(db, user_id: int, by: str | None = None, ip: str | None = None) -> None:
    user = _require(db, user_id)
    with transaction(db):
        db.execute("UPDATE users SET api_token_hash = NULL WHERE id = ?", [user_id])
        audit.log(db, by, "user.token_revoke", target=user.name, ip=ip)


def user_for_token(db, token: str | None) -> User | None:
    """The enabled user holding this API token, or None."""
    if not token or len(token) > 200:
        return None
    wanted = _token_hash(token)
    row = db.execute(f"SELECT {_COLS}, api_token_hash FROM users WHERE api_token_hash = ?",
                     [wanted]).fetchone()
    if row is None or not hmac.compare_digest(row[7], wanted) or row[4]:
        return None
    return _row_to_user(row[:7])


# -- login throttling ------------------------------------------------------------------

def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def login_locked_until(db, name: str, ip: str | None, now: datetime | None = None) -> datetime | None:
    """When (IP, name) may try again, or None if it may try now.

    Counts `login.failed` audit rows in the last LOGIN_WINDOW since that pair's last
    successful login; the lock lifts when enough of them have aged out of the window.
    """
    now = now or datetime.now(timezone.utc)
    since = _ts(now - LOGIN_WINDOW)
    name = (name or "").strip()
    last_ok = db.execute(
        "SELECT max(at) FROM audit WHERE action = 'login' AND user = ? AND ip IS ?",
        [name, ip]).fetchone()[0] or ""
    fails = [r[0] for r in db.execute(
        "SELECT at FROM audit WHERE action = 'login.failed' AND at >= ? AND at > ? "
        "AND user = ? AND ip IS ? ORDER BY at DESC LIMIT ?",
        [since, last_ok, name, ip, LOGIN_MAX_FAILURES]).fetchall()]
    if len(fails) >= LOGIN_MAX_FAILURES:
        return _parse_ts(fails[-1]) + LOGIN_WINDOW
    ip_fails = [r[0] for r in db.execute(
        "SELECT at FROM audit WHERE action = 'login.failed' AND at >= ? AND ip IS ? "
        "ORDER BY at DESC LIMIT ?", [since, ip, LOGIN_MAX_FAILURES_PER_IP]).fetchall()]
    if len(ip_fails) >= LOGIN_MAX_FAILURES_PER_IP:
        return _parse_ts(ip_fails[-1]) + LOGIN_WINDOW
    return None


def login(db, name: str, password: str, ip: str | None = None) -> User:
    """Authenticates with throttling and audit. Raises UsageError with a Chinese message."""
    name = (name or "").strip()
    # The lock check and the failure row are one write transaction (BEGIN IMMEDIATE), so
    # parallel attempts queue on the write lock: each sees the failures recorded before
    # it, and at most LOGIN_MAX_FAILURES passwords are ever tested. The row is provisional:
    # a right password replaces it with the `login` row.
    with transaction(db):
        locked = login_locked_until(db, name, ip)
        if locked is not None:
            audit.log(db, name, "login.locked", ip=ip)
        else:
            audit.log(db, name, "login.failed", ip=ip)
            failed_row = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    if locked is not None:
        minutes = max(1, int((locked - datetime.now(timezone.utc)).total_seconds() // 60) + 1)
        raise UsageError("login locked",
                         f"登录失败次数过多，请约 {minutes} 分钟后再试")
    user = authenticate(db, name, password)
    if user is not None:
        with transaction(db):
            db.execute("DELETE FROM audit WHERE id = ? AND action = 'login.failed'", [failed_row])
            audit.log(db, user.name, "login", ip=ip)
    if user is None:
        raise UsageError("bad credentials", "用户名或密码错误，或账号已停用")
    return user


def ensure_first_admin(db) -> str | None:
    """On a fresh archive with no accounts, creates `admin` with a random one-time password
    and returns it (the caller prints it once); otherwise None. Never a default password."""
    if count_users(db):
        return None
    password = secrets.token_urlsafe(12)
    try:
        create_user(db, "admin", "admin", None, password, by="system")
    except UsageError:
        return None  # another process created it first
    return password
