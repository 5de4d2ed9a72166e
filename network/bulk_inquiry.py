"""Bulk inquiries: one block of a 一括照会 job in one request, recorded in one transaction.

Each inquiry of the block is checked, converted, routed and recorded exactly as a single
inquiry (``POST /v1/inquiries``) is, with the same functions; only the work is grouped. The
requesters' 符号 and their conversions are read with a few queries for the whole block, each
provider is asked once for all of the block's inquiries to it (every provider at once), and
the block's records are written to the hub's record log in one transaction. An inquiry the
hub would have refused alone (another requester's code, an unknown code, an inquiry id
already recorded) is refused alone, recorded nowhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError

from error_codes import IpnsimError
from network.db import HubRecord
from network.protocol.models import (
    BulkInquiryItem,
    BulkInquiryRequest,
    BulkInquiryResult,
    InquiryResult,
    LogEventKind,
    ProvisionAnswer,
    ProvisionRequest,
)
from network.registry import AgencyEntry
from network.repository import PseudonymRepository, RecordRepository
from network.service import HubService, _Exchange, answered, failed

logger = logging.getLogger("ipnsim.hub")


async def inquire_bulk(
    hub: HubService, caller: AgencyEntry, request: BulkInquiryRequest
) -> BulkInquiryResult:
    """Check, convert, route and record every inquiry of the block; one item per inquiry."""
    if request.requester_code != caller.code:
        raise IpnsimError("AUT002", claimed=request.requester_code)
    items: list[BulkInquiryItem | None] = [None] * len(request.inquiries)
    exchanges: dict[int, _Exchange] = {}
    for index, inquiry in enumerate(request.inquiries):
        try:
            if inquiry.requester_code != caller.code:
                raise IpnsimError("AUT002", claimed=inquiry.requester_code)
            hub.catalogue.check_inquiry_codes(
                inquiry.affair_code, inquiry.procedure_code, inquiry.info_type_code
            )
        except IpnsimError as error:
            items[index] = BulkInquiryItem(refused=error.body())
            continue
        exchanges[index] = _Exchange(request=inquiry, requester=caller)
    routes = await _prepare(hub, exchanges, items)
    for index, refusal in (await _route(hub, exchanges, routes)).items():
        items[index] = BulkInquiryItem(refused=refusal.body())
        del exchanges[index]
    for index, outcome in (await _record(hub, exchanges)).items():
        items[index] = (
            BulkInquiryItem(result=outcome)
            if isinstance(outcome, InquiryResult)
            else BulkInquiryItem(refused=outcome.body())
        )
    assert all(item is not None for item in items)
    logger.info("bulk inquiry of %d from %s", len(items), caller.code)
    return BulkInquiryResult(items=[item for item in items if item is not None])


async def _prepare(
    hub: HubService, exchanges: dict[int, _Exchange], items: list[BulkInquiryItem | None]
) -> dict[str, list[tuple[int, ProvisionRequest]]]:
    """Check and convert every exchange in one session; the provision requests by provider.

    An exchange that fails here keeps its error to be recorded; one whose inquiry id is
    already recorded is refused (REC004) and dropped.
    """
    routes: dict[str, list[tuple[int, ProvisionRequest]]] = defaultdict(list)
    async with hub.sessions() as session:
        taken = await RecordRepository(session).existing(
            exchange.request.inquiry_id for exchange in exchanges.values()
        )
        pseudonyms = PseudonymRepository(session)
        await _warm(hub, pseudonyms, exchanges.values())
        for index, exchange in list(exchanges.items()):
            inquiry_id = str(exchange.request.inquiry_id)
            if inquiry_id in taken:
                error = IpnsimError("REC004", inquiry_id=inquiry_id)
                items[index] = BulkInquiryItem(refused=error.body())
                del exchanges[index]
                continue
            taken.add(inquiry_id)  # the same id twice in one block: the second is refused
            try:
                provider, provision = await hub._check_and_convert(pseudonyms, exchange)
            except IpnsimError as error:
                failed(exchange, error)
                continue
            routes[provider.code].append((index, provision))
    return routes


async def _warm(
    hub: HubService, pseudonyms: PseudonymRepository, exchanges: Iterable[_Exchange]
) -> None:
    """Read into the hub's 符号 cache, with one query each, the requesters' 符号 and the
    providers' 符号 of the same people that it does not hold yet."""
    requests = [exchange.request for exchange in exchanges]
    unknown = {r.requester_pseudonym for r in requests if hub.issued.owner(r.requester_pseudonym)}
    unknown = {r.requester_pseudonym for r in requests} - unknown
    for row in await pseudonyms.resolve_many(unknown):
        hub.issued.remember(row.pseudonym, row.agency_code, row.person_key)
    wanted: dict[str, set[str]] = defaultdict(set)
    for r in requests:
        owner = hub.issued.owner(r.requester_pseudonym)
        if owner is not None and hub.issued.pseudonym(r.provider_code, owner[1]) is None:
            wanted[r.provider_code].add(owner[1])
    for agency_code, people in wanted.items():
        for person, pseudonym in (await pseudonyms.find_many(agency_code, people)).items():
            hub.issued.remember(pseudonym, agency_code, person)


async def _route(
    hub: HubService,
    exchanges: dict[int, _Exchange],
    routes: dict[str, list[tuple[int, ProvisionRequest]]],
) -> dict[int, IpnsimError]:
    """Ask every provider, at once, for all of its provisions of the block; the exchanges
    refused as a single inquiry would be (nothing recorded)."""
    refused: dict[int, IpnsimError] = {}

    async def ask(provisions: list[tuple[int, ProvisionRequest]]) -> None:
        provider = exchanges[provisions[0][0]].provider
        assert provider is not None
        answers = await hub.router.provide_many(provider, [p for _, p in provisions])
        for (index, _), answer in zip(provisions, answers, strict=True):
            try:
                if isinstance(answer, ProvisionAnswer):
                    answered(exchanges[index], answer)
                else:
                    failed(exchanges[index], answer)
            except IpnsimError as error:
                refused[index] = error

    await asyncio.gather(*(ask(provisions) for provisions in routes.values()))
    return refused


async def _record(
    hub: HubService, exchanges: dict[int, _Exchange]
) -> dict[int, InquiryResult | IpnsimError]:
    """Write every exchange's record in one transaction; each one's result.

    Should the block collide with records written meanwhile (an inquiry id taken since it was
    checked), each is written alone, as a single inquiry's is, and the colliding ones refused.
    """
    records = {index: hub._record_row(exchange) for index, exchange in exchanges.items()}
    try:
        await hub.log.append(hub.sessions, HubRecord, list(records.values()), LogEventKind.RECORD)
    except IntegrityError:
        outcomes: dict[int, InquiryResult | IpnsimError] = {}
        for index, exchange in exchanges.items():
            try:
                outcomes[index] = await hub._record(exchange)
            except IpnsimError as error:
                outcomes[index] = error
        return outcomes
    return {index: hub._recorded(exchanges[index], record) for index, record in records.items()}
