"""`evidence reextract`: bring items whose text came from an older extractor up to date."""
from __future__ import annotations

import sys

import click

from archive.commands.common import cli_user, emit_json, json_option, pass_instance


@click.command("reextract")
@json_option()
@pass_instance
def reextract(inst, as_json):
    """从已存原件重新提取文字（提取方式升级后运行，如 PDF 改用 pdftotext）；可随时中断、再次运行续做。"""
    from archive.evidence.reextract import reextract as run

    def progress(done, total, label):
        if not as_json and (done == total or done % 50 == 0):
            click.echo(f"重新提取 {done}/{total}", err=True)

    report = run(inst, user=cli_user(), progress=progress)
    if as_json:
        emit_json(report)
    else:
        click.echo(f"已重新提取 {len(report['done'])} 条，失败 {len(report['failed'])} 条（共 {report['total']} 条待更新）")
    for f in report["failed"]:
        click.echo(f"failed: #{f['id']}: {f['reason']}", err=True)
    sys.exit(1 if report["failed"] else 0)


COMMANDS = [reextract]
