"""Idempotency keys (冪等キー) of inquiries: a retried inquiry is answered, never sent twice.

A business system that sends ``Idempotency-Key: <key>`` with ``POST /v1/inquiries`` may repeat
the request as often as it likes:

- the first request under a key is sent through the hub as usual, and its result is kept;
- a repeat with the same content returns that result (header ``Idempotent-Replayed: true``)
  and writes no second provision record anywhere;
- a repeat with other content is refused with ``IDM001``;
- a repeat while the first is still in flight is refused with ``IDM002`` and Retry-After.

A request refused before it reached the hub (an undefined code, say) keeps no key: the
corrected request may use it again. A key left in flight by a server that stopped mid-inquiry
is taken over by the next repeat once ``abandoned_after`` has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from intermediate_server.db import IdempotencyKey
from intermediate_server.schemas import InquiryOrder
from ipnsim.storage import utcnow
from network.protocol.models import InquiryResult

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""The request header that names one inquiry for good."""
REPLAYED_HEADER = "Idempotent-Replayed"
"""Response header set to ``true`` when the answer is the stored one of an earlier request."""
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""A key is 1 to 255 visible ASCII characters (a UUID is the usual choice)."""
RETRY_AFTER_SECONDS = 1
"""What IDM002's Retry-After header tells the business system to wait, in seconds."""


class KeyState(StrEnum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


class InquiryInFlight(IpnsimError):
    """IDM002: the first request under this key has not ended yet; answered with Retry-After."""

    def __init__(self, key: str) -> None:
        super().__init__("IDM002", key=key)
        self.retry_after = RETRY_AFTER_SECONDS


def fingerprint(order: InquiryOrder, forced_outcome: str | None) -> str:
    """SHA-256 of the inquiry's content: equal exactly when two requests ask the same thing."""
    content = {"order": order.model_dump(mode="json"), "forced_outcome": forced_outcome}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request under a key gets: the result, and whether it is a stored one."""

    result: InquiryResult
    replayed: bool


class IdempotencyKeys:
    """The server's idempotency keys, and the rule that runs an inquiry once per key."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], abandoned_after: dt.timedelta
    ) -> None:
        self.sessions = sessions
        self.abandoned_after = abandoned_after

    async def run_once(
        self, key: str, digest: str, inquire: Callable[[], Awaitable[InquiryResult]]
    ) -> Outcome:
        """Run ``inquire`` unless ``key`` already names an inquiry; see the module docstring."""
        stored = await self._claim(key, digest)
        if stored is not None:
            return Outcome(stored, replayed=True)
        async with self._released_on_failure(key):
            result = await inquire()
        async with self.sessions.begin() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.key == key,
                    IdempotencyKey.state == KeyState.IN_FLIGHT.value,
                )
                .values(
                    state=KeyState.COMPLETED.value,
                    inquiry_id=str(result.inquiry_id),
                    result=result.model_dump(mode="json"),
                    completed_at=utcnow(),
                )
            )
        return Outcome(result, replayed=False)

    async def _claim(self, key: str, digest: str) -> InquiryResult | None:
        """Take ``key`` for a new inquiry (None), or return the result it already stands for."""
        now = utcnow()
        try:
            async with self.sessions.begin() as session:
                session.add(
                    IdempotencyKey(
                        key=key,
                        fingerprint=digest,
                        state=KeyState.IN_FLIGHT.value,
                        started_at=now,
                    )
                )
            return None
        except IntegrityError:
            pass
        async with self.sessions() as session:
            existing = await session.get(IdempotencyKey, key)
        if existing is None:
            # Released by a request refused meanwhile: claim it afresh.
            return await self._claim(key, digest)
        if existing.fingerprint != digest:
            raise IpnsimError("IDM001", key=key)
        if existing.state == KeyState.COMPLETED.value and existing.result is not None:
            return InquiryResult.model_validate(existing.result)
        if existing.started_at > now - self.abandoned_after:
            raise InquiryInFlight(key)
        async with self.sessions.begin() as session:
            taken = await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.key == key,
                    IdempotencyKey.state == KeyState.IN_FLIGHT.value,
                    IdempotencyKey.started_at == existing.started_at,
                )
                .values(started_at=now)
            )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise InquiryInFlight(key)
        return None

    @asynccontextmanager
    async def _released_on_failure(self, key: str) -> AsyncIterator[None]:
        """Give the key back when the inquiry was refused before it was sent, or crashed."""
        try:
            yield
        except BaseException:
            async with self.sessions.begin() as session:
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.key == key,
                        IdempotencyKey.state == KeyState.IN_FLIGHT.value,
                    )
                )
            raise
