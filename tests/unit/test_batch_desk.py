"""The batch desk: a row's failure is the row's status, and a stopped job is interrupted."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from error_codes import IpnsimError
from intermediate_server.batch import BatchDesk
from intermediate_server.db import MIGRATIONS
from intermediate_server.schemas import InquiryOrder
from intermediate_server.service import AgencyIdentity
from ipnsim.metrics import REGISTRY
from ipnsim.storage import create_engine, migrate, sessionmaker, utcnow
from network.protocol.batch_file import (
    JST,
    RequestLine,
    Variant,
    read_result_rows,
    request_row,
)
from network.protocol.layouts import Catalogue, catalogue
from network.protocol.models import DetailStatus, InfoTypeStatus, InquiryResult, ReplicaItem
from tests.postgres import scratch_database

YAMAGATA = "2006201400000000"
ODAWARA = "2014206900000000"


class FakeInquiries:
    """Stands for the intermediate server: answers each atena number its own way."""

    def __init__(self) -> None:
        self.catalogue: Catalogue = catalogue()
        self.agency = AgencyIdentity(code=YAMAGATA, name_ja="山形市")
        self.release = asyncio.Event()
        self.first_asked = asyncio.Event()
        self.block = False
        self.asked: list[str] = []

    async def inquire(self, order: InquiryOrder) -> InquiryResult:
        self.asked.append(order.atena_number)
        self.first_asked.set()
        if self.block:
            await self.release.wait()
        if order.atena_number.endswith("2"):
            raise RuntimeError("a defect")
        if order.atena_number.endswith("3"):
            raise IpnsimError("AVL003")
        return InquiryResult(
            inquiry_id=uuid.uuid4(),
            requester_code=YAMAGATA,
            provider_code=order.provider_code,
            provider_name="小田原市",
            info_type_code=order.info_type_code,
            status_detail=DetailStatus.COMPLETED,
            status_info_type=InfoTypeStatus.PROVIDED,
            requested_at=utcnow(),
            provided_at=utcnow(),
            items=[ReplicaItem(code="I001", value="2026")],
        )

    async def inquire_many(self, orders: list[InquiryOrder]) -> list[InquiryResult | IpnsimError]:
        """A block: each order as :meth:`inquire` answers it; a defect fails the block."""
        outcomes: list[InquiryResult | IpnsimError] = []
        for order in orders:
            try:
                outcomes.append(await self.inquire(order))
            except IpnsimError as error:
                outcomes.append(error)
        return outcomes


def request_file(*atena_numbers: str) -> bytes:
    return b"".join(
        request_row(
            RequestLine(
                atena_number=atena,
                requested_at=dt.datetime(2026, 6, 1, tzinfo=JST),
                requester_code=YAMAGATA,
                affair_code="JM01000000121000",
                procedure_code="JT01010000000214",
                provider_code=ODAWARA,
                info_type_code="TM00000000000002",
            ),
            Variant.CSV,
            "utf-8",
        )
        for atena in atena_numbers
    )


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data[:7]
    yield data[7:]


Scenario = Callable[[BatchDesk, FakeInquiries], Awaitable[None]]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'agency.sqlite3'}"
        return
    with scratch_database("ipnsim_unit_batch") as url:
        yield url


def run(database: str, directory: Path, scenario: Scenario) -> None:
    async def go() -> None:
        engine = create_engine(database)
        try:
            await migrate(engine, MIGRATIONS)
            fake = FakeInquiries()
            desk = BatchDesk(  # one row a block: a defect fails one row
                sessionmaker(engine),
                fake,  # type: ignore[arg-type]
                directory,
                concurrency=2,
                block_rows=1,
            )
            await desk.recover()
            try:
                await scenario(desk, fake)
            finally:
                await desk.close()
        finally:
            await engine.dispose()

    asyncio.run(go())


async def until_finished(desk: BatchDesk, job_id: uuid.UUID) -> str:
    for _ in range(200):
        job = await desk.job(job_id)
        if job.state in {"completed", "interrupted"}:
            return job.state
        await asyncio.sleep(0.02)
    raise AssertionError("the job did not finish")


def test_a_row_that_fails_is_a_row_status_not_a_job_failure(database: str, tmp_path: Path) -> None:
    data = request_file("000000000000001", "000000000000002", "000000000000003")

    def rows_counted(outcome: str) -> float:
        return REGISTRY.get_sample_value("ipnsim_batch_rows_total", {"outcome": outcome}) or 0.0

    async def scenario(desk: BatchDesk, fake: FakeInquiries) -> None:
        before = rows_counted("provided"), rows_counted("failed")
        job = await desk.create()
        await desk.add_file(job.job_id, "rows.csv", chunks(data), "utf-8", None)
        await desk.start(job.job_id)
        assert await until_finished(desk, job.job_id) == "completed"
        done = await desk.job(job.job_id)
        assert (done.rows_done, done.rows_provided, done.rows_failed) == (3, 1, 2)
        assert (rows_counted("provided"), rows_counted("failed")) == (before[0] + 1, before[1] + 2)
        assert done.files[0].rows_failed == 2
        results = (await desk.result_file(job.job_id, "rows.csv", failed=False)).read_bytes()
        rows = read_result_rows(results, "utf-8")
        assert [(row[21], row[22], row[23]) for row in rows] == [
            ("", "", "09"),
            ("SYS001", "1", "99"),
            ("AVL003", "1", "99"),
        ]
        assert rows[0][26] == "2026"
        failed = (await desk.result_file(job.job_id, "rows.csv", failed=True)).read_bytes()
        assert failed == b"\r\n".join(data.split(b"\r\n")[1:3]) + b"\r\n"

    run(database, tmp_path / "batch", scenario)


def test_a_job_running_when_the_server_stops_is_interrupted(database: str, tmp_path: Path) -> None:
    data = request_file("000000000000001", "000000000000004")
    job_ids: list[uuid.UUID] = []

    async def first(desk: BatchDesk, fake: FakeInquiries) -> None:
        fake.block = True
        job = await desk.create()
        await desk.add_file(job.job_id, "rows.csv", chunks(data), None, Variant.CSV)
        await desk.start(job.job_id)
        await asyncio.wait_for(fake.first_asked.wait(), 10)
        job_ids.append(job.job_id)  # the desk closes with the job still running

    async def second(desk: BatchDesk, fake: FakeInquiries) -> None:
        job = await desk.job(job_ids[0])
        assert job.state == "interrupted"
        assert job.error is not None and "partial" in job.error
        path = await desk.result_file(job.job_id, "rows.csv", failed=False)
        assert path.read_bytes() == b""
        with pytest.raises(IpnsimError) as refused:
            await desk.start(job.job_id)
        assert refused.value.code == "BAT008"

    run(database, tmp_path / "batch", first)
    run(database, tmp_path / "batch", second)
