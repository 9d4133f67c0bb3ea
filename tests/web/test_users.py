"""archive.users: validation, hashing, tokens, throttling, audit rows; CLI `user add`, `serve` first run."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archive import users
from archive.core.errors import UsageError


def audit_rows(db, action=None):
    sql = "SELECT user, action, target, ip FROM audit"
    params = []
    if action:
        sql += " WHERE action = ?"
        params.append(action)
    return [tuple(r) for r in db.execute(sql + " ORDER BY id", params)]


def test_create_and_authenticate(instance):
    db = instance.db
    u = users.create_user(db, "张三", "clerk", "草场街街道", "password-123", by="admin", ip="10.0.0.1")
    assert (u.name, u.role, u.unit, u.role_label) == ("张三", "clerk", "草场街街道", "资料员")
    stored = db.execute("SELECT password_hash FROM users WHERE id = ?", [u.id]).fetchone()[0]
    assert "password-123" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert users.authenticate(db, "张三", "password-123").id == u.id
    assert users.authenticate(db, "张三", "wrong-password") is None
    assert users.authenticate(db, "nobody", "password-123") is None
    assert audit_rows(db, "user.create") == [("admin", "user.create", "张三", "10.0.0.1")]


def test_real_hashing_is_scrypt(instance, monkeypatch):
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(users, "generate_password_hash", generate_password_hash)
    u = users.create_user(instance.db, "real", "auditor", None, "password-123")
    h = instance.db.execute("SELECT password_hash FROM users WHERE id = ?", [u.id]).fetchone()[0]
    assert h.startswith("scrypt:")


@pytest.mark.parametrize("name,role,unit,password,message", [
    ("a", "boss", None, "password-123", "未知角色"),
    ("a", "clerk", None, "password-123", "资料员必须指定所属单位"),
    ("a", "clerk", "  ", "password-123", "资料员必须指定所属单位"),
    ("a", "auditor", None, "short", "至少需要 8 个字符"),
    ("", "auditor", None, "password-123", "用户名不能为空"),
    ("a b", "auditor", None, "password-123", "用户名不能含空格"),
])
def test_create_user_validation(instance, name, role, unit, password, message):
    with pytest.raises(UsageError) as e:
        users.create_user(instance.db, name, role, unit, password)
    assert message in e.value.message_zh
    assert users.count_users(instance.db) == 0


def test_duplicate_name_has_clear_chinese_error(instance):
    users.create_user(instance.db, "李四", "auditor", None, "password-123")
    with pytest.raises(UsageError) as e:
        users.create_user(instance.db, "李四", "reviewer", None, "password-456")
    assert "用户名“李四”已存在" in str(e.value)
    assert users.count_users(instance.db) == 1


def test_set_password_disable_enable(instance):
    db = instance.db
    u = users.create_user(db, "u1", "reviewer", None, "password-123")
    users.set_password(db, u.id, "password-456", by="admin")
    assert users.authenticate(db, "u1", "password-123") is None
    assert users.authenticate(db, "u1", "password-456") is not None
    with pytest.raises(UsageError):
        users.set_password(db, u.id, "short")
    users.disable(db, u.id, by="admin")
    assert users.authenticate(db, "u1", "password-456") is None
    users.enable(db, u.id, by="admin")
    assert users.authenticate(db, "u1", "password-456") is not None
    assert [r[1] for r in audit_rows(db) if r[1].startswith("user.")] == [
        "user.create", "user.password", "user.disable", "user.enable"]


def test_tokens(instance):
    db = instance.db
    u = users.create_user(db, "bot", "auditor", None, "password-123")
    token = users.issue_token(db, u.id, by="admin")
    assert token not in str(db.execute("SELECT * FROM users").fetchall())
    assert users.user_for_token(db, token).id == u.id
    assert users.user_for_token(db, token + "x") is None
    assert users.user_for_token(db, "") is None
    second = users.issue_token(db, u.id, by="admin")
    assert users.user_for_token(db, token) is None and users.user_for_token(db, second).id == u.id
    users.disable(db, u.id, by="admin")
    assert users.user_for_token(db, second) is None
    assert [r[1] for r in audit_rows(db)].count("user.token") == 2


def test_login_throttle(instance):
    db = instance.db
    users.create_user(db, "w", "reviewer", None, "password-123")
    for _ in range(users.LOGIN_MAX_FAILURES):
        with pytest.raises(UsageError) as e:
            users.login(db, "w", "bad", ip="1.2.3.4")
        assert e.value.key == "bad credentials"
    with pytest.raises(UsageError) as e:
        users.login(db, "w", "password-123", ip="1.2.3.4")   # right password, still locked
    assert e.value.key == "login locked" and "分钟后再试" in e.value.message_zh
    assert users.login(db, "w", "password-123", ip="5.6.7.8").name == "w"   # another IP
    later = datetime.now(timezone.utc) + users.LOGIN_WINDOW + timedelta(seconds=2)
    assert users.login_locked_until(db, "w", "1.2.3.4", now=later) is None
    assert len(audit_rows(db, "login.failed")) == users.LOGIN_MAX_FAILURES
    assert audit_rows(db, "login.locked") == [("w", "login.locked", None, "1.2.3.4")]


def test_ensure_first_admin(instance):
    pw = users.ensure_first_admin(instance.db)
    assert pw and len(pw) >= 12
    assert users.authenticate(instance.db, "admin", pw).role == "admin"
    assert users.ensure_first_admin(instance.db) is None


# -- CLI -------------------------------------------------------------------------------------

def test_cli_user_add_password_stdin(runner, instance):
    from cli import cli

    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "王五", "--role", "clerk",
                            "--unit", "市教育局", "--password-stdin"], input="password-123\n")
    assert r.exit_code == 0, r.output
    assert "已创建账号 王五" in r.output
    assert users.authenticate(instance.db, "王五", "password-123").unit == "市教育局"


def test_cli_user_add_prompts_twice(runner, instance):
    from cli import cli

    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "赵六", "--role", "auditor"],
                      input="password-123\npassword-123\n")
    assert r.exit_code == 0, r.output
    assert users.authenticate(instance.db, "赵六", "password-123") is not None


@pytest.mark.parametrize("args,stdin,message", [
    (["--role", "clerk"], "password-123\n", "资料员必须指定所属单位"),
    (["--role", "auditor"], "short\n", "至少需要 8 个字符"),
])
def test_cli_user_add_errors_exit_2(runner, instance, args, stdin, message):
    from cli import cli

    r = runner.invoke(cli, ["--instance", str(instance.root), "user", "add", "x", *args, "--password-stdin"],
                      input=stdin)
    assert r.exit_code == 2
    assert message in r.output


def test_cli_user_add_duplicate_exit_2(runner, instance):
    from cli import cli

    base = ["--instance", str(instance.root), "user", "add", "dup", "--role", "auditor", "--password-stdin"]
    assert runner.invoke(cli, base, input="password-123\n").exit_code == 0
    r = runner.invoke(cli, base, input="password-123\n")
    assert r.exit_code == 2 and "已存在" in r.output


def test_serve_first_run_prints_admin_password_once(runner, instance, monkeypatch):
    import waitress

    from cli import cli

    calls = []

    class FakeServer:
        def run(self):
            calls[-1]["ran"] = True

    def create_server(app, **kw):
        calls.append(kw)
        return FakeServer()

    monkeypatch.setattr(waitress, "create_server", create_server)
    monkeypatch.setattr("archive.commands.serve.probe_port", lambda host, port: None)  # 5099 may be busy on this machine
    r = runner.invoke(cli, ["--instance", str(instance.root), "serve", "--port", "5099"])
    assert r.exit_code == 0, r.output
    assert "一次性密码" in r.output
    password = [line.split("：", 1)[1].strip() for line in r.output.splitlines() if line.startswith("一次性密码")][0]
    assert users.authenticate(instance.db, "admin", password).role == "admin"
    assert calls[0]["port"] == 5099 and calls[0]["threads"] >= 8 and calls[0]["ran"]
    r2 = runner.invoke(cli, ["--instance", str(instance.root), "serve"])
    assert r2.exit_code == 0 and "一次性密码" not in r2.output and password not in r2.output
    assert users.count_users(instance.db) == 1


def test_serve_on_missing_instance_exit_2(runner, tmp_path):
    from cli import cli

    r = runner.invoke(cli, ["--instance", str(tmp_path / "nope"), "serve"])
    assert r.exit_code == 2


def test_serve_on_busy_port_is_a_clear_error_and_makes_no_admin(runner, instance):
    import socket

    from cli import cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = runner.invoke(cli, ["--instance", str(instance.root), "serve", "--port", str(port)])
    assert r.exit_code == 2
    assert "端口已被占用" in r.stderr and "Traceback" not in r.output
    assert users.count_users(instance.db) == 0


def test_update_user(instance):
    db = instance.db
    u = users.create_user(db, "调岗", "clerk", "市教育局", "password-123")
    with pytest.raises(UsageError):
        users.update_user(db, u.id, "clerk", "", by="admin")
    with pytest.raises(UsageError):
        users.update_user(db, u.id, "boss", None, by="admin")
    moved = users.update_user(db, u.id, "clerk", "草场街街道", by="admin", ip="10.0.0.2")
    assert (moved.role, moved.unit) == ("clerk", "草场街街道")
    assert users.update_user(db, u.id, "reviewer", None, by="admin").role == "reviewer"
    assert [r[1] for r in audit_rows(db, "user.update")] == ["user.update", "user.update"]


def test_parallel_wrong_guesses_cannot_pass_the_throttle(instance, monkeypatch):
    """Each thread is its own Instance (own connection), as under waitress: the lock check,
    the recorded failure and the password test must not race, so at most
    LOGIN_MAX_FAILURES passwords are ever tested for one (IP, name)."""
    import threading
    import time

    from archive.core.instance import Instance

    users.create_user(instance.db, "p", "reviewer", None, "password-123")
    real_check = users.check_password_hash
    checks = []
    guard = threading.Lock()

    def counting_check(pwhash, password):
        with guard:
            checks.append(password)
        time.sleep(0.05)   # a slow hash widens the window between check and record
        return real_check(pwhash, password)

    monkeypatch.setattr(users, "check_password_hash", counting_check)
    n = 16
    barrier = threading.Barrier(n)
    outcomes = []

    def attempt(i):
        inst = Instance(instance.root)
        try:
            barrier.wait()
            users.login(inst.db, "p", f"guess-{i}", ip="9.9.9.9")
        except UsageError as e:
            with guard:
                outcomes.append(e.key)
        finally:
            inst.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == n
    assert len(checks) <= users.LOGIN_MAX_FAILURES
    assert outcomes.count("bad credentials") == len(checks)
    assert outcomes.count("login locked") == n - len(checks)
    assert users.login_locked_until(instance.db, "p", "9.9.9.9") is not None
    with pytest.raises(UsageError) as e:
        users.login(instance.db, "p", "password-123", ip="9.9.9.9")
    assert e.value.key == "login locked"
    assert len(audit_rows(instance.db, "login.failed")) == len(checks)


def test_right_password_leaves_no_failure_row(instance):
    users.create_user(instance.db, "q", "reviewer", None, "password-123")
    users.login(instance.db, "q", "password-123", ip="1.1.1.1")
    assert audit_rows(instance.db, "login.failed") == []
    assert audit_rows(instance.db, "login") == [("q", "login", None, "1.1.1.1")]
    assert users.login_locked_until(instance.db, "q", "1.1.1.1") is None
