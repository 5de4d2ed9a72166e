"""A fake hub for intermediate-server tests, and a runner of an intermediate server with it.

The fake stands in for ``HubClient``: it records every call and answers like the hub — 符号 for
one person or in bulk, a completed inquiry, a mistaken-inquiry addendum — or fails every call
with ``fail_with``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from error_codes import IpnsimError
from intermediate_server.db import MIGRATIONS
from intermediate_server.service import AgencyIdentity, IntermediateService
from ipnsim.storage import create_engine, migrate, sessionmaker
from network.protocol.layouts import catalogue
from network.protocol.models import (
    Addendum,
    DetailStatus,
    InfoTypeStatus,
    InquiryRequest,
    InquiryResult,
    MistakenInquiryDeclaration,
    PseudonymBulkIssued,
    PseudonymBulkRequest,
    PseudonymIssued,
    PseudonymRequest,
    ReplicaItem,
)
from network.pseudonyms import person_key, pseudonym_for

PROVIDER_NAME = "山形市"
"""The provider every inquiry the fake answers comes from."""


class FakeHub:
    """Stands in for HubClient: records every call, answers like the hub."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.calls: list[tuple[str, BaseModel]] = []
        self.fail_with: str | None = None
        self.headers: Any = None

    def pseudonym(self, agency_code: str, resident_code: str) -> str:
        """The 符号 the hub issues to ``agency_code`` for the person of ``resident_code``."""
        return pseudonym_for(self.secret, person_key(self.secret, resident_code), agency_code)

    async def inquire(self, request: InquiryRequest, headers: Any = None) -> InquiryResult:
        """As ``HubClient.inquire``: ``POST /v1/inquiries`` (the fake sends none together)."""
        result: InquiryResult = await self.post("/v1/inquiries", request, InquiryResult, headers)
        return result

    async def post(self, path: str, body: BaseModel, answer: type[Any], headers: Any = None) -> Any:
        self.calls.append((path, body))
        self.headers = headers
        if self.fail_with is not None:
            raise IpnsimError(self.fail_with)
        if isinstance(body, PseudonymBulkRequest):
            return PseudonymBulkIssued(
                agency_code=body.agency_code,
                pseudonyms=[self.pseudonym(body.agency_code, code) for code in body.resident_codes],
            )
        if isinstance(body, PseudonymRequest):
            return PseudonymIssued(
                agency_code=body.agency_code,
                pseudonym=self.pseudonym(body.agency_code, body.resident_code),
            )
        if isinstance(body, InquiryRequest):
            return InquiryResult(
                inquiry_id=body.inquiry_id,
                requester_code=body.requester_code,
                provider_code=body.provider_code,
                provider_name=PROVIDER_NAME,
                info_type_code=body.info_type_code,
                status_detail=DetailStatus.COMPLETED,
                status_info_type=InfoTypeStatus.PROVIDED,
                requested_at=body.requested_at,
                provided_at=body.requested_at + dt.timedelta(seconds=1),
                items=[ReplicaItem(code="I001", value="2025")],
            )
        if isinstance(body, MistakenInquiryDeclaration):
            inquiry_id = path.split("/")[3]
            return Addendum(
                addendum_id=uuid.uuid4(),
                inquiry_id=uuid.UUID(inquiry_id),
                reason=body.reason,
                declared_by_agency=body.requester_code,
                declared_by_user=body.declared_by_user,
                declared_at=dt.datetime.now(dt.UTC),
            )
        raise AssertionError(f"unexpected call {path}")

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


Hub = TypeVar("Hub", bound=FakeHub)


def run_with_hub(
    tmp_path: Path,
    agency: AgencyIdentity,
    hub: Hub,
    scenario: Callable[[IntermediateService, Hub], Awaitable[None]],
    **options: Any,
) -> Hub:
    """Run ``scenario`` against an intermediate server of ``agency`` on a fresh SQLite database
    that talks to ``hub``; ``options`` are the server's other settings. Returns the hub."""

    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intermediate.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            service = IntermediateService(
                sessionmaker(engine),
                agency,
                hub,  # type: ignore[arg-type]
                catalogue(),
                **options,
            )
            await scenario(service, hub)
        finally:
            await engine.dispose()

    asyncio.run(go())
    return hub
