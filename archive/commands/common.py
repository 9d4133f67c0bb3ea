"""What every CLI command shares: --json, opening the instance, ArchiveError → one line + exit 2.

Modelled on sqlite-utils' cli.py: options as decorators, the library does the work.
"""
from __future__ import annotations

import functools
import getpass
import json
import sys

import click

from archive.core.errors import ArchiveError
from archive.core.instance import Instance

ITEM_ID = click.IntRange(1, 2**63 - 1)   # SQLite's rowid range: a bigger number is a typo, not a crash


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail_usage(err: ArchiveError | str) -> None:
    """One line on stderr, exit 2 (usage or configuration error, CONTRACT "CLI")."""
    click.echo(f"错误: {one_line(str(err))}", err=True)
    sys.exit(2)


def one_line(text: str) -> str:
    """A message printed as one line even when it quotes a file name with a newline in it."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


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
    """The instance named by the global --instance, closed when the command ends."""
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
    """Decorator: the command receives the open instance as its first argument; an
    ArchiveError it raises becomes one line on stderr and exit status 2."""
    @click.pass_context
    @functools.wraps(fn)
    def wrapper(ctx, *args, **kwargs):
        inst = open_instance(ctx)
        try:
            return fn(inst, *args, **kwargs)
        except ArchiveError as e:
            fail_usage(e)
    return wrapper
