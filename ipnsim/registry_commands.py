"""``ipnsim lookup``: a resident-registry lookup (住基ネット照会) from the command line.

Staff whose applicant left the My Number (個人番号) off an application find it, with the resident
code (住民票コード), from the name, birth date, sex and address.

Exit status: 0 found; 1 nobody (IDN007) or several people (IDN008) match, or another error
code; 2 bad input or no registry in the network; 3 the registry cannot be reached.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from agencies.resident_registry import LookupQuery, LookupResult
from error_codes import Category, ErrorBody
from ipnsim.cli_support import errors, fail, print_error
from ipnsim.http import is_timeout, make_client
from ipnsim.launcher import DEFAULT_DATA_DIR, REGISTRY_SERVICE, LaunchError, load_network_file

TIMEOUT = 10.0
"""Seconds to wait for the registry's answer."""

_SEX_JA = {"male": "男", "female": "女"}


class SexOption(StrEnum):
    """性別 as the command line takes it."""

    male = "male"
    female = "female"


def _parse_date(value: str) -> dt.date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        fail(f"--birth-date {value!r} is not a date written YYYY-MM-DD", 2)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--birth-date {value!r} is not a date in the calendar", 2)


def registry_url(data_dir: Path) -> str:
    """Base URL of the resident registry of the network started in ``data_dir``."""
    try:
        network = load_network_file(data_dir)
    except LaunchError as error:
        fail(f"{error}\nOr give the registry's address with --url.", 2)
    for service in network.services:
        if service.name == REGISTRY_SERVICE:
            return service.url
    fail(
        f"the network in {data_dir} has no {REGISTRY_SERVICE!r} service (it was started by an "
        "ipnsim without the resident registry): restart it with 'ipnsim up', or give the "
        "registry's address with --url.",
        2,
    )


async def _post(url: str, query: LookupQuery) -> httpx.Response:
    async with make_client(TIMEOUT, max_connections=1) as client:
        return await client.post(
            url.rstrip("/") + "/v1/lookup", json=query.model_dump(mode="json", exclude_none=True)
        )


def _send(url: str, query: LookupQuery) -> httpx.Response:
    try:
        return asyncio.run(_post(url, query))
    except httpx.TransportError as error:
        what = (
            f"did not answer within {TIMEOUT:g} seconds"
            if is_timeout(error)
            else "cannot be reached"
        )
        fail(
            f"the resident registry at {url} {what} ({type(error).__name__}).\n"
            "Is the network running? Start it with 'ipnsim up'.",
            3,
        )
    except httpx.InvalidURL as error:
        fail(f"--url {url!r} is not a usable URL: {error}", 2)


def _table(found: LookupResult) -> Table:
    table = Table(title="住基ネット照会 (resident-registry lookup): 1 resident found")
    table.add_column("item", style="bold")
    table.add_column("value")
    table.add_row("個人番号 (My Number)", found.my_number)
    table.add_row("住民票コード (resident code)", found.resident_code)
    table.add_row("氏名 (name)", f"{found.family_name}\u3000{found.given_name}")
    table.add_row("氏名カナ (reading)", f"{found.family_name_kana}\u3000{found.given_name_kana}")
    table.add_row("生年月日 (birth date)", found.birth_date.isoformat())
    table.add_row("性別 (sex)", f"{_SEX_JA[found.sex]} ({found.sex})")
    table.add_row("住所 (address)", found.address)
    return table


def lookup_command(
    birth_date: Annotated[
        str, typer.Option("--birth-date", help="生年月日 of the person, YYYY-MM-DD.")
    ],
    sex: Annotated[SexOption, typer.Option("--sex", help="性別: male or female.")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="氏名 in kanji, family name first, e.g. '近藤 舞'."),
    ] = None,
    kana: Annotated[
        str | None,
        typer.Option("--kana", help="氏名 in katakana or hiragana, e.g. 'コンドウ マイ'."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address", help="住所, or its beginning (e.g. '山形県山形市'); tells namesakes apart."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Base URL of the resident registry (default: from network.json in DATA_DIR).",
        ),
    ] = None,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            envvar="IPNSIM_DATA_DIR",
            help="Directory of the network: databases, logs and network.json.",
        ),
    ] = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Look a resident up in the resident registry (住基ネット照会): My Number and resident code.

    Give the name (--name) or its reading (--kana) or both, with the birth date and sex; add
    the address when several people match. Exits 0 when one resident is found, 1 when nobody
    (IDN007) or several people (IDN008) match, 2 on bad input, 3 when the registry cannot be
    reached.
    """
    if not (name or "").strip() and not (kana or "").strip():
        fail("give the name (--name) or its reading (--kana), or both", 2)
    try:
        query = LookupQuery(
            name=name,
            name_kana=kana,
            birth_date=_parse_date(birth_date),
            sex=sex.value,
            address=address,
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        fail(f"bad input: {problems.replace('Value error, ', '')}", 2)

    base_url = url if url is not None else registry_url(data_dir)
    if not base_url.startswith(("http://", "https://")):
        fail(f"--url {base_url!r} is not an http:// or https:// URL", 2)
    response = _send(base_url, query)
    if response.status_code >= 400:
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            fail(
                f"{base_url} answered {response.status_code} without an ipnsim error body; "
                "is --url the resident registry?",
                3,
            )
        print_error(body)
        if body.code in {"VAL004", "VAL005"}:
            errors.print(f"       is {base_url} the resident registry?", highlight=False)
        raise typer.Exit(2 if body.category is Category.VALIDATION else 1)
    try:
        found = LookupResult.model_validate_json(response.content)
    except ValidationError:
        fail(f"{base_url} answered an unexpected body; is --url the resident registry?", 3)
    if as_json:
        sys.stdout.write(
            json.dumps(found.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
        )
    else:
        Console().print(_table(found))
