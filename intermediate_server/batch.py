"""一括照会: batch jobs of request files, inquired in blocks through the hub's bulk inquiry.

A business system creates a job, sends each request file (checked whole as it arrives: a file
with any problem is refused, naming every problem), then starts the job. The rows are then
inquired in the background in blocks of :data:`BLOCK_ROWS` rows, a few blocks at a time
(``batch_concurrency``): each block is one bulk inquiry through the hub
(:meth:`IntermediateService.inquire_many`), in which every row is inquired exactly as
``POST /v1/inquiries`` would inquire it (three copies of the record), each service writing
the block's records in one transaction.
Results and failed rows are streamed to files in the server's batch directory, in the request
file's variant and encoding (:mod:`network.protocol.batch_file`); nothing of a file is held in
memory beyond a few blocks of rows. A row's failure is that row's status, never the job's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import FieldProblem, IpnsimError
from intermediate_server.db import BatchFile, BatchJob
from intermediate_server.schemas import BatchFileView, BatchJobView, InquiryOrder
from intermediate_server.service import IntermediateService
from ipnsim.metrics import count_batch_rows
from ipnsim.storage import utcnow
from network.protocol.batch_file import (
    MAX_ROWS,
    BatchRow,
    FailedRowsWriter,
    FileProblem,
    ProblemKind,
    RequestFileReader,
    ResultWriter,
    RowOutcome,
    Variant,
)
from network.protocol.models import DetailStatus, InfoTypeStatus, InquiryResult

logger = logging.getLogger("ipnsim.intermediate.batch")

RECEIVING, RUNNING, COMPLETED, INTERRUPTED = "receiving", "running", "completed", "interrupted"
FINISHED = frozenset({COMPLETED, INTERRUPTED})
"""States whose results may be read (an interrupted job's are partial)."""

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest request file accepted (a full fixed-width file of 10,000 rows is about 2.2 MB)."""
MAX_DETAILS = 1_000
"""Most problems an answer lists (the message gives the total)."""
BLOCK_ROWS = 250
"""Rows read, inquired (in one bulk inquiry through the hub) and written per step; progress is
saved after each."""


def _where(problem: FileProblem) -> str:
    parts = [] if problem.line is None else [f"line {problem.line}"]
    if problem.field is not None:
        parts.append(f"field {problem.field.label}")
    return ", ".join(parts) or "file"


def file_error(name: str, problems: list[FileProblem], total: int, rows: int) -> IpnsimError:
    """The error refusing a file: the first problem's code and message, every problem (up to
    :data:`MAX_DETAILS`) in ``details``."""
    first = problems[0]
    details = [FieldProblem(field=_where(p), problem=f"{p.problem} ({p.code})") for p in problems]
    if total > len(problems):
        details.append(
            FieldProblem(field="file", problem=f"{total - len(problems)} more problems not listed")
        )
    params: dict[str, str] = {"file": name}
    if first.kind is ProblemKind.TOO_MANY_ROWS:
        params |= {"rows": str(rows), "limit": str(MAX_ROWS)}
    elif first.kind in {ProblemKind.LAYOUT, ProblemKind.FIELD}:
        params |= {"line": str(first.line), "problem": first.problem}
        if first.field is not None:
            params["field"] = first.field.label
    return IpnsimError(first.code, details=details, **params)


class BatchDesk:
    """The batch jobs of one intermediate server."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        service: IntermediateService,
        directory: Path,
        concurrency: int = 2,
        block_rows: int = BLOCK_ROWS,
    ) -> None:
        self.sessions = sessions
        self.service = service
        self.directory = directory
        self.concurrency = concurrency
        self.block_rows = block_rows
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # --- jobs ---------------------------------------------------------------------------------

    async def recover(self) -> None:
        """At start-up: a job left running by a stopped server is marked interrupted."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(BatchJob)
                .where(BatchJob.state == RUNNING)
                .values(
                    state=INTERRUPTED,
                    finished_at=utcnow(),
                    error="the server stopped while the job ran; its results are partial",
                )
            )
        if result.rowcount:  # type: ignore[attr-defined]
            logger.warning("%d batch jobs were interrupted by a restart", result.rowcount)  # type: ignore[attr-defined]

    async def create(self) -> BatchJobView:
        job_id = str(uuid.uuid4())
        async with self.sessions.begin() as session:
            session.add(
                BatchJob(
                    job_id=job_id,
                    state=RECEIVING,
                    created_at=utcnow(),
                    started_at=None,
                    finished_at=None,
                    rows_total=0,
                    rows_done=0,
                    rows_provided=0,
                    rows_not_provided=0,
                    rows_pending=0,
                    rows_failed=0,
                    error=None,
                )
            )
        self._job_dir(job_id).mkdir(parents=True, exist_ok=True)
        logger.info("batch job %s created", job_id)
        return await self.job(uuid.UUID(job_id))

    async def job(self, job_id: uuid.UUID) -> BatchJobView:
        async with self.sessions() as session:
            job = await self._job(session, str(job_id))
            files = await self._files(session, job.job_id)
        return _job_view(job, files)

    async def jobs(self, limit: int = 100) -> list[BatchJobView]:
        """The jobs, newest first."""
        async with self.sessions() as session:
            rows = list(
                await session.scalars(
                    select(BatchJob).order_by(BatchJob.created_at.desc()).limit(limit)
                )
            )
            files = list(
                await session.scalars(
                    select(BatchFile)
                    .where(BatchFile.job_id.in_([row.job_id for row in rows]))
                    .order_by(BatchFile.position)
                )
            )
        return [_job_view(row, [f for f in files if f.job_id == row.job_id]) for row in rows]

    async def add_file(
        self,
        job_id: uuid.UUID,
        name: str,
        body: AsyncIterator[bytes],
        encoding: str | None,
        variant: Variant | None,
    ) -> BatchJobView:
        """Store one request file, streamed to disk, then check every row of it: a file with
        any problem is refused whole (BAT001–BAT005, every problem in ``details``)."""
        key = str(job_id)
        async with self.sessions() as session:
            job = await self._job(session, key)
            files = await self._files(session, key)
        if job.state != RECEIVING:
            raise IpnsimError(
                "BAT008",
                job_id=key,
                state=job.state,
                action_ja="ファイルの追加は",
                action_en="adding a file",
            )
        if any(existing.name == name for existing in files):
            raise IpnsimError(
                "BAT008",
                job_id=key,
                state=job.state,
                action_ja="同じ名前のファイルの追加は",
                action_en=f"adding a second file named {name}",
            )
        position = max((existing.position for existing in files), default=0) + 1
        path = self._request_path(key, position)
        part = path.with_suffix(".part")
        try:
            with part.open("wb") as output:
                async for chunk in body:
                    output.write(chunk)
            rows, used_encoding, used_variant = await asyncio.to_thread(
                self._check, part, name, encoding, variant
            )
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(path)
        async with self.sessions.begin() as session:
            session.add(
                BatchFile(
                    job_id=key,
                    position=position,
                    name=name,
                    encoding=used_encoding,
                    variant=used_variant.value,
                    rows=rows,
                    rows_done=0,
                    rows_failed=0,
                    received_at=utcnow(),
                )
            )
            await session.execute(
                update(BatchJob)
                .where(BatchJob.job_id == key)
                .values(rows_total=BatchJob.rows_total + rows)
            )
        logger.info("batch job %s: file %s accepted (%d rows)", key, name, rows)
        return await self.job(job_id)

    def _check(
        self, path: Path, name: str, encoding: str | None, variant: Variant | None
    ) -> tuple[int, str, Variant]:
        with path.open("rb") as stream:
            reader = self._reader(stream, name, encoding, variant)
            problems = reader.check(limit=MAX_DETAILS)
            if problems:
                raise file_error(name, problems, reader.problem_count, reader.rows_read)
            assert reader.encoding is not None and reader.variant is not None
            return reader.rows_read, reader.encoding, reader.variant

    def _reader(
        self, stream: BinaryIO, name: str, encoding: str | None, variant: Variant | None
    ) -> RequestFileReader:
        return RequestFileReader(
            stream,
            name,
            self.service.catalogue,
            encoding=encoding,
            variant=variant,
            requester_code=self.service.agency.code,
        )

    async def start(self, job_id: uuid.UUID) -> BatchJobView:
        """Start inquiring the rows of every file in the background."""
        key = str(job_id)
        async with self.sessions.begin() as session:
            job = await self._job(session, key)
            files = await self._files(session, key)
            if job.state != RECEIVING or not files:
                raise IpnsimError(
                    "BAT008",
                    job_id=key,
                    state=job.state if files else f"{job.state}, no files",
                    action_ja="開始は",
                    action_en="starting it",
                )
            job.state = RUNNING
            job.started_at = utcnow()
        self._tasks[key] = asyncio.create_task(self._run(key))
        logger.info("batch job %s started", key)
        return await self.job(job_id)

    async def close(self) -> None:
        """Stop the running jobs (the server is stopping): they are marked interrupted."""
        for task in self._tasks.values():
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.recover()

    def output(self, job_id: str, position: int, failed: bool) -> Path:
        suffix = ".failed" if failed else ".result"
        return self._job_dir(job_id) / f"{position:04d}{suffix}"

    async def result_file(self, job_id: uuid.UUID, name: str, failed: bool) -> Path:
        """The path of a finished job's result file (or failed-rows file) for one request file."""
        key = str(job_id)
        async with self.sessions() as session:
            job = await self._job(session, key)
            files = await self._files(session, key)
        found = next((row for row in files if row.name == name), None)
        if found is None:
            raise IpnsimError("BAT009", job_id=key, file=name)
        if job.state not in FINISHED:
            raise IpnsimError("BAT007", job_id=key, state=job.state)
        path = self.output(key, found.position, failed)
        if not path.exists():
            path.touch()  # an interrupted job may not have reached this file
        return path

    # --- running ------------------------------------------------------------------------------

    async def _run(self, job_id: str) -> None:
        try:
            async with self.sessions() as session:
                files = await self._files(session, job_id)
            for file in files:
                await self._run_file(job_id, file)
            async with self.sessions.begin() as session:
                await session.execute(
                    update(BatchJob)
                    .where(BatchJob.job_id == job_id)
                    .values(state=COMPLETED, finished_at=utcnow())
                )
            logger.info("batch job %s completed", job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("batch job %s stopped by an unexpected failure", job_id)
            async with self.sessions.begin() as session:
                await session.execute(
                    update(BatchJob)
                    .where(BatchJob.job_id == job_id)
                    .values(
                        state=INTERRUPTED,
                        finished_at=utcnow(),
                        error="an internal failure stopped the job (see the server log)",
                    )
                )
        finally:
            self._tasks.pop(job_id, None)

    async def _run_file(self, job_id: str, file: BatchFile) -> None:
        variant = Variant(file.variant)
        with (
            self._request_path(job_id, file.position).open("rb") as request,
            self.output(job_id, file.position, failed=False).open("wb") as results,
            self.output(job_id, file.position, failed=True).open("wb") as failures,
        ):
            reader = self._reader(request, file.name, file.encoding, variant)
            writer = ResultWriter(
                results, variant, file.encoding, self.service.catalogue.info_types.get
            )
            failed_writer = FailedRowsWriter(failures)
            rows = reader.rows()
            in_flight: deque[tuple[list[BatchRow], asyncio.Task[list[RowOutcome]]]] = deque()
            try:
                while True:
                    # The next blocks are inquired while this one's results are written.
                    while len(in_flight) < self.concurrency and (
                        block := list(itertools.islice(rows, self.block_rows))
                    ):
                        in_flight.append((block, asyncio.create_task(self._inquire(block))))
                    if not in_flight:
                        break
                    block, task = in_flight.popleft()
                    outcomes = await task
                    counts = {"provided": 0, "not_provided": 0, "pending": 0, "failed": 0}
                    for row, outcome in zip(block, outcomes, strict=True):
                        writer.write(row, outcome)
                        if outcome.failed:
                            failed_writer.write(row)
                        counts[_bucket(outcome)] += 1
                    count_batch_rows(counts)
                    results.flush()
                    failures.flush()
                    await self._progress(job_id, file.position, len(block), counts)
            finally:
                for _, task in in_flight:
                    task.cancel()
                for _, task in in_flight:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _progress(
        self, job_id: str, position: int, rows: int, counts: dict[str, int]
    ) -> None:
        """Count a block's rows as done, in one transaction."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(BatchFile)
                .where(BatchFile.job_id == job_id, BatchFile.position == position)
                .values(
                    rows_done=BatchFile.rows_done + rows,
                    rows_failed=BatchFile.rows_failed + counts["failed"],
                )
            )
            await session.execute(
                update(BatchJob)
                .where(BatchJob.job_id == job_id)
                .values(
                    rows_done=BatchJob.rows_done + rows,
                    rows_provided=BatchJob.rows_provided + counts["provided"],
                    rows_not_provided=BatchJob.rows_not_provided + counts["not_provided"],
                    rows_pending=BatchJob.rows_pending + counts["pending"],
                    rows_failed=BatchJob.rows_failed + counts["failed"],
                )
            )

    async def _inquire(self, block: list[BatchRow]) -> list[RowOutcome]:
        """The block's inquiries, each exactly as ``POST /v1/inquiries`` would give it, sent
        through the hub as one bulk inquiry; never raises."""
        try:
            results = await self.service.inquire_many([inquiry_order(row) for row in block])
        except Exception:
            logger.exception("a batch block of %d rows failed unexpectedly", len(block))
            return [_error_outcome(IpnsimError("SYS001")) for _ in block]
        return [
            _error_outcome(result) if isinstance(result, IpnsimError) else _outcome(result)
            for result in results
        ]

    # --- helpers ------------------------------------------------------------------------------

    def _job_dir(self, job_id: str) -> Path:
        return self.directory / job_id

    def _request_path(self, job_id: str, position: int) -> Path:
        return self._job_dir(job_id) / f"{position:04d}.request"

    async def _job(self, session: AsyncSession, job_id: str) -> BatchJob:
        job = await session.get(BatchJob, job_id)
        if job is None:
            raise IpnsimError("BAT006", job_id=job_id)
        return job

    async def _files(self, session: AsyncSession, job_id: str) -> list[BatchFile]:
        return list(
            await session.scalars(
                select(BatchFile).where(BatchFile.job_id == job_id).order_by(BatchFile.position)
            )
        )


def inquiry_order(row: BatchRow) -> InquiryOrder:
    """The inquiry a request row asks for, as ``POST /v1/inquiries`` takes it."""
    return InquiryOrder(
        atena_number=row.atena_number,
        affair_code=row.affair_code,
        procedure_code=row.procedure_code,
        info_type_code=row.info_type_code,
        provider_code=row.provider_code,
        condition=row.condition,
        non_disclosure=row.non_disclosure,
        user_id=row.user_id,
    )


def _bucket(outcome: RowOutcome) -> str:
    if outcome.status_detail == DetailStatus.COMPLETED.value:
        if outcome.status_info_type == InfoTypeStatus.PROVIDED.value:
            return "provided"
        return "not_provided"
    if outcome.status_detail == DetailStatus.PENDING.value:
        return "pending"
    return "failed"


def _outcome(result: InquiryResult) -> RowOutcome:
    return RowOutcome(
        status_detail=result.status_detail.value,
        status_info_type=result.status_info_type.value,
        inquiry_id=str(result.inquiry_id),
        provider_name=result.provider_name,
        completed_at=result.provided_at or utcnow(),
        error_code=result.error.code if result.error else "",
        retryable=result.error.retryable if result.error else None,
        message_ja=result.error.message_ja if result.error else "",
        items=result.items,
        replica=result.replica,
    )


def _error_outcome(error: IpnsimError) -> RowOutcome:
    body = error.body()
    return RowOutcome(
        status_detail=DetailStatus.FAILED.value,
        status_info_type=InfoTypeStatus.ERROR.value,
        completed_at=utcnow(),
        error_code=body.code,
        retryable=body.retryable,
        message_ja=body.message_ja,
    )


def _job_view(job: BatchJob, files: list[BatchFile]) -> BatchJobView:
    return BatchJobView(
        job_id=uuid.UUID(job.job_id),
        state=job.state,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        rows_provided=job.rows_provided,
        rows_not_provided=job.rows_not_provided,
        rows_pending=job.rows_pending,
        rows_failed=job.rows_failed,
        error=job.error,
        files=[
            BatchFileView(
                name=file.name,
                encoding=file.encoding,
                variant=file.variant,
                rows=file.rows,
                rows_done=file.rows_done,
                rows_failed=file.rows_failed,
                received_at=file.received_at,
            )
            for file in files
        ],
    )
