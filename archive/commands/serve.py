"""`serve`: the web app under waitress (the production WSGI server, not Flask's dev server)."""
from __future__ import annotations

import signal

import click

from .common import fail_usage, open_instance

STOP_WAIT_S = 10   # for the OCR worker to finish the file in hand and shut its processes down


def probe_port(host: str, port: int) -> None:
    """Raise OSError when host:port cannot be bound (busy, or not an address of this machine)."""
    import socket

    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=int, help="端口")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(8, 256),
              help="waitress 工作线程数 (≥ 8)")
@click.pass_context
def serve(ctx, host, port, threads):
    """启动网页服务（waitress）。首次运行且无账号时创建 admin 并在终端打印一次性密码。"""
    from archive import users
    from archive.jobs.ocr import start_background_worker
    from archive.web import create_app
    from archive.web.server import create_server

    inst = open_instance(ctx)   # a missing instance is a usage error before anything binds
    inst.close()
    instance_dir = ctx.find_root().obj["instance_dir"]
    app = create_app({"INSTANCE": str(instance_dir)})
    try:
        # Bind first, so a busy port is a clear message before any first-run password is made.
        # The probe is ours: waitress leaks its socket when its own bind fails.
        probe_port(host, port)
        # One file per request up to Limits.max_request_bytes; waitress's refusals in Chinese.
        server = create_server(app, host=host, port=port, threads=threads)
    except OSError as e:
        fail_usage(f"无法在 {host}:{port} 上启动服务：{e.strerror}（端口已被占用？可用 --port 换一个） (cannot bind)")
    password = users.ensure_first_admin(inst.db)
    inst.close()   # the app opens its own connection per request
    if password:
        click.echo("=" * 60)
        click.echo("首次运行：已创建管理员账号 admin")
        click.echo(f"一次性密码：{password}")
        click.echo("请立即登录并在“修改密码”中更改；此密码不会再次显示。")
        click.echo("=" * 60)
    worker = start_background_worker(instance_dir)
    if worker is None:
        click.echo("提示：未安装离线 OCR 引擎（tesseract-ocr-chi-sim），扫描件暂不能按图像内容检索")
    click.echo(f"创文资料档案 正在 http://{host}:{port}/ 提供服务（Ctrl+C 停止）")
    # systemd and `kill` stop a service with SIGTERM: end as Ctrl+C does (waitress stops on
    # KeyboardInterrupt), so the OCR worker's processes are shut down, not left to be reaped
    # by multiprocessing's resource tracker ("leaked semaphore objects" on every stop).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if worker is not None:
            worker.stop.set()
            worker.join(timeout=STOP_WAIT_S)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


COMMANDS = [serve]
