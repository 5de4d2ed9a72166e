"""An intermediate server's HTTP API: ``/v1`` for business systems, ``/hub`` for the hub."""

import asyncio
import contextlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from error_codes.http import install_error_handling
from intermediate_server.db import MIGRATIONS
from intermediate_server.hub_client import HubClient
from intermediate_server.schemas import (
    BulkResult,
    InquiryOrder,
    ManualAnswer,
    ManualDecline,
    ManualRequestView,
    MistakenDeclaration,
    PeopleBulkRegistration,
    PersonRegistration,
    PersonView,
    ReplicaBulkRegistration,
    ReplicaContent,
    ReplicaRegistration,
    ReplicaView,
)
from intermediate_server.service import AgencyIdentity, IntermediateService, local_record_log
from intermediate_server.settings import IntermediateServerSettings
from ipnsim.http import bearer_token, make_client
from ipnsim.storage import create_engine, migrate, sessionmaker
from network.protocol.layouts import catalogue
from network.protocol.log_api import log_router
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    Addendum,
    AtenaNumber,
    DisclosureView,
    Health,
    InquiryResult,
    ProvisionAnswer,
    ProvisionRecord,
    ProvisionRequest,
    RecordSide,
    forced_outcome,
)
from network.protocol.record_log import RecordLog, load_or_create_key

logger = logging.getLogger("ipnsim.intermediate")


def create_app(settings: IntermediateServerSettings) -> FastAPI:
    """Build one agency's intermediate server from its settings."""
    engine = create_engine(settings.database_url)
    credential = settings.credential.get_secret_value()
    agency = AgencyIdentity(code=settings.code, name_ja=settings.name_ja)
    record_log = local_record_log(settings.code, load_or_create_key(settings.signing_key_file()))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine, MIGRATIONS)
        client = make_client(settings.hub_timeout)
        hub = HubClient(client, str(settings.hub_url), credential, settings.hub_timeout)
        app.state.service = server = IntermediateService(
            sessionmaker(engine),
            agency,
            hub,
            catalogue(),
            manual_hold_seconds=settings.manual_response_seconds,
            log=record_log,
        )
        await record_log.load(server.sessions)
        sweep = asyncio.create_task(
            server.manual.sweep_forever(
                min(settings.manual_sweep_seconds, settings.manual_response_seconds / 2)
            )
        )
        logger.info("intermediate server of %s (%s) ready", agency.name_ja, agency.code)
        try:
            yield
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            await client.aclose()
            await engine.dispose()

    app = FastAPI(
        title=f"ipnsim intermediate server (中間サーバー) of {settings.name_ja}",
        description="Registers people and replicas for the business system, sends its "
        "inquiries through the hub, and answers the hub's provision requests from replicas.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handling(app)

    def service(request: Request) -> IntermediateService:
        server: IntermediateService = request.app.state.service
        return server

    def hub_only(authorization: Annotated[str | None, Header()] = None) -> None:
        token = bearer_token(authorization)
        if token is None or not hmac.compare_digest(token.encode(), credential.encode()):
            raise IpnsimError("AUT001")

    def current_log(request: Request) -> tuple[RecordLog, async_sessionmaker[AsyncSession]]:
        server: IntermediateService = request.app.state.service
        return server.log, server.sessions

    app.include_router(log_router(current_log))

    Server = Annotated[IntermediateService, Depends(service)]

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

    @app.get("/v1/replicas", tags=["replicas"])
    async def list_replicas(
        server: Server,
        atena_number: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    ) -> list[ReplicaView]:
        return await server.replicas(atena_number)

    @app.post("/v1/inquiries", tags=["inquiries"])
    async def inquire(
        body: InquiryOrder,
        server: Server,
        force_outcome: Annotated[
            str | None,
            Header(
                alias=FORCE_OUTCOME_HEADER,
                description="Testing: the hub answers this error code (of the hub or the "
                "provider's side) instead of asking the provider; recorded as usual.",
            ),
        ] = None,
    ) -> InquiryResult:
        """情報照会: status 09/01 with the items, or the error code that stopped it."""
        return await server.inquire(body, forced_outcome(force_outcome))

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

    # --- for the hub -------------------------------------------------------------------------

    @app.post("/hub/provisions", tags=["hub"], dependencies=[Depends(hub_only)])
    async def provide(body: ProvisionRequest, server: Server) -> ProvisionAnswer:
        """情報提供: answer from replicas only."""
        return await server.provide(body)

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
