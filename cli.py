"""The `evidence` command: the root group and one line per area. The commands live in
archive/commands/<area>.py (parse, call archive/, print); shared options in commands/common.py."""
from __future__ import annotations

from pathlib import Path

import click

from archive.commands import (cycles, evidence, extract, inspection, maintenance, maps, package, readiness,
                              search, serve, units, users)
from archive.commands import photos
from archive.commands.common import ArchiveGroup
from archive.core.config import default_instance_dir


@click.group(cls=ArchiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", "instance_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="实例目录 (默认 $EVIDENCE_INSTANCE 或 ./instance)")
@click.pass_context
def cli(ctx, instance_dir):
    """创文资料档案 Evidence Archive: 材料入库、检索、完整度与网上申报材料包。"""
    ctx.ensure_object(dict)
    ctx.obj["instance_dir"] = instance_dir or default_instance_dir()


def register(area) -> None:
    """Add an area's commands (its module's COMMANDS list) to the root group."""
    for command in area.COMMANDS:
        cli.add_command(command)


register(maps)          # init, map check|show|load|diff|list|activate|retire|delete|migrate
register(cycles)        # cycle add|list|show|start|close
register(evidence)      # add, import, show, review
register(search)        # search
register(readiness)     # coverage
register(package)       # export, verify, package diff
register(maintenance)   # reindex, fsck, backup, ocr
register(extract)       # reextract
register(users)         # user add
register(serve)         # serve
register(inspection)    # site …, problem …, round …, ledger (督查整改, 模拟测评)
register(units)         # unit …, duty …, deadline …, owed, remind, rank (任务分工, 催办, 排名)
register(photos)        # settings set|show, photos reuse|hash (照片检查)


if __name__ == "__main__":
    cli()
