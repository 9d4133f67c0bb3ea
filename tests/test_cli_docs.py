"""Every CLI command has help and is shown in the README's walk-through (as sqlite-utils' test_docs)."""
from __future__ import annotations

import re

import click
import pytest

from cli import cli
from tests.conftest import ROOT


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()):
    """(path, command) for every leaf command under `group`, e.g. (("map", "check"), <Command>)."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            assert command.help, f"group {' '.join(prefix + (name,))} has no help"
            yield from command_paths(command, prefix + (name,))
        else:
            yield prefix + (name,), command


COMMANDS = list(command_paths(cli))


def walk_through() -> str:
    """Every `$E …` line of the README: the walk-through and each area's own examples."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## CLI walk-through" in readme
    lines = [line for line in readme.splitlines() if line.lstrip().startswith("$E ")]
    # several short commands may share a line: `$E site list ; $E site show X`
    return "\n".join(part.strip() for line in lines for part in line.split(" ; "))


def test_the_tree_is_walked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"init", "map check", "import", "package diff", "user add", "serve"} <= names


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path, command, runner):
    assert command.help and command.help.strip(), f"{' '.join(path)} has no docstring"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
    r = runner.invoke(cli, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert command.help.splitlines()[0] in r.output


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_in_readme_walk_through(path):
    pattern = r"^\s*\$E " + r"\s+".join(map(re.escape, path)) + r"(\s|$)"
    assert re.search(pattern, walk_through(), re.M), f"README walk-through lacks `$E {' '.join(path)}`"


def test_every_listing_command_has_the_same_json_option():
    helps = {opt.help for _, c in COMMANDS for opt in c.params if "--json" in getattr(opt, "opts", ())}
    assert helps == {"以 JSON 输出"}
