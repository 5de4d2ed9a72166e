"""An intermediate server's HTTP API: ``/v1`` for business systems, ``/hub`` for the hub."""

import asyncio
import contextlib
import hmac
import logging
import pathlib
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from error_codes.http import install_error_handling
from intermediate_server.batch import MAX_FILE_BYTES, BatchDesk
from intermediate_server.db import MIGRATIONS, Base
from intermediate_server.hub_client import HubClient
from intermediate_server.idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    KEY_PATTERN,
    REPLAYED_HEADER,
    IdempotencyKeys,
    fingerprint,
)
from intermediate_server.journal import JOURNAL_PATH, JournalMiddleware, RequestJournal
from intermediate_server.schemas import (
    BatchJobView,
    BulkResult,
    DependantClaims,
    DependantClaimsOrder,
    FanOutOrder,
    FreshnessReport,
    InquiryOrder,
    JournalEntryView,
    ManualAnswer,
    ManualDecline,
    ManualRequestView,
    MistakenDeclaration,
    PeopleBulkRegistration,
    PersonRegistration,
    PersonView,
    RegistrationLag,
    ReplicaBulkRegistration,
    ReplicaContent,
    ReplicaRegistration,
    ReplicaView,
)
from intermediate_server.service import AgencyIdentity, IntermediateService, local_record_log
from intermediate_server.settings import IntermediateServerSettings
from ipnsim.clock import clock_router
from ipnsim.http import bearer_token, make_client
from ipnsim.metrics import install_metrics
from ipnsim.plain_endpoints import (
    AUTHORIZATION_PARAMETER,
    header_parameter,
    json_body_openapi,
    json_response,
    optional_header,
    read_json_body,
)
from ipnsim.sandboxes import (
    Sandboxes,
    SandboxMiddleware,
    SandboxStore,
    current_sandbox,
    sandbox_router,
    stop_tasks,
)
from ipnsim.storage import create_engine, migrate, sessionmaker
from ipnsim.tracing import install_tracing
from network.protocol.batch_file import ENCODINGS, Variant, result_file_name
from network.protocol.layouts import catalogue
from network.protocol.log_api import log_router
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    MAX_CASE_REPORTS,
    Addendum,
    AtenaNumber,
    BulkProvisionAnswer,
    BulkProvisionRequest,
    CaseReport,
    CaseReports,
    DisclosureView,
    FanOutResult,
    Health,
    InquiryResult,
    ProvisionAnswer,
    ProvisionRecord,
    ProvisionRequest,
    RecordSide,
    RetentionPurgeResult,
    forced_outcome,
)
from network.protocol.record_log import (
    RecordLog,
    load_or_create_key,
    purge_forever,
    retention_purge_seconds,
)

logger = logging.getLogger("ipnsim.intermediate")

BATCH_PATH = "/v1/batch-jobs"
FILE_NAME = r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$"
"""A request file's name in a job: letters, digits, '_', '.' and '-' (e.g. P640R110_…_0001.DAT)."""


class ServerWorld:
    """An intermediate server's objects on one database (the default one or a sandbox's), with
    its background tasks: the request journal's writer, the manual-response sweep and the
    scheduled retention purge."""

    def __init__(
        self,
        server: IntermediateService,
        idempotency_keys: IdempotencyKeys,
        batch: BatchDesk,
        journal: RequestJournal,
        tasks: tuple[asyncio.Task[None], ...],
    ) -> None:
        self.server = server
        self.idempotency_keys = idempotency_keys
        self.batch = batch
        self.journal = journal
        self.tasks = tasks

    async def close(self) -> None:
        await stop_tasks(self.tasks)
        await self.journal.flush()
        await self.batch.close()


def create_app(settings: IntermediateServerSettings) -> FastAPI:
    """Build one agency's intermediate server from its settings."""
    engine = create_engine(settings.database_url)
    credential = settings.credential.get_secret_value()
    agency = AgencyIdentity(code=settings.code, name_ja=settings.name_ja)
    signing_key = load_or_create_key(settings.signing_key_file())
    record_log = local_record_log(settings.code, signing_key)
    purge_seconds = retention_purge_seconds()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine, MIGRATIONS)
        client = make_client(settings.hub_timeout)
        hub = HubClient(client, str(settings.hub_url), credential, settings.hub_timeout)

        async def open_world(
            log: RecordLog, world_engine: AsyncEngine, batch_dir: pathlib.Path
        ) -> ServerWorld:
            server = IntermediateService(
                sessionmaker(world_engine),
                agency,
                hub,
                catalogue(),
                manual_hold_seconds=settings.manual_response_seconds,
                log=log,
                tax_release=settings.tax_release(),
                registration_lag=RegistrationLag.parse(settings.registration_lag),
            )
            await log.load(server.sessions)
            keys = IdempotencyKeys(
                sessionmaker(world_engine),
                abandoned_after=settings.idempotency_abandoned_after,
            )
            batch = BatchDesk(
                sessionmaker(world_engine), server, batch_dir, settings.batch_concurrency
            )
            await batch.recover()
            journal = RequestJournal(sessionmaker(world_engine))
            tasks = (
                asyncio.create_task(journal.flush_forever()),
                asyncio.create_task(
                    server.manual.sweep_forever(
                        min(settings.manual_sweep_seconds, settings.manual_response_seconds / 2)
                    )
                ),
                asyncio.create_task(purge_forever(server.purge_expired, purge_seconds)),
            )
            return ServerWorld(server, keys, batch, journal, tasks)

        async def open_sandbox(key: str, sandbox_engine: AsyncEngine) -> ServerWorld:
            log = local_record_log(settings.code, signing_key)
            return await open_world(log, sandbox_engine, sandbox_batch_directory(key))

        async def close_sandbox(world: ServerWorld) -> None:
            await world.close()

        def sandbox_batch_directory(key: str) -> pathlib.Path:
            return settings.batch_directory() / "sandboxes" / key

        default = await open_world(record_log, engine, settings.batch_directory())
        app.state.service = default.server
        app.state.idempotency_keys = default.idempotency_keys
        app.state.batch = default.batch
        app.state.journal = default.journal

        def current_journal() -> RequestJournal | None:
            key = current_sandbox.get()
            if key is None:
                return default.journal
            opened = sandboxes.opened(key)
            return None if opened is None else opened.journal

        app.state.current_journal = current_journal

        async def drop_batch_files(key: str) -> None:
            await asyncio.to_thread(shutil.rmtree, sandbox_batch_directory(key), ignore_errors=True)

        store = SandboxStore(
            settings.database_url,
            MIGRATIONS,
            Base.metadata,
            engine,
            settings.max_sandboxes,
            on_drop=drop_batch_files,
        )
        app.state.sandboxes = sandboxes = Sandboxes(store, open_sandbox, close_sandbox)
        logger.info("intermediate server of %s (%s) ready", agency.name_ja, agency.code)
        try:
            yield
        finally:
            await sandboxes.close()
            await default.close()
            await client.aclose()
            await engine.dispose()

    app = FastAPI(
        title=f"ipnsim intermediate server (中間サーバー) of {settings.name_ja}",
        description="Registers people and replicas for the business system, sends its "
        "inquiries through the hub, and answers the hub's provision requests from replicas.",
        version="0.1.0",
        lifespan=lifespan,
    )

    async def world(request: Request) -> ServerWorld | None:
        """The request's sandbox (None: the default database)."""
        key = current_sandbox.get()
        if key is None:
            return None
        sandboxes: Sandboxes[ServerWorld] = request.app.state.sandboxes
        return await sandboxes.world(key)

    async def service(request: Request) -> IntermediateService:
        sandbox = await world(request)
        if sandbox is not None:
            return sandbox.server
        server: IntermediateService = request.app.state.service
        return server

    def check_hub_credential(authorization: str | None) -> None:
        """AUT001 unless the Authorization header carries the hub's credential."""
        token = bearer_token(authorization)
        if token is None or not hmac.compare_digest(token.encode(), credential.encode()):
            raise IpnsimError("AUT001")

    # The routes of the inquiry path are added first, as routes are matched in the order they
    # were added (they come first in the OpenAPI document too).
    @app.post(
        "/v1/inquiries",
        tags=["inquiries"],
        response_model=InquiryResult,
        openapi_extra=json_body_openapi(
            app,
            InquiryOrder,
            header_parameter(
                IDEMPOTENCY_KEY_HEADER,
                pattern=KEY_PATTERN,
                description="冪等キー: 1–255 visible ASCII characters naming this inquiry for "
                "good. A repeat with the same content returns the first answer (header "
                "Idempotent-Replayed: true) and records nothing more; with other content it is "
                "refused (IDM001); while the first is in flight, IDM002 with Retry-After.",
            ),
            header_parameter(
                FORCE_OUTCOME_HEADER,
                description="Testing: the hub answers this error code (of the hub or the "
                "provider's side) instead of asking the provider; recorded as usual.",
            ),
        ),
    )
    async def inquire(request: Request) -> Response:
        """情報照会: status 09/01 with the items, or the error code that stopped it."""
        # A plain endpoint (ipnsim.plain_endpoints), in the order of a declared one: the body
        # is read, the dependencies solved, then the headers and the body validated.
        body = await read_json_body(request, InquiryOrder)
        server = await service(request)
        idempotency_key, key_errors = optional_header(request, IDEMPOTENCY_KEY_HEADER, KEY_PATTERN)
        order = body.validated(key_errors)
        forced = forced_outcome(request.headers.get(FORCE_OUTCOME_HEADER))
        if idempotency_key is None:
            return json_response(await server.inquire(order, forced))
        sandbox = await world(request)
        keys: IdempotencyKeys = (
            request.app.state.idempotency_keys if sandbox is None else sandbox.idempotency_keys
        )
        outcome = await keys.run_once(
            idempotency_key, fingerprint(order, forced), lambda: server.inquire(order, forced)
        )
        response = json_response(outcome.result)
        response.headers[REPLAYED_HEADER] = "true" if outcome.replayed else "false"
        return response

    @app.post(
        "/hub/provisions",
        tags=["hub"],
        response_model=ProvisionAnswer,
        openapi_extra=json_body_openapi(app, ProvisionRequest, AUTHORIZATION_PARAMETER),
    )
    async def provide(request: Request) -> Response:
        """情報提供: answer from replicas only."""
        # A plain endpoint (ipnsim.plain_endpoints), in the order of a declared one: the body
        # is read, the dependencies solved (the hub authenticated), then the body validated.
        body = await read_json_body(request, ProvisionRequest)
        check_hub_credential(request.headers.get("authorization"))
        server = await service(request)
        return json_response(await server.provide(body.validated()))

    install_error_handling(app, path_limits={BATCH_PATH + "/": MAX_FILE_BYTES})

    app.add_middleware(JournalMiddleware)
    install_metrics(app)
    install_tracing(app, "intermediate_server", agency.code)
    app.add_middleware(SandboxMiddleware)

    async def hub_only(authorization: Annotated[str | None, Header()] = None) -> None:
        check_hub_credential(authorization)

    async def batch_desk(request: Request) -> BatchDesk:
        sandbox = await world(request)
        if sandbox is not None:
            return sandbox.batch
        desk: BatchDesk = request.app.state.batch
        return desk

    async def current_log(
        request: Request,
    ) -> tuple[RecordLog, async_sessionmaker[AsyncSession]]:
        server = await service(request)
        return server.log, server.sessions

    app.include_router(log_router(current_log))
    app.include_router(clock_router())
    app.include_router(sandbox_router(lambda request: request.app.state.sandboxes))

    Server = Annotated[IntermediateService, Depends(service)]
    Batch = Annotated[BatchDesk, Depends(batch_desk)]
    FileName = Annotated[str, Path(pattern=FILE_NAME, description="The request file's name.")]

    @app.get("/health", tags=["operations"])
    async def health() -> Health:
        return Health(service="intermediate_server", agency_code=agency.code)

    # --- for the business system -------------------------------------------------------------

    @app.post("/v1/people", tags=["people"], status_code=status.HTTP_201_CREATED)
    async def register_person(body: PersonRegistration, server: Server) -> PersonView:
        """団体内統合宛名番号の登録 and, unless told not to, 符号取得."""
        return await server.register_person(body)

    @app.post("/v1/people/bulk", tags=["people"])
    async def register_people(body: PeopleBulkRegistration, server: Server) -> BulkResult:
        """団体内統合宛名番号の一括登録 (up to 10,000), then 符号取得 in one call to the hub.

        All or nothing: an atena number known with another resident code refuses the whole
        request (IDN005, the item named in ``details``). People already registered count as
        ``existing``.
        """
        return await server.register_people_bulk(body.people)

    @app.get("/v1/people/{atena_number}", tags=["people"])
    async def get_person(atena_number: AtenaNumber, server: Server) -> PersonView:
        return await server.person(atena_number)

    @app.post("/v1/people/{atena_number}/pseudonym", tags=["people"])
    async def acquire_pseudonym(atena_number: AtenaNumber, server: Server) -> PersonView:
        """符号取得 for a person registered without one."""
        return await server.acquire_pseudonym(atena_number)

    @app.get("/v1/people/{atena_number}/disclosure", tags=["records"])
    async def disclosure(atena_number: AtenaNumber, server: Server) -> DisclosureView:
        """やりとり履歴: what the person sees of every exchange about them."""
        return await server.disclosure(atena_number)

    @app.post("/v1/replicas", tags=["replicas"], status_code=status.HTTP_201_CREATED)
    async def register_replica(body: ReplicaRegistration, server: Server) -> ReplicaView:
        """副本登録."""
        return await server.register_replica(body)

    @app.post("/v1/replicas/bulk", tags=["replicas"])
    async def register_replicas(body: ReplicaBulkRegistration, server: Server) -> BulkResult:
        """副本一括登録 (up to 10,000) in one transaction.

        All or nothing: a layout error (RPL004), an unknown atena number (IDN002) or a record id
        given twice (RPL002) refuses the whole request, naming the item in ``details``. Record
        ids already present are skipped and count as ``existing``.
        """
        return await server.register_replicas_bulk(body.replicas)

    @app.put("/v1/replicas/{record_id}", tags=["replicas"])
    async def update_replica(record_id: str, body: ReplicaContent, server: Server) -> ReplicaView:
        """副本更新."""
        return await server.update_replica(record_id, body)

    @app.delete(
        "/v1/replicas/{record_id}", tags=["replicas"], status_code=status.HTTP_204_NO_CONTENT
    )
    async def delete_replica(record_id: str, server: Server) -> None:
        """副本削除."""
        await server.delete_replica(record_id)

    @app.get("/v1/registration-lag", tags=["replicas"])
    async def registration_lag(server: Server) -> RegistrationLag:
        """登録遅延: how long a replica change takes to become live (simulated clock)."""
        return await server.registration_lag()

    @app.put("/v1/registration-lag", tags=["replicas"])
    async def set_registration_lag(body: RegistrationLag, server: Server) -> RegistrationLag:
        """Set the registration lag: ``delay`` seconds, the ``nightly`` batch at an hour (JST),
        or ``none``; changes already queued keep their due time."""
        return await server.set_registration_lag(body)

    @app.get("/v1/stats/freshness", tags=["statistics"])
    async def freshness_report(server: Server) -> FreshnessReport:
        """鮮度報告: replicas by info type, their ages, those past their update cycle, queued
        changes and failed registrations."""
        return await server.freshness_report()

    @app.get("/v1/replicas", tags=["replicas"])
    async def list_replicas(
        server: Server,
        atena_number: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    ) -> list[ReplicaView]:
        return await server.replicas(atena_number)

    @app.post("/v1/inquiries/fan-out", tags=["inquiries"])
    async def inquire_many(
        body: FanOutOrder,
        server: Server,
        force_outcome: Annotated[
            str | None,
            Header(
                alias=FORCE_OUTCOME_HEADER,
                description="Testing: every provider's exchange ends with this error code.",
            ),
        ] = None,
    ) -> FanOutResult:
        """一括照会先指定: the same inquiry to every provider concerned (by scope or list), sent
        concurrently by the hub; one result per provider, each recorded as its own inquiry."""
        return await server.fan_out(body, forced_outcome(force_outcome))

    @app.post("/v1/dependant-claims", tags=["inquiries"])
    async def find_dependant_claims(body: DependantClaimsOrder, server: Server) -> DependantClaims:
        """扶養重複照会 (ours): which other municipalities' taxpayers claim the person as a
        dependant in the fiscal year; the municipalities only, each exchange recorded."""
        return await server.find_dependant_claims(body)

    @app.get("/v1/inquiries/{inquiry_id}", tags=["inquiries"])
    async def get_inquiry(inquiry_id: uuid.UUID, server: Server) -> InquiryResult:
        """The result of an inquiry sent from here: for one that waits for the provider's staff
        (自動応答不可, MAN001), still pending or the final result the hub delivered."""
        return await server.manual.result(inquiry_id)

    # --- for staff: inquiries held because the replica is flagged 自動応答不可 ----------------

    @app.get("/v1/manual-responses", tags=["manual responses"])
    async def list_manual_responses(
        server: Server,
        state: Annotated[
            str | None, Query(pattern=r"^(pending|answered|declined|expired|all)$")
        ] = "pending",
    ) -> list[ManualRequestView]:
        """Inquiries held for staff, oldest first (``state=all`` for every one)."""
        return await server.manual.requests(None if state == "all" else state)

    @app.post("/v1/manual-responses/{inquiry_id}/answer", tags=["manual responses"])
    async def answer_manual_response(
        inquiry_id: uuid.UUID, body: ManualAnswer, server: Server
    ) -> ManualRequestView:
        """職員による回答: provide the matched replica (or ``record_id``) to the requester."""
        return await server.manual.answer(inquiry_id, body)

    @app.post("/v1/manual-responses/{inquiry_id}/decline", tags=["manual responses"])
    async def decline_manual_response(
        inquiry_id: uuid.UUID, body: ManualDecline, server: Server
    ) -> ManualRequestView:
        """職員による提供拒否: the requester receives MAN002 with the reason."""
        return await server.manual.decline(inquiry_id, body)

    @app.post("/v1/inquiries/{inquiry_id}/mistaken", tags=["records"])
    async def declare_mistaken(
        inquiry_id: uuid.UUID, body: MistakenDeclaration, server: Server
    ) -> Addendum:
        """誤照会: append an addendum (追記) to the three copies of the record."""
        return await server.declare_mistaken(inquiry_id, body)

    @app.get("/v1/records", tags=["records"])
    async def list_records(
        server: Server,
        atena_number: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
        inquiry_id: uuid.UUID | None = None,
    ) -> list[ProvisionRecord]:
        """This server's copies of provision records (情報提供等の記録), newest first."""
        return await server.records(atena_number, inquiry_id)

    @app.post("/v1/retention/purge", tags=["records"])
    async def purge_expired(server: Server) -> RetentionPurgeResult:
        """保存期間: purge this server's copies of the records inquired more than seven years
        ago by the simulated clock, with their addenda and outcomes; their leaves stay in the
        log, listed in a signed purge (``GET /v1/log/purges``), so the log still verifies."""
        return await server.purge_expired()

    # --- 一括照会 (batch inquiries) -----------------------------------------------------------

    @app.post(BATCH_PATH, tags=["batch"], status_code=status.HTTP_201_CREATED)
    async def create_batch_job(batch: Batch) -> BatchJobView:
        """一括照会: create a job; then PUT its request files, then start it."""
        return await batch.create()

    @app.get(BATCH_PATH, tags=["batch"])
    async def list_batch_jobs(batch: Batch) -> list[BatchJobView]:
        """The batch jobs, newest first (at most 100)."""
        return await batch.jobs()

    @app.get(BATCH_PATH + "/{job_id}", tags=["batch"])
    async def get_batch_job(job_id: uuid.UUID, batch: Batch) -> BatchJobView:
        """A job's state and progress: rows done of the total, by outcome, per file."""
        return await batch.job(job_id)

    @app.put(BATCH_PATH + "/{job_id}/files/{name}", tags=["batch"])
    async def put_batch_file(
        job_id: uuid.UUID,
        name: FileName,
        request: Request,
        batch: Batch,
        encoding: Annotated[
            str | None,
            Query(
                pattern="^(" + "|".join(ENCODINGS) + ")$",
                description="The file's encoding; detected when not given (UTF-8, else CP932).",
            ),
        ] = None,
        variant: Annotated[
            Variant | None,
            Query(description="fixed or csv; detected from the first row when not given."),
        ] = None,
    ) -> BatchJobView:
        """Send one request file as the raw bytes of the body (at most 10,000 rows).

        Every row is checked before the file is accepted; a file with any problem is refused
        whole (BAT001–BAT005), every problem named in ``details`` by line and field.
        """
        return await batch.add_file(job_id, name, request.stream(), encoding, variant)

    @app.post(BATCH_PATH + "/{job_id}/start", tags=["batch"])
    async def start_batch_job(job_id: uuid.UUID, batch: Batch) -> BatchJobView:
        """Start inquiring every row of the job's files in the background."""
        return await batch.start(job_id)

    @app.get(BATCH_PATH + "/{job_id}/files/{name}/results", tags=["batch"])
    async def batch_results(job_id: uuid.UUID, name: FileName, batch: Batch) -> FileResponse:
        """The result file of one request file: one row per request row, in its encoding and
        variant (BAT007 until the job has finished)."""
        path = await batch.result_file(job_id, name, failed=False)
        return FileResponse(
            path, media_type="application/octet-stream", filename=result_file_name(name)
        )

    @app.get(BATCH_PATH + "/{job_id}/files/{name}/failed", tags=["batch"])
    async def batch_failed_rows(job_id: uuid.UUID, name: FileName, batch: Batch) -> FileResponse:
        """The request rows that ended with an error, byte for byte: a file to send again."""
        path = await batch.result_file(job_id, name, failed=True)
        return FileResponse(
            path, media_type="application/octet-stream", filename=result_file_name(name, True)
        )

    # --- for the hub -------------------------------------------------------------------------

    @app.post("/v1/stats/cases", tags=["statistics"])
    async def report_cases(
        body: Annotated[list[CaseReport], Body(min_length=1, max_length=MAX_CASE_REPORTS)],
        server: Server,
    ) -> CaseReports:
        """件数報告: how many cases of each procedure this agency handled in a month, passed on
        to the hub as the denominator of the utilisation rate (利用率)."""
        return await server.report_cases(body)

    @app.get(JOURNAL_PATH, tags=["journal"])
    async def request_journal(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        refused_only: Annotated[bool, Query(description="Only the refused requests.")] = False,
        before: Annotated[
            int | None, Query(ge=1, description="Only entries older than this entry id (paging).")
        ] = None,
    ) -> list[JournalEntryView]:
        """受付記録: the requests the business system sent here, newest first, each with its
        verdict; for a refused one, its code and every field that failed and why."""
        sandbox = await world(request)
        journal: RequestJournal = request.app.state.journal if sandbox is None else sandbox.journal
        return [
            JournalEntryView.model_validate(entry, from_attributes=True)
            for entry in await journal.entries(limit, refused_only, before)
        ]

    @app.post("/hub/provisions/bulk", tags=["hub"], dependencies=[Depends(hub_only)])
    async def provide_many(body: BulkProvisionRequest, server: Server) -> BulkProvisionAnswer:
        """情報提供 for a block of a bulk inquiry: each request answered as
        ``POST /hub/provisions`` would, every provision recorded in one transaction."""
        return BulkProvisionAnswer(answers=await server.provide_many(body.requests))

    @app.post("/hub/addenda", tags=["hub"], dependencies=[Depends(hub_only)])
    async def receive_addendum(body: Addendum, server: Server) -> Addendum:
        """追記 passed on by the hub for this server's provider copy."""
        await server.append_addendum(body, RecordSide.PROVIDER)
        return body

    @app.post("/hub/results", tags=["hub"], dependencies=[Depends(hub_only)])
    async def receive_result(body: InquiryResult, server: Server) -> InquiryResult:
        """The final result of an inquiry from here that waited for the provider's staff."""
        await server.manual.receive_result(body)
        return body

    return app
