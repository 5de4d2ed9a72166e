"""What an intermediate server does, for its business systems and for the hub."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from error_codes import ErrorBody, FieldProblem, IpnsimError
from intermediate_server.db import (
    LocalAddendum,
    LocalLogLeaf,
    LocalOutcome,
    LocalRecord,
    LocalRetentionHorizon,
    LocalRetentionPurge,
    LocalTreeHead,
    Person,
    Replica,
    ReplicaFields,
)
from intermediate_server.dependants import (
    DUPLICATE_DEPENDANT_INFO,
    FINDER_AFFAIR,
    FINDER_PROCEDURE,
    asked_year,
    claimed,
    finder_answer,
    summarise_claims,
)
from intermediate_server.freshness import RegistrationQueue
from intermediate_server.hub_client import HubClient
from intermediate_server.manual import DEFAULT_HOLD_SECONDS, ManualDesk, replica_answer
from intermediate_server.replica_layout import layout_problems
from intermediate_server.schemas import (
    BulkResult,
    DependantClaims,
    DependantClaimsOrder,
    FanOutOrder,
    FreshnessReport,
    InquiryOrder,
    LagMode,
    MistakenDeclaration,
    PersonRegistration,
    PersonView,
    RegistrationLag,
    ReplicaBulkItem,
    ReplicaContent,
    ReplicaRegistration,
    ReplicaView,
)
from intermediate_server.tax_release import TaxRelease
from ipnsim.storage import AnyRow, insert_many, reads_of, utcnow
from ipnsim.tracing import current_trace_id
from network.protocol.layouts import Catalogue
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    MANUAL_PENDING_CODE,
    Addendum,
    AddendumKind,
    BulkInquiryItem,
    BulkInquiryRequest,
    BulkInquiryResult,
    CaseReport,
    CaseReports,
    ConditionKind,
    DetailStatus,
    DisclosureRequest,
    DisclosureView,
    FanOutRequest,
    FanOutResult,
    FanOutScope,
    InfoTypeStatus,
    InquiryCondition,
    InquiryRequest,
    InquiryResult,
    LogEventKind,
    MistakenInquiryDeclaration,
    ProvisionAnswer,
    ProvisionRecord,
    ProvisionRequest,
    PseudonymBulkIssued,
    PseudonymBulkRequest,
    PseudonymIssued,
    PseudonymRequest,
    RecordSide,
    ReplicaItem,
    RetentionPurgeResult,
    outcome_statuses,
)
from network.protocol.record_log import Appender, EventTable, RecordLog

logger = logging.getLogger("ipnsim.intermediate")


def local_record_log(agency_code: str, key: Ed25519PrivateKey | None = None) -> RecordLog:
    """This server's record log (its requester and provider copies), signed with ``key`` (a
    new key if none is given); the log is named by the agency code."""
    return RecordLog(
        agency_code,
        key or Ed25519PrivateKey.generate(),
        LocalLogLeaf,
        LocalTreeHead,
        [
            EventTable(LocalRecord, LogEventKind.RECORD),
            EventTable(LocalAddendum, LogEventKind.ADDENDUM),
            EventTable(LocalOutcome, LogEventKind.OUTCOME),
        ],
        clock=utcnow,
        purge_model=LocalRetentionPurge,
        horizon_model=LocalRetentionHorizon,
    )


JST = dt.timezone(dt.timedelta(hours=9), "JST")

_IN_CHUNK = 5_000
"""Most values in one ``IN (…)`` list: well below SQLite's and PostgreSQL's parameter limits."""
_PSEUDONYM_OF = select(Person.atena_number, Person.pseudonym).where(
    Person.atena_number == bindparam("atena_number")
)
"""A person's 符号 by atena number (no row: not registered; None: not obtained yet)."""
_PSEUDONYMS_OF = select(Person.atena_number, Person.pseudonym).where(
    Person.atena_number.in_(bindparam("values", expanding=True))
)
_PEOPLE_BY_PSEUDONYM = select(Person.pseudonym, Person.atena_number).where(
    Person.pseudonym.in_(bindparam("values", expanding=True))
)
_REPLICAS_OF_PEOPLE = select(Replica.__table__).where(
    Replica.atena_number.in_(bindparam("values", expanding=True)),
    Replica.info_type_code.in_(bindparam("info_types", expanding=True)),
    Replica.publication_start <= bindparam("today"),
)
"""Every replica (tombstones too) of some people and info types published by ``today``."""
_BULK_ATTEMPTS = 3
"""Tries of a bulk registration that collides with a concurrent one on the same keys."""


def today_in_japan() -> dt.date:
    """Today in Japan by the simulated clock (模擬時計): publication periods and release dates
    follow ``ipnsim clock set``."""
    return utcnow().astimezone(JST).date()


@dataclass(frozen=True)
class AgencyIdentity:
    code: str
    name_ja: str


class IntermediateService:
    """One agency's intermediate server. Each method owns its own short transactions."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        agency: AgencyIdentity,
        hub: HubClient,
        catalogue: Catalogue,
        today: Callable[[], dt.date] = today_in_japan,
        manual_hold_seconds: float = DEFAULT_HOLD_SECONDS,
        log: RecordLog | None = None,
        tax_release: TaxRelease | None = None,
        registration_lag: RegistrationLag | None = None,
    ) -> None:
        self.sessions = sessions
        self.reads = reads_of(sessions)
        self.agency = agency
        self.hub = hub
        self.catalogue = catalogue
        self.today = today
        self.tax_release = tax_release or TaxRelease()
        self.log = log or local_record_log(agency.code)
        self.registrations = RegistrationQueue(sessions, registration_lag)
        self.manual = ManualDesk(sessions, agency.code, hub, manual_hold_seconds, log=self.log)

    # --- people and 符号 ----------------------------------------------------------------------

    async def register_person(self, registration: PersonRegistration) -> PersonView:
        """Register a person (idempotent for the same resident code), then obtain the 符号."""
        async with self.sessions.begin() as session:
            person = await session.get(Person, registration.atena_number)
            if person is None:
                person = Person(
                    atena_number=registration.atena_number,
                    resident_code=registration.resident_code,
                    my_number=registration.my_number,
                    pseudonym=None,
                    pseudonym_acquired_at=None,
                    registered_at=utcnow(),
                )
                session.add(person)
            elif person.resident_code != registration.resident_code:
                raise IpnsimError("IDN005", atena_number=registration.atena_number)
            elif registration.my_number is not None:
                person.my_number = registration.my_number
        if registration.acquire_pseudonym and person.pseudonym is None:
            return await self.acquire_pseudonym(registration.atena_number)
        return _person_view(person)

    async def register_people_bulk(self, people: Sequence[PersonRegistration]) -> BulkResult:
        """Register many people in one transaction, with the 符号 obtained in one hub call.

        The rules of :meth:`register_person` hold for every item: a person already registered
        with the same resident code is accepted again (and counted as existing); another
        resident code for a known atena number refuses the whole request with ``IDN005``
        naming the item, and nothing is written.
        """
        merged: dict[str, _PersonItem] = {}
        for index, registration in enumerate(people):
            item = merged.get(registration.atena_number)
            if item is None:
                merged[registration.atena_number] = _PersonItem.of(index, registration)
            elif item.resident_code != registration.resident_code:
                raise _at(
                    IpnsimError("IDN005", atena_number=registration.atena_number),
                    f"people.{index}",
                    f"atena number also at people.{item.index} with another resident code",
                )
            else:
                item.merge(registration)
        for attempt in range(1, _BULK_ATTEMPTS + 1):
            try:
                created = await self._register_people(merged)
                break
            except IntegrityError:
                # A concurrent request registered some of the same people: known next time.
                if attempt == _BULK_ATTEMPTS:
                    raise
        existing = len(people) - created
        logger.info("registered %d new people (%d already known)", created, existing)
        return BulkResult(created=created, existing=existing)

    async def _register_people(self, merged: dict[str, _PersonItem]) -> int:
        """Register the people not yet known with the 符号 the hub issues for them, in one
        transaction; how many were new.

        The 符号 are obtained first (one hub call, only resident codes sent), so each new row is
        written once, complete. If the hub fails, the people are registered without 符号 and
        the hub's error is raised: registering them again obtains the 符号.
        """
        async with self.sessions() as session:
            known = {
                row.atena_number: row
                for row in await _select_in(
                    session,
                    select(
                        Person.atena_number,
                        Person.resident_code,
                        Person.my_number,
                        Person.pseudonym,
                    ),
                    Person.atena_number,
                    merged,
                )
            }
        my_numbers: list[dict[str, Any]] = []
        to_acquire: list[_PersonItem] = []
        for atena_number, item in merged.items():
            row = known.get(atena_number)
            if row is not None and row.resident_code != item.resident_code:
                raise _at(
                    IpnsimError("IDN005", atena_number=atena_number),
                    f"people.{item.index}",
                    "already registered with another resident code",
                )
            if row is not None and item.my_number is not None and item.my_number != row.my_number:
                my_numbers.append({"atena_number": atena_number, "my_number": item.my_number})
            if item.acquire_pseudonym and (row is None or row.pseudonym is None):
                to_acquire.append(item)
        pseudonyms: dict[str, str] = {}
        failure: IpnsimError | None = None
        if to_acquire:
            try:
                pseudonyms = await self._issued_pseudonyms(to_acquire)
            except IpnsimError as error:
                failure = error
        now = utcnow()
        new = [
            {
                "atena_number": atena_number,
                "resident_code": item.resident_code,
                "my_number": item.my_number,
                "pseudonym": pseudonyms.get(atena_number),
                "pseudonym_acquired_at": now if atena_number in pseudonyms else None,
                "registered_at": now,
            }
            for atena_number, item in merged.items()
            if atena_number not in known
        ]
        acquired_by_known = [
            {"atena": atena_number, "pseudonym": pseudonym}
            for atena_number, pseudonym in pseudonyms.items()
            if atena_number in known
        ]
        async with self.sessions.begin() as session:
            await insert_many(session, _table(Person), new)
            if my_numbers:
                await session.execute(update(Person), my_numbers)
            if acquired_by_known:
                people_table = _table(Person)
                await session.execute(
                    update(people_table)
                    .where(people_table.c.atena_number == bindparam("atena"))
                    .values(pseudonym=bindparam("pseudonym"), pseudonym_acquired_at=now),
                    acquired_by_known,
                )
        if failure is not None:
            raise failure
        if pseudonyms:
            logger.info("obtained %d 符号 from the hub", len(pseudonyms))
        return len(new)

    async def _issued_pseudonyms(self, people: list[_PersonItem]) -> dict[str, str]:
        """符号取得 for many people in one hub call; only the resident codes are sent.
        Atena number → 符号."""
        issued = await self.hub.post(
            "/v1/pseudonyms/bulk",
            PseudonymBulkRequest(
                agency_code=self.agency.code,
                resident_codes=[person.resident_code for person in people],
            ),
            PseudonymBulkIssued,
        )
        if len(issued.pseudonyms) != len(people):
            logger.warning(
                "hub answered %d 符号 for %d people", len(issued.pseudonyms), len(people)
            )
            raise IpnsimError("AVL003")
        return {
            person.atena_number: pseudonym
            for person, pseudonym in zip(people, issued.pseudonyms, strict=True)
        }

    async def acquire_pseudonym(self, atena_number: str) -> PersonView:
        """符号取得: ask the hub for this agency's 符号; only the resident code is sent."""
        async with self.sessions() as session:
            person = await session.get(Person, atena_number)
            if person is None:
                raise IpnsimError("IDN002", atena_number=atena_number)
            resident_code = person.resident_code
        issued = await self.hub.post(
            "/v1/pseudonyms",
            PseudonymRequest(agency_code=self.agency.code, resident_code=resident_code),
            PseudonymIssued,
        )
        async with self.sessions.begin() as session:
            person = await session.get(Person, atena_number)
            assert person is not None
            if person.pseudonym != issued.pseudonym:
                person.pseudonym = issued.pseudonym
                person.pseudonym_acquired_at = utcnow()
        return _person_view(person)

    async def person(self, atena_number: str) -> PersonView:
        async with self.sessions() as session:
            person = await session.get(Person, atena_number)
        if person is None:
            raise IpnsimError("IDN002", atena_number=atena_number)
        return _person_view(person)

    # --- replicas (副本) -----------------------------------------------------------------------

    async def register_replica(self, registration: ReplicaRegistration) -> ReplicaView:
        """副本登録; a record id already in use is refused with the real message (RPL002).

        Under a registration lag (登録遅延) the registration is checked now and queued: it
        becomes the live replica when the simulated clock passes ``pending_until``.
        """
        try:
            self._check_layout(registration.info_type_code, registration)
            lag = await self.registrations.lag()
            if lag.mode is not LagMode.NONE:
                return await self._queue_registration(registration, lag)
            try:
                async with self.sessions.begin() as session:
                    replica = await self._register_in(session, registration, utcnow())
            except IntegrityError:
                raise IpnsimError("RPL002", record_id=registration.record_id) from None
        except IpnsimError as error:
            await self.registrations.record_failure(
                "register", registration.record_id, registration.info_type_code, error.code
            )
            raise
        return _replica_view(replica)

    async def _register_in(
        self, session: AsyncSession, registration: ReplicaRegistration, at: dt.datetime
    ) -> Replica:
        if await session.get(Person, registration.atena_number) is None:
            raise IpnsimError("IDN002", atena_number=registration.atena_number)
        existing = await session.get(Replica, registration.record_id)
        if existing is not None and existing.deleted_at is None:
            raise IpnsimError("RPL002", record_id=registration.record_id)
        if existing is not None:
            await session.delete(existing)
            await session.flush()
        replica = Replica(
            record_id=registration.record_id,
            atena_number=registration.atena_number,
            info_type_code=registration.info_type_code,
            registered_at=at,
            updated_at=at,
            deleted_at=None,
            **_content_columns(registration),
        )
        session.add(replica)
        await session.flush()
        return replica

    async def _queue_registration(
        self, registration: ReplicaRegistration, lag: RegistrationLag
    ) -> ReplicaView:
        async with self.sessions() as session:
            if await session.get(Person, registration.atena_number) is None:
                raise IpnsimError("IDN002", atena_number=registration.atena_number)
            existing = await session.get(Replica, registration.record_id)
        pending = await self.registrations.pending(registration.record_id)
        live = existing is not None and existing.deleted_at is None
        for change in pending:
            live = change.kind != "delete"
        if live:
            raise IpnsimError("RPL002", record_id=registration.record_id)
        due = lag.due(utcnow())
        await self.registrations.queue(
            "register",
            registration.record_id,
            registration.info_type_code,
            registration.model_dump(mode="json"),
            due,
        )
        return _pending_view(registration, registration, due)

    async def registration_lag(self) -> RegistrationLag:
        """The registration lag (登録遅延) in force."""
        return await self.registrations.lag()

    async def set_registration_lag(self, lag: RegistrationLag) -> RegistrationLag:
        """Set the registration lag for the changes received from now on."""
        return await self.registrations.set_lag(lag)

    async def apply_due_changes(self) -> int:
        """Make the queued replica changes whose due time has passed live (登録遅延)."""
        return await self.registrations.apply_due(
            self._register_in, self._update_in, self._delete_in
        )

    async def freshness_report(self) -> FreshnessReport:
        """鮮度報告: this agency's replicas by info type (due changes applied first)."""
        await self.apply_due_changes()
        return await self.registrations.report(
            self.catalogue, self.agency.code, self.agency.name_ja
        )

    async def register_replicas_bulk(
        self, replicas: Sequence[ReplicaRegistration | ReplicaBulkItem]
    ) -> BulkResult:
        """副本一括登録: every replica in one transaction, or none.

        Every item's layout is checked first (``RPL004`` naming the item); a record id given
        twice is refused (``RPL002``), as is an unknown atena number (``IDN002``). A record id
        already present is skipped and counted as existing, so registering twice changes
        nothing.
        """
        seen: dict[str, int] = {}
        for index, registration in enumerate(replicas):
            try:
                self._check_layout(registration.info_type_code, registration)
            except IpnsimError as error:
                raise _at(error, f"replicas.{index}", error.message_en) from None
            first = seen.setdefault(registration.record_id, index)
            if first != index:
                raise _at(
                    IpnsimError("RPL002", record_id=registration.record_id),
                    f"replicas.{index}",
                    f"record id also at replicas.{first}",
                )
        for attempt in range(1, _BULK_ATTEMPTS + 1):
            try:
                return await self._insert_replicas(replicas)
            except IntegrityError:
                # A concurrent request registered some of the same record ids: skipped next time.
                if attempt == _BULK_ATTEMPTS:
                    raise IpnsimError("RPL002", record_id="(registered concurrently)") from None
        raise AssertionError("unreachable")

    async def _insert_replicas(
        self, replicas: Sequence[ReplicaRegistration | ReplicaBulkItem]
    ) -> BulkResult:
        now = utcnow()
        async with self.sessions.begin() as session:
            atena_numbers = {registration.atena_number for registration in replicas}
            known = {
                row.atena_number
                for row in await _select_in(
                    session, select(Person.atena_number), Person.atena_number, atena_numbers
                )
            }
            for index, registration in enumerate(replicas):
                if registration.atena_number not in known:
                    raise _at(
                        IpnsimError("IDN002", atena_number=registration.atena_number),
                        f"replicas.{index}",
                        "no person registered under this atena number",
                    )
            present = {
                row.record_id: row.deleted_at
                for row in await _select_in(
                    session,
                    select(Replica.record_id, Replica.deleted_at),
                    Replica.record_id,
                    (registration.record_id for registration in replicas),
                )
            }
            live = {record_id for record_id, at in present.items() if at is None}
            deleted = [record_id for record_id in present if record_id not in live]
            for start in range(0, len(deleted), _IN_CHUNK):
                await session.execute(
                    delete(Replica).where(Replica.record_id.in_(deleted[start : start + _IN_CHUNK]))
                )
            new = [
                {
                    "record_id": registration.record_id,
                    "atena_number": registration.atena_number,
                    "info_type_code": registration.info_type_code,
                    "registered_at": now,
                    "updated_at": now,
                    "deleted_at": None,
                    **_content_columns(registration),
                }
                for registration in replicas
                if registration.record_id not in live
            ]
            if new:
                await insert_many(session, _table(Replica), new)
        existing = len(replicas) - len(new)
        logger.info("registered %d new replicas (%d already present)", len(new), existing)
        return BulkResult(created=len(new), existing=existing)

    async def update_replica(self, record_id: str, content: ReplicaContent) -> ReplicaView:
        """副本更新 (queued under a registration lag, like :meth:`register_replica`)."""
        info_type_code: str | None = None
        try:
            lag = await self.registrations.lag()
            if lag.mode is not LagMode.NONE:
                base = await self._replica_to_be(record_id)
                info_type_code = base.info_type_code
                self._check_layout(base.info_type_code, content)
                due = lag.due(utcnow())
                await self.registrations.queue(
                    "update", record_id, base.info_type_code, content.model_dump(mode="json"), due
                )
                return _pending_view(base, content, due)
            async with self.sessions.begin() as session:
                replica = await self._live_replica(session, record_id)
                info_type_code = replica.info_type_code
                await self._update_in(session, record_id, content, utcnow())
        except IpnsimError as error:
            await self.registrations.record_failure("update", record_id, info_type_code, error.code)
            raise
        return _replica_view(replica)

    async def _update_in(
        self, session: AsyncSession, record_id: str, content: ReplicaContent, at: dt.datetime
    ) -> None:
        replica = await self._live_replica(session, record_id)
        self._check_layout(replica.info_type_code, content)
        for column, value in _content_columns(content).items():
            setattr(replica, column, value)
        replica.updated_at = at

    async def delete_replica(self, record_id: str) -> None:
        """副本削除 (queued under a registration lag, like :meth:`register_replica`)."""
        info_type_code: str | None = None
        try:
            lag = await self.registrations.lag()
            if lag.mode is not LagMode.NONE:
                base = await self._replica_to_be(record_id)
                info_type_code = base.info_type_code
                await self.registrations.queue(
                    "delete", record_id, base.info_type_code, {}, lag.due(utcnow())
                )
                return
            async with self.sessions.begin() as session:
                await self._delete_in(session, record_id, utcnow())
        except IpnsimError as error:
            await self.registrations.record_failure("delete", record_id, info_type_code, error.code)
            raise

    async def _delete_in(self, session: AsyncSession, record_id: str, at: dt.datetime) -> None:
        replica = await self._live_replica(session, record_id)
        replica.deleted_at = at

    async def _replica_to_be(self, record_id: str) -> ReplicaRegistration | ReplicaView:
        """The replica ``record_id`` will be once its queued changes are applied (RPL003 if it
        will not exist)."""
        async with self.sessions() as session:
            replica = await session.get(Replica, record_id)
        current: ReplicaRegistration | ReplicaView | None = None
        if replica is not None and replica.deleted_at is None:
            current = _replica_view(replica)
        for change in await self.registrations.pending(record_id):
            if change.kind == "register":
                current = ReplicaRegistration.model_validate(change.content)
            elif change.kind == "delete":
                current = None
        if current is None:
            raise IpnsimError("RPL003", record_id=record_id)
        return current

    async def replicas(self, atena_number: str | None) -> list[ReplicaView]:
        await self.apply_due_changes()
        query = select(Replica).where(Replica.deleted_at.is_(None)).order_by(Replica.record_id)
        if atena_number is not None:
            query = query.where(Replica.atena_number == atena_number)
        async with self.sessions() as session:
            return [_replica_view(row) for row in await session.scalars(query)]

    async def _live_replica(self, session: AsyncSession, record_id: str) -> Replica:
        replica = await session.get(Replica, record_id)
        if replica is None or replica.deleted_at is not None:
            raise IpnsimError("RPL003", record_id=record_id)
        return replica

    def _check_layout(self, info_type_code: str, content: ReplicaContent | ReplicaBulkItem) -> None:
        """Items must follow the info type's standard layout (データ標準レイアウト): the first
        problem found is raised (RPL006 for the layout version, RPL004 for an item)."""
        info_type = self.catalogue.require_info_type(info_type_code)
        problems = layout_problems(info_type, content.layout_version, content.item_triples())
        if not problems:
            return
        first = problems[0]
        if first.code == "RPL006":
            raise IpnsimError(
                "RPL006",
                given=str(content.layout_version),
                current=str(info_type.layout_version),
                info_type_code=info_type.code,
            )
        raise IpnsimError("RPL004", item=first.item, problem=first.problem)

    # --- 情報照会 (as requester) ---------------------------------------------------------------

    async def inquire(
        self, order: InquiryOrder, forced_outcome: str | None = None
    ) -> InquiryResult:
        """Send one inquiry through the hub; every outcome is recorded here as the requester.

        ``forced_outcome`` (an error code, for tests) is passed on to the hub, which answers it.
        """
        self.catalogue.check_inquiry_codes(
            order.affair_code, order.procedure_code, order.info_type_code
        )
        inquiry_id = uuid.uuid4()
        requested_at = utcnow()
        person = await self.reads.first(_PSEUDONYM_OF, {"atena_number": order.atena_number})
        recorded_at_hub = False
        try:
            request = self._inquiry_request(order, person, inquiry_id, requested_at)
            forcing = {FORCE_OUTCOME_HEADER: forced_outcome} if forced_outcome else {}
            result = await self.hub.inquire(request, forcing)
            recorded_at_hub = True
        except IpnsimError as error:
            # The hub may have recorded an inquiry whose answer timed out.
            recorded_at_hub = error.code == "AVL004"
            result = self._unsent_result(order, inquiry_id, requested_at, error.body())
        await self._record_as_requester([(order, result)], reached_hub=recorded_at_hub)
        return result

    async def inquire_many(
        self, orders: Sequence[InquiryOrder]
    ) -> list[InquiryResult | IpnsimError]:
        """Send many inquiries through the hub in one request (a block of a 一括照会 job).

        Each order's outcome is exactly what :meth:`inquire` gives it: its result, recorded
        here as the requester (the block's records in one or two transactions), or the error
        refusing it before anything was recorded.
        """
        outcomes: list[InquiryResult | IpnsimError | None] = []
        sent: list[tuple[int, InquiryOrder, InquiryRequest]] = []
        unsent: list[tuple[InquiryOrder, InquiryResult]] = []
        people = {
            person.atena_number: person
            for person in await self._read_in(
                _PSEUDONYMS_OF, (order.atena_number for order in orders)
            )
        }
        for order in orders:
            try:
                self.catalogue.check_inquiry_codes(
                    order.affair_code, order.procedure_code, order.info_type_code
                )
            except IpnsimError as error:
                outcomes.append(error)
                continue
            inquiry_id = uuid.uuid4()
            requested_at = utcnow()
            try:
                request = self._inquiry_request(
                    order, people.get(order.atena_number), inquiry_id, requested_at
                )
            except IpnsimError as error:
                result = self._unsent_result(order, inquiry_id, requested_at, error.body())
                unsent.append((order, result))
                outcomes.append(result)
                continue
            sent.append((len(outcomes), order, request))
            outcomes.append(None)
        reached: list[tuple[InquiryOrder, InquiryResult]] = []
        if sent:
            items: list[InquiryResult | ErrorBody]
            try:
                answer = await self.hub.post(
                    "/v1/inquiries/bulk",
                    BulkInquiryRequest(
                        requester_code=self.agency.code,
                        inquiries=[request for _, _, request in sent],
                    ),
                    BulkInquiryResult,
                )
                if len(answer.items) != len(sent):
                    logger.warning(
                        "hub answered %d results for %d inquiries", len(answer.items), len(sent)
                    )
                    raise IpnsimError("AVL003")
                items = [_result_or_refusal(item) for item in answer.items]
                timed_out = False
            except IpnsimError as error:
                items = [error.body()] * len(sent)
                timed_out = error.code == "AVL004"
            for (index, order, request), item in zip(sent, items, strict=True):
                if isinstance(item, InquiryResult):
                    reached.append((order, item))
                else:
                    result = self._unsent_result(
                        order, request.inquiry_id, request.requested_at, item
                    )
                    (reached if timed_out else unsent).append((order, result))
                    item = result
                outcomes[index] = item
        if reached:
            await self._record_as_requester(reached, reached_hub=True)
        if unsent:
            await self._record_as_requester(unsent, reached_hub=False)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(outcomes)
        return done

    def _inquiry_request(
        self,
        order: InquiryOrder,
        person: AnyRow | None,
        inquiry_id: uuid.UUID,
        requested_at: dt.datetime,
    ) -> InquiryRequest:
        """The inquiry to send the hub for ``order``; IDN002/IDN001 if the person is unknown
        or has no 符号 yet."""
        return InquiryRequest(
            inquiry_id=inquiry_id,
            requester_code=self.agency.code,
            requester_pseudonym=_pseudonym_of(order.atena_number, person),
            affair_code=order.affair_code,
            procedure_code=order.procedure_code,
            info_type_code=order.info_type_code,
            provider_code=order.provider_code,
            condition=order.condition,
            requested_at=requested_at,
            requester_non_disclosure=order.non_disclosure,
        )

    def _unsent_result(
        self,
        order: InquiryOrder,
        inquiry_id: uuid.UUID,
        requested_at: dt.datetime,
        error: ErrorBody,
    ) -> InquiryResult:
        """The result of an inquiry the hub did not answer, failed with ``error``."""
        status_detail, status_info_type = outcome_statuses(error.code)
        return InquiryResult(
            inquiry_id=inquiry_id,
            requester_code=self.agency.code,
            provider_code=order.provider_code,
            info_type_code=order.info_type_code,
            status_detail=status_detail,
            status_info_type=status_info_type,
            requested_at=requested_at,
            error=error,
        )

    async def fan_out(self, order: FanOutOrder, forced_outcome: str | None = None) -> FanOutResult:
        """一括照会先指定: one inquiry to every provider concerned, through the hub at once.

        Each provider's exchange is recorded here as its own inquiry. A request the hub refuses
        as a whole (no permitted provider, the hub unreachable) reaches no provider and leaves
        no record: its error is raised.
        """
        self.catalogue.check_inquiry_codes(
            order.affair_code, order.procedure_code, order.info_type_code
        )
        person = await self.reads.first(_PSEUDONYM_OF, {"atena_number": order.atena_number})
        request = FanOutRequest(
            fan_out_id=uuid.uuid4(),
            requester_code=self.agency.code,
            requester_pseudonym=_pseudonym_of(order.atena_number, person),
            affair_code=order.affair_code,
            procedure_code=order.procedure_code,
            info_type_code=order.info_type_code,
            scope=order.scope,
            provider_codes=order.provider_codes,
            condition=order.condition,
            requested_at=utcnow(),
            requester_non_disclosure=order.non_disclosure,
        )
        forcing = {FORCE_OUTCOME_HEADER: forced_outcome} if forced_outcome else {}
        answer = await self.hub.post("/v1/inquiries/fan-out", request, FanOutResult, forcing)
        await self._record_as_requester(
            [(order.order_to(result.provider_code), result) for result in answer.results],
            reached_hub=True,
        )
        return answer

    async def find_dependant_claims(self, order: DependantClaimsOrder) -> DependantClaims:
        """扶養重複照会 (**ours**): ask, through the hub, every other municipality that knows
        the person whether some taxpayer there claims them as a dependant in the fiscal year.

        One fan-out (scope ``holding``) of procedure JT01610000000003 for
        扶養親族重複照会回答: the permission table decides who may ask, and each exchange is
        recorded at the requester, the hub and the provider like any inquiry.
        """
        answer = await self.fan_out(
            FanOutOrder(
                atena_number=order.atena_number,
                affair_code=FINDER_AFFAIR,
                procedure_code=FINDER_PROCEDURE,
                info_type_code=DUPLICATE_DEPENDANT_INFO,
                scope=FanOutScope.HOLDING,
                condition=InquiryCondition(
                    kind=ConditionKind.FISCAL_YEAR, fiscal_year=order.fiscal_year
                ),
                non_disclosure=order.non_disclosure,
                user_id=order.user_id,
            )
        )
        return summarise_claims(answer, order.fiscal_year)

    async def _record_as_requester(
        self, exchanges: Sequence[tuple[InquiryOrder, InquiryResult]], reached_hub: bool
    ) -> None:
        """Write this server's copy of each inquiry's record, as the requester: each the next
        leaf of the record log, all in one transaction."""

        await self.log.append(
            self.sessions,
            LocalRecord,
            [
                {
                    "inquiry_id": str(result.inquiry_id),
                    "side": RecordSide.REQUESTER.value,
                    "atena_number": order.atena_number,
                    "requester_code": self.agency.code,
                    "requester_name": self.agency.name_ja,
                    "provider_code": order.provider_code,
                    "provider_name": result.provider_name,
                    "affair_code": order.affair_code,
                    "procedure_code": order.procedure_code,
                    "info_type_code": order.info_type_code,
                    "item_codes": [item.code for item in result.items],
                    "requested_at": result.requested_at,
                    "provided_at": result.provided_at,
                    "status_detail": result.status_detail.value,
                    "status_info_type": result.status_info_type.value,
                    "error_code": result.error.code if result.error else None,
                    "requester_non_disclosure": order.non_disclosure,
                    "provider_non_disclosure": result.provider_non_disclosure,
                    "reached_hub": reached_hub,
                    "recorded_at": utcnow(),
                    "trace_id": current_trace_id(),
                }
                for order, result in exchanges
            ],
            LogEventKind.RECORD,
        )
        for _order, result in exchanges:
            if result.error is not None and result.error.code == MANUAL_PENDING_CODE:
                await self.manual.store_pending(result)

    async def declare_mistaken(
        self, inquiry_id: uuid.UUID, declaration: MistakenDeclaration
    ) -> Addendum:
        """誤照会: append an addendum at the hub (which passes it to the provider) and here."""
        async with self.sessions() as session:
            record = await session.get(LocalRecord, (str(inquiry_id), RecordSide.REQUESTER.value))
        if record is None:
            raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
        if not record.reached_hub:
            raise IpnsimError("REC003", inquiry_id=str(inquiry_id))
        addendum = await self.hub.post(
            f"/v1/inquiries/{inquiry_id}/addenda",
            MistakenInquiryDeclaration(
                requester_code=self.agency.code,
                reason=declaration.reason,
                declared_by_user=declaration.declared_by_user,
            ),
            Addendum,
        )
        await self.append_addendum(addendum, RecordSide.REQUESTER)
        return addendum

    async def report_cases(self, reports: list[CaseReport]) -> CaseReports:
        """件数報告: pass this agency's case counts on to the hub, for its utilisation rate."""
        return await self.hub.post(
            "/v1/stats/cases",
            CaseReports(agency_code=self.agency.code, reports=reports),
            CaseReports,
        )

    # --- 情報提供 (as provider, for the hub) ---------------------------------------------------

    async def provide(self, request: ProvisionRequest) -> ProvisionAnswer:
        """Answer from replicas only, and record the provision as the provider."""
        [answer] = await self.provide_many([request])
        return answer

    async def provide_many(self, requests: Sequence[ProvisionRequest]) -> list[ProvisionAnswer]:
        """Answer each request from replicas only, as :meth:`provide` does, and record every
        provision as the provider in one transaction (the replicas read in a few queries)."""
        today = self.today()
        if await self.registrations.has_due():  # 登録遅延: due changes first
            await self.apply_due_changes()  # the replicas are read after them
        people: dict[str, str] = {
            pseudonym: atena_number
            for pseudonym, atena_number in await self._read_in(
                _PEOPLE_BY_PSEUDONYM, (request.provider_pseudonym for request in requests)
            )
        }
        info_types = {request.info_type_code for request in requests}
        replicas: dict[tuple[str, str], list[ReplicaFields]] = {}
        for row in await self._read_in(
            _REPLICAS_OF_PEOPLE, people.values(), info_types=info_types, today=today
        ):
            replicas.setdefault((row.atena_number, row.info_type_code), []).append(row)
        claims = await claimed(
            self.reads,
            (
                (people.get(request.provider_pseudonym, ""), year)
                for request in requests
                if request.info_type_code == DUPLICATE_DEPENDANT_INFO
                and (year := asked_year(request)) is not None
            ),
            today,
        )
        answers: list[ProvisionAnswer] = []
        records: list[dict[str, Any]] = []
        for request in requests:
            atena_number = people.get(request.provider_pseudonym)
            rows = replicas.get((atena_number or "", request.info_type_code), [])
            replica = self._choose_replica(rows, request.condition, today)
            provided_at = utcnow()
            unreleased = self.tax_release.refusal(request, today)  # the June release (6月公開)
            if request.info_type_code == DUPLICATE_DEPENDANT_INFO:  # 扶養重複照会
                answer = finder_answer(
                    request.inquiry_id, provided_at, atena_number, asked_year(request), claims
                )
            elif unreleased is not None:
                answer = ProvisionAnswer(
                    inquiry_id=request.inquiry_id, provided_at=provided_at, error=unreleased.body()
                )
            elif replica is None:
                missing = self._why_no_replica(rows, request.condition, today)
                answer = ProvisionAnswer(
                    inquiry_id=request.inquiry_id, provided_at=provided_at, error=missing.body()
                )
            elif replica.manual_response:
                held = await self.manual.hold(request, replica)  # 自動応答不可: staff answer
                answer = held.model_copy(update={"provider_non_disclosure": replica.non_disclosure})
            else:
                cycle = self.catalogue.info_types.get(replica.info_type_code)
                answer = replica_answer(
                    request.inquiry_id,
                    provided_at,
                    replica,
                    cycle.update_cycle_days if cycle else None,
                )
            answers.append(answer)
            records.append(self._provider_record(request, atena_number, answer, provided_at))
        await self.log.append(self.sessions, LocalRecord, records, LogEventKind.RECORD)
        for request, answer in zip(requests, answers, strict=True):
            logger.info(
                "provided inquiry %s for %s: %s",
                request.inquiry_id,
                request.requester_code,
                answer.error.code if answer.error else "items",
            )
        return answers

    async def _read_in(
        self, statement: Executable, values: Iterable[str], **parameters: Any
    ) -> list[AnyRow]:
        """The rows of ``statement`` for each of ``values`` (its expanding parameter
        ``values``), read on the event loop's thread, a chunk of values at a time."""
        rows: list[AnyRow] = []
        for chunk in _in_chunks(values):
            rows.extend(await self.reads.all(statement, {"values": chunk, **parameters}))
        return rows

    def _provider_record(
        self,
        request: ProvisionRequest,
        atena_number: str | None,
        answer: ProvisionAnswer,
        provided_at: dt.datetime,
    ) -> dict[str, Any]:
        """This server's copy of the record of one provision, as the provider: its
        ``LocalRecord`` columns' values."""
        error_code = answer.error.code if answer.error else None
        status_detail, status_info_type = outcome_statuses(error_code)
        return {
            "inquiry_id": str(request.inquiry_id),
            "side": RecordSide.PROVIDER.value,
            "atena_number": atena_number,
            "requester_code": request.requester_code,
            "requester_name": request.requester_name,
            "provider_code": self.agency.code,
            "provider_name": self.agency.name_ja,
            "affair_code": request.affair_code,
            "procedure_code": request.procedure_code,
            "info_type_code": request.info_type_code,
            "item_codes": [item.code for item in answer.items],
            "requested_at": request.requested_at,
            "provided_at": provided_at,
            "status_detail": status_detail.value,
            "status_info_type": status_info_type.value,
            "error_code": error_code,
            "requester_non_disclosure": request.requester_non_disclosure,
            "provider_non_disclosure": answer.provider_non_disclosure,
            "reached_hub": True,
            "recorded_at": utcnow(),
            "trace_id": request.trace_id or current_trace_id(),
        }

    def _why_no_replica(
        self, rows: Sequence[ReplicaFields], condition: InquiryCondition, today: dt.date
    ) -> IpnsimError:
        """The code that explains best why no published replica matches the condition.

        A tombstone matching it says the provider withdrew the data (RPL005); a live replica
        whose publication period has ended says the data is stale (RPL007); else RPL001.
        """
        if self._choose_replica(rows, condition, today, deleted=True):
            return IpnsimError("RPL005")
        ended = self._choose_replica(rows, condition, today, publication_ended=True)
        if ended is not None and ended.publication_end is not None:
            return IpnsimError("RPL007", publication_end=ended.publication_end.isoformat())
        return IpnsimError("RPL001")

    @staticmethod
    def _choose_replica(
        rows: Sequence[ReplicaFields],
        condition: InquiryCondition,
        today: dt.date,
        deleted: bool = False,
        publication_ended: bool = False,
    ) -> ReplicaFields | None:
        """The replica the condition asks for, among ``rows`` (one person's replicas of one
        info type published by ``today``), live ones only.

        With ``deleted``, the same choice among the deleted replicas (their tombstones) instead;
        with ``publication_ended``, among the live replicas whose publication period has ended.
        """
        candidates = [
            row
            for row in rows
            if (row.deleted_at is not None) == deleted
            and (row.publication_end is not None and row.publication_end < today)
            == publication_ended
        ]
        if condition.kind is ConditionKind.FISCAL_YEAR:
            candidates = [row for row in candidates if row.fiscal_year == condition.fiscal_year]
        elif condition.kind is ConditionKind.DATE_RANGE:
            assert condition.date_from is not None
            assert condition.date_to is not None
            candidates = [
                row
                for row in candidates
                if row.publication_start <= condition.date_to
                and (row.publication_end is None or row.publication_end >= condition.date_from)
            ]
        if not candidates:
            return None
        return max(
            candidates,
            key=lambda row: (row.publication_start, row.fiscal_year or 0, row.updated_at),
        )

    async def append_addendum(self, addendum: Addendum, side: RecordSide) -> None:
        """Append an addendum to one copy of the record; the same addendum twice is one."""

        async def write(session: AsyncSession, log: Appender) -> None:
            record = await session.get(LocalRecord, (str(addendum.inquiry_id), side.value))
            if record is None:
                raise IpnsimError("REC001", inquiry_id=str(addendum.inquiry_id))
            if await session.get(LocalAddendum, (str(addendum.addendum_id), side.value)):
                return
            log.append(
                LocalAddendum(
                    addendum_id=str(addendum.addendum_id),
                    side=side.value,
                    inquiry_id=str(addendum.inquiry_id),
                    kind=addendum.kind.value,
                    reason=addendum.reason,
                    declared_by_agency=addendum.declared_by_agency,
                    declared_by_user=addendum.declared_by_user,
                    declared_at=addendum.declared_at,
                ),
                LogEventKind.ADDENDUM,
            )

        await self.log.write(self.sessions, write)
        logger.info("addendum %s appended to %s copy", addendum.addendum_id, side.value)

    # --- retention (保存期間) ---------------------------------------------------------------------

    async def purge_expired(self) -> RetentionPurgeResult:
        """Purge this server's copies (requester and provider) of every inquiry made more than
        seven years ago by the simulated clock, with their addenda and outcomes; their leaves
        stay in the log, listed in a signed purge."""
        return await self.log.purge_expired(self.sessions)

    # --- records and disclosure ---------------------------------------------------------------

    async def records(
        self, atena_number: str | None = None, inquiry_id: uuid.UUID | None = None
    ) -> list[ProvisionRecord]:
        """This server's copies of provision records, newest first."""
        query = select(LocalRecord).order_by(LocalRecord.requested_at.desc()).limit(1000)
        if atena_number is not None:
            query = query.where(LocalRecord.atena_number == atena_number)
        if inquiry_id is not None:
            query = query.where(LocalRecord.inquiry_id == str(inquiry_id))
        async with self.sessions() as session:
            rows = list(await session.scalars(query))
            addenda_rows = await session.scalars(
                select(LocalAddendum)
                .where(LocalAddendum.inquiry_id.in_([row.inquiry_id for row in rows]))
                .order_by(LocalAddendum.declared_at)
            )
            addenda: dict[tuple[str, str], list[Addendum]] = {}
            for addendum in addenda_rows:
                addenda.setdefault((addendum.inquiry_id, addendum.side), []).append(
                    _addendum_view(addendum)
                )
            outcomes = {
                (outcome.inquiry_id, outcome.side): outcome
                for outcome in await session.scalars(
                    select(LocalOutcome).where(
                        LocalOutcome.inquiry_id.in_([row.inquiry_id for row in rows])
                    )
                )
            }
        return [
            _record_view(
                row,
                addenda.get((row.inquiry_id, row.side), []),
                outcomes.get((row.inquiry_id, row.side)),
            )
            for row in rows
        ]

    async def disclosure(self, atena_number: str) -> DisclosureView:
        """The person's view (やりとり履歴), fetched from the hub on the person's behalf."""
        async with self.sessions() as session:
            person = await session.get(Person, atena_number)
        if person is None:
            raise IpnsimError("IDN002", atena_number=atena_number)
        if person.pseudonym is None:
            raise IpnsimError("IDN001", atena_number=atena_number)
        return await self.hub.post(
            "/v1/disclosure",
            DisclosureRequest(agency_code=self.agency.code, pseudonym=person.pseudonym),
            DisclosureView,
        )


@dataclass
class _PersonItem:
    """One person of a bulk registration, merged over the items naming the same atena number."""

    index: int
    atena_number: str
    resident_code: str
    my_number: str | None
    acquire_pseudonym: bool

    @classmethod
    def of(cls, index: int, registration: PersonRegistration) -> _PersonItem:
        return cls(
            index,
            registration.atena_number,
            registration.resident_code,
            registration.my_number,
            registration.acquire_pseudonym,
        )

    def merge(self, registration: PersonRegistration) -> None:
        if registration.my_number is not None:
            self.my_number = registration.my_number
        self.acquire_pseudonym = self.acquire_pseudonym or registration.acquire_pseudonym


def _pseudonym_of(atena_number: str, person: AnyRow | None) -> str:
    """The person's 符号; IDN002 if no person is registered under the atena number, IDN001 if
    the 符号 was not obtained yet."""
    if person is None:
        raise IpnsimError("IDN002", atena_number=atena_number)
    pseudonym: str | None = person.pseudonym
    if pseudonym is None:
        raise IpnsimError("IDN001", atena_number=atena_number)
    return pseudonym


def _result_or_refusal(item: BulkInquiryItem) -> InquiryResult | ErrorBody:
    if item.result is not None:
        return item.result
    assert item.refused is not None
    return item.refused


def _at(error: IpnsimError, field: str, problem: str) -> IpnsimError:
    """``error`` again, naming the item of a bulk request it is about in its details."""
    return IpnsimError(
        error.code, details=[FieldProblem(field=field, problem=problem)], **error.params
    )


def _table(model: type[Person] | type[Replica]) -> Table:
    return cast(Table, model.__table__)


async def _select_in(
    session: AsyncSession, query: Any, column: Any, values: Iterable[str]
) -> list[Any]:
    """Rows of ``query`` whose ``column`` is one of ``values``, in queries of few parameters."""
    rows: list[Any] = []
    for chunk in _in_chunks(values):
        rows.extend((await session.execute(query.where(column.in_(chunk)))).all())
    return rows


def _in_chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """The distinct ``values``, in order, a list of at most ``_IN_CHUNK`` at a time."""
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), _IN_CHUNK):
        yield wanted[start : start + _IN_CHUNK]


def _content_columns(content: ReplicaContent | ReplicaBulkItem) -> dict[str, object]:
    return {
        "layout_version": content.layout_version,
        "fiscal_year": content.fiscal_year,
        "publication_start": content.publication_start,
        "publication_end": content.publication_end,
        "manual_response": content.manual_response,
        "non_disclosure": content.non_disclosure,
        "items": [
            {"code": code, "value": value, "reason_of_null": reason}
            for code, value, reason in content.item_triples()
        ],
    }


def _person_view(person: Person) -> PersonView:
    return PersonView(
        atena_number=person.atena_number,
        has_my_number=person.my_number is not None,
        pseudonym=person.pseudonym,
        pseudonym_acquired_at=person.pseudonym_acquired_at,
        registered_at=person.registered_at,
    )


def _pending_view(
    base: ReplicaRegistration | ReplicaView,
    content: ReplicaContent,
    due: dt.datetime,
) -> ReplicaView:
    """The replica a queued change will make, live from ``due``."""
    registered_at = due if isinstance(base, ReplicaRegistration) else base.registered_at
    return ReplicaView(
        record_id=base.record_id,
        atena_number=base.atena_number,
        info_type_code=base.info_type_code,
        layout_version=content.layout_version,
        fiscal_year=content.fiscal_year,
        publication_start=content.publication_start,
        publication_end=content.publication_end,
        items=list(content.items),
        registered_at=registered_at,
        updated_at=due,
        manual_response=content.manual_response,
        non_disclosure=content.non_disclosure,
        pending_until=due,
    )


def _replica_view(replica: Replica) -> ReplicaView:
    return ReplicaView(
        record_id=replica.record_id,
        atena_number=replica.atena_number,
        info_type_code=replica.info_type_code,
        layout_version=replica.layout_version,
        fiscal_year=replica.fiscal_year,
        publication_start=replica.publication_start,
        publication_end=replica.publication_end,
        items=[ReplicaItem.model_validate(item) for item in replica.items],
        registered_at=replica.registered_at,
        updated_at=replica.updated_at,
        manual_response=replica.manual_response,
        non_disclosure=replica.non_disclosure,
    )


def _addendum_view(row: LocalAddendum) -> Addendum:
    return Addendum(
        addendum_id=uuid.UUID(row.addendum_id),
        inquiry_id=uuid.UUID(row.inquiry_id),
        kind=AddendumKind(row.kind),
        reason=row.reason,
        declared_by_agency=row.declared_by_agency,
        declared_by_user=row.declared_by_user,
        declared_at=row.declared_at,
    )


def _record_view(
    row: LocalRecord, addenda: list[Addendum], outcome: LocalOutcome | None = None
) -> ProvisionRecord:
    """The readable copy: as first written, with its final outcome applied if one was appended
    later (自動応答不可), and its addenda."""
    final = outcome or row
    return ProvisionRecord(
        inquiry_id=uuid.UUID(row.inquiry_id),
        side=RecordSide(row.side),
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        provider_code=row.provider_code,
        provider_name=row.provider_name,
        affair_code=row.affair_code,
        procedure_code=row.procedure_code,
        info_type_code=row.info_type_code,
        item_codes=list(final.item_codes),
        requested_at=row.requested_at,
        provided_at=final.provided_at,
        status_detail=DetailStatus(final.status_detail),
        status_info_type=InfoTypeStatus(final.status_info_type),
        error_code=final.error_code,
        requester_non_disclosure=row.requester_non_disclosure,
        provider_non_disclosure=row.provider_non_disclosure,
        addenda=addenda,
        trace_id=row.trace_id,
    )
