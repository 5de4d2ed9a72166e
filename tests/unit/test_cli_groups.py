"""Every group of ``ipnsim`` subcommands behaves alike: given no subcommand it shows its help,
and its errors are messages, not tracebacks."""

from __future__ import annotations

import typer
from typer.main import get_command
from typer.testing import CliRunner

from ipnsim.cli import app
from ipnsim.cli_support import command_group

LISTS_BY_ITSELF = {"records"}
"""Groups whose bare name does something of its own ('ipnsim records' lists records)."""


def group_names() -> list[str]:
    return sorted(
        group.name or (group.typer_instance.info.name or "")
        for group in app.registered_groups
        if group.typer_instance is not None
    )


def test_the_cli_has_its_groups() -> None:
    names = group_names()
    assert {"batch", "catalogue", "clock", "errors", "fault", "records", "scenario"} <= set(names)


def test_a_bare_group_shows_its_help() -> None:
    runner = CliRunner()
    for name in group_names():
        if name in LISTS_BY_ITSELF:
            continue
        result = runner.invoke(app, [name])
        assert "Usage: ipnsim " + name in result.output, (name, result.output)
        assert "Commands" in result.output, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name


def test_a_command_group_is_configured_like_every_other() -> None:
    group = command_group("example", help="An example group.")
    assert group.info.name == "example"
    assert group.info.help == "An example group."
    assert group.info.no_args_is_help is True
    assert group.pretty_exceptions_enable is False
    assert group._add_completion is False
    listing = command_group("listing", help="Lists by itself.", no_args_is_help=False)
    assert listing.info.no_args_is_help is False


def test_a_bare_group_that_lists_does_not_show_help() -> None:
    command = get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    records = command.commands["records"]
    assert records.no_args_is_help is False
