"""Replica freshness (副本の鮮度): staleness, the registration lag and the freshness report.

**Staleness.** Every info type has an expected update cycle (更新周期, ``update_cycle_days`` in
the catalogue). An answer from a replica whose last update is older than that, by the simulated
clock, carries ``stale: true`` in its ``replica`` block — a flag, not an error.

**Registration lag (登録遅延).** In life a change to an agency's master data reaches its replica
only later: after a delay, or in the nightly batch (夜間バッチ). An intermediate server can be
set to simulate that (``IPNSIM_AGENCY_REGISTRATION_LAG`` = ``delay:SECONDS`` or
``nightly:HOUR``, or ``PUT /v1/registration-lag``): then ``POST /v1/replicas``,
``PUT /v1/replicas/{id}`` and ``DELETE /v1/replicas/{id}`` are checked at once but queued, and
each change becomes the live replica when the simulated clock passes its due time. Due changes
are applied when replicas are next read (an inquiry, a listing, the report), so moving the clock
(``ipnsim clock set``) is enough, and the outcome does not depend on a timer. An inquiry in
between is answered from the old replica, exactly as in life. Bulk registration
(``POST /v1/replicas/bulk``, the initial load) is never lagged.

**Failed registrations.** Every refused registration, update or deletion, and every queued
change found impossible when applied (its record id taken or gone by then), is counted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from intermediate_server.db import (
    PendingReplicaChange,
    RegistrationFailure,
    RegistrationLagSetting,
    Replica,
)
from intermediate_server.schemas import (
    AgeBuckets,
    FreshnessReport,
    InfoTypeFreshness,
    LagMode,
    RegistrationLag,
    ReplicaContent,
    ReplicaRegistration,
)
from ipnsim.storage import reads_of, utcnow
from network.protocol.layouts import Catalogue

logger = logging.getLogger(__name__)

SECONDS_A_DAY = 86_400.0


def freshness(
    updated_at: dt.datetime, at: dt.datetime, update_cycle_days: int | None
) -> tuple[float, bool]:
    """The age in days of a replica last updated at ``updated_at``, seen at ``at``, and whether
    it is past ``update_cycle_days`` (stale)."""
    age = (at - updated_at).total_seconds() / SECONDS_A_DAY
    stale = update_cycle_days is not None and age > update_cycle_days
    return round(age, 4), stale


def age_bucket(age_days: float, buckets: AgeBuckets) -> None:
    """Count one replica of ``age_days`` in ``buckets``."""
    if age_days < 1:
        buckets.under_1_day += 1
    elif age_days < 7:
        buckets.under_7_days += 1
    elif age_days < 30:
        buckets.under_30_days += 1
    elif age_days < 365:
        buckets.under_365_days += 1
    else:
        buckets.older += 1


ApplyRegistration = Callable[[AsyncSession, ReplicaRegistration, dt.datetime], Any]
ApplyUpdate = Callable[[AsyncSession, str, ReplicaContent, dt.datetime], Any]
ApplyDeletion = Callable[[AsyncSession, str, dt.datetime], Any]


_FIRST_DUE = (
    select(PendingReplicaChange.change_id)
    .where(PendingReplicaChange.due_at <= bindparam("now"))
    .limit(1)
)


class RegistrationQueue:
    """The registration lag of one intermediate server: its setting, its queue of pending
    replica changes, and the count of failed registrations."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        default_lag: RegistrationLag | None = None,
    ) -> None:
        self.sessions = sessions
        self.reads = reads_of(sessions)
        self.default_lag = default_lag or RegistrationLag()

    async def lag(self) -> RegistrationLag:
        """The lag in force: the operator's setting, else the server setting."""
        async with self.sessions() as session:
            row = await session.get(RegistrationLagSetting, 1)
        if row is None:
            return self.default_lag
        return RegistrationLag(
            mode=LagMode(row.mode), delay_seconds=row.delay_seconds, nightly_hour=row.nightly_hour
        )

    async def set_lag(self, lag: RegistrationLag) -> RegistrationLag:
        """Set the lag for changes received from now on (queued ones keep their due time)."""
        async with self.sessions.begin() as session:
            row = await session.get(RegistrationLagSetting, 1)
            if row is None:
                row = RegistrationLagSetting(setting_id=1, set_at=utcnow())
                session.add(row)
            row.mode = lag.mode.value
            row.delay_seconds = lag.delay_seconds
            row.nightly_hour = lag.nightly_hour
            row.set_at = utcnow()
        logger.info("registration lag set to %s", lag.model_dump(exclude_none=True))
        return lag

    async def queue(
        self,
        kind: str,
        record_id: str,
        info_type_code: str,
        content: dict[str, Any],
        due: dt.datetime,
    ) -> None:
        async with self.sessions.begin() as session:
            session.add(
                PendingReplicaChange(
                    kind=kind,
                    record_id=record_id,
                    info_type_code=info_type_code,
                    content=content,
                    received_at=utcnow(),
                    due_at=due,
                )
            )
        logger.info("queued %s of replica %s until %s", kind, record_id, due.isoformat())

    async def pending(self, record_id: str) -> list[PendingReplicaChange]:
        """The changes still queued for ``record_id``, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PendingReplicaChange)
                .where(PendingReplicaChange.record_id == record_id)
                .order_by(PendingReplicaChange.due_at, PendingReplicaChange.change_id)
            )
            return list(rows)

    async def record_failure(
        self, operation: str, record_id: str | None, info_type_code: str | None, code: str
    ) -> None:
        async with self.sessions.begin() as session:
            session.add(_failure(operation, record_id, info_type_code, code))

    async def has_due(self, now: dt.datetime | None = None) -> bool:
        """Whether some queued change is due (one indexed look-up)."""
        return await self.reads.first(_FIRST_DUE, {"now": now or utcnow()}) is not None

    async def apply_due(
        self,
        register: ApplyRegistration,
        update: ApplyUpdate,
        remove: ApplyDeletion,
    ) -> int:
        """Make every queued change whose due time has passed the live replica; how many."""
        now = utcnow()
        if not await self.has_due(now):
            return 0
        applied = 0
        async with self.sessions.begin() as session:
            changes = list(
                await session.scalars(
                    select(PendingReplicaChange)
                    .where(PendingReplicaChange.due_at <= now)
                    .order_by(PendingReplicaChange.due_at, PendingReplicaChange.change_id)
                )
            )
            for change in changes:
                taken = await session.execute(
                    delete(PendingReplicaChange).where(
                        PendingReplicaChange.change_id == change.change_id
                    )
                )
                if getattr(taken, "rowcount", 1) != 1:
                    continue  # applied by another process meanwhile
                try:
                    async with session.begin_nested():
                        if change.kind == "register":
                            registration = ReplicaRegistration.model_validate(change.content)
                            await register(session, registration, change.due_at)
                        elif change.kind == "update":
                            content = ReplicaContent.model_validate(change.content)
                            await update(session, change.record_id, content, change.due_at)
                        else:
                            await remove(session, change.record_id, change.due_at)
                    applied += 1
                except IpnsimError as error:
                    logger.warning(
                        "queued %s of replica %s failed: %s",
                        change.kind,
                        change.record_id,
                        error.code,
                    )
                    session.add(
                        _failure(change.kind, change.record_id, change.info_type_code, error.code)
                    )
        if applied:
            logger.info("applied %d queued replica changes", applied)
        return applied

    async def report(
        self, catalogue: Catalogue, agency_code: str, agency_name: str
    ) -> FreshnessReport:
        """鮮度報告: live replicas by info type, their ages, the stale ones, pending changes and
        failed registrations, measured now (simulated clock)."""
        now = utcnow()
        by_type: dict[str, InfoTypeFreshness] = {}

        def entry(code: str) -> InfoTypeFreshness:
            if code not in by_type:
                info_type = catalogue.info_types.get(code)
                by_type[code] = InfoTypeFreshness(
                    info_type_code=code,
                    name_en=info_type.name_en if info_type else "(not in the catalogue)",
                    update_cycle_days=info_type.update_cycle_days if info_type else 0,
                    replicas=0,
                    stale=0,
                    ages=AgeBuckets(),
                    oldest_update=None,
                    newest_update=None,
                    pending=0,
                    failed_registrations=0,
                )
            return by_type[code]

        async with self.sessions() as session:
            rows: Sequence[Any] = (
                await session.execute(
                    select(Replica.info_type_code, Replica.updated_at).where(
                        Replica.deleted_at.is_(None)
                    )
                )
            ).all()
            pending = (
                await session.execute(
                    select(PendingReplicaChange.info_type_code, func.count()).group_by(
                        PendingReplicaChange.info_type_code
                    )
                )
            ).all()
            failures = (
                await session.execute(
                    select(RegistrationFailure.info_type_code, func.count()).group_by(
                        RegistrationFailure.info_type_code
                    )
                )
            ).all()
        for code, updated_at in rows:
            item = entry(code)
            age, stale = freshness(updated_at, now, item.update_cycle_days or None)
            item.replicas += 1
            item.stale += stale
            age_bucket(age, item.ages)
            if item.oldest_update is None or updated_at < item.oldest_update:
                item.oldest_update = updated_at
            if item.newest_update is None or updated_at > item.newest_update:
                item.newest_update = updated_at
        for code, count in pending:
            entry(code).pending += count
        for code, count in failures:
            entry(code or "(unknown)").failed_registrations += count
        info_types = [by_type[code] for code in sorted(by_type)]
        return FreshnessReport(
            agency_code=agency_code,
            agency_name=agency_name,
            now=now,
            registration_lag=await self.lag(),
            replicas=sum(item.replicas for item in info_types),
            stale=sum(item.stale for item in info_types),
            pending=sum(item.pending for item in info_types),
            failed_registrations=sum(item.failed_registrations for item in info_types),
            info_types=info_types,
        )


def _failure(
    operation: str, record_id: str | None, info_type_code: str | None, code: str
) -> RegistrationFailure:
    return RegistrationFailure(
        failed_at=utcnow(),
        operation=operation,
        record_id=record_id,
        info_type_code=info_type_code,
        error_code=code,
    )
