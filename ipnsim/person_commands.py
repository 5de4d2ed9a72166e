"""The person's portal (``ipnsim card issue``, ``ipnsim portal records``), the simulated clock
(``ipnsim clock set|show|reset``) and the retention purge (``ipnsim records purge``)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.table import Table

from agencies.population import persona_population
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    command_group,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import _ServiceClient
from ipnsim.clock import ClockSetting, ClockView
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile
from network.protocol.models import (
    PortalCard,
    PortalCardIssue,
    PortalChallenge,
    PortalChallengeRequest,
    PortalRecords,
    PortalSession,
    PortalSessionRequest,
    RetentionPurgeResult,
)

CARD_FORMAT = "ipnsim-card/1"


class CardFile(BaseModel):
    """A mock My Number card (マイナンバーカード): its id at the hub and its private key. It
    holds neither the My Number nor the resident code."""

    model_config = ConfigDict(extra="forbid")

    format: str = CARD_FORMAT
    card_id: str
    hub_url: str
    private_key: str
    """The raw 32-byte Ed25519 private key, base64 (利用者証明用電子証明書の秘密鍵)."""
    public_key: str
    holder: str | None = None
    """The persona's name, when issued for one."""
    issued_at: dt.datetime


class PortalClient(_ServiceClient):
    """A client of the hub's portal and of every service's clock."""

    async def call(
        self,
        method: str,
        path: str,
        answer: Any,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        return await self._call(method, path, answer, body, params)

    async def text(self, path: str, params: dict[str, str]) -> str:
        return (await self._send("GET", path, params=params)).text


def raw_key(key: Ed25519PrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


# --- cards ----------------------------------------------------------------------------------------

card_app = command_group(
    "card",
    help="Mock My Number cards (マイナンバーカード) for the person's portal.",
)


@card_app.command("issue")
def issue_card(
    out: Annotated[Path, typer.Option("--out", help="Where to write the card file.")],
    persona: Annotated[
        str | None,
        typer.Option("--persona", help="Issue the card to this persona (e.g. namesake)."),
    ] = None,
    resident_code: Annotated[
        str | None,
        typer.Option("--resident-code", help="…or to the person with this 住民票コード."),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Issue a mock My Number card: a new Ed25519 key pair whose public key the hub binds to
    the person (as the card authority, with the operator token). The card file (mode 600)
    holds the card id and private key, never the My Number."""
    network = load_network(data_dir)
    if (persona is None) == (resident_code is None):
        fail("give exactly one of --persona or --resident-code", 2)
    code = resident_code
    if persona is not None:
        try:
            code = persona_population(seed=network.seed).persona_person(persona).resident_code
        except KeyError:
            fail(f"no persona named {persona!r}; 'ipnsim personas' lists them", 2)
    if out.exists():
        fail(f"{out} exists; choose another --out", 2)
    key = Ed25519PrivateKey.generate()
    private, public = raw_key(key)
    try:
        body = PortalCardIssue(resident_code=code or "", public_key=public)
    except ValidationError:
        fail("a resident code (住民票コード) has 11 digits", 2)

    async def issue() -> PortalCard:
        async with PortalClient(network.hub.url, network.admin_token) as client:
            card: PortalCard = await client.call("POST", "/v1/portal/cards", PortalCard, body)
            return card

    card = run(issue())
    data = CardFile(
        card_id=str(card.card_id),
        hub_url=network.hub.url,
        private_key=private,
        public_key=public,
        holder=persona,
        issued_at=card.issued_at,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(data.model_dump_json(indent=2) + "\n")
    if as_json:
        print_json({"card_id": data.card_id, "card_file": str(out), "holder": persona})
    else:
        console.print(f"card {data.card_id} written to {out}")


def load_card(path: Path) -> tuple[CardFile, Ed25519PrivateKey]:
    try:
        card = CardFile.model_validate_json(path.read_text(encoding="utf-8"))
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(card.private_key))
    except FileNotFoundError:
        fail(f"no card file at {path}", 2)
    except (ValidationError, ValueError) as error:
        fail(f"{path} is not a card file ({error.__class__.__name__})", 2)
    return card, key


async def log_in(client: PortalClient, card: CardFile, key: Ed25519PrivateKey) -> PortalSession:
    """Prove possession of the card: sign the hub's challenge, get a bearer token."""
    challenge: PortalChallenge = await client.call(
        "POST",
        "/v1/portal/challenge",
        PortalChallenge,
        PortalChallengeRequest(card_id=card.card_id),
    )
    signature = base64.b64encode(key.sign(challenge.challenge.encode())).decode()
    session: PortalSession = await client.call(
        "POST",
        "/v1/portal/session",
        PortalSession,
        PortalSessionRequest(
            card_id=card.card_id,
            challenge=challenge.challenge,
            signature=signature,
        ),
    )
    return session


# --- the portal -------------------------------------------------------------------------------

portal_app = command_group(
    "portal",
    help="The person's own view (やりとり履歴), logged in with a mock My Number card.",
)


@portal_app.command("records")
def portal_records(
    card_file: Annotated[Path, typer.Option("--card", help="The card file (ipnsim card issue).")],
    page: Annotated[int, typer.Option(min=1, help="Page number (newest records first).")] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=500, help="Records a page.")] = 50,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the page as CSV.")] = False,
    as_json: AsJson = False,
) -> None:
    """Log in with the card and show the exchanges about its holder (やりとり履歴): who asked
    whom, when, for which items, with addenda; records flagged 不開示 are not shown."""
    if as_csv and as_json:
        fail("give at most one of --csv or --json", 2)
    card, key = load_card(card_file)
    params = {"page": str(page), "page_size": str(page_size)}

    async def fetch() -> PortalRecords | str:
        async with PortalClient(card.hub_url) as client:
            session = await log_in(client, card, key)
            client.headers = client.headers | {"Authorization": f"Bearer {session.access_token}"}
            if as_csv:
                return await client.text("/v1/portal/records", params | {"format": "csv"})
            found: PortalRecords = await client.call(
                "GET", "/v1/portal/records", PortalRecords, params=params
            )
            return found

    found = run(fetch())
    if isinstance(found, str):
        sys.stdout.write(found)
        return
    if as_json:
        print_json(found)
        return
    table = Table(title=f"やりとり履歴 (page {found.page}, {found.total} records)")
    for column in ("requested", "requester", "provider", "info type", "items", "status", "追記"):
        table.add_column(column)
    for record in found.records:
        table.add_row(
            record.requested_at.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime(
                "%Y-%m-%d %H:%M"
            ),
            record.requester_name,
            record.provider_name,
            record.info_type_code,
            " ".join(record.item_codes),
            record.status_detail.value + record.status_info_type.value,
            "\n".join(f"{a.kind.value}: {a.reason}" for a in record.addenda),
        )
    console.print(table)


# --- the simulated clock ---------------------------------------------------------------------

clock_app = command_group(
    "clock",
    help="The network's simulated clock (模擬時計): move every service in time.",
)


def _each_service(network: NetworkFile, method: str, body: BaseModel | None) -> list[ClockView]:
    async def go() -> list[ClockView]:
        views: list[ClockView] = []
        for service in [network.hub, *network.agencies]:
            token = network.admin_token if service.role == "hub" else None
            async with PortalClient(service.url, token) as client:
                views.append(await client.call(method, "/v1/clock", ClockView, body))
        return views

    return run(go())


def _show(network: NetworkFile, views: list[ClockView], as_json: bool) -> None:
    names = [network.hub.name, *[agency.name for agency in network.agencies]]
    if as_json:
        print_json(
            [
                {"service": name} | view.model_dump(mode="json")
                for name, view in zip(names, views, strict=True)
            ]
        )
        return
    table = Table(title="simulated clock")
    for column in ("service", "now (Japan time)", "simulated"):
        table.add_column(column)
    jst = dt.timezone(dt.timedelta(hours=9), "JST")
    for name, view in zip(names, views, strict=True):
        table.add_row(
            name,
            view.now.astimezone(jst).isoformat(timespec="seconds"),
            "yes" if view.simulated else "no",
        )
    console.print(table)


@clock_app.command("set")
def clock_set(
    when: Annotated[
        str, typer.Argument(help="ISO 8601 with an offset, e.g. 2033-12-01T00:00:00+09:00.")
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Set the clock of every service of the running network; it runs on from there and
    survives restarts."""
    try:
        setting = ClockSetting.model_validate({"now": when})
    except ValidationError:
        fail(f"{when!r} is not a time with a UTC offset, e.g. 2033-12-01T00:00:00+09:00", 2)
    network = load_network(data_dir)
    _show(network, _each_service(network, "PUT", setting), as_json)


@clock_app.command("show")
def clock_show(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """What every service's clock says."""
    network = load_network(data_dir)
    _show(network, _each_service(network, "GET", None), as_json)


@clock_app.command("reset")
def clock_reset(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """Back to the real time, on every service."""
    network = load_network(data_dir)
    _show(network, _each_service(network, "DELETE", None), as_json)


# --- retention --------------------------------------------------------------------------------


def purge_command(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """Purge the records inquired more than 7 years ago by the simulated clock (保存期間) at
    the hub and at every intermediate server (all three copies); each log keeps their leaf
    hashes and a signed list of them, so 'records verify' still passes and still names any
    other removal. Every service also purges by itself every IPNSIM_RETENTION_PURGE_SECONDS."""
    network = load_network(data_dir)
    services = [network.hub, *network.agencies]

    async def purge() -> list[RetentionPurgeResult]:
        results: list[RetentionPurgeResult] = []
        for service in services:
            token = network.admin_token if service.role == "hub" else None
            async with PortalClient(service.url, token) as client:
                results.append(
                    await client.call("POST", "/v1/retention/purge", RetentionPurgeResult)
                )
        return results

    results = run(purge())
    if as_json:
        print_json(
            [
                {"service": service.name} | result.model_dump(mode="json")
                for service, result in zip(services, results, strict=True)
            ]
        )
        return
    table = Table(title="retention purge (保存期間 7 years)")
    for column in ("service", "inquired before (UTC)", "records", "log leaves", "purge"):
        table.add_column(column)
    for service, result in zip(services, results, strict=True):
        table.add_row(
            service.name,
            result.horizon.isoformat(timespec="seconds"),
            str(result.purged_records),
            str(result.purged_leaves),
            f"#{result.purge.purge_number}" if result.purge else "-",
        )
    console.print(table)
