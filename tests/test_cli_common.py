"""archive/commands/common.py: the one error line, the instance opened once and closed, the bar."""
from __future__ import annotations

import io
import sys

import click

from archive.commands.common import ArchiveGroup, pass_instance, progress_bar
from archive.core.errors import Refusal, UsageError
from archive.core.instance import Instance


def make_cli(body):
    @click.group(cls=ArchiveGroup)
    @click.option("--instance", "instance_dir")
    @click.pass_context
    def root(ctx, instance_dir):
        ctx.ensure_object(dict)
        ctx.obj["instance_dir"] = instance_dir

    @root.command("go")
    @pass_instance
    def go(inst):
        body(inst)
    return root


def test_archive_error_is_one_line_and_exit_2(runner, instance):
    def body(inst):
        raise Refusal("bad thing", "坏文件\n第二行.pdf 不能用")
    r = runner.invoke(make_cli(body), ["--instance", str(instance.root), "go"])
    assert r.exit_code == 2
    assert r.stderr == "错误: 坏文件\\n第二行.pdf 不能用 (bad thing)\n"
    assert "Traceback" not in r.output


def test_instance_opened_once_and_closed_even_on_error(runner, instance, monkeypatch):
    opened, closed = [], []
    real_open, real_close = Instance.open, Instance.close
    monkeypatch.setattr(Instance, "open", classmethod(lambda cls, root, *a: opened.append(root)
                                                      or real_open(root, *a)))
    monkeypatch.setattr(Instance, "close", lambda self: closed.append(self) or real_close(self))

    def body(inst):
        from archive.commands.common import open_instance
        assert open_instance(click.get_current_context()) is inst   # the same handle, not a second open
        raise UsageError("nope", "不行")
    r = runner.invoke(make_cli(body), ["--instance", str(instance.root), "go"])
    assert r.exit_code == 2 and len(opened) == 1 and len(closed) == 1


def test_missing_instance_is_exit_2(runner, tmp_path):
    r = runner.invoke(make_cli(lambda inst: None), ["--instance", str(tmp_path / "nope"), "go"])
    assert r.exit_code == 2 and r.stderr.startswith("错误: ") and r.stderr.count("\n") == 1


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch):
    with progress_bar("入库") as update:
        assert update is None          # pytest's stderr is not a terminal: scripts see no bar
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    with progress_bar("入库") as update:
        update(0, 0, "")               # no total yet: nothing drawn
        assert tty.getvalue() == ""
        update(1, 3, "a.pdf")
        update(3, 3, "c.pdf")          # absolute counts: a skipped call is no problem
    assert "入库" in tty.getvalue() and "3/3" in tty.getvalue()
