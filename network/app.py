"""The hub's HTTP API (情報提供ネットワークシステム)."""

import asyncio
import contextlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from error_codes.http import install_error_handling
from ipnsim.clock import clock_router
from ipnsim.http import bearer_token, make_client
from ipnsim.metrics import count_hub_inquiry, install_metrics
from ipnsim.plain_endpoints import (
    AUTHORIZATION_PARAMETER,
    header_parameter,
    json_body_openapi,
    json_response,
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
from ipnsim.tracing import continued_trace, install_tracing
from network.admission import InFlightLimit
from network.bulk_inquiry import inquire_bulk
from network.catalogue_api import catalogue_router
from network.console import STATIC_DIRECTORY, console_router
from network.db import MIGRATIONS, Base
from network.events import FlowEvents, sse_stream
from network.fan_out import fan_out
from network.faults import FaultInjectingRouter, FaultTable, forcing, load_faults_file
from network.manual import complete_manual_response
from network.permissions import PermissionTable
from network.personas import find_persona, load_personas
from network.portal import MAX_PAGE_SIZE, PortalService, records_csv
from network.protocol.layouts import catalogue
from network.protocol.log_api import log_router
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    Addendum,
    AgencySummary,
    BulkInquiryItem,
    BulkInquiryRequest,
    BulkInquiryResult,
    CaseReports,
    ConcurrentInquiries,
    DisclosureRequest,
    DisclosureView,
    ErrorStatistics,
    FanOutRequest,
    FanOutResult,
    FaultSettings,
    Health,
    InquiryRequest,
    InquiryResult,
    MistakenInquiryDeclaration,
    Persona,
    PersonaCatalogue,
    PortalCard,
    PortalCardIssue,
    PortalChallenge,
    PortalChallengeRequest,
    PortalRecords,
    PortalSession,
    PortalSessionRequest,
    ProviderFault,
    ProvisionAnswer,
    ProvisionRecord,
    PseudonymBulkIssued,
    PseudonymBulkRequest,
    PseudonymIssued,
    PseudonymRequest,
    RetentionPurgeResult,
    TracedInquiry,
    UsageStatistics,
    forced_outcome,
)
from network.protocol.record_log import (
    RecordLog,
    load_or_create_key,
    purge_forever,
    retention_purge_seconds,
)
from network.registry import AgencyEntry, Registry
from network.service import HubService, hub_record_log
from network.settings import HubSettings
from network.usage import UsageService, usage_csv

logger = logging.getLogger("ipnsim.hub")


class HubWorld:
    """The hub's objects on one database (the default one or a sandbox's)."""

    def __init__(
        self,
        service: HubService,
        usage: UsageService,
        portal: PortalService,
        tasks: tuple[asyncio.Task[None], ...],
    ) -> None:
        self.service = service
        self.usage = usage
        self.portal = portal
        self.tasks = tasks
        """Its background tasks: the redelivery of addenda and the scheduled retention purge."""

    async def close(self) -> None:
        await stop_tasks(self.tasks)


def create_app(settings: HubSettings) -> FastAPI:
    """Build the hub from its settings; the registry and permission table are read now."""
    registry = Registry.load(settings.registry_file)
    shared_catalogue = catalogue()
    permissions = PermissionTable.load(settings.permissions_file, shared_catalogue)
    personas = load_personas(settings.personas_file)
    engine = create_engine(settings.database_url)
    admin_token = settings.admin_token.get_secret_value()
    faults = FaultTable(registry)
    in_flight = InFlightLimit(settings.max_inquiries_in_flight)
    if settings.faults_file is not None:
        load_faults_file(settings.faults_file, faults)
    signing_key = load_or_create_key(settings.signing_key_file())
    record_log = hub_record_log(signing_key)
    purge_seconds = retention_purge_seconds()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine, MIGRATIONS)
        client = make_client(settings.provider_timeout)
        router = FaultInjectingRouter(client, settings.provider_timeout, faults)
        flow_events = FlowEvents()  # one live flow for every sandbox

        async def open_world(log: RecordLog, world_engine: AsyncEngine) -> HubWorld:
            service = HubService(
                sessionmaker(world_engine),
                registry,
                permissions,
                shared_catalogue,
                router,
                settings.secret.get_secret_value().encode(),
                log=log,
                events=flow_events,
            )
            await log.load(service.sessions)
            usage = UsageService(
                sessionmaker(world_engine), registry, shared_catalogue.procedures.keys()
            )
            tasks = (
                asyncio.create_task(service.redeliver_forever(settings.addendum_retry_seconds)),
                asyncio.create_task(purge_forever(service.purge_expired, purge_seconds)),
            )
            portal = PortalService(
                sessionmaker(world_engine), settings.secret.get_secret_value().encode()
            )
            return HubWorld(service, usage, portal, tasks)

        async def open_sandbox(key: str, sandbox_engine: AsyncEngine) -> HubWorld:
            return await open_world(hub_record_log(signing_key), sandbox_engine)

        default = await open_world(record_log, engine)
        app.state.service = default.service
        app.state.usage = default.usage
        app.state.portal = default.portal
        app.state.sandboxes = sandboxes = Sandboxes(
            SandboxStore(
                settings.database_url, MIGRATIONS, Base.metadata, engine, settings.max_sandboxes
            ),
            open_sandbox,
            HubWorld.close,
        )
        logger.info("hub ready with %d agencies", len(registry.agencies))
        try:
            yield
        finally:
            await sandboxes.close()
            await default.close()
            await client.aclose()
            await engine.dispose()

    app = FastAPI(
        title="ipnsim hub (情報提供ネットワークシステム)",
        description="Issues 符号, checks the permission table, converts 符号, routes inquiries "
        "to providers' intermediate servers and keeps the provision records.",
        version="0.1.0",
        lifespan=lifespan,
    )

    async def world(request: Request) -> HubWorld | None:
        """The request's sandbox (None: the default database)."""
        key = current_sandbox.get()
        if key is None:
            return None
        sandboxes: Sandboxes[HubWorld] = request.app.state.sandboxes
        return await sandboxes.world(key)

    async def service(request: Request) -> HubService:
        sandbox = await world(request)
        if sandbox is not None:
            return sandbox.service
        hub: HubService = request.app.state.service
        return hub

    async def inquire_admitted(
        hub: HubService,
        caller: AgencyEntry,
        inquiry: InquiryRequest,
        force_outcome: str | None = None,
    ) -> InquiryResult:
        """One inquiry admitted (AVL007 beyond the limit in flight), handled with any forced
        outcome, and counted by its outcome, whether answered or refused."""
        try:
            with in_flight.admit(), forcing(forced_outcome(force_outcome)):
                result = await hub.inquire(caller, inquiry)
        except IpnsimError as error:
            count_hub_inquiry(inquiry.provider_code, error.code)
            raise
        count_hub_inquiry(result.provider_code, result.error.code if result.error else None)
        return result

    # The busiest route is added first, as routes are matched in the order they were added
    # (it comes first in the OpenAPI document too).
    @app.post(
        "/v1/inquiries",
        tags=["inquiries"],
        response_model=InquiryResult,
        openapi_extra=json_body_openapi(
            app,
            InquiryRequest,
            header_parameter(
                FORCE_OUTCOME_HEADER,
                description="Testing: answer this error code (of the hub or the provider's "
                "side) where the provider would be asked; recorded as usual.",
            ),
            AUTHORIZATION_PARAMETER,
        ),
    )
    async def inquire(request: Request) -> Response:
        """情報照会: check, convert, route and record; the result carries any error code.

        Beyond the hub's limit of inquiries in flight it is refused at once, not routed nor
        recorded: AVL007 with HTTP 503 and a Retry-After header."""
        # A plain endpoint (ipnsim.plain_endpoints), in the order of a declared one: the body
        # is read, the dependencies solved (the caller authenticated), then the body validated.
        body = await read_json_body(request, InquiryRequest)
        hub = await service(request)
        caller = registry.authenticate(request.headers.get("authorization"))
        inquiry = body.validated()
        force_outcome = request.headers.get(FORCE_OUTCOME_HEADER)
        return json_response(await inquire_admitted(hub, caller, inquiry, force_outcome))

    install_error_handling(app)
    install_metrics(app)
    install_tracing(app, "hub")
    app.add_middleware(SandboxMiddleware)

    app.include_router(catalogue_router(shared_catalogue, permissions))

    async def agency(authorization: Annotated[str | None, Header()] = None) -> AgencyEntry:
        return registry.authenticate(authorization)

    async def agency_or_operator(
        authorization: Annotated[str | None, Header()] = None,
    ) -> AgencyEntry | None:
        token = bearer_token(authorization)
        if token is not None and hmac.compare_digest(token.encode(), admin_token.encode()):
            return None
        return registry.authenticate(authorization)

    async def operator(authorization: Annotated[str | None, Header()] = None) -> None:
        token = bearer_token(authorization)
        if token is None or not hmac.compare_digest(token.encode(), admin_token.encode()):
            raise IpnsimError("AUT001")

    async def current_log(
        request: Request,
    ) -> tuple[RecordLog, async_sessionmaker[AsyncSession]]:
        hub = await service(request)
        return hub.log, hub.sessions

    app.include_router(log_router(current_log, [Depends(operator)]))
    app.include_router(clock_router([Depends(operator)]))
    app.include_router(
        sandbox_router(lambda request: request.app.state.sandboxes, [Depends(operator)])
    )

    Hub = Annotated[HubService, Depends(service)]
    Caller = Annotated[AgencyEntry, Depends(agency)]

    app.include_router(console_router(registry, faults, service, settings.provider_timeout))

    @app.get(
        "/v1/events",
        tags=["console"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(hub: Hub) -> StreamingResponse:
        """照会の流れ: every hop of every inquiry as it happens (server-sent events, ``event:
        hop``), naming agencies and 符号, never a My Number."""
        return StreamingResponse(
            sse_stream(hub.events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/health", tags=["operations"])
    async def health() -> Health:
        return Health(service="hub")

    @app.get("/v1/agencies", tags=["registry"])
    async def list_agencies() -> list[AgencySummary]:
        """Every agency connected to the network (never with credentials)."""
        return [entry.summary() for entry in registry.agencies.values()]

    @app.get("/v1/personas", tags=["personas"])
    async def list_personas() -> PersonaCatalogue:
        """Every persona (named test person) of the population, with the inquiry that shows
        its outcome, and one inquiry per affair of the catalogue (the affair tour)."""
        return personas

    @app.get("/v1/personas/{name}", tags=["personas"])
    async def get_persona(name: str) -> Persona:
        """One persona by name (e.g. ``moved_in``); VAL006 if there is none."""
        return find_persona(personas, name)

    @app.post("/v1/pseudonyms", tags=["符号"])
    async def issue_pseudonym(body: PseudonymRequest, hub: Hub, caller: Caller) -> PseudonymIssued:
        """符号取得: the calling agency's own 符号 for the person with this resident code."""
        pseudonym = await hub.issue_pseudonym(caller, body.agency_code, body.resident_code)
        return PseudonymIssued(agency_code=caller.code, pseudonym=pseudonym)

    @app.post("/v1/pseudonyms/bulk", tags=["符号"])
    async def issue_pseudonyms(
        body: PseudonymBulkRequest, hub: Hub, caller: Caller
    ) -> PseudonymBulkIssued:
        """符号一括取得: the calling agency's own 符号 for up to 10,000 people, in order."""
        pseudonyms = await hub.issue_pseudonyms(caller, body.agency_code, body.resident_codes)
        return PseudonymBulkIssued(agency_code=caller.code, pseudonyms=pseudonyms)

    @app.post("/v1/inquiries/concurrent", tags=["inquiries"])
    async def inquire_concurrently(
        body: ConcurrentInquiries, hub: Hub, caller: Caller
    ) -> BulkInquiryResult:
        """Single inquiries sent together (by an intermediate server, those made while its
        previous call was in flight): each handled exactly as ``POST /v1/inquiries`` would
        handle it alone, all of them concurrently, each in its own trace (its
        ``traceparent``), admitted or refused (AVL007) on its own, checked, converted, routed
        and recorded on its own. One item per inquiry, in order: its result, or the error that
        would have answered it."""

        async def one(traced: TracedInquiry) -> BulkInquiryItem:
            inquiry = traced.inquiry
            with continued_trace(traced.traceparent, "POST /v1/inquiries"):
                try:
                    return BulkInquiryItem(result=await inquire_admitted(hub, caller, inquiry))
                except IpnsimError as error:
                    return BulkInquiryItem(refused=error.body())
                except Exception:
                    logger.exception("unexpected failure of inquiry %s", inquiry.inquiry_id)
                    return BulkInquiryItem(refused=IpnsimError("SYS001").body())

        items = await asyncio.gather(*(one(traced) for traced in body.inquiries))
        return BulkInquiryResult(items=list(items))

    @app.post("/v1/inquiries/fan-out", tags=["inquiries"])
    async def inquire_many(
        body: FanOutRequest,
        hub: Hub,
        caller: Caller,
        force_outcome: Annotated[
            str | None,
            Header(
                alias=FORCE_OUTCOME_HEADER,
                description="Testing: every provider's exchange ends with this error code.",
            ),
        ] = None,
    ) -> FanOutResult:
        """一括照会先指定: the same inquiry to every provider concerned, concurrently; one
        result per provider, each exchange recorded under its own inquiry id."""
        with in_flight.admit(), forcing(forced_outcome(force_outcome)):
            outcome = await fan_out(hub, caller, body)
        for result in outcome.results:
            count_hub_inquiry(result.provider_code, result.error.code if result.error else None)
        return outcome

    @app.post("/v1/inquiries/bulk", tags=["inquiries"])
    async def inquire_block(
        body: BulkInquiryRequest, hub: Hub, caller: Caller
    ) -> BulkInquiryResult:
        """一括照会 block: up to 1,000 inquiries at once, each checked, converted, routed and
        recorded as ``POST /v1/inquiries`` would; one item per inquiry, in order (its result,
        or the error refusing it). Each provider is asked once for the block, and the block's
        records are written in one transaction. Counts as one inquiry in flight."""
        with in_flight.admit():
            return await inquire_bulk(hub, caller, body)

    @app.post("/v1/manual-responses", tags=["inquiries"])
    async def complete_manual(body: ProvisionAnswer, hub: Hub, caller: Caller) -> InquiryResult:
        """自動応答不可: the provider's final answer to an inquiry its staff handled; the hub
        completes its record and delivers the result to the requester (MAN005 if it cannot)."""
        return await complete_manual_response(hub, caller, body)

    @app.post("/v1/inquiries/{inquiry_id}/addenda", tags=["records"])
    async def declare_mistaken(
        inquiry_id: uuid.UUID, body: MistakenInquiryDeclaration, hub: Hub, caller: Caller
    ) -> Addendum:
        """追記: declare a mistaken-person inquiry; appended at the hub and the provider."""
        return await hub.declare_mistaken(caller, inquiry_id, body)

    @app.get("/v1/records/{inquiry_id}", tags=["records"])
    async def get_record(
        inquiry_id: uuid.UUID,
        hub: Hub,
        caller: Annotated[AgencyEntry | None, Depends(agency_or_operator)],
    ) -> ProvisionRecord:
        """The hub's copy of one record: for its requester, its provider or the operator."""
        return await hub.record(caller, inquiry_id)

    @app.get("/v1/records", tags=["records"], dependencies=[Depends(operator)])
    async def list_records(
        hub: Hub,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        agency_code: Annotated[str | None, Query(pattern=r"^[0-9]{16}$")] = None,
    ) -> list[ProvisionRecord]:
        """The operator's view: the newest records, optionally of one agency."""
        return await hub.recent_records(limit, agency_code)

    @app.get("/v1/stats/errors", tags=["records"], dependencies=[Depends(operator)])
    async def error_statistics(
        hub: Hub, days: Annotated[int, Query(ge=1, le=366)] = 7
    ) -> ErrorStatistics:
        """The operator's view of where errors cluster: failed inquiries of the last ``days``
        days (UTC), counted by provider, error code and day of the inquiry."""
        return await hub.error_statistics(days)

    async def usage_service(request: Request) -> UsageService:
        sandbox = await world(request)
        if sandbox is not None:
            return sandbox.usage
        usage: UsageService = request.app.state.usage
        return usage

    Usage = Annotated[UsageService, Depends(usage_service)]
    MonthQuery = Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, Japan time.")

    @app.post("/v1/stats/cases", tags=["statistics"])
    async def report_cases(body: CaseReports, usage: Usage, caller: Caller) -> CaseReports:
        """件数報告: an agency reports how many cases of each procedure it handled in a month,
        the denominator of its utilisation rate; a month reported again is replaced."""
        return await usage.report_cases(caller, body)

    @app.get(
        "/v1/stats/usage",
        tags=["statistics"],
        dependencies=[Depends(operator)],
        response_model=UsageStatistics,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def usage_statistics(
        usage: Usage,
        since: Annotated[str | None, MonthQuery] = None,
        until: Annotated[str | None, MonthQuery] = None,
        requester_code: Annotated[str | None, Query(pattern=r"^[0-9]{16}$")] = None,
        output: Annotated[
            Literal["json", "csv"], Query(alias="format", description="json or csv")
        ] = "json",
    ) -> Any:
        """For ministries: inquiries per requester × procedure × month (Japan time), from the
        hub's records, with the reported cases and the utilisation rate (inquiries ÷ cases);
        the twelve months up to this one unless ``since``/``until`` say otherwise."""
        statistics = await usage.statistics(since, until, requester_code)
        if output == "csv":
            return PlainTextResponse(
                usage_csv(statistics),
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="usage_{statistics.since}_'
                    f'{statistics.until}.csv"'
                },
            )
        return statistics

    @app.post("/v1/disclosure", tags=["records"])
    async def disclose(body: DisclosureRequest, hub: Hub, caller: Caller) -> DisclosureView:
        """やりとり履歴: every record about the person, except those flagged 不開示."""
        return await hub.disclose(caller, body.agency_code, body.pseudonym)

    @app.post("/v1/retention/purge", tags=["records"], dependencies=[Depends(operator)])
    async def purge_expired(hub: Hub) -> RetentionPurgeResult:
        """保存期間: purge the records inquired more than seven years ago by the simulated clock,
        with their addenda; their leaves stay in the log, listed in a signed purge, so the log
        still verifies. Nothing else can be deleted (the append-only triggers)."""
        return await hub.purge_expired()

    async def portal_service(request: Request) -> PortalService:
        sandbox = await world(request)
        if sandbox is not None:
            return sandbox.portal
        portal: PortalService = request.app.state.portal
        return portal

    Portal = Annotated[PortalService, Depends(portal_service)]

    async def person(portal: Portal, authorization: Annotated[str | None, Header()] = None) -> str:
        return await portal.person_of(bearer_token(authorization))

    Person = Annotated[str, Depends(person)]

    @app.post("/v1/portal/cards", tags=["portal"], dependencies=[Depends(operator)])
    async def issue_card(body: PortalCardIssue, portal: Portal) -> PortalCard:
        """The mock card authority: bind a My Number card's public key (利用者証明用電子証明書)
        to the person with this resident code (kept only as the hub's keyed person key)."""
        return await portal.issue_card(body)

    @app.post("/v1/portal/challenge", tags=["portal"])
    async def portal_challenge(body: PortalChallengeRequest, portal: Portal) -> PortalChallenge:
        """A challenge for the card to sign (AUT003 for an unknown card)."""
        return await portal.challenge(body.card_id)

    @app.post("/v1/portal/session", tags=["portal"])
    async def portal_session(body: PortalSessionRequest, portal: Portal) -> PortalSession:
        """The signed challenge → a short-lived bearer token (AUT003 bad signature or
        challenge, AUT005 expired challenge)."""
        return await portal.open_session(body)

    @app.get(
        "/v1/portal/records",
        tags=["portal"],
        response_model=PortalRecords,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def portal_records(
        portal: Portal,
        person: Person,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        output: Annotated[
            Literal["json", "csv"], Query(alias="format", description="json or csv")
        ] = "json",
    ) -> Any:
        """やりとり履歴: the logged-in person's own records, newest first, with addenda; records
        flagged 不開示 are left out. AUT004/AUT005 without a valid token."""
        found = await portal.records(person, page, page_size)
        if output == "csv":
            return PlainTextResponse(
                records_csv(found),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="records_page{page}.csv"'},
            )
        return found

    @app.get("/v1/portal/records/{inquiry_id}", tags=["portal"])
    async def portal_record(
        inquiry_id: uuid.UUID, portal: Portal, person: Person
    ) -> ProvisionRecord:
        """One of the logged-in person's own records; REC001 for any other inquiry id."""
        return await portal.record(person, inquiry_id)

    @app.get("/v1/faults", tags=["faults"], dependencies=[Depends(operator)])
    async def list_faults() -> list[ProviderFault]:
        """The faults in force, per provider agency (operator only)."""
        return faults.faults()

    @app.put("/v1/faults/{agency_code}", tags=["faults"], dependencies=[Depends(operator)])
    async def set_fault(
        agency_code: Annotated[str, Path(pattern=r"^[0-9]{16}$")], body: FaultSettings
    ) -> ProviderFault:
        """Make inquiries to this provider fail on demand (replaces its fault; AGY001 if the
        agency is unknown)."""
        return faults.set(agency_code, body)

    @app.delete(
        "/v1/faults/{agency_code}",
        tags=["faults"],
        status_code=204,
        dependencies=[Depends(operator)],
    )
    async def clear_fault(agency_code: Annotated[str, Path(pattern=r"^[0-9]{16}$")]) -> None:
        """Lift this provider's fault (nothing happens if it has none)."""
        faults.clear(agency_code)

    @app.delete("/v1/faults", tags=["faults"], status_code=204, dependencies=[Depends(operator)])
    async def clear_faults() -> None:
        """Lift every fault."""
        faults.clear_all()

    app.mount("/console", StaticFiles(directory=STATIC_DIRECTORY, html=True), name="console")
    return app
