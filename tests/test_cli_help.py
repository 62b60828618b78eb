"""Every command and group has help with an example, and ``--help`` works for each.

The command tree is walked at test time, so commands added later (any ``cli/cmd_*.py``) are
covered without editing this file."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from wpprivsync.cli.main import cli


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
            found += _walk(sub, path + (name,))
    return found


COMMANDS = _walk(cli)


def _id(path: tuple[str, ...]) -> str:
    return " ".join(path) or "wpprivsync"


def test_the_tree_has_the_foundation_commands():
    paths = {p for p, _ in COMMANDS}
    assert {(), ("config",), ("config", "show"), ("doctor",)} <= paths


@pytest.mark.parametrize("path, command", COMMANDS, ids=[_id(p) for p, _ in COMMANDS])
def test_help_has_an_example(path, command):
    assert command.help and command.help.strip(), f"`{_id(path)}` has no help text"
    assert command.short_help is None or command.short_help.strip()
    result = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Example:" in text, f"`{_id(path)} --help` shows no 'Example:' section"
    # the example is a real invocation of this very command
    example_lines = text.split("Example:", 1)[1].strip().splitlines()
    assert example_lines and example_lines[0].strip().startswith("wpprivsync"), example_lines[:1]
    words = " ".join(line.strip() for line in example_lines if line.strip().startswith("wpprivsync")).split()
    for name in path:
        assert name in words, f"the example of `{_id(path)}` does not use {name!r}"


@pytest.mark.parametrize("path, command", COMMANDS, ids=[_id(p) for p, _ in COMMANDS])
def test_every_option_is_described(path, command):
    undescribed = [p.opts[0] for p in command.params
                   if isinstance(p, click.Option) and not p.hidden and not p.help]
    assert undescribed == [], f"options of `{_id(path)}` without help: {undescribed}"


def test_group_lists_its_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in cli.list_commands(click.Context(cli)):
        assert name in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_restrict_help_names_lifting_and_the_objection():
    from click.testing import CliRunner

    out = " ".join(CliRunner().invoke(cli, ["restrict", "--help"]).output.split())
    assert "--lift" in out and "GDPR art. 18" in out
    assert "wpprivsync restrict --lift ann@example.com" in out
    assert "objection to marketing" in out.lower() and "wpprivsync unsubscribe" in out
