"""`user add`: accounts for the web app."""
from __future__ import annotations

import sys

import click

from .common import cli_user, pass_instance


@click.group("user")
def user_group():
    """账号管理：资料员 clerk、审核员 reviewer、审计员 auditor、管理员 admin。"""


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["clerk", "reviewer", "auditor", "admin"]),
              help="角色：clerk 资料员 / reviewer 审核员 / auditor 审计员 / admin 管理员")
@click.option("--unit", default=None, help="所属单位（资料员必填）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行），不提示")
@pass_instance
def user_add(inst, name, role, unit, password_stdin):
    """新建账号；密码提示输入两次（或 --password-stdin）。"""
    from archive import users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    from archive.units.duties import ensure_seeded

    ensure_seeded(inst)   # the map's units are in the register before the unit is checked
    user = users.create_user(inst.db, name, role, unit, password, by=cli_user())
    click.echo(f"已创建账号 {user.name}（{user.role_label}{'，' + user.unit if user.unit else ''}）")


COMMANDS = [user_group]
