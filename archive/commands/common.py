"""What every CLI command shares: --json, opening the instance once, one error line, a progress bar.

Modelled on sqlite-utils' cli.py: options as decorators, the library does the work. An
ArchiveError escaping any command becomes `错误: 中文说明 (english key)` on one line of stderr
and exit status 2 (ArchiveGroup), so commands carry no try/except of their own unless they mean
something else by it (export: exit 1; map errors: one line per problem first).
"""
from __future__ import annotations

import functools
import getpass
import json
import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn

import click

from archive.core.sqlite import sqlite3
from archive.core.db import explain
from archive.core.errors import ArchiveError, os_reason
from archive.core.instance import Instance
from archive.core.progress import Progress

ITEM_ID = click.IntRange(1, 2**63 - 1)   # SQLite's rowid range: a bigger number is a typo, not a crash


def one_line(text: str) -> str:
    """A message printed as one line even when it quotes a file name with a newline in it."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class CommandError(click.ClickException):
    """`错误: message` as one line on stderr; exit 2 (usage or configuration) unless told
    otherwise or the ArchiveError says otherwise (a damaged database: 1)."""

    def __init__(self, message: ArchiveError | str, exit_code: int | None = None):
        super().__init__(one_line(str(message)))
        self.exit_code = exit_code if exit_code is not None else getattr(message, "exit_code", 2)

    def show(self, file=None) -> None:
        click.echo(f"错误: {self.message}", err=True)


class ArchiveGroup(click.Group):
    """The root group: an ArchiveError from any command becomes a CommandError (exit 2, or the
    error's own exit_code); a SQLite failure (damaged page, full disk, read-only instance) and
    an OS error the command did not expect become one line too, exit 1 — never a traceback.
    The instance is still closed: click runs ctx.call_on_close callbacks on the way out."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArchiveError as e:
            raise CommandError(e) from e
        except sqlite3.Error as e:
            raise CommandError(explain(e)) from e
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise CommandError(f"无法读写{where}：{os_reason(e)} (os error)", exit_code=1) from e


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail_usage(err: ArchiveError | str) -> NoReturn:
    """One line on stderr, exit 2 (usage or configuration error, CONTRACT "CLI")."""
    raise CommandError(err)


def refused_line(path: str, reason: str) -> str:
    """`refused: PATH: 说明 (key)` — one line even for a file name with a newline in it."""
    return one_line(f"refused: {path}: {reason}")


def cli_user() -> str:
    """Who the audit log names for a CLI action: the OS account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def json_option(help_text: str = "以 JSON 输出"):
    """`--json` as the `as_json` parameter, the same on every listing command."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def open_instance(ctx: click.Context) -> Instance:
    """The instance named by the global --instance, opened once per command run and closed
    when the command ends (ctx.call_on_close); an unusable instance is exit 2."""
    root = ctx.find_root()
    inst = root.obj.get("_instance") if root.obj else None
    if inst is None:
        try:
            inst = Instance.open(root.obj["instance_dir"])
        except ArchiveError as e:
            fail_usage(e)
        root.obj["_instance"] = inst
        root.call_on_close(inst.close)
    return inst


def pass_instance(fn):
    """Decorator (put it right above `def`): the command receives the open instance first."""
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx, *args, **kwargs):
        return fn(open_instance(ctx), *args, **kwargs)
    return wrapper


@contextmanager
def progress_bar(label: str) -> Iterator[Progress | None]:
    """A Progress callback drawing a bar on stderr when it is a terminal, else None (scripts, CI).
    The bar appears on the first call that reports a non-zero total."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list = []

    def update(done: int, total: int, message: str) -> None:
        if not bars:
            if not total:
                return
            bars.append(click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True))
            bars[0].__enter__()
        bars[0].update(max(0, done - bars[0].pos))
    try:
        yield update
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
