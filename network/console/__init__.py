"""The web console (ウェブコンソール) for trainers and staff, served by the hub at ``/console/``.

Static pages (plain HTML, JavaScript and CSS: nothing to build, nothing fetched from outside the
machine) and the few endpoints they need beyond the hub's own API: the network map, and actions
on an agency's intermediate server (inquiry, mistaken-person declaration, records, disclosure,
manual responses), which the hub passes on over HTTP to the agency's registered URL.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from error_codes import IpnsimError
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

    for method in ("GET", "POST"):
        # One operation per method: each needs its own operation id in the OpenAPI document.
        router.add_api_route(
            "/console/api/agencies/{agency_code}/{path:path}",
            agency_action,
            methods=[method],
            operation_id=f"console_agency_action_{method.lower()}",
        )
    return router
