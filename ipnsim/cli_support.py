"""What every ``ipnsim`` command shares: its options, consoles, error messages and exit codes.

Exit status, the same for every command: 0 done; 1 a service answered an error code; 2 bad input
or no network in the data directory; 3 a service cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from error_codes import ErrorBody
from ipnsim.client import AgencyClient, ServiceError, ServiceUnreachable
from ipnsim.launcher import LaunchError, NetworkFile, load_network_file
from ipnsim.sandboxes import KEY_PATTERN

T = TypeVar("T")

console = Console()
"""Standard output, for tables and answers."""
errors = Console(stderr=True)
"""Standard error, for error messages."""

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="IPNSIM_DATA_DIR",
        help="Directory of the network: databases, logs and network.json.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def command_group(name: str, help: str, *, no_args_is_help: bool = True) -> typer.Typer:
    """A group of ``ipnsim`` subcommands (``ipnsim NAME ...``), configured like every other:
    errors printed as messages rather than tracebacks, no shell-completion options, and (unless
    the group lists something by itself) its help shown when no subcommand is given."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=no_args_is_help,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``error: message`` on standard error, as written, and end with exit ``status``."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(status)


def print_error(body: ErrorBody, *, explained_at: bool = True) -> None:
    """A service's error code (エラー分類コード) with its messages and the fields at fault;
    ``explained_at`` adds where the code is explained."""
    errors.print(f"[bold red]{body.code}[/] {escape(body.message_ja)}", highlight=False)
    errors.print(f"       {escape(body.message_en)}", highlight=False)
    for detail in body.details:
        errors.print(f"       - {detail.field}: {escape(detail.problem)}", highlight=False)
    if explained_at:
        errors.print(f"       explained at {body.explanation}", highlight=False)


def run(work: Coroutine[Any, Any, T], *, explained_at: bool = True) -> T:
    """Run a client coroutine: a service's error code exits 1, an unreachable service 3."""
    try:
        return asyncio.run(work)
    except ServiceError as error:
        print_error(error.body, explained_at=explained_at)
        raise typer.Exit(1) from None
    except ServiceUnreachable as error:
        fail(f"{error}\nIs the network running? Start it with 'ipnsim up'.", 3)


def check_sandbox_key(key: str) -> str:
    """``key`` if it is a valid sandbox key; a clear message and exit 2 if not."""
    if not re.fullmatch(KEY_PATTERN, key):
        fail(
            f"invalid sandbox key {key!r}: use 1 to 32 lower-case letters, digits and '-', "
            "starting with a letter or digit (e.g. ci-1234)",
            2,
        )
    return key


def load_network(data_dir: Path) -> NetworkFile:
    """The ``network.json`` of the network started in ``data_dir``; exit 2 if there is none."""
    try:
        return load_network_file(data_dir)
    except LaunchError as error:
        fail(str(error), 2)


def agency_url(network: NetworkFile, name: str) -> str:
    """Base URL of an agency's intermediate server (slug or agency code); exit 2 if unknown."""
    try:
        return network.agency(name).url
    except KeyError as error:
        fail(str(error.args[0]), 2)


def agency_service(network: NetworkFile, name: str) -> AgencyClient:
    """A client of an agency's intermediate server (slug or agency code); exit 2 if unknown."""
    return AgencyClient(agency_url(network, name))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def print_json(value: Any) -> None:
    """A model, a list of models or plain JSON data, indented, on standard output."""
    sys.stdout.write(json.dumps(_plain(value), ensure_ascii=False, indent=2) + "\n")
