"""The `evidence` command: parses arguments, calls archive/, prints. Nothing else lives here."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.config import default_instance_dir
from archive.errors import ArchiveError, UsageError
from archive.instance import Instance


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail_usage(err: ArchiveError | str) -> None:
    click.echo(f"错误: {err}", err=True)
    sys.exit(2)


def open_instance(ctx: click.Context) -> Instance:
    try:
        return Instance.open(ctx.obj["instance_dir"])
    except ArchiveError as e:
        fail_usage(e)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", "instance_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="实例目录 (默认 $EVIDENCE_INSTANCE 或 ./instance)")
@click.pass_context
def cli(ctx, instance_dir):
    """创文资料档案 Evidence Archive: 材料入库、检索、完整度与网上申报材料包。"""
    ctx.ensure_object(dict)
    ctx.obj["instance_dir"] = instance_dir or default_instance_dir()


# ---- section: map (indicators) -------------------------------------------------
# ---- end section: map ----------------------------------------------------------

# ---- section: ingest / items ------------------------------------------------------
# ---- end section: ingest / items --------------------------------------------------

# ---- section: search ---------------------------------------------------------------
# ---- end section: search -------------------------------------------------------------

# ---- section: coverage / export / verify / package ----------------------------------
# ---- end section: coverage / export / verify / package ------------------------------

# ---- section: users / serve ------------------------------------------------------------
# ---- end section: users / serve --------------------------------------------------------


if __name__ == "__main__":
    cli()
