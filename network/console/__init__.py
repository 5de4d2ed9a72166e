"""The web console (ウェブコンソール) for trainers and staff, served by the hub at ``/console/``.

Static pages (plain HTML, JavaScript and CSS: nothing to build, nothing fetched from outside the
machine) and the few endpoints they need beyond the hub's own API: the network map, actions on
an agency's intermediate server (inquiry, mistaken-person declaration, records, disclosure,
manual responses), which the hub passes on over HTTP to the agency's registered URL, and the
network's simulated clock (模擬時計), which the hub moves at home and, over HTTP, at every
agency it knows.

Like the rest of the console these endpoints ask for no login: the console is meant for a
network on your own machine (the launcher binds every service to 127.0.0.1). The operator's own
``/v1/clock`` on the hub keeps its admin token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from error_codes import ErrorBody, IpnsimError
from ipnsim.clock import ClockSetting, ClockView, clock
from ipnsim.http import make_client
from network.faults import FaultTable
from network.protocol.models import FORCE_OUTCOME_HEADER, AgencySummary, ProviderFault
from network.registry import Registry
from network.service import HubService

STATIC_DIRECTORY = Path(__file__).parent / "static"
"""The console's pages, served as they are."""

CONSOLE_PATH = "/console/"

_AGENCY_PATHS: list[tuple[str, re.Pattern[str]]] = [
    ("POST", re.compile(r"^inquiries$")),
    ("GET", re.compile(r"^inquiries/[0-9a-f-]{36}$")),
    ("POST", re.compile(r"^inquiries/[0-9a-f-]{36}/mistaken$")),
    ("POST", re.compile(r"^dependant-claims$")),
    ("GET", re.compile(r"^people/[0-9]{15}$")),
    ("GET", re.compile(r"^people/[0-9]{15}/disclosure$")),
    ("GET", re.compile(r"^records$")),
    ("GET", re.compile(r"^manual-responses$")),
    ("POST", re.compile(r"^manual-responses/[0-9a-f-]{36}/(answer|decline)$")),
]
"""What the console may ask of an intermediate server (中間サーバー接続端末's actions)."""

_PASSED_HEADERS = ("content-type", FORCE_OUTCOME_HEADER.lower())


class AgencyHealth(BaseModel):
    """One agency on the network map: whether its intermediate server answers, its fault."""

    agency: AgencySummary
    healthy: bool
    fault: ProviderFault | None = None
    inquiries_as_requester: int = 0
    inquiries_as_provider: int = 0
    errors_as_provider: int = 0


class NetworkMap(BaseModel):
    """The network map (ネットワーク図): every agency, its health and faults, counts and the
    error hot spots of the last seven days (provider × error code)."""

    agencies: list[AgencyHealth]
    hot_spots: list[dict[str, Any]]
    records_counted: int


_LARGEST_OFFSET = 200 * 366 * 24 * 3600.0
"""How far (seconds) the console may move the clock from the real time, either way."""


class ConsoleClockSetting(BaseModel):
    """``PUT /console/api/clock``: the time every clock shows from now on (``now``, with a UTC
    offset), or an offset from the real time to put back (``offset_seconds``, as ``GET``
    reported it before); exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime | None = None
    offset_seconds: float | None = Field(
        default=None, ge=-_LARGEST_OFFSET, le=_LARGEST_OFFSET, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ConsoleClockSetting:
        if (self.now is None) == (self.offset_seconds is None):
            raise ValueError("give either now (a time with a UTC offset) or offset_seconds")
        return self

    def target(self) -> dt.datetime:
        """The time the clocks are to show now."""
        if self.now is not None:
            return self.now
        assert self.offset_seconds is not None
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset_seconds)


class AgencyClock(BaseModel):
    """One agency's intermediate server and what its clock says (``clock`` None and ``error``
    set when the server could not be reached or gave no clock)."""

    agency: AgencySummary
    clock: ClockView | None = None
    error: ErrorBody | None = None


class NetworkClock(BaseModel):
    """The simulated clock of the network (模擬時計): the hub's and every agency's."""

    hub: ClockView
    agencies: list[AgencyClock]
    complete: bool
    """True when every agency's intermediate server answered."""


def console_router(
    registry: Registry,
    faults: FaultTable,
    hub: Callable[[Request], Awaitable[HubService]],
    timeout: float,
) -> APIRouter:
    """``/console/`` (the pages) and ``/console/api/…`` (what they need beyond ``/v1``)."""
    router = APIRouter(tags=["console"])

    @router.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH)

    @router.get("/console/api/network")
    async def network_map(request: Request) -> NetworkMap:
        """Every agency with its health, fault in force, counts and error hot spots."""
        service = await hub(request)
        async with make_client(min(timeout, 3.0)) as client:

            async def healthy(url: str) -> bool:
                try:
                    return (await client.get(url)).status_code == 200
                except httpx.HTTPError:
                    return False

            entries = list(registry.agencies.values())
            health = await asyncio.gather(*(healthy(entry.url("/health")) for entry in entries))
        in_force = {fault.agency_code: fault for fault in faults.faults()}
        records = await service.recent_records(1000, None)
        asked = Counter(record.requester_code for record in records)
        provided = Counter(record.provider_code for record in records)
        failed = Counter(record.provider_code for record in records if record.error_code)
        statistics = await service.error_statistics(7)
        spots: Counter[tuple[str, str]] = Counter()
        for count in statistics.counts:
            spots[(count.provider_code, count.error_code)] += count.count
        return NetworkMap(
            agencies=[
                AgencyHealth(
                    agency=entry.summary(),
                    healthy=up,
                    fault=in_force.get(entry.code),
                    inquiries_as_requester=asked[entry.code],
                    inquiries_as_provider=provided[entry.code],
                    errors_as_provider=failed[entry.code],
                )
                for entry, up in zip(entries, health, strict=True)
            ],
            hot_spots=[
                {"provider_code": provider, "error_code": code, "count": count}
                for (provider, code), count in spots.most_common(20)
            ],
            records_counted=len(records),
        )

    async def agency_action(agency_code: str, path: str, request: Request) -> Response:
        """Pass a terminal's action on to the agency's intermediate server (AGY001 if the
        agency is unknown; VAL006 for anything the terminal may not do)."""
        entry = registry.get(agency_code)
        if not any(
            method == request.method and pattern.match(path) for method, pattern in _AGENCY_PATHS
        ):
            raise IpnsimError("VAL006", kind_ja="端末の操作", kind_en="console action", code=path)
        headers = {
            name: value for name, value in request.headers.items() if name in _PASSED_HEADERS
        }
        async with make_client(timeout) as client:
            try:
                answer = await client.request(
                    request.method,
                    entry.url(f"/v1/{path}"),
                    params=request.query_params,
                    content=await request.body(),
                    headers=headers,
                )
            except httpx.HTTPError:
                raise IpnsimError("AVL001", provider_code=agency_code) from None
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", "application/json"),
        )

    async def agency_clocks(method: str, target: dt.datetime | None) -> list[AgencyClock]:
        """Ask every registered agency's intermediate server for its clock (``GET``), to set
        it to ``target`` (``PUT``) or to reset it (``DELETE``), all at once over HTTP."""
        body = None if target is None else ClockSetting(now=target).model_dump_json().encode()
        headers = {"content-type": "application/json"} if body is not None else {}

        async with make_client(timeout) as client:

            async def one(code: str) -> AgencyClock:
                entry = registry.get(code)
                try:
                    answer = await client.request(
                        method, entry.url("/v1/clock"), content=body, headers=headers
                    )
                    answer.raise_for_status()
                    return AgencyClock(
                        agency=entry.summary(), clock=ClockView.model_validate_json(answer.content)
                    )
                except (httpx.HTTPError, ValidationError):
                    failure = IpnsimError("AVL001", provider_code=code)
                    return AgencyClock(agency=entry.summary(), error=failure.body())

            return list(await asyncio.gather(*(one(code) for code in registry.agencies)))

    def network_clock(hub_view: ClockView, agencies: list[AgencyClock]) -> NetworkClock:
        complete = all(agency.clock is not None for agency in agencies)
        return NetworkClock(hub=hub_view, agencies=agencies, complete=complete)

    @router.get("/console/api/clock")
    async def show_network_clock() -> NetworkClock:
        """What the simulated clock says at the hub and at every agency's intermediate server."""
        return network_clock(clock.view(), await agency_clocks("GET", None))

    @router.put("/console/api/clock")
    async def set_network_clock(body: ConsoleClockSetting) -> NetworkClock:
        """Set the simulated clock of the hub and of every agency it knows (over HTTP): each
        shows the time at once and runs on from there. An agency that cannot be reached is
        reported with ``AVL001`` and ``complete`` is false; the others are moved."""
        target = body.target()
        return network_clock(clock.set(target), await agency_clocks("PUT", target))

    @router.delete("/console/api/clock")
    async def reset_network_clock() -> NetworkClock:
        """Put the simulated clock of the hub and of every agency back to the real time."""
        hub_view = clock.reset()
        return network_clock(hub_view, await agency_clocks("DELETE", None))

    for method in ("GET", "POST"):
        # One operation per method: each needs its own operation id in the OpenAPI document.
        router.add_api_route(
            "/console/api/agencies/{agency_code}/{path:path}",
            agency_action,
            methods=[method],
            operation_id=f"console_agency_action_{method.lower()}",
        )
    return router
