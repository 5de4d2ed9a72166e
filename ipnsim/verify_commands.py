"""``ipnsim records verify``: check that the provision records were neither edited, removed nor
truncated, and that the three copies of each record agree.

For each chosen service (the hub, an agency's intermediate server, or all), the command reads
the record log exactly as stored (``GET /v1/log/entries``; the hub's with the operator token)
and the log's public key, recomputes every leaf hash from the stored events and the tree from
the leaves, and checks each signed tree head the service stored and the checkpoint this command
kept from its last clean run (``<data-dir>/log-checkpoints.json``, which catches a truncated
tail whose heads were removed too). The first problem of each log is named: leaf index, inquiry
id, what is wrong. Then the copies of each record (requester, hub, provider) are compared on
the legal fields (:data:`network.protocol.log_audit.LEGAL_FIELDS`).

Exit status: 0 every log verified and the copies agree; 1 a problem or a disagreement; 2 no
network in the data directory or an unknown service; 3 a service cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ipnsim.cli_support import DataDir, console, errors, fail
from ipnsim.client import chosen_sandbox
from ipnsim.launcher import DEFAULT_DATA_DIR, LaunchError, NetworkFile, ServiceInfo
from ipnsim.launcher import load_network_file as _load_network_file
from ipnsim.sandboxes import SANDBOX_HEADER
from network.protocol.log_audit import (
    LogVerification,
    Verification,
    audit_log,
    compare_copies,
    purged_inquiries,
    record_copies,
)
from network.protocol.models import (
    LogEntries,
    LogEntry,
    LogPublicKey,
    RetentionPurge,
    SignedTreeHead,
)
from network.protocol.record_log import MAX_ENTRIES

CHECKPOINTS_FILE = "log-checkpoints.json"


class Checkpoint(BaseModel):
    """The last tree head of a log this command verified, with the log's key then."""

    model_config = ConfigDict(extra="forbid")

    public_key: str
    tree_head: SignedTreeHead


class Unreachable(Exception):
    """A service did not answer, or answered something that is not its log."""


def load_checkpoints(data_dir: Path) -> dict[str, Checkpoint]:
    path = data_dir / CHECKPOINTS_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: Checkpoint.model_validate(value) for name, value in raw.items()}
    except (ValueError, ValidationError, AttributeError) as error:
        fail(f"{path} is not a checkpoint file ({error}); move it away to start afresh", 2)


def save_checkpoints(data_dir: Path, checkpoints: dict[str, Checkpoint]) -> None:
    path = data_dir / CHECKPOINTS_FILE
    data = {name: point.model_dump(mode="json") for name, point in sorted(checkpoints.items())}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def chosen_services(network: NetworkFile, service: str) -> list[ServiceInfo]:
    if service == "all":
        return [network.hub, *network.agencies]
    if service == "hub":
        return [network.hub]
    try:
        return [network.agency(service)]
    except KeyError as error:
        fail(f"{error.args[0]}; give hub, an agency or all", 2)


async def _get(client: httpx.AsyncClient, url: str, params: dict[str, int] | None = None) -> Any:
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as error:
        raise Unreachable(f"{url}: {error.__class__.__name__}") from None
    if response.status_code != 200:
        raise Unreachable(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
    return response.json()


async def fetch_log(
    service: ServiceInfo, admin_token: str, at_least: int
) -> tuple[LogPublicKey, list[LogEntry], list[SignedTreeHead], list[RetentionPurge]]:
    """The log's key, its stored entries, every stored signed head (the latest included) and
    its signed retention purges."""
    headers = {"Authorization": f"Bearer {admin_token}"} if service.role == "hub" else {}
    sandbox = chosen_sandbox()
    if sandbox is not None:
        headers[SANDBOX_HEADER] = sandbox  # the log of the sandbox of --sandbox
    entries: list[LogEntry] = []
    heads: list[SignedTreeHead] = []
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as client:
        key = LogPublicKey.model_validate(await _get(client, "/v1/log/public-key"))
        purges = [
            RetentionPurge.model_validate(purge) for purge in await _get(client, "/v1/log/purges")
        ]
        start = 0
        while True:
            page = LogEntries.model_validate(
                await _get(client, "/v1/log/entries", {"start": start, "end": start + MAX_ENTRIES})
            )
            entries.extend(page.entries)
            heads.extend(page.tree_heads)
            end = max(
                page.latest.tree_size,
                at_least,
                max((entry.leaf_index + 1 for entry in entries), default=0),
            )
            start += MAX_ENTRIES
            if start >= end:
                heads.append(page.latest)
                break
    return key, entries, heads, purges


async def verify_services(
    services: list[ServiceInfo],
    admin_token: str,
    checkpoints: dict[str, Checkpoint],
    progress: Progress | None,
) -> tuple[Verification, dict[str, Checkpoint]]:
    """Audit every service's log and compare the copies; the checkpoints to keep after."""
    task = progress.add_task("verifying record logs", total=len(services)) if progress else None
    logs: list[LogVerification] = []
    entries_by_log: dict[str, list[LogEntry]] = {}
    updated = dict(checkpoints)
    purged_at_hub: set[uuid.UUID] = set()
    for service in services:
        point = checkpoints.get(service.name)
        key, entries, heads, purges = await fetch_log(
            service, admin_token, point.tree_head.tree_size if point else 0
        )
        verdict = audit_log(
            service.name,
            key.log_id,
            entries,
            heads,
            key.public_key,
            point.tree_head if point else None,
            point.public_key if point else None,
            purges,
        )
        if key.log_id == "hub":
            purged_at_hub = purged_inquiries(entries, purges, key.public_key)
        logs.append(verdict)
        entries_by_log[key.log_id] = entries
        if verdict.problem is None and heads:
            latest = max(heads, key=lambda head: head.tree_size)
            updated[service.name] = Checkpoint(public_key=key.public_key, tree_head=latest)
        if progress is not None and task is not None:
            progress.advance(task)
    disagreements = []
    if len(entries_by_log) > 1:
        disagreements = compare_copies(
            record_copies(entries_by_log),
            hub_included="hub" in entries_by_log,
            purged_at_hub=purged_at_hub,
        )
    return Verification(logs=logs, disagreements=disagreements), updated


def verification_tables(verification: Verification) -> list[Table]:
    logs = Table(title="record logs (情報提供等の記録)")
    for column in ("service", "leaves", "size", "heads checked", "purged", "verdict"):
        logs.add_column(column)
    for log in verification.logs:
        problem = log.problem
        verdict = (
            "[green]OK[/]"
            if problem is None
            else f"[bold red]{problem.kind.value}[/] leaf {problem.leaf_index}"
            + (f" inquiry {problem.inquiry_id}" if problem.inquiry_id else "")
            + f"\n{escape(problem.detail)}"
        )
        logs.add_row(
            log.service,
            str(log.stored_leaves),
            str(log.tree_size),
            str(log.heads_checked),
            str(log.purged_leaves),
            verdict,
        )
    tables = [logs]
    if verification.disagreements:
        copies = Table(title="copies that disagree")
        for column in ("inquiry", "field", "values"):
            copies.add_column(column)
        for disagreement in verification.disagreements:
            values = "\n".join(
                f"{name}: {value}" for name, value in sorted(disagreement.values.items())
            )
            copies.add_row(str(disagreement.inquiry_id), disagreement.field, escape(values))
        tables.append(copies)
    return tables


def verify_command(
    service: Annotated[
        str,
        typer.Option(
            "--service",
            help="Whose log to verify: hub, an agency (slug or code), or all (also compares "
            "the copies of each record).",
        ),
    ] = "all",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Verify the provision records: recompute each log from its stored rows, check it against
    the signed tree heads and the last checkpoint, name the first record edited, removed or
    truncated, and compare the copies of each record. Exit 1 if anything is wrong."""
    try:
        network = _load_network_file(data_dir)
    except LaunchError as error:
        fail(str(error), 2)
    services = chosen_services(network, service)
    checkpoints = load_checkpoints(data_dir)

    async def work(progress: Progress | None) -> tuple[Verification, dict[str, Checkpoint]]:
        return await verify_services(services, network.admin_token, checkpoints, progress)

    try:
        if as_json:
            verification, updated = asyncio.run(work(None))
        else:
            with Progress(console=errors, transient=True) as progress:
                verification, updated = asyncio.run(work(progress))
    except Unreachable as error:
        fail(f"{error}\nIs the network running? Start it with 'ipnsim up'.", 3)
    save_checkpoints(data_dir, updated)
    if as_json:
        data = verification.model_dump(mode="json") | {"ok": verification.ok}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        for table in verification_tables(verification):
            console.print(table)
        console.print("[green]verified[/]" if verification.ok else "[bold red]NOT verified[/]")
    if not verification.ok:
        raise typer.Exit(1)
