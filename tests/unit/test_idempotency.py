"""Idempotency keys (冪等キー): one inquiry per key, whatever arrives and in whatever order."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from error_codes import IpnsimError
from intermediate_server.db import MIGRATIONS
from intermediate_server.idempotency import IdempotencyKeys, InquiryInFlight, fingerprint
from intermediate_server.schemas import InquiryOrder
from ipnsim.storage import create_engine, migrate, sessionmaker, utcnow
from network.protocol.models import DetailStatus, InfoTypeStatus, InquiryResult

T = TypeVar("T")

ORDER = InquiryOrder(
    atena_number="000000000000001",
    affair_code="JM01010000000001",
    procedure_code="JT01010000000214",
    info_type_code="TM00000000000002",
    provider_code="1000000000000001",
)


def result() -> InquiryResult:
    return InquiryResult(
        inquiry_id=uuid.uuid4(),
        requester_code="1000000000000002",
        provider_code=ORDER.provider_code,
        info_type_code=ORDER.info_type_code,
        status_detail=DetailStatus.COMPLETED,
        status_info_type=InfoTypeStatus.PROVIDED,
        requested_at=utcnow(),
    )


def with_keys(
    tmp_path: Path,
    scenario: Callable[[IdempotencyKeys], Awaitable[T]],
    abandoned_after: dt.timedelta = dt.timedelta(minutes=1),
) -> T:
    async def go() -> T:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'agency.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            return await scenario(IdempotencyKeys(sessionmaker(engine), abandoned_after))
        finally:
            await engine.dispose()

    return asyncio.run(go())


class CountingInquiry:
    """Stands for the inquiry through the hub: counts how often it is really sent."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.sent = 0
        self.delay = delay
        self.error = error

    async def __call__(self) -> InquiryResult:
        self.sent += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return result()


def test_the_fingerprint_tells_content_apart() -> None:
    same = InquiryOrder.model_validate(ORDER.model_dump())
    assert fingerprint(ORDER, None) == fingerprint(same, None)
    other = ORDER.model_copy(update={"user_id": "someone"})
    assert fingerprint(ORDER, None) != fingerprint(other, None)
    assert fingerprint(ORDER, None) != fingerprint(ORDER, "AVL001")


def test_a_key_sends_once_and_replays_the_stored_result(tmp_path: Path) -> None:
    async def scenario(keys: IdempotencyKeys) -> None:
        inquiry = CountingInquiry()
        first = await keys.run_once("k1", fingerprint(ORDER, None), inquiry)
        again = await keys.run_once("k1", fingerprint(ORDER, None), inquiry)
        assert (first.replayed, again.replayed) == (False, True)
        assert again.result == first.result
        assert inquiry.sent == 1
        other = await keys.run_once("k2", fingerprint(ORDER, None), inquiry)
        assert other.result.inquiry_id != first.result.inquiry_id
        assert inquiry.sent == 2

    with_keys(tmp_path, scenario)


def test_other_content_under_a_used_key_is_idm001(tmp_path: Path) -> None:
    async def scenario(keys: IdempotencyKeys) -> None:
        inquiry = CountingInquiry()
        await keys.run_once("k", fingerprint(ORDER, None), inquiry)
        with pytest.raises(IpnsimError) as refused:
            await keys.run_once("k", fingerprint(ORDER, "AVL001"), inquiry)
        assert refused.value.code == "IDM001"
        assert inquiry.sent == 1

    with_keys(tmp_path, scenario)


def test_concurrent_requests_under_one_key_send_once(tmp_path: Path) -> None:
    async def scenario(keys: IdempotencyKeys) -> None:
        inquiry = CountingInquiry(delay=0.2)
        digest = fingerprint(ORDER, None)
        outcomes = await asyncio.gather(
            *(keys.run_once("k", digest, inquiry) for _ in range(5)), return_exceptions=True
        )
        answered = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert inquiry.sent == 1
        assert len(answered) == 1
        assert len(refused) == 4
        assert all(isinstance(error, InquiryInFlight) for error in refused)
        assert all(error.retry_after == 1 for error in refused if isinstance(error, IpnsimError))
        assert all(error.code == "IDM002" for error in refused if isinstance(error, IpnsimError))

    with_keys(tmp_path, scenario)


def test_a_refused_inquiry_gives_its_key_back(tmp_path: Path) -> None:
    async def scenario(keys: IdempotencyKeys) -> None:
        digest = fingerprint(ORDER, None)
        with pytest.raises(IpnsimError):
            await keys.run_once("k", digest, CountingInquiry(error=IpnsimError("VAL006")))
        retried = await keys.run_once("k", digest, CountingInquiry())
        assert retried.replayed is False

    with_keys(tmp_path, scenario)


def test_an_abandoned_key_is_taken_over_after_its_time(tmp_path: Path) -> None:
    """A server stopped mid-inquiry leaves the key in flight; a later repeat may send again."""

    async def scenario(keys: IdempotencyKeys) -> None:
        digest = fingerprint(ORDER, None)
        stuck = asyncio.create_task(keys.run_once("k", digest, CountingInquiry(delay=30)))
        await asyncio.sleep(0.1)
        with pytest.raises(InquiryInFlight):
            await keys.run_once("k", digest, CountingInquiry())
        await asyncio.sleep(0.5)
        taken_over = await keys.run_once("k", digest, CountingInquiry())
        assert taken_over.replayed is False
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck

    with_keys(tmp_path, scenario, abandoned_after=dt.timedelta(seconds=0.4))
