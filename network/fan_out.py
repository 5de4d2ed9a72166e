"""Fan-out inquiries (一括照会先指定): one person, every provider concerned, at once.

A requester names the providers by scope (every agency the permission table allows for the
info type, or only those that know the person, e.g. every municipality the person lived in) or
by a list of codes. The hub sends one ordinary inquiry to each, concurrently, under an inquiry
id of its own: each exchange is checked, converted, routed and recorded exactly as a single
inquiry is, and the answer holds one result per provider.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from error_codes import IpnsimError
from network.protocol.models import FanOutRequest, FanOutResult, FanOutScope, InquiryResult
from network.registry import AgencyEntry
from network.repository import PseudonymRepository
from network.service import HubService

logger = logging.getLogger("ipnsim.hub")

FAN_OUT_CONCURRENCY = 16
"""Inquiries of one fan-out in flight at once: enough to overlap slow providers, few enough
that a fan-out to every municipality does not swamp the hub's client pool."""


async def fan_out(
    hub: HubService,
    caller: AgencyEntry,
    request: FanOutRequest,
    concurrency: int = FAN_OUT_CONCURRENCY,
) -> FanOutResult:
    """Send the inquiry to every provider the request names; one result per provider."""
    if request.requester_code != caller.code:
        raise IpnsimError("AUT002", claimed=request.requester_code)
    hub.catalogue.check_inquiry_codes(
        request.affair_code, request.procedure_code, request.info_type_code
    )
    providers = await providers_of(hub, caller, request)
    limit = asyncio.Semaphore(concurrency)

    async def ask(provider_code: str) -> InquiryResult:
        async with limit:
            return await hub.inquire(caller, request.inquiry_to(provider_code, uuid.uuid4()))

    results = await asyncio.gather(*(ask(code) for code in providers))
    logger.info(
        "fan-out %s from %s to %d providers: %d answered with items",
        request.fan_out_id,
        caller.code,
        len(results),
        sum(1 for result in results if result.error is None),
    )
    return FanOutResult(fan_out_id=request.fan_out_id, scope=request.scope, results=results)


async def providers_of(hub: HubService, caller: AgencyEntry, request: FanOutRequest) -> list[str]:
    """The provider codes a fan-out goes to, in code order.

    A listed provider is asked as listed (a refusal is its result). A scope never includes the
    requester itself; a scope that no provider could satisfy is PRM001 for the whole request.
    """
    if request.provider_codes is not None:
        return sorted(request.provider_codes)
    async with hub.sessions() as session:
        pseudonyms = PseudonymRepository(session)
        issued = await pseudonyms.resolve(request.requester_pseudonym)
        if issued is None or issued.agency_code != caller.code:
            raise IpnsimError("IDN003")
        permitted = sorted(
            code
            for code, entry in hub.registry.agencies.items()
            if code != caller.code
            and hub.permissions.allows(
                caller.kind,
                request.affair_code,
                request.procedure_code,
                request.info_type_code,
                entry.kind,
            )
        )
        if not permitted:
            raise IpnsimError("PRM001", info_type_code=request.info_type_code)
        if request.scope is FanOutScope.PERMITTED:
            return permitted
        holding = await pseudonyms.agencies_holding(issued.person_key)
    return [code for code in permitted if code in holding]
