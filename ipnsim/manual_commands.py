"""``ipnsim manual``: the manual-response desk (自動応答不可) of a running network.

An inquiry for a replica flagged ``manual_response`` waits at the provider's intermediate server
until its staff answer or decline it (or it expires). These commands are the staff's side —
``list``, ``answer``, ``decline`` at the provider — and the requester's — ``result``, which
reads the final result (or "still pending") of an inquiry it sent.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from intermediate_server.schemas import ManualAnswer, ManualDecline, ManualRequestView
from ipnsim import views
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    agency_url,
    command_group,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import AgencyClient
from ipnsim.launcher import DEFAULT_DATA_DIR
from network.protocol.models import MANUAL_PENDING_CODE, InquiryResult

manual_app = command_group(
    "manual",
    help="The manual-response desk (自動応答不可): list, answer or decline the inquiries held "
    "for an agency's staff, and read the final result of an inquiry that waited.",
)

Agency = Annotated[str, typer.Option("--agency", help="The agency (slug or 16-digit code).")]
InquiryId = Annotated[str, typer.Argument(help="The inquiry id (a UUID).")]
User = Annotated[str, typer.Option("--user", help="The staff member's user id.")]

PENDING_EXIT = 4
"""Exit status of ``result`` while the inquiry still waits for the provider's staff."""


class StaffClient(AgencyClient):
    """An intermediate server as its staff and business system use the manual-response desk."""

    async def manual_requests(self, state: str = "pending") -> list[ManualRequestView]:
        result: list[ManualRequestView] = await self._call(
            "GET", "/v1/manual-responses", list[ManualRequestView], params={"state": state}
        )
        return result

    async def answer(self, inquiry_id: uuid.UUID, body: ManualAnswer) -> ManualRequestView:
        result: ManualRequestView = await self._call(
            "POST", f"/v1/manual-responses/{inquiry_id}/answer", ManualRequestView, body
        )
        return result

    async def decline(self, inquiry_id: uuid.UUID, body: ManualDecline) -> ManualRequestView:
        result: ManualRequestView = await self._call(
            "POST", f"/v1/manual-responses/{inquiry_id}/decline", ManualRequestView, body
        )
        return result

    async def inquiry_result(self, inquiry_id: uuid.UUID) -> InquiryResult:
        result: InquiryResult = await self._call(
            "GET", f"/v1/inquiries/{inquiry_id}", InquiryResult
        )
        return result


def _client(data_dir: Path, agency: str) -> StaffClient:
    return StaffClient(agency_url(load_network(data_dir), agency))


def _inquiry_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not an inquiry id (a UUID)", 2)


def _table(requests: list[ManualRequestView]) -> Table:
    table = Table(title="inquiries held for staff (自動応答不可)")
    table.add_column("inquiry", no_wrap=True, min_width=36)
    for column in ("requester", "procedure", "info type", "atena number", "received", "deadline"):
        table.add_column(column)
    table.add_column("state")
    for request in requests:
        table.add_row(
            str(request.inquiry_id),
            f"{request.requester_name} ({request.requester_code})",
            request.procedure_code,
            request.info_type_code,
            request.atena_number,
            f"{request.received_at:%Y-%m-%d %H:%M:%S}",
            f"{request.deadline:%Y-%m-%d %H:%M:%S}",
            request.state,
        )
    return table


@manual_app.command("list")
def list_requests(
    agency: Agency,
    all_states: Annotated[
        bool, typer.Option("--all", help="Also those answered, declined or expired.")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List the inquiries waiting for this agency's staff, oldest first."""
    client = _client(data_dir, agency)

    async def fetch() -> list[ManualRequestView]:
        async with client:
            return await client.manual_requests("all" if all_states else "pending")

    found = run(fetch(), explained_at=False)
    if as_json:
        print_json(found)
    else:
        console.print(_table(found))


@manual_app.command()
def answer(
    inquiry: InquiryId,
    agency: Agency,
    record_id: Annotated[
        str | None,
        typer.Option(help="Provide this replica instead of the one the inquiry matched."),
    ] = None,
    user: User = "cli",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Answer a held inquiry: its replica's items go to the requester (職員による回答)."""
    inquiry_id = _inquiry_id(inquiry)
    client = _client(data_dir, agency)

    async def send() -> ManualRequestView:
        async with client:
            return await client.answer(
                inquiry_id, ManualAnswer(record_id=record_id, answered_by=user)
            )

    _report(run(send(), explained_at=False), as_json)


@manual_app.command()
def decline(
    inquiry: InquiryId,
    agency: Agency,
    reason: Annotated[str, typer.Option(help="Why; the requester sees it in MAN002.")],
    user: User = "cli",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Decline a held inquiry: the requester receives MAN002 with the reason."""
    inquiry_id = _inquiry_id(inquiry)
    if not reason.strip():
        fail("--reason must not be empty", 2)
    client = _client(data_dir, agency)

    async def send() -> ManualRequestView:
        async with client:
            return await client.decline(inquiry_id, ManualDecline(reason=reason, declined_by=user))

    _report(run(send(), explained_at=False), as_json)


def _report(view: ManualRequestView, as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    console.print(f"inquiry [bold]{view.inquiry_id}[/] {view.state}")
    if view.hub_notified_at is None:
        console.print("the hub has not acknowledged it yet: it is sent again automatically")
    else:
        console.print(f"the hub acknowledged it at {view.hub_notified_at:%Y-%m-%d %H:%M:%S}")


@manual_app.command()
def result(
    inquiry: InquiryId,
    agency: Annotated[str, typer.Option("--agency", help="The requesting agency (slug or code).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Read the result of an inquiry the agency sent: final, or still pending (MAN001).

    Exits 0 on status 09/01, 4 while pending, 1 when it ended with an error code.
    """
    inquiry_id = _inquiry_id(inquiry)
    client = _client(data_dir, agency)

    async def fetch() -> InquiryResult:
        async with client:
            return await client.inquiry_result(inquiry_id)

    found = run(fetch(), explained_at=False)
    if as_json:
        print_json(found)
    else:
        views.print_inquiry_result(console, found)
    if found.error is not None:
        raise typer.Exit(PENDING_EXIT if found.error.code == MANUAL_PENDING_CODE else 1)
