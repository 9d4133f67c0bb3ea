"""`evidence serve` stopped by SIGTERM (systemd, `kill`) ends as Ctrl+C does: exit 0, the OCR
worker's processes shut down, nothing left for multiprocessing's resource tracker to reap."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from archive.jobs.ocr import ocr_available

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_stops_the_server_cleanly(tmp_path):
    inst = tmp_path / "inst"
    cli = [sys.executable, str(ROOT / "cli.py"), "--instance", str(inst)]
    subprocess.run([*cli, "init", "--map", str(ROOT / "indicator_map.yaml")], check=True,
                   capture_output=True, cwd=tmp_path, timeout=120)
    port = _free_port()
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # serving once the port answers
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        time.sleep(1)   # the OCR worker thread starts its pool of processes
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "提供服务" in out
    assert "leaked" not in err and "Traceback" not in err, err
    if ocr_available():   # the OCR worker and its pool of processes were running at the signal
        assert "未安装离线 OCR" not in out
