"""Typed clients of the services' HTTP APIs, used by the command line, the demo and the tests."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from error_codes import ErrorBody
from intermediate_server.schemas import (
    InquiryOrder,
    MistakenDeclaration,
    PersonRegistration,
    PersonView,
    ReplicaRegistration,
    ReplicaView,
)
from ipnsim.http import make_client
from network.protocol.models import (
    Addendum,
    AgencySummary,
    DisclosureView,
    Health,
    InquiryResult,
    ProvisionRecord,
)

T = TypeVar("T")


class ServiceError(Exception):
    """A service answered with an error body (its code and messages)."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{body.code}: {body.message_en}")
        self.status = status
        self.body = body


class ServiceUnreachable(Exception):
    """A service could not be reached or answered something that is not ipnsim's."""


class _ServiceClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = make_client(timeout, max_connections=50)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        answer: Any,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        url = self.base_url + path
        try:
            response = await self.http.request(
                method,
                url,
                json=body.model_dump(mode="json", exclude_none=True) if body else None,
                params=params,
                headers=self.headers,
            )
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"{url}: {type(exc).__name__} {exc}".strip()) from None
        if response.status_code >= 400:
            try:
                error = ErrorBody.model_validate_json(response.content)
            except ValidationError:
                raise ServiceUnreachable(
                    f"{url} answered {response.status_code} without an ipnsim error body"
                ) from None
            raise ServiceError(response.status_code, error)
        if answer is None:
            return None
        try:
            return TypeAdapter(answer).validate_json(response.content)
        except ValidationError as exc:
            raise ServiceUnreachable(f"{url} answered an unexpected body: {exc}") from None

    async def health(self) -> Health:
        result: Health = await self._call("GET", "/health", Health)
        return result


class AgencyClient(_ServiceClient):
    """An agency's intermediate server, as its business system (業務システム) uses it."""

    async def register_person(self, registration: PersonRegistration) -> PersonView:
        result: PersonView = await self._call("POST", "/v1/people", PersonView, registration)
        return result

    async def person(self, atena_number: str) -> PersonView:
        result: PersonView = await self._call("GET", f"/v1/people/{atena_number}", PersonView)
        return result

    async def acquire_pseudonym(self, atena_number: str) -> PersonView:
        result: PersonView = await self._call(
            "POST", f"/v1/people/{atena_number}/pseudonym", PersonView
        )
        return result

    async def register_replica(self, registration: ReplicaRegistration) -> ReplicaView:
        result: ReplicaView = await self._call("POST", "/v1/replicas", ReplicaView, registration)
        return result

    async def replicas(self, atena_number: str | None = None) -> list[ReplicaView]:
        params = {"atena_number": atena_number} if atena_number else None
        result: list[ReplicaView] = await self._call(
            "GET", "/v1/replicas", list[ReplicaView], params=params
        )
        return result

    async def inquire(self, order: InquiryOrder) -> InquiryResult:
        result: InquiryResult = await self._call("POST", "/v1/inquiries", InquiryResult, order)
        return result

    async def declare_mistaken(
        self, inquiry_id: uuid.UUID, declaration: MistakenDeclaration
    ) -> Addendum:
        result: Addendum = await self._call(
            "POST", f"/v1/inquiries/{inquiry_id}/mistaken", Addendum, declaration
        )
        return result

    async def records(
        self, atena_number: str | None = None, inquiry_id: uuid.UUID | None = None
    ) -> list[ProvisionRecord]:
        params: dict[str, str] = {}
        if atena_number:
            params["atena_number"] = atena_number
        if inquiry_id:
            params["inquiry_id"] = str(inquiry_id)
        result: list[ProvisionRecord] = await self._call(
            "GET", "/v1/records", list[ProvisionRecord], params=params
        )
        return result

    async def disclosure(self, atena_number: str) -> DisclosureView:
        result: DisclosureView = await self._call(
            "GET", f"/v1/people/{atena_number}/disclosure", DisclosureView
        )
        return result


class HubOperatorClient(_ServiceClient):
    """The hub, as its operator sees it (with the admin token): registry and records."""

    async def agencies(self) -> list[AgencySummary]:
        result: list[AgencySummary] = await self._call("GET", "/v1/agencies", list[AgencySummary])
        return result

    async def record(self, inquiry_id: uuid.UUID) -> ProvisionRecord:
        result: ProvisionRecord = await self._call(
            "GET", f"/v1/records/{inquiry_id}", ProvisionRecord
        )
        return result

    async def records(
        self, limit: int = 100, agency_code: str | None = None
    ) -> list[ProvisionRecord]:
        params = {"limit": str(limit)}
        if agency_code:
            params["agency_code"] = agency_code
        result: list[ProvisionRecord] = await self._call(
            "GET", "/v1/records", list[ProvisionRecord], params=params
        )
        return result
