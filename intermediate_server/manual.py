"""Manual-response hold (自動応答不可) at an intermediate server.

As **provider**: an inquiry that matches a replica flagged ``manual_response`` is not answered
automatically. :meth:`ManualDesk.hold` keeps the provision request (``manual_requests``), writes
the provider's copy of the record as pending (05/05, ``MAN001``) and answers the hub "pending".
Staff then answer (the replica's items, or another replica they choose) or decline it (with a
reason, ``MAN002``); a request nobody answers before its deadline expires (``MAN003``). The final
answer goes to the hub (``POST /v1/manual-responses``), which completes its record and passes the
result on to the requester; until the hub acknowledges it, it is sent again by
:meth:`ManualDesk.sweep_forever`.

As **requester**: the pending result is kept (``inquiry_results``) and replaced by the final
result the hub delivers (:meth:`ManualDesk.receive_result`); the business system reads either with
``GET /v1/inquiries/{inquiry_id}``.

The three copies of the record of such an inquiry are written pending; the final outcome is a
later event appended to each copy (``record_outcomes``, a leaf of the record log), and the
readable copy applies it. The records themselves are never changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from intermediate_server.db import (
    LocalOutcome,
    LocalRecord,
    ManualRequest,
    Replica,
    ReplicaFields,
    StoredResult,
)
from intermediate_server.freshness import freshness
from intermediate_server.hub_client import HubClient
from intermediate_server.schemas import ManualAnswer, ManualDecline, ManualRequestView
from ipnsim.storage import utcnow
from network.protocol.layouts import catalogue
from network.protocol.models import (
    MANUAL_PENDING_CODE,
    DetailStatus,
    InfoTypeStatus,
    InquiryResult,
    LogEventKind,
    ProvisionAnswer,
    ProvisionRequest,
    RecordSide,
    ReplicaItem,
    ReplicaMetadata,
    outcome_statuses,
)
from network.protocol.record_log import Appender, RecordLog

logger = logging.getLogger("ipnsim.intermediate.manual")

JST = dt.timezone(dt.timedelta(hours=9), "JST")

PENDING = "pending"
ANSWERED = "answered"
DECLINED = "declined"
EXPIRED = "expired"
STATES = (PENDING, ANSWERED, DECLINED, EXPIRED)

DEFAULT_HOLD_SECONDS = 3 * 24 * 3600.0
"""How long a held request waits for staff by default: three days."""


def replica_answer(
    inquiry_id: uuid.UUID,
    provided_at: dt.datetime,
    replica: ReplicaFields,
    update_cycle_days: int | None = None,
) -> ProvisionAnswer:
    """The answer that provides ``replica``'s items, with its metadata and freshness (stale
    when older than ``update_cycle_days`` at ``provided_at``)."""
    age_days, stale = freshness(replica.updated_at, provided_at, update_cycle_days)
    return ProvisionAnswer(
        inquiry_id=inquiry_id,
        provided_at=provided_at,
        items=[ReplicaItem.model_validate(item) for item in replica.items],
        replica=ReplicaMetadata(
            record_id=replica.record_id,
            layout_version=replica.layout_version,
            fiscal_year=replica.fiscal_year,
            publication_start=replica.publication_start,
            publication_end=replica.publication_end,
            registered_at=replica.registered_at,
            updated_at=replica.updated_at,
            update_cycle_days=update_cycle_days,
            age_days=age_days,
            stale=stale,
        ),
        provider_non_disclosure=replica.non_disclosure,
    )


class ManualDesk:
    """The staff's desk of one intermediate server, and its requester-side result store."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        agency_code: str,
        hub: HubClient,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        log: RecordLog,
    ) -> None:
        self.log = log
        self.sessions = sessions
        self.agency_code = agency_code
        self.hub = hub
        self.hold_seconds = hold_seconds
        self.clock = clock

    # --- as provider ----------------------------------------------------------------------------

    async def hold(self, request: ProvisionRequest, replica: ReplicaFields) -> ProvisionAnswer:
        """Keep the request for staff and answer the hub "pending" (MAN001).

        The caller writes the provider's copy of the record from the returned answer (05/05).
        """
        received_at = self.clock()
        async with self.sessions.begin() as session:
            session.add(
                ManualRequest(
                    inquiry_id=str(request.inquiry_id),
                    atena_number=replica.atena_number,
                    record_id=replica.record_id,
                    request=request.model_dump(mode="json"),
                    received_at=received_at,
                    deadline=received_at + dt.timedelta(seconds=self.hold_seconds),
                    state=PENDING,
                    answer=None,
                    resolved_at=None,
                    resolved_by=None,
                    hub_notified_at=None,
                )
            )
        logger.info("inquiry %s held for staff (自動応答不可)", request.inquiry_id)
        return ProvisionAnswer(
            inquiry_id=request.inquiry_id,
            provided_at=received_at,
            error=IpnsimError(MANUAL_PENDING_CODE).body(),
        )

    async def requests(self, state: str | None = PENDING) -> list[ManualRequestView]:
        """Held requests in ``state`` (None: all), oldest first."""
        query = select(ManualRequest).order_by(ManualRequest.received_at)
        if state is not None:
            query = query.where(ManualRequest.state == state)
        async with self.sessions() as session:
            return [_view(row) for row in await session.scalars(query)]

    async def answer(self, inquiry_id: uuid.UUID, body: ManualAnswer) -> ManualRequestView:
        """Staff provide the matched replica (or the one they chose) to the requester."""

        async def write(session: AsyncSession, log: Appender) -> ManualRequest:
            row = await self._pending(session, inquiry_id)
            record_id = body.record_id or row.record_id
            replica = await session.get(Replica, record_id)
            request = ProvisionRequest.model_validate(row.request)
            if (
                replica is None
                or replica.deleted_at is not None
                or replica.atena_number != row.atena_number
                or replica.info_type_code != request.info_type_code
            ):
                raise IpnsimError("RPL003", record_id=record_id)
            cycle = catalogue().info_types.get(replica.info_type_code)
            answer = replica_answer(
                inquiry_id, self.clock(), replica, cycle.update_cycle_days if cycle else None
            )
            self._resolve(row, ANSWERED, answer, body.answered_by)
            await _complete_record(session, log, RecordSide.PROVIDER, answer, self.clock())
            return row

        row = await self.log.write(self.sessions, write)
        logger.info("inquiry %s answered by staff", inquiry_id)
        return await self._notify(row)

    async def decline(self, inquiry_id: uuid.UUID, body: ManualDecline) -> ManualRequestView:
        """Staff decline to provide (MAN002, with the reason)."""

        async def write(session: AsyncSession, log: Appender) -> ManualRequest:
            row = await self._pending(session, inquiry_id)
            answer = ProvisionAnswer(
                inquiry_id=inquiry_id,
                provided_at=self.clock(),
                error=IpnsimError("MAN002", reason=body.reason).body(),
            )
            self._resolve(row, DECLINED, answer, body.declined_by)
            await _complete_record(session, log, RecordSide.PROVIDER, answer, self.clock())
            return row

        row = await self.log.write(self.sessions, write)
        logger.info("inquiry %s declined by staff", inquiry_id)
        return await self._notify(row)

    async def expire_overdue(self) -> int:
        """Expire every pending request past its deadline (MAN003); returns how many."""
        now = self.clock()

        async def write(session: AsyncSession, log: Appender) -> list[ManualRequest]:
            rows = list(
                await session.scalars(
                    select(ManualRequest).where(
                        ManualRequest.state == PENDING, ManualRequest.deadline <= now
                    )
                )
            )
            for row in rows:
                deadline = row.deadline.astimezone(JST).isoformat(timespec="seconds")
                answer = ProvisionAnswer(
                    inquiry_id=uuid.UUID(row.inquiry_id),
                    provided_at=now,
                    error=IpnsimError("MAN003", deadline=deadline).body(),
                )
                self._resolve(row, EXPIRED, answer, None)
                await _complete_record(session, log, RecordSide.PROVIDER, answer, now)
            return rows

        rows = await self.log.write(self.sessions, write)
        for row in rows:
            logger.info("inquiry %s expired unanswered", row.inquiry_id)
            await self._notify(row)
        return len(rows)

    async def notify_unacknowledged(self) -> int:
        """Send the hub again every final answer it has not acknowledged; returns how many
        it acknowledged now."""
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(ManualRequest).where(
                        ManualRequest.state != PENDING, ManualRequest.hub_notified_at.is_(None)
                    )
                )
            )
        acknowledged = 0
        for row in rows:
            if (await self._notify(row)).hub_notified_at is not None:
                acknowledged += 1
        return acknowledged

    async def sweep_forever(self, interval: float) -> None:
        """Expire overdue requests and resend unacknowledged answers every ``interval`` s."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire_overdue()
                await self.notify_unacknowledged()
            except Exception:
                logger.exception("manual-response sweep failed; retrying later")

    async def _pending(self, session: AsyncSession, inquiry_id: uuid.UUID) -> ManualRequest:
        row = await session.get(ManualRequest, str(inquiry_id))
        if row is None:
            raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
        if row.state != PENDING:
            raise IpnsimError("MAN004", inquiry_id=str(inquiry_id))
        return row

    def _resolve(
        self, row: ManualRequest, state: str, answer: ProvisionAnswer, by: str | None
    ) -> None:
        row.state = state
        row.answer = answer.model_dump(mode="json")
        row.resolved_at = answer.provided_at
        row.resolved_by = by

    async def _notify(self, row: ManualRequest) -> ManualRequestView:
        """Give the hub the final answer; on success mark it acknowledged. A failure is
        logged and left to :meth:`sweep_forever`."""
        assert row.answer is not None
        answer = ProvisionAnswer.model_validate(row.answer)
        try:
            await self.hub.post("/v1/manual-responses", answer, InquiryResult)
        except IpnsimError as error:
            logger.warning(
                "final answer of inquiry %s not yet acknowledged by the hub (%s); will retry",
                row.inquiry_id,
                error.code,
            )
            return _view(row)
        async with self.sessions.begin() as session:
            stored = await session.get(ManualRequest, row.inquiry_id)
            assert stored is not None
            stored.hub_notified_at = self.clock()
            row = stored
        return _view(row)

    # --- as requester ---------------------------------------------------------------------------

    async def store_pending(self, result: InquiryResult) -> None:
        """Keep the pending result of an inquiry this server sent."""
        async with self.sessions.begin() as session:
            session.add(
                StoredResult(
                    inquiry_id=str(result.inquiry_id),
                    result=result.model_dump(mode="json"),
                    updated_at=self.clock(),
                )
            )

    async def receive_result(self, result: InquiryResult) -> None:
        """The final result the hub delivers: replaces the pending one and completes the
        requester's copy of the record. The same result twice is one."""
        if result.requester_code != self.agency_code:
            raise IpnsimError("AUT002", claimed=result.requester_code)

        async def write(session: AsyncSession, log: Appender) -> None:
            record = await session.get(
                LocalRecord, (str(result.inquiry_id), RecordSide.REQUESTER.value)
            )
            if record is None:
                raise IpnsimError("REC001", inquiry_id=str(result.inquiry_id))
            now = self.clock()
            answer = ProvisionAnswer(
                inquiry_id=result.inquiry_id,
                provided_at=result.provided_at or now,
                items=result.items,
                error=result.error,
            )
            await _complete_record(
                session, log, RecordSide.REQUESTER, answer, now, result.provided_at
            )
            stored = await session.get(StoredResult, str(result.inquiry_id))
            if stored is None:
                session.add(
                    StoredResult(
                        inquiry_id=str(result.inquiry_id),
                        result=result.model_dump(mode="json"),
                        updated_at=self.clock(),
                    )
                )
            else:
                stored.result = result.model_dump(mode="json")
                stored.updated_at = self.clock()

        await self.log.write(self.sessions, write)
        logger.info(
            "final result of inquiry %s received: %s%s",
            result.inquiry_id,
            result.status_detail.value + result.status_info_type.value,
            f" {result.error.code}" if result.error else "",
        )

    async def result(self, inquiry_id: uuid.UUID) -> InquiryResult:
        """The result of an inquiry this server sent.

        For an inquiry that waited for the provider's staff: the pending result or the final one
        with its items. For any other: the result as its record shows it (item values are not
        kept, only what the record holds).
        """
        async with self.sessions() as session:
            stored = await session.get(StoredResult, str(inquiry_id))
            if stored is not None:
                return InquiryResult.model_validate(stored.result)
            record = await session.get(LocalRecord, (str(inquiry_id), RecordSide.REQUESTER.value))
            outcome = await session.get(LocalOutcome, (str(inquiry_id), RecordSide.REQUESTER.value))
        if record is None:
            raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
        final = outcome or record
        error = None
        if final.error_code is not None:
            error = IpnsimError(final.error_code).body()
        return InquiryResult(
            inquiry_id=inquiry_id,
            requester_code=record.requester_code,
            provider_code=record.provider_code,
            provider_name=record.provider_name,
            info_type_code=record.info_type_code,
            status_detail=DetailStatus(final.status_detail),
            status_info_type=InfoTypeStatus(final.status_info_type),
            requested_at=record.requested_at,
            provided_at=final.provided_at,
            error=error,
        )


async def _complete_record(
    session: AsyncSession,
    log: Appender,
    side: RecordSide,
    answer: ProvisionAnswer,
    at: dt.datetime,
    provided_at: dt.datetime | None = None,
) -> None:
    """Append the final outcome to this server's pending copy of the record (a leaf of the
    record log). A copy that already has its outcome keeps it: the same result twice is one."""
    key = (str(answer.inquiry_id), side.value)
    if await session.get(LocalRecord, key) is None:
        return
    if await session.get(LocalOutcome, key) is not None:
        return
    error_code = answer.error.code if answer.error else None
    status_detail, status_info_type = outcome_statuses(error_code)
    log.append(
        LocalOutcome(
            inquiry_id=key[0],
            side=key[1],
            item_codes=[item.code for item in answer.items],
            provided_at=provided_at or answer.provided_at,
            status_detail=status_detail.value,
            status_info_type=status_info_type.value,
            error_code=error_code,
            recorded_at=at,
        ),
        LogEventKind.OUTCOME,
    )


def _view(row: ManualRequest) -> ManualRequestView:
    request = ProvisionRequest.model_validate(row.request)
    return ManualRequestView(
        inquiry_id=uuid.UUID(row.inquiry_id),
        requester_code=request.requester_code,
        requester_name=request.requester_name,
        affair_code=request.affair_code,
        procedure_code=request.procedure_code,
        info_type_code=request.info_type_code,
        atena_number=row.atena_number,
        record_id=row.record_id,
        condition=request.condition,
        requested_at=request.requested_at,
        received_at=row.received_at,
        deadline=row.deadline,
        state=row.state,
        hub_notified_at=row.hub_notified_at,
    )
