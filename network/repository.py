"""Queries on the hub's database. Repositories read and add; they never commit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Protocol, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import Executable

from ipnsim.storage import AnyRow, insert_many, loop_reads, utc_date
from network.db import AddendumDelivery, HubAddendum, HubOutcome, HubRecord, IssuedPseudonym
from network.protocol.models import (
    Addendum,
    AddendumKind,
    DetailStatus,
    ErrorCount,
    InfoTypeStatus,
    ProvisionRecord,
    RecordSide,
)

IN_CHUNK = 5_000
"""Most values in one ``IN (…)`` list: well below SQLite's and PostgreSQL's parameter limits."""


class PseudonymLookups(Protocol):
    """Where the hub reads the 符号 its cache does not hold."""

    async def owner(self, pseudonym: str) -> tuple[str, str] | None:
        """The agency code and person key of an issued 符号, or None if it was never issued."""
        ...

    async def pseudonym(self, agency_code: str, person_key: str) -> str | None:
        """The 符号 issued to an agency for a person, or None if none was issued yet."""
        ...


class PseudonymRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owner(self, pseudonym: str) -> tuple[str, str] | None:
        row = await self.resolve(pseudonym)
        return None if row is None else (row.agency_code, row.person_key)

    async def pseudonym(self, agency_code: str, person_key: str) -> str | None:
        row = await self.find(agency_code, person_key)
        return None if row is None else row.pseudonym

    async def find(self, agency_code: str, person_key: str) -> IssuedPseudonym | None:
        return await self.session.scalar(
            select(IssuedPseudonym).where(
                IssuedPseudonym.agency_code == agency_code,
                IssuedPseudonym.person_key == person_key,
            )
        )

    async def resolve(self, pseudonym: str) -> IssuedPseudonym | None:
        return await self.session.get(IssuedPseudonym, pseudonym)

    def add(self, issued: IssuedPseudonym) -> None:
        self.session.add(issued)

    async def agencies_holding(self, person_key: str) -> set[str]:
        """The codes of every agency that holds a 符号 for the person (knows them)."""
        rows = await self.session.scalars(
            select(IssuedPseudonym.agency_code).where(IssuedPseudonym.person_key == person_key)
        )
        return set(rows)

    async def resolve_many(self, pseudonyms: Iterable[str]) -> list[IssuedPseudonym]:
        """The issued 符号 among ``pseudonyms`` (one query per 5,000)."""
        wanted = list(pseudonyms)
        found: list[IssuedPseudonym] = []
        for start in range(0, len(wanted), IN_CHUNK):
            found.extend(
                await self.session.scalars(
                    select(IssuedPseudonym).where(
                        IssuedPseudonym.pseudonym.in_(wanted[start : start + IN_CHUNK])
                    )
                )
            )
        return found

    async def find_many(self, agency_code: str, person_keys: Iterable[str]) -> dict[str, str]:
        """The 符号 already issued to one agency, by person key (one query per 5,000 keys)."""
        keys = list(person_keys)
        found: dict[str, str] = {}
        for start in range(0, len(keys), IN_CHUNK):
            rows = await self.session.execute(
                select(IssuedPseudonym.person_key, IssuedPseudonym.pseudonym).where(
                    IssuedPseudonym.agency_code == agency_code,
                    IssuedPseudonym.person_key.in_(keys[start : start + IN_CHUNK]),
                )
            )
            found.update((person, pseudonym) for person, pseudonym in rows)
        return found

    async def add_many(self, issued: Sequence[dict[str, object]]) -> None:
        """Insert many issued 符号 in one bulk statement (column name → value per row)."""
        await insert_many(self.session, cast(Table, IssuedPseudonym.__table__), issued)


_RECORDED = select(literal(1)).where(HubRecord.inquiry_id == bindparam("inquiry_id"))
_OWNER = select(IssuedPseudonym.agency_code, IssuedPseudonym.person_key).where(
    IssuedPseudonym.pseudonym == bindparam("pseudonym")
)
_ISSUED = select(IssuedPseudonym.pseudonym).where(
    IssuedPseudonym.agency_code == bindparam("agency_code"),
    IssuedPseudonym.person_key == bindparam("person_key"),
)


class InquiryLookups:
    """The reads of one inquiry before it is routed: whether its id is recorded already, and
    the 符号 the cache does not hold (:class:`PseudonymLookups`).

    Plain Core selects of the columns needed: no ORM session, no entity loaded. An SQLite file
    is read on the event loop's thread (:class:`~ipnsim.storage.LoopReads`). Elsewhere the
    reads share one connection opened at the first read and given back when the block ends;
    each read is a single statement, so on PostgreSQL the connection runs in autocommit (no
    BEGIN nor ROLLBACK around it).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = loop_reads(engine)
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> InquiryLookups:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self._engine.connect()
            if connection.dialect.name == "postgresql":
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
        return self._connection

    async def _first(self, statement: Executable, parameters: dict[str, str]) -> AnyRow | None:
        if self._reads.on_loop_thread:
            return await self._reads.first(statement, parameters)
        connection = await self._connect()
        return (await connection.execute(statement, parameters)).first()

    async def recorded(self, inquiry_id: uuid.UUID) -> bool:
        """Whether the hub holds a record of this inquiry id."""
        return await self._first(_RECORDED, {"inquiry_id": str(inquiry_id)}) is not None

    async def owner(self, pseudonym: str) -> tuple[str, str] | None:
        row = await self._first(_OWNER, {"pseudonym": pseudonym})
        return None if row is None else (row.agency_code, row.person_key)

    async def pseudonym(self, agency_code: str, person_key: str) -> str | None:
        row = await self._first(_ISSUED, {"agency_code": agency_code, "person_key": person_key})
        return None if row is None else cast(str, row.pseudonym)


class RecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, inquiry_id: uuid.UUID) -> HubRecord | None:
        return await self.session.get(HubRecord, str(inquiry_id))

    async def existing(self, inquiry_ids: Iterable[uuid.UUID]) -> set[str]:
        """Those of ``inquiry_ids`` already recorded (one query per 5,000)."""
        wanted = [str(inquiry_id) for inquiry_id in inquiry_ids]
        found: set[str] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            found.update(
                await self.session.scalars(
                    select(HubRecord.inquiry_id).where(
                        HubRecord.inquiry_id.in_(wanted[start : start + IN_CHUNK])
                    )
                )
            )
        return found

    async def outcome(self, inquiry_id: str) -> HubOutcome | None:
        return await self.session.get(HubOutcome, inquiry_id)

    async def outcomes(self, inquiry_ids: list[str]) -> dict[str, HubOutcome]:
        """The final outcomes appended to records written pending, by inquiry id."""
        found: dict[str, HubOutcome] = {}
        for start in range(0, len(inquiry_ids), IN_CHUNK):
            rows = await self.session.scalars(
                select(HubOutcome).where(
                    HubOutcome.inquiry_id.in_(inquiry_ids[start : start + IN_CHUNK])
                )
            )
            found.update((row.inquiry_id, row) for row in rows)
        return found

    async def addenda(self, inquiry_ids: list[str]) -> dict[str, list[HubAddendum]]:
        by_inquiry: dict[str, list[HubAddendum]] = {key: [] for key in inquiry_ids}
        if inquiry_ids:
            rows = await self.session.scalars(
                select(HubAddendum)
                .where(HubAddendum.inquiry_id.in_(inquiry_ids))
                .order_by(HubAddendum.declared_at)
            )
            for row in rows:
                by_inquiry[row.inquiry_id].append(row)
        return by_inquiry

    async def about_person(self, person_key: str) -> list[HubRecord]:
        rows = await self.session.scalars(
            select(HubRecord)
            .where(HubRecord.person_key == person_key)
            .order_by(HubRecord.requested_at, HubRecord.inquiry_id)
        )
        return list(rows)

    async def recent(self, limit: int, agency_code: str | None) -> list[HubRecord]:
        query = select(HubRecord).order_by(HubRecord.requested_at.desc()).limit(limit)
        if agency_code is not None:
            query = query.where(
                (HubRecord.requester_code == agency_code) | (HubRecord.provider_code == agency_code)
            )
        return list(await self.session.scalars(query))

    async def error_counts(self, since: dt.datetime) -> list[ErrorCount]:
        """Records with an error code inquired at or after ``since``, counted by provider,
        error code and UTC day of the inquiry (most first)."""
        day = utc_date(HubRecord.requested_at)
        count = func.count()
        # A record completed later (自動応答不可) counts with its final outcome.
        error_code = case(
            (HubOutcome.inquiry_id.is_not(None), HubOutcome.error_code),
            else_=HubRecord.error_code,
        )
        rows = await self.session.execute(
            select(
                HubRecord.provider_code,
                func.max(HubRecord.provider_name),
                error_code,
                day,
                count,
            )
            .outerjoin(HubOutcome, HubOutcome.inquiry_id == HubRecord.inquiry_id)
            .where(error_code.is_not(None), HubRecord.requested_at >= since)
            .group_by(HubRecord.provider_code, error_code, day)
            .order_by(count.desc(), HubRecord.provider_code, error_code, day)
        )
        return [
            ErrorCount(
                provider_code=provider_code,
                provider_name=provider_name,
                error_code=error_code,
                day=on,
                count=counted,
            )
            for provider_code, provider_name, error_code, on, counted in rows
        ]

    async def undelivered_addenda(self) -> list[tuple[HubAddendum, HubRecord]]:
        rows = await self.session.execute(
            select(HubAddendum, HubRecord)
            .join(HubRecord, HubRecord.inquiry_id == HubAddendum.inquiry_id)
            .outerjoin(AddendumDelivery, AddendumDelivery.addendum_id == HubAddendum.addendum_id)
            .where(AddendumDelivery.addendum_id.is_(None), HubRecord.provider_reached)
        )
        return [(addendum, record) for addendum, record in rows]

    async def mark_delivered(self, addendum_id: str, at: dt.datetime) -> None:
        if await self.session.get(AddendumDelivery, addendum_id) is None:
            self.session.add(AddendumDelivery(addendum_id=addendum_id, delivered_at=at))


def addendum_view(row: HubAddendum) -> Addendum:
    return Addendum(
        addendum_id=uuid.UUID(row.addendum_id),
        inquiry_id=uuid.UUID(row.inquiry_id),
        kind=AddendumKind(row.kind),
        reason=row.reason,
        declared_by_agency=row.declared_by_agency,
        declared_by_user=row.declared_by_user,
        declared_at=row.declared_at,
    )


def record_view(
    row: HubRecord, addenda: list[HubAddendum], outcome: HubOutcome | None = None
) -> ProvisionRecord:
    """The readable record: as first written, with its final outcome applied if one was
    appended later, and its addenda."""
    return ProvisionRecord(
        inquiry_id=uuid.UUID(row.inquiry_id),
        side=RecordSide.HUB,
        requester_code=row.requester_code,
        requester_name=row.requester_name,
        provider_code=row.provider_code,
        provider_name=row.provider_name,
        affair_code=row.affair_code,
        procedure_code=row.procedure_code,
        info_type_code=row.info_type_code,
        item_codes=list((outcome or row).item_codes),
        requested_at=row.requested_at,
        provided_at=(outcome or row).provided_at,
        status_detail=DetailStatus((outcome or row).status_detail),
        status_info_type=InfoTypeStatus((outcome or row).status_info_type),
        error_code=(outcome or row).error_code,
        requester_non_disclosure=row.requester_non_disclosure,
        provider_non_disclosure=(outcome or row).provider_non_disclosure,
        addenda=[addendum_view(addendum) for addendum in addenda],
        trace_id=row.trace_id,
    )


def _disclosed(person: str) -> ColumnElement[bool]:
    """Records about the person that are not flagged 不開示 (by the requester, or by the
    provider in the record or its final outcome)."""
    provider_flag = case(
        (HubOutcome.inquiry_id.is_not(None), HubOutcome.provider_non_disclosure),
        else_=HubRecord.provider_non_disclosure,
    )
    return and_(
        HubRecord.person_key == person,
        HubRecord.requester_non_disclosure.is_(False),
        provider_flag.is_(False),
    )


async def disclosed_page(
    session: AsyncSession, person: str, offset: int, limit: int
) -> tuple[int, list[HubRecord]]:
    """How many records the person may see, and one page of them (newest first)."""
    condition = _disclosed(person)
    total = await session.scalar(
        select(func.count())
        .select_from(HubRecord)
        .outerjoin(HubOutcome, HubOutcome.inquiry_id == HubRecord.inquiry_id)
        .where(condition)
    )
    rows = await session.scalars(
        select(HubRecord)
        .outerjoin(HubOutcome, HubOutcome.inquiry_id == HubRecord.inquiry_id)
        .where(condition)
        .order_by(HubRecord.requested_at.desc(), HubRecord.inquiry_id)
        .offset(offset)
        .limit(limit)
    )
    return int(total or 0), list(rows)


async def disclosed_one(session: AsyncSession, person: str, inquiry_id: str) -> HubRecord | None:
    """One record the person may see, or None (another person's, flagged 不開示, or none)."""
    return await session.scalar(
        select(HubRecord)
        .outerjoin(HubOutcome, HubOutcome.inquiry_id == HubRecord.inquiry_id)
        .where(_disclosed(person), HubRecord.inquiry_id == inquiry_id)
    )
