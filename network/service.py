"""What the hub does: issue and convert 符号, check permissions, route, record, annotate, disclose."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from error_codes import ErrorBody, IpnsimError
from ipnsim.storage import utcnow
from ipnsim.tracing import current_trace_id
from network.db import (
    AddendumDelivery,
    HubAddendum,
    HubLogLeaf,
    HubOutcome,
    HubRecord,
    HubRetentionPurge,
    HubTreeHead,
    IssuedPseudonym,
    RetentionHorizon,
)
from network.events import FlowEvents
from network.faults import InjectedFault
from network.permissions import PermissionTable
from network.protocol.layouts import Catalogue
from network.protocol.models import (
    Addendum,
    AddendumKind,
    DisclosureView,
    ErrorStatistics,
    InquiryRequest,
    InquiryResult,
    LogEventKind,
    MistakenInquiryDeclaration,
    ProvisionAnswer,
    ProvisionRecord,
    ProvisionRequest,
    RetentionPurgeResult,
    outcome_statuses,
)
from network.protocol.record_log import Appender, EventTable, RecordLog
from network.pseudonyms import IssuedPseudonymCache, person_key, pseudonym_for
from network.registry import AgencyEntry, Registry
from network.repository import (
    InquiryLookups,
    PseudonymLookups,
    PseudonymRepository,
    RecordRepository,
    addendum_view,
    record_view,
)
from network.routing import ProviderRouter

logger = logging.getLogger("ipnsim.hub")

HUB_LOG_ID = "hub"


def hub_record_log(key: Ed25519PrivateKey | None = None) -> RecordLog:
    """The hub's record log, signed with ``key`` (a new key if none is given)."""
    return RecordLog(
        HUB_LOG_ID,
        key or Ed25519PrivateKey.generate(),
        HubLogLeaf,
        HubTreeHead,
        [
            EventTable(HubRecord, LogEventKind.RECORD),
            EventTable(HubAddendum, LogEventKind.ADDENDUM),
            EventTable(HubOutcome, LogEventKind.OUTCOME),
        ],
        clock=utcnow,
        purge_model=HubRetentionPurge,
        horizon_model=RetentionHorizon,
    )


_BULK_ATTEMPTS = 3
"""Tries of a bulk issuance that collides with a concurrent one on the same people."""


@dataclass
class _Exchange:
    """What the hub learnt while handling one inquiry, written as its record at the end."""

    request: InquiryRequest
    requester: AgencyEntry
    provider: AgencyEntry | None = None
    person_key: str | None = None
    answer: ProvisionAnswer | None = None
    error_body: ErrorBody | None = None
    provider_reached: bool = False
    started: float = field(default_factory=time.perf_counter)


def answered(exchange: _Exchange, answer: ProvisionAnswer) -> None:
    """The provider answered the exchange (with items or with its error)."""
    exchange.answer = answer
    exchange.provider_reached = True
    exchange.error_body = answer.error


def failed(exchange: _Exchange, error: IpnsimError) -> None:
    """The exchange failed with ``error``, to be recorded; a duplicate inquiry id (REC004) is
    raised instead, as nothing may be recorded under it again."""
    if error.code == "REC004" and not isinstance(error, InjectedFault):
        raise error
    # A provider that timed out or answered garbage may still have recorded the
    # provision: it must receive any addendum, so count it as reached.
    exchange.provider_reached = error.code in {"AVL002", "AVL005"}
    exchange.error_body = error.body()


class HubService:
    """The hub's behaviour. Each method owns its own short transactions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: Registry,
        permissions: PermissionTable,
        catalogue: Catalogue,
        router: ProviderRouter,
        secret: bytes,
        issued: IssuedPseudonymCache | None = None,
        log: RecordLog | None = None,
        events: FlowEvents | None = None,
    ) -> None:
        self.sessions = sessions
        self.events = events or FlowEvents()
        self.log = log or hub_record_log()
        self.registry = registry
        self.permissions = permissions
        self.catalogue = catalogue
        self.router = router
        self.secret = secret
        self.issued = issued if issued is not None else IssuedPseudonymCache()
        bind = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("the hub's sessions must be bound to an async engine")
        self._engine = bind

    # --- 符号 ---------------------------------------------------------------------------------

    async def issue_pseudonym(
        self, caller: AgencyEntry, agency_code: str, resident_code: str
    ) -> str:
        """Issue (or return the already issued) 符号 of this person for the calling agency."""
        if agency_code != caller.code:
            raise IpnsimError("AUT002", claimed=agency_code)
        person = person_key(self.secret, resident_code)
        pseudonym = pseudonym_for(self.secret, person, caller.code)
        try:
            async with self.sessions.begin() as session:
                repository = PseudonymRepository(session)
                existing = await repository.find(caller.code, person)
                if existing is not None:
                    return existing.pseudonym
                repository.add(
                    IssuedPseudonym(
                        pseudonym=pseudonym,
                        agency_code=caller.code,
                        person_key=person,
                        issued_at=utcnow(),
                    )
                )
        except IntegrityError:
            # Another request (on this hub or another hub sharing the database) issued the same
            # 符号 at the same moment: it is derived from the key, so it is this one.
            async with self.sessions() as session:
                existing = await PseudonymRepository(session).find(caller.code, person)
            if existing is None:
                raise
            return existing.pseudonym
        logger.info("issued 符号 to agency %s", caller.code)
        return pseudonym

    async def issue_pseudonyms(
        self, caller: AgencyEntry, agency_code: str, resident_codes: Sequence[str]
    ) -> list[str]:
        """The calling agency's 符号 for many people, in the order of ``resident_codes``.

        Idempotent: a 符号 already issued is returned as it is. All new ones are written in one
        transaction (one query for those already issued, one bulk insert for the rest). Only
        the keyed person keys are kept; the resident codes are neither stored nor logged.
        """
        if agency_code != caller.code:
            raise IpnsimError("AUT002", claimed=agency_code)
        people = [person_key(self.secret, code) for code in resident_codes]
        unique = list(dict.fromkeys(people))
        for attempt in range(1, _BULK_ATTEMPTS + 1):
            try:
                issued, created = await self._issue_missing(caller.code, unique)
                break
            except IntegrityError:
                # A concurrent request issued some of the same 符号: they are found next time.
                if attempt == _BULK_ATTEMPTS:
                    raise
        logger.info("issued %d new 符号 to agency %s (%d asked)", created, caller.code, len(people))
        return [issued[person] for person in people]

    async def _issue_missing(
        self, agency_code: str, people: list[str]
    ) -> tuple[dict[str, str], int]:
        """Every person's 符号 for one agency, issuing those missing; and how many were new."""
        async with self.sessions.begin() as session:
            repository = PseudonymRepository(session)
            issued = await repository.find_many(agency_code, people)
            missing = [person for person in people if person not in issued]
            now = utcnow()
            for person in missing:
                issued[person] = pseudonym_for(self.secret, person, agency_code)
            await repository.add_many(
                [
                    {
                        "pseudonym": issued[person],
                        "agency_code": agency_code,
                        "person_key": person,
                        "issued_at": now,
                    }
                    for person in missing
                ]
            )
        return issued, len(missing)

    # --- 情報照会 -----------------------------------------------------------------------------

    async def inquire(self, caller: AgencyEntry, request: InquiryRequest) -> InquiryResult:
        """Check, convert, route and record one inquiry; every outcome is recorded."""
        if request.requester_code != caller.code:
            raise IpnsimError("AUT002", claimed=request.requester_code)
        self.catalogue.check_inquiry_codes(
            request.affair_code, request.procedure_code, request.info_type_code
        )
        exchange = _Exchange(request=request, requester=caller)
        self._hop(exchange, "received", requester_pseudonym=request.requester_pseudonym)
        try:
            provider, provision = await self._prepare(exchange)
            self._hop(exchange, "forwarded", provider_pseudonym=provision.provider_pseudonym)
            answered(exchange, await self.router.provide(provider, provision))
            self._hop(
                exchange, "provided", items=len(exchange.answer.items if exchange.answer else [])
            )
        except IpnsimError as error:
            failed(exchange, error)
        return await self._record(exchange)

    async def _prepare(self, exchange: _Exchange) -> tuple[AgencyEntry, ProvisionRequest]:
        request = exchange.request
        async with InquiryLookups(self._engine) as lookups:
            if await lookups.recorded(request.inquiry_id):
                raise IpnsimError("REC004", inquiry_id=str(request.inquiry_id))
            return await self._check_and_convert(lookups, exchange)

    async def _check_and_convert(
        self, pseudonyms: PseudonymLookups, exchange: _Exchange
    ) -> tuple[AgencyEntry, ProvisionRequest]:
        """Check the requester's 符号 and the permission, and convert the 符号 for the provider."""
        request = exchange.request
        owner = await self._owner(pseudonyms, request.requester_pseudonym)
        if owner is None or owner[0] != exchange.requester.code:
            raise IpnsimError("IDN003")
        person = exchange.person_key = owner[1]
        provider = self.registry.get(request.provider_code)
        exchange.provider = provider
        if not self.permissions.allows(
            exchange.requester.kind,
            request.affair_code,
            request.procedure_code,
            request.info_type_code,
            provider.kind,
        ):
            raise IpnsimError("PRM001", info_type_code=request.info_type_code)
        self._hop(exchange, "permitted")
        converted = await self._pseudonym(pseudonyms, provider.code, person)
        if converted is None:
            raise IpnsimError("IDN004", provider_code=provider.code)
        self._hop(exchange, "converted", provider_pseudonym=converted)
        return provider, ProvisionRequest(
            inquiry_id=request.inquiry_id,
            requester_code=exchange.requester.code,
            requester_name=exchange.requester.name_ja,
            provider_code=provider.code,
            provider_pseudonym=converted,
            affair_code=request.affair_code,
            procedure_code=request.procedure_code,
            info_type_code=request.info_type_code,
            condition=request.condition,
            requested_at=request.requested_at,
            requester_non_disclosure=request.requester_non_disclosure,
            trace_id=current_trace_id(),
        )

    def _hop(self, exchange: _Exchange, hop: str, **fields: object) -> None:
        """Publish one hop of the inquiry to the live flow (nothing happens if nobody listens)."""
        if not self.events.listening:
            return
        request = exchange.request
        self.events.publish(
            hop,
            request.inquiry_id,
            exchange.started,
            requester_code=exchange.requester.code,
            requester_name=exchange.requester.name_ja,
            provider_code=request.provider_code,
            procedure_code=request.procedure_code,
            info_type_code=request.info_type_code,
            **fields,
        )

    async def _owner(self, pseudonyms: PseudonymLookups, pseudonym: str) -> tuple[str, str] | None:
        """The agency code and person key of an issued 符号, or None if it was never issued."""
        owner = self.issued.owner(pseudonym)
        if owner is None:
            owner = await pseudonyms.owner(pseudonym)
            if owner is None:
                return None
            self.issued.remember(pseudonym, *owner)
        return owner

    async def _pseudonym(
        self, pseudonyms: PseudonymLookups, agency_code: str, person: str
    ) -> str | None:
        """The 符号 issued to an agency for a person, or None if none was issued yet."""
        pseudonym = self.issued.pseudonym(agency_code, person)
        if pseudonym is None:
            pseudonym = await pseudonyms.pseudonym(agency_code, person)
            if pseudonym is None:
                return None
            self.issued.remember(pseudonym, agency_code, person)
        return pseudonym

    async def _record(self, exchange: _Exchange) -> InquiryResult:
        record = self._record_row(exchange)
        try:
            await self.log.append(self.sessions, HubRecord, [record], LogEventKind.RECORD)
        except IntegrityError:
            raise IpnsimError("REC004", inquiry_id=str(exchange.request.inquiry_id)) from None
        return self._recorded(exchange, record)

    def _record_row(self, exchange: _Exchange) -> dict[str, Any]:
        """The hub's copy of the record of one exchange: its ``HubRecord`` columns' values."""
        request = exchange.request
        answer = exchange.answer
        error_code = exchange.error_body.code if exchange.error_body else None
        status_detail, status_info_type = outcome_statuses(error_code)
        items = answer.items if answer is not None and answer.error is None else []
        provider = exchange.provider
        return {
            "inquiry_id": str(request.inquiry_id),
            "person_key": exchange.person_key,
            "requester_code": exchange.requester.code,
            "requester_name": exchange.requester.name_ja,
            "provider_code": request.provider_code,
            "provider_name": provider.name_ja if provider else "",
            "affair_code": request.affair_code,
            "procedure_code": request.procedure_code,
            "info_type_code": request.info_type_code,
            "item_codes": [item.code for item in items],
            "requested_at": request.requested_at,
            "provided_at": answer.provided_at if answer is not None else None,
            "status_detail": status_detail.value,
            "status_info_type": status_info_type.value,
            "error_code": error_code,
            "requester_non_disclosure": request.requester_non_disclosure,
            "provider_non_disclosure": answer.provider_non_disclosure if answer else False,
            "provider_reached": exchange.provider_reached,
            "recorded_at": utcnow(),
            "trace_id": current_trace_id(),
        }

    def _recorded(self, exchange: _Exchange, record: Mapping[str, Any]) -> InquiryResult:
        """The result of one exchange whose record was written (and a line in the log)."""
        request = exchange.request
        answer = exchange.answer
        error_code = record["error_code"]
        status_detail, status_info_type = outcome_statuses(error_code)
        items = answer.items if answer is not None and answer.error is None else []
        logger.info(
            "inquiry %s %s→%s %s: %s%s",
            request.inquiry_id,
            exchange.requester.code,
            request.provider_code,
            request.info_type_code,
            status_detail.value + status_info_type.value,
            f" {error_code}" if error_code else "",
        )
        self._hop(
            exchange,
            "answered",
            status=status_detail.value + status_info_type.value,
            error_code=error_code,
            error_message_ja=exchange.error_body.message_ja if exchange.error_body else None,
            error_message_en=exchange.error_body.message_en if exchange.error_body else None,
            provider_reached=exchange.provider_reached,
        )
        return InquiryResult(
            inquiry_id=request.inquiry_id,
            requester_code=exchange.requester.code,
            provider_code=request.provider_code,
            provider_name=record["provider_name"],
            info_type_code=request.info_type_code,
            status_detail=status_detail,
            status_info_type=status_info_type,
            requested_at=request.requested_at,
            provided_at=record["provided_at"],
            items=items,
            replica=answer.replica if answer is not None and answer.error is None else None,
            error=exchange.error_body,
            provider_non_disclosure=record["provider_non_disclosure"],
        )

    # --- records ------------------------------------------------------------------------------

    async def record(self, caller: AgencyEntry | None, inquiry_id: uuid.UUID) -> ProvisionRecord:
        """The hub's copy of one record, for its requester, its provider or the operator."""
        async with self.sessions() as session:
            repository = RecordRepository(session)
            row = await repository.get(inquiry_id)
            if row is None or (
                caller is not None and caller.code not in {row.requester_code, row.provider_code}
            ):
                raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
            addenda = await repository.addenda([row.inquiry_id])
            outcome = await repository.outcome(row.inquiry_id)
        return record_view(row, addenda[row.inquiry_id], outcome)

    async def recent_records(self, limit: int, agency_code: str | None) -> list[ProvisionRecord]:
        """The newest records, for the operator (optionally those of one agency)."""
        async with self.sessions() as session:
            repository = RecordRepository(session)
            rows = await repository.recent(limit, agency_code)
            keys = [row.inquiry_id for row in rows]
            addenda = await repository.addenda(keys)
            outcomes = await repository.outcomes(keys)
        return [
            record_view(row, addenda[row.inquiry_id], outcomes.get(row.inquiry_id)) for row in rows
        ]

    async def error_statistics(self, days: int, today: dt.date | None = None) -> ErrorStatistics:
        """Failed inquiries of the last ``days`` days (today, UTC, included), by provider, error
        code and day of the inquiry: where errors cluster."""
        until = today or utcnow().date()
        since = until - dt.timedelta(days=days - 1)
        start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        async with self.sessions() as session:
            counts = await RecordRepository(session).error_counts(start)
        return ErrorStatistics(
            days=days,
            since=since,
            until=until,
            total=sum(count.count for count in counts),
            counts=counts,
        )

    async def declare_mistaken(
        self, caller: AgencyEntry, inquiry_id: uuid.UUID, declaration: MistakenInquiryDeclaration
    ) -> Addendum:
        """Append a mistaken-person addendum (追記) and pass it on to the provider.

        Only the requester of the inquiry may declare it, and only once. The same declaration
        again (same user and reason, e.g. a retry after a lost answer) returns the addendum
        already appended and appends nothing; another declaration is REC005. The original
        record is never changed.
        """
        if declaration.requester_code != caller.code:
            raise IpnsimError("AUT002", claimed=declaration.requester_code)

        async def already_declared(
            repository: RecordRepository, record: HubRecord
        ) -> HubAddendum | None:
            existing = (await repository.addenda([record.inquiry_id]))[record.inquiry_id]
            for row in existing:
                if row.kind != AddendumKind.MISTAKEN_PERSON:
                    continue
                if (row.reason, row.declared_by_user) == (
                    declaration.reason,
                    declaration.declared_by_user,
                ):
                    return row
                raise IpnsimError("REC005", inquiry_id=str(inquiry_id))
            return None

        async def write(
            session: AsyncSession, log: Appender
        ) -> tuple[HubAddendum, HubRecord, bool]:
            repository = RecordRepository(session)
            record = await repository.get(inquiry_id)
            if record is None:
                raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
            if record.requester_code != caller.code:
                raise IpnsimError("REC002", inquiry_id=str(inquiry_id))
            repeated = await already_declared(repository, record)
            if repeated is not None:
                return repeated, record, False
            row = HubAddendum(
                addendum_id=str(uuid.uuid4()),
                inquiry_id=record.inquiry_id,
                kind=AddendumKind.MISTAKEN_PERSON.value,
                reason=declaration.reason,
                declared_by_agency=caller.code,
                declared_by_user=declaration.declared_by_user,
                declared_at=utcnow(),
            )
            log.append(row, LogEventKind.ADDENDUM)
            return row, record, True

        try:
            row, record, appended = await self.log.write(self.sessions, write)
        except IntegrityError:
            # Another hub appended this inquiry's mistaken-person addendum at the same moment
            # (the partial unique index on addenda keeps it to one): the same declaration gets
            # that addendum, another one REC005.
            async with self.sessions() as session:
                repository = RecordRepository(session)
                found = await repository.get(inquiry_id)
                repeated = await already_declared(repository, found) if found else None
            if found is None or repeated is None:
                raise IpnsimError("REC005", inquiry_id=str(inquiry_id)) from None
            row, record, appended = repeated, found, False
        if not appended:
            logger.info("inquiry %s: the same mistaken-person declaration again", inquiry_id)
            return addendum_view(row)
        provider_reached = record.provider_reached
        provider_code = record.provider_code
        addendum = addendum_view(row)
        logger.info("addendum %s appended to inquiry %s", addendum.addendum_id, inquiry_id)
        if provider_reached:
            await self._deliver(addendum, provider_code)
        return addendum

    async def _deliver(self, addendum: Addendum, provider_code: str) -> bool:
        try:
            await self.router.deliver_addendum(self.registry.get(provider_code), addendum)
        except IpnsimError as error:
            logger.warning(
                "addendum %s not yet delivered to %s (%s); will retry",
                addendum.addendum_id,
                provider_code,
                error.code,
            )
            return False
        try:
            async with self.sessions.begin() as session:
                await RecordRepository(session).mark_delivered(str(addendum.addendum_id), utcnow())
        except IntegrityError:
            pass  # a concurrent delivery of the same addendum marked it first
        return True

    async def deliver_pending_addenda(self) -> int:
        """Send again every addendum a provider has not yet received; returns how many arrived."""
        async with self.sessions() as session:
            pending = await RecordRepository(session).undelivered_addenda()
        delivered = 0
        for row, record in pending:
            if await self._deliver(addendum_view(row), record.provider_code):
                delivered += 1
        return delivered

    async def redeliver_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.deliver_pending_addenda()
            except Exception:
                logger.exception("redelivery of addenda failed; retrying later")

    # --- retention (保存期間) ---------------------------------------------------------------------

    async def purge_expired(self) -> RetentionPurgeResult:
        """Purge every record inquired more than seven years ago by the simulated clock (with
        its addenda and outcome); their leaves stay in the log, listed in a signed purge."""

        async def deliveries(session: AsyncSession, inquiry_ids: list[str]) -> None:
            addenda = select(HubAddendum.addendum_id).where(HubAddendum.inquiry_id.in_(inquiry_ids))
            await session.execute(
                delete(AddendumDelivery).where(AddendumDelivery.addendum_id.in_(addenda))
            )

        return await self.log.purge_expired(self.sessions, deliveries)

    # --- disclosure ---------------------------------------------------------------------------

    async def disclose(
        self, caller: AgencyEntry, agency_code: str, pseudonym: str
    ) -> DisclosureView:
        """Every record about the person (やりとり履歴) except those flagged 不開示."""
        if agency_code != caller.code:
            raise IpnsimError("AUT002", claimed=agency_code)
        async with self.sessions() as session:
            issued = await PseudonymRepository(session).resolve(pseudonym)
            if issued is None or issued.agency_code != caller.code:
                raise IpnsimError("IDN003")
            repository = RecordRepository(session)
            rows = await repository.about_person(issued.person_key)
            keys = [row.inquiry_id for row in rows]
            addenda = await repository.addenda(keys)
            outcomes = await repository.outcomes(keys)
        views = [
            record_view(row, addenda[row.inquiry_id], outcomes.get(row.inquiry_id)) for row in rows
        ]
        return DisclosureView(
            records=[
                view
                for view in views
                if not (view.requester_non_disclosure or view.provider_non_disclosure)
            ]
        )
