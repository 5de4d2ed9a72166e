"""``ipnsim serve`` starts a service without loading the rest of the command line, and leaves
anything it does not recognise (help, a wrong option or value, a sandbox) to the full one."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ipnsim.cli import app
from ipnsim.cli import serve as cli_serve
from ipnsim.serve import Role, parse_serve_arguments


@pytest.fixture(autouse=True)
def no_sandbox_nor_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPNSIM_SANDBOX", raising=False)
    monkeypatch.delenv("IPNSIM_LOG_FORMAT", raising=False)


@pytest.mark.parametrize(
    ("arguments", "parsed"),
    [
        (["hub"], (Role.HUB, "127.0.0.1", 8000, "info", "text")),
        (
            ["agency", "--host", "127.0.0.1", "--port", "24679", "--log-level", "info"],
            (Role.AGENCY, "127.0.0.1", 24679, "info", "text"),
        ),
        (
            ["--port=1", "--host=0.0.0.0", "agency-host", "--log-format", "json"],
            (Role.AGENCY_HOST, "0.0.0.0", 1, "info", "json"),
        ),
        (
            ["registry", "--port", "65535", "--log-level", "debug", "--port", "9"],
            (Role.REGISTRY, "127.0.0.1", 9, "debug", "text"),
        ),
    ],
)
def test_well_formed_arguments_are_read_as_the_command_line_reads_them(
    arguments: list[str], parsed: tuple[Role, str, int, str, str]
) -> None:
    assert parse_serve_arguments(arguments) == parsed


@pytest.mark.parametrize(
    "arguments",
    [
        [],
        ["--help"],
        ["hub", "--help"],
        ["hub", "-h"],
        ["hubs"],
        ["hub", "agency"],
        ["hub", "--port"],
        ["hub", "--port", "0"],
        ["hub", "--port", "65536"],
        ["hub", "--port", "eighty"],
        ["hub", "--port", "-1"],
        ["hub", "--log-format", "xml"],
        ["hub", "--workers", "2"],
    ],
)
def test_anything_else_is_left_to_the_full_command_line(arguments: list[str]) -> None:
    assert parse_serve_arguments(arguments) is None


def test_the_log_format_and_a_sandbox_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IPNSIM_LOG_FORMAT", "json")
    assert parse_serve_arguments(["hub"]) == (Role.HUB, "127.0.0.1", 8000, "info", "json")
    assert parse_serve_arguments(["hub", "--log-format", "text"]) == (
        Role.HUB,
        "127.0.0.1",
        8000,
        "info",
        "text",
    )
    monkeypatch.setenv("IPNSIM_LOG_FORMAT", "yaml")
    assert parse_serve_arguments(["hub"]) is None
    monkeypatch.setenv("IPNSIM_LOG_FORMAT", "text")
    monkeypatch.setenv("IPNSIM_SANDBOX", "pipeline-1")
    assert parse_serve_arguments(["hub"]) is None


def test_the_full_command_line_still_answers_what_the_short_path_leaves_to_it() -> None:
    result = CliRunner().invoke(app, ["serve", "hub", "--port", "0"])
    assert result.exit_code == 2
    assert "--port" in result.output
    assert "Run one service in this process" in CliRunner().invoke(app, ["serve", "--help"]).output


def test_serve_starts_without_loading_the_command_line() -> None:
    """The service is started with the arguments given, and typer, rich, faker and the command
    line's module are not loaded (the service itself is replaced by a stand-in here)."""
    program = (
        "import sys\n"
        "import ipnsim.serve\n"
        "def stand_in(*arguments):\n"
        "    print(arguments)\n"
        "    print(sorted(name for name in ('typer', 'rich', 'faker', 'ipnsim.cli')"
        " if name in sys.modules))\n"
        "    return 3\n"
        "ipnsim.serve.serve = stand_in\n"
        "sys.argv = ['ipnsim', 'serve', 'agency', '--host', '0.0.0.0', '--port=8001']\n"
        "from ipnsim.__main__ import main\n"
        "main()\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("IPNSIM_")}
    done = subprocess.run(
        [sys.executable, "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "(<Role.AGENCY: 'agency'>, '0.0.0.0', 8001, 'info', 'text')",
        "[]",
    ]


def test_the_short_path_has_the_command_lines_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPNSIM_LOG_FORMAT", raising=False)
    defaults = inspect.signature(cli_serve).parameters
    assert parse_serve_arguments(["hub"]) == (
        Role.HUB,
        defaults["host"].default,
        defaults["port"].default,
        defaults["log_level"].default,
        defaults["log_format"].default,
    )
