"""``ipnsim fault``: make any failure of a provider happen on demand at a running hub.

Faults are held by the hub, per provider agency, in memory (``GET/PUT/DELETE /v1/faults``, with
the operator's token from ``network.json``). Every inquiry routed to a faulted provider is
checked and recorded at the hub like any failed inquiry. Each hub process holds its own faults:
with several hubs (``ipnsim up --hubs N``) a fault is set and cleared at every hub process that
``network.json`` lists, not through the load balancer, so that it holds whichever hub an
inquiry reaches.

Exit status: 0 done; 1 the hub refused (its error code is printed); 2 bad input or no network;
3 the hub cannot be reached.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ipnsim.cli_support import AsJson, DataDir, command_group, fail, load_network, print_json, run
from ipnsim.client import HubOperatorClient
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile
from network.protocol.models import FaultSettings, ProviderFault

fault_app = command_group(
    "fault",
    help="Make failures happen on demand at the hub, per provider agency: down, latency, "
    "timeout, an error rate, a forced error code, online hours (オンライン時間).",
)

_RANGE = re.compile(r"([0-9]+):([0-9]+)")


def _hub(network: NetworkFile) -> HubOperatorClient:
    return HubOperatorClient(network.hub.url, network.admin_token)


def _every_hub(network: NetworkFile) -> list[HubOperatorClient]:
    """A client of each hub process (of the one hub when no load balancer runs)."""
    hubs = network.hub_instances or [network.hub]
    return [HubOperatorClient(hub.url, network.admin_token) for hub in hubs]


def agency_code(network: NetworkFile, agency: str) -> str:
    """The agency code of a slug or code of ``network.json``; any other 16-digit code as is
    (the hub answers AGY001 if it does not know it)."""
    try:
        code = network.agency(agency).agency_code
    except KeyError as error:
        if re.fullmatch(r"[0-9]{16}", agency):
            return agency
        fail(str(error.args[0]), 2)
    assert code is not None
    return code


def parse_latency_range(text: str) -> tuple[int, int]:
    """``MIN:MAX`` in milliseconds."""
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        fail(f"--latency-range {text!r} is not MIN:MAX in milliseconds (e.g. 100:400)", 2)
    return int(match.group(1)), int(match.group(2))


def describe(fault: FaultSettings) -> str:
    """The fault in a few words, in the order the hub applies it."""
    parts: list[str] = []
    if fault.online_hours is not None:
        parts.append(f"online {fault.online_hours} JST (AVL006 outside)")
    if fault.down:
        parts.append("down (AVL001)")
    if fault.force_code is not None:
        parts.append(f"forced {fault.force_code}")
    if fault.latency_ms is not None:
        parts.append(f"latency {fault.latency_ms} ms")
    if fault.latency_range_ms is not None:
        low, high = fault.latency_range_ms
        parts.append(f"latency {low}–{high} ms")
    if fault.timeout:
        parts.append("timeout (AVL002)")
    if fault.error_rate is not None:
        parts.append(f"error rate {fault.error_rate:g} → {fault.error_code}")
    if fault.latency_range_ms is not None or fault.error_rate is not None:
        parts.append(f"seed {fault.seed}")
    return "; ".join(parts)


def _name(network: NetworkFile, code: str) -> str:
    for service in network.agencies:
        if service.agency_code == code:
            return f"{service.name} {service.name_ja or ''}".strip()
    return ""


@fault_app.command("set")
def set_fault(
    agency: Annotated[str, typer.Argument(help="Provider agency: slug (odawara) or code.")],
    down: Annotated[
        bool, typer.Option("--down", help="Answer AVL001, as if the provider refused.")
    ] = False,
    latency: Annotated[
        int | None, typer.Option("--latency", help="Add this many milliseconds.", min=0)
    ] = None,
    latency_range: Annotated[
        str | None,
        typer.Option("--latency-range", help="Add a random MIN:MAX milliseconds (seeded)."),
    ] = None,
    timeout: Annotated[
        bool,
        typer.Option("--timeout", help="Wait the hub's provider timeout, then answer AVL002."),
    ] = False,
    error_rate: Annotated[
        float | None,
        typer.Option("--error-rate", help="Share 0..1 of inquiries answered --code (seeded)."),
    ] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="The code answered at --error-rate.")
    ] = None,
    force: Annotated[
        str | None, typer.Option("--force", help="Answer this error code to every inquiry.")
    ] = None,
    online_hours: Annotated[
        str | None,
        typer.Option("--online-hours", help="Daily window HH:MM-HH:MM (JST); AVL006 outside it."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random latency and error rate.")] = 0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Put a fault in force for inquiries to one provider (replacing any it has)."""
    network = load_network(data_dir)
    target = agency_code(network, agency)
    try:
        settings = FaultSettings(
            down=down,
            latency_ms=latency,
            latency_range_ms=parse_latency_range(latency_range) if latency_range else None,
            timeout=timeout,
            error_rate=error_rate,
            error_code=code,
            force_code=force,
            online_hours=online_hours,
            seed=seed,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'fault'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        fail(problems, 2)

    async def send() -> ProviderFault:
        faults = []
        for client in _every_hub(network):
            async with client as hub:
                faults.append(await hub.set_fault(target, settings))
        return faults[0]

    fault = run(send())
    if as_json:
        print_json(fault.model_dump(mode="json"))
        return
    Console().print(
        f"fault set for {_name(network, fault.agency_code) or fault.agency_code} "
        f"({fault.agency_code}): {describe(fault)}",
        highlight=False,
    )


@fault_app.command("list")
def list_faults(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """The faults in force at the hub."""
    network = load_network(data_dir)

    async def fetch() -> list[ProviderFault]:
        async with _hub(network) as hub:
            return await hub.faults()

    faults = run(fetch())
    if as_json:
        print_json([fault.model_dump(mode="json") for fault in faults])
        return
    if not faults:
        Console().print("no faults in force")
        return
    table = Table(title="faults in force at the hub")
    table.add_column("agency code")
    table.add_column("agency")
    table.add_column("fault")
    for fault in faults:
        table.add_row(fault.agency_code, _name(network, fault.agency_code), describe(fault))
    Console().print(table)


@fault_app.command("clear")
def clear_faults(
    agency: Annotated[
        str | None, typer.Argument(help="Provider agency (slug or code); all when omitted.")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Lift one provider's fault, or every fault."""
    network = load_network(data_dir)
    target = agency_code(network, agency) if agency is not None else None

    async def send() -> None:
        for client in _every_hub(network):
            async with client as hub:
                if target is None:
                    await hub.clear_faults()
                else:
                    await hub.clear_fault(target)

    run(send())
    Console().print(
        "every fault cleared" if target is None else f"fault cleared for {agency} ({target})",
        highlight=False,
    )
