"""``ipnsim reset`` and ``ipnsim sandbox``: sandboxes (サンドボックス) of a running network.

A sandbox is an isolated copy of the reference data set (the seeded data) kept by the hub and by
every intermediate server; requests made with ``--sandbox KEY`` (or IPNSIM_SANDBOX) see only
that copy. ``ipnsim reset`` returns a sandbox to the reference data on every service.

Exit status: 0 done; 1 a service refused (its error code is printed); 2 bad input or no network;
3 a service cannot be reached.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ipnsim.cli_support import (
    AsJson,
    DataDir,
    check_sandbox_key,
    command_group,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import AgencyClient, HubOperatorClient, chosen_sandbox
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile

sandbox_app = command_group(
    "sandbox",
    help="List and delete the sandboxes of a running network (isolated copies of the "
    "reference data for parallel test pipelines).",
)


def _services(network: NetworkFile) -> list[tuple[str, AgencyClient | HubOperatorClient]]:
    """A client of the hub and of every intermediate server, each outside any sandbox."""
    clients: list[tuple[str, AgencyClient | HubOperatorClient]] = [
        (network.hub.name, HubOperatorClient(network.hub.url, network.admin_token, sandbox=None))
    ]
    for service in network.agencies:
        clients.append((service.name, AgencyClient(service.url, sandbox=None)))
    return clients


async def _on_every_service(
    network: NetworkFile, key: str | None, delete: bool
) -> dict[str, list[str]]:
    """Reset (or delete) the sandbox ``key`` on every service, or every sandbox when None;
    the sandboxes done, by service."""
    done: dict[str, list[str]] = {}
    for name, service in _services(network):
        async with service:
            keys = [key] if key is not None else [s.key for s in await service.sandboxes()]
            for each in keys:
                if delete:
                    await service.delete_sandbox(each)
                else:
                    await service.reset_sandbox(each)
            done[name] = keys
    return done


def _chosen(key: str | None, every: bool) -> str | None:
    key = key if key is not None else chosen_sandbox()
    if key is None and not every:
        fail("name the sandbox: --sandbox KEY (or IPNSIM_SANDBOX), or --all for every one", 2)
    if key is not None and every:
        fail("give either --sandbox KEY or --all, not both", 2)
    return None if key is None else check_sandbox_key(key)


SandboxOption = Annotated[
    str | None,
    typer.Option("--sandbox", help="The sandbox (default: the global --sandbox / IPNSIM_SANDBOX)."),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every sandbox the services keep.")]


def reset_command(
    sandbox: SandboxOption = None,
    every: AllOption = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Return a sandbox to the reference data set on the hub and every intermediate server.

    Its people, replicas, records and record logs are replaced by the reference data (the data
    as seeded); a sandbox that does not exist yet is created. The default data is never reset.
    """
    key = _chosen(sandbox, every)
    network = load_network(data_dir)
    done = run(_on_every_service(network, key, delete=False))
    keys = sorted({each for keys in done.values() for each in keys})
    console.print(
        f"reset {', '.join(keys) or 'no sandbox'} on {len(done)} services to the reference data"
    )


@sandbox_app.command("list")
def list_sandboxes(as_json: AsJson = False, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """The sandboxes each service of the network keeps."""
    network = load_network(data_dir)

    async def gather() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, service in _services(network):
            async with service:
                found[name] = [s.key for s in await service.sandboxes()]
        return found

    found = run(gather())
    if as_json:
        print_json(found)
        return
    table = Table("service", "sandboxes")
    for name, keys in found.items():
        table.add_row(name, ", ".join(keys) or "-")
    console.print(table)


@sandbox_app.command("delete")
def delete_sandbox(
    sandbox: SandboxOption = None,
    every: AllOption = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Delete a sandbox and all its data on every service (or every sandbox with --all)."""
    key = _chosen(sandbox, every)
    network = load_network(data_dir)
    done = run(_on_every_service(network, key, delete=True))
    keys = sorted({each for keys in done.values() for each in keys})
    console.print(f"deleted {', '.join(keys) or 'no sandbox'} on {len(done)} services")
