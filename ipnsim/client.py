"""Typed clients of the services' HTTP APIs, used by the command line, the demo and the tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from enum import Enum
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from error_codes import ErrorBody
from error_codes.http import DEFAULT_BODY_LIMIT
from intermediate_server.schemas import (
    BulkResult,
    DependantClaims,
    DependantClaimsOrder,
    FanOutOrder,
    FreshnessReport,
    InquiryOrder,
    JournalEntryView,
    MistakenDeclaration,
    PersonRegistration,
    PersonView,
    RegistrationLag,
    ReplicaContent,
    ReplicaRegistration,
    ReplicaView,
)
from ipnsim.clock import ClockSetting, ClockView
from ipnsim.http import make_client
from ipnsim.sandboxes import SANDBOX_HEADER, SandboxInfo
from network.protocol.models import (
    Addendum,
    AgencySummary,
    CaseReport,
    CaseReports,
    DisclosureView,
    ErrorStatistics,
    FanOutResult,
    FaultSettings,
    Health,
    InquiryResult,
    PersonaCatalogue,
    ProviderFault,
    ProvisionRecord,
    UsageStatistics,
)

T = TypeVar("T")

BulkKind = Literal["people", "replicas"]
"""What a bulk registration carries."""

BULK_BODY_BYTES = DEFAULT_BODY_LIMIT - 64 * 1024
"""Largest body of one bulk request the client sends: the services' limit, less headroom."""
BULK_ITEMS = 2_000
"""Most items of one bulk request the client sends (the services accept up to 10,000)."""


class ServiceError(Exception):
    """A service answered with an error body (its code and messages)."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{body.code}: {body.message_en}")
        self.status = status
        self.body = body


class ServiceUnreachable(Exception):
    """A service could not be reached or answered something that is not ipnsim's."""


class Inherit(Enum):
    """A client's sandbox when none is given: the one :func:`use_sandbox` chose (if any)."""

    SANDBOX = "inherit"


_default_sandbox: str | None = None


def use_sandbox(key: str | None) -> None:
    """Make every client created from now on without a ``sandbox`` of its own work in this
    sandbox (the command line's ``--sandbox`` / IPNSIM_SANDBOX); None: the default database."""
    global _default_sandbox
    _default_sandbox = key


def chosen_sandbox() -> str | None:
    """The sandbox :func:`use_sandbox` chose, if any."""
    return _default_sandbox


class _ServiceClient:
    """``sandbox``: every request is made in this sandbox (header X-Ipnsim-Sandbox); None,
    the default database; by default the one :func:`use_sandbox` chose."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        sandbox: str | Inherit | None = Inherit.SANDBOX,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        if isinstance(sandbox, Inherit):
            sandbox = _default_sandbox
        if sandbox is not None:
            self.headers[SANDBOX_HEADER] = sandbox
        self.sandbox = sandbox
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

    async def clock_view(self) -> ClockView:
        """What the service's simulated clock says (模擬時計)."""
        result: ClockView = await self._call("GET", "/v1/clock", ClockView)
        return result

    async def move_clock(self, at: dt.datetime | None) -> ClockView:
        """Set the service's simulated clock to ``at`` (None: back to the real time)."""
        if at is None:
            await self._send("DELETE", "/v1/clock")
            return await self.clock_view()
        result: ClockView = await self._call("PUT", "/v1/clock", ClockView, ClockSetting(now=at))
        return result

    async def _call(
        self,
        method: str,
        path: str,
        answer: Any,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        response = await self._send(method, path, body, params, content, headers)
        if answer is None:
            return None
        try:
            return TypeAdapter(answer).validate_json(response.content)
        except ValidationError as exc:
            raise ServiceUnreachable(
                f"{self.base_url + path} answered an unexpected body: {exc}"
            ) from None

    async def _send(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; a transport failure or an error answer is raised as such."""
        url = self.base_url + path
        headers = self.headers | (headers or {})
        if content is not None and "Content-Type" not in headers:
            headers = headers | {"Content-Type": "application/json"}
        try:
            response = await self.http.request(
                method,
                url,
                json=body.model_dump(mode="json", exclude_none=True) if body else None,
                content=content,
                params=params,
                headers=headers,
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
        return response

    async def health(self) -> Health:
        result: Health = await self._call("GET", "/health", Health)
        return result

    async def sandboxes(self) -> list[SandboxInfo]:
        """The sandboxes the service keeps."""
        result: list[SandboxInfo] = await self._call("GET", "/v1/sandboxes", list[SandboxInfo])
        return result

    async def reset_sandbox(self, key: str) -> SandboxInfo:
        """Return one sandbox to the reference data set (creating it if need be)."""
        result: SandboxInfo = await self._call("POST", f"/v1/sandboxes/{key}/reset", SandboxInfo)
        return result

    async def delete_sandbox(self, key: str) -> None:
        """Delete one sandbox and its data."""
        await self._call("DELETE", f"/v1/sandboxes/{key}", None)

    async def take_reference(self) -> None:
        """Take the service's default database as it is now as the reference data set."""
        await self._call("POST", "/v1/sandboxes/reference", None)


class AgencyClient(_ServiceClient):
    """An agency's intermediate server, as its business system (業務システム) uses it."""

    async def register_person(self, registration: PersonRegistration) -> PersonView:
        result: PersonView = await self._call("POST", "/v1/people", PersonView, registration)
        return result

    async def register_people_bulk(
        self, people: Sequence[PersonRegistration], chunk_size: int = BULK_ITEMS
    ) -> BulkResult:
        """団体内統合宛名番号の一括登録 (and 符号取得), in as few requests as fit the body limit.

        Each request carries at most ``chunk_size`` people and is sent after the previous one
        succeeded; the counts of every request are added up.
        """
        return await self._bulk("/v1/people/bulk", "people", people, chunk_size)

    async def register_replicas_bulk(
        self, replicas: Sequence[ReplicaRegistration], chunk_size: int = BULK_ITEMS
    ) -> BulkResult:
        """副本一括登録, in as few requests as fit the body limit (see register_people_bulk).

        Record ids already present are skipped by the server and counted as existing.
        """
        return await self._bulk("/v1/replicas/bulk", "replicas", replicas, chunk_size)

    async def register_encoded_bulk(
        self, kind: BulkKind, encoded: Sequence[bytes], chunk_size: int = BULK_ITEMS
    ) -> BulkResult:
        """Bulk registration of items already encoded as JSON objects (``kind`` is ``people``
        or ``replicas``), for loaders that build the JSON themselves; the server validates
        every item as for :meth:`register_people_bulk` and :meth:`register_replicas_bulk`."""
        return await self._send_bulk(f"/v1/{kind}/bulk", kind, encoded, chunk_size)

    async def _bulk(
        self, path: str, key: str, items: Sequence[BaseModel], chunk_size: int
    ) -> BulkResult:
        encoded = [item.model_dump_json(exclude_none=True).encode() for item in items]
        return await self._send_bulk(path, key, encoded, chunk_size)

    async def _send_bulk(
        self, path: str, key: str, encoded: Sequence[bytes], chunk_size: int
    ) -> BulkResult:
        created = existing = 0
        for body in bulk_bodies(key, encoded, chunk_size):
            result: BulkResult = await self._call("POST", path, BulkResult, content=body)
            created += result.created
            existing += result.existing
        return BulkResult(created=created, existing=existing)

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

    async def update_replica(self, record_id: str, content: ReplicaContent) -> ReplicaView:
        """副本更新 (under a registration lag, queued: ``pending_until`` says until when)."""
        result: ReplicaView = await self._call(
            "PUT", f"/v1/replicas/{record_id}", ReplicaView, content
        )
        return result

    async def replicas(self, atena_number: str | None = None) -> list[ReplicaView]:
        params = {"atena_number": atena_number} if atena_number else None
        result: list[ReplicaView] = await self._call(
            "GET", "/v1/replicas", list[ReplicaView], params=params
        )
        return result

    async def inquire(
        self, order: InquiryOrder, idempotency_key: str | None = None
    ) -> InquiryResult:
        """情報照会; with ``idempotency_key``, a repeat returns the first answer (冪等キー)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        result: InquiryResult = await self._call(
            "POST", "/v1/inquiries", InquiryResult, order, headers=headers
        )
        return result

    async def find_dependant_claims(self, order: DependantClaimsOrder) -> DependantClaims:
        """扶養重複照会 (ours): the other municipalities claiming the person as a dependant."""
        result: DependantClaims = await self._call(
            "POST", "/v1/dependant-claims", DependantClaims, order
        )
        return result

    async def fan_out(self, order: FanOutOrder) -> FanOutResult:
        """一括照会先指定: the same inquiry to every provider concerned; one result each."""
        result: FanOutResult = await self._call(
            "POST", "/v1/inquiries/fan-out", FanOutResult, order
        )
        return result

    async def freshness_report(self) -> FreshnessReport:
        """鮮度報告: this agency's replicas by info type, measured by the simulated clock."""
        result: FreshnessReport = await self._call("GET", "/v1/stats/freshness", FreshnessReport)
        return result

    async def registration_lag(self) -> RegistrationLag:
        """登録遅延: how long this agency's replica changes take to become live."""
        result: RegistrationLag = await self._call("GET", "/v1/registration-lag", RegistrationLag)
        return result

    async def set_registration_lag(self, lag: RegistrationLag) -> RegistrationLag:
        result: RegistrationLag = await self._call(
            "PUT", "/v1/registration-lag", RegistrationLag, body=lag
        )
        return result

    async def report_cases(self, reports: list[CaseReport]) -> CaseReports:
        """件数報告: this agency's case counts, passed on to the hub."""
        result: CaseReports = await self._call(
            "POST",
            "/v1/stats/cases",
            CaseReports,
            content=TypeAdapter(list[CaseReport]).dump_json(reports),
        )
        return result

    async def journal(self, limit: int = 100, refused_only: bool = False) -> list[JournalEntryView]:
        """受付記録: the requests sent to this server, newest first, with their verdicts."""
        params = {"limit": str(limit), "refused_only": "true" if refused_only else "false"}
        result: list[JournalEntryView] = await self._call(
            "GET", "/v1/journal", list[JournalEntryView], params=params
        )
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


def bulk_bodies(
    key: str,
    items: Sequence[bytes],
    max_items: int = BULK_ITEMS,
    max_bytes: int = BULK_BODY_BYTES,
) -> Iterator[bytes]:
    """JSON bodies ``{"<key>": [item, …]}`` of the encoded ``items``, each within both limits."""
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    prefix = b'{"' + key.encode() + b'":['
    suffix = b"]}"
    empty = len(prefix) + len(suffix)
    chunk: list[bytes] = []
    size = empty
    for item in items:
        if empty + len(item) > max_bytes:
            raise ValueError(f"one item of {len(item)} bytes does not fit in {max_bytes} bytes")
        if chunk and (len(chunk) >= max_items or size + 1 + len(item) > max_bytes):
            yield prefix + b",".join(chunk) + suffix
            chunk, size = [], empty
        size += len(item) + (1 if chunk else 0)
        chunk.append(item)
    if chunk:
        yield prefix + b",".join(chunk) + suffix


class HubOperatorClient(_ServiceClient):
    """The hub, as its operator sees it (with the admin token): registry, personas, records."""

    async def personas(self) -> PersonaCatalogue:
        """The personas of the network's population and the affair tour."""
        result: PersonaCatalogue = await self._call("GET", "/v1/personas", PersonaCatalogue)
        return result

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

    async def error_statistics(self, days: int = 7) -> ErrorStatistics:
        """Failed inquiries of the last ``days`` days by provider, error code and UTC day."""
        result: ErrorStatistics = await self._call(
            "GET", "/v1/stats/errors", ErrorStatistics, params={"days": str(days)}
        )
        return result

    async def usage_statistics(
        self, since: str | None, until: str | None, requester_code: str | None
    ) -> UsageStatistics:
        """Inquiries per requester × procedure × month, with cases and utilisation."""
        result: UsageStatistics = await self._call(
            "GET",
            "/v1/stats/usage",
            UsageStatistics,
            params=_usage_query(since, until, requester_code),
        )
        return result

    async def usage_csv(
        self, since: str | None, until: str | None, requester_code: str | None
    ) -> str:
        """The same statistics as the hub's CSV."""
        query = _usage_query(since, until, requester_code) | {"format": "csv"}
        response = await self._send("GET", "/v1/stats/usage", params=query)
        return response.text

    async def faults(self) -> list[ProviderFault]:
        """The faults in force at the hub, per provider."""
        result: list[ProviderFault] = await self._call("GET", "/v1/faults", list[ProviderFault])
        return result

    async def set_fault(self, agency_code: str, settings: FaultSettings) -> ProviderFault:
        """Put a fault in force for one provider (replacing any)."""
        result: ProviderFault = await self._call(
            "PUT", f"/v1/faults/{agency_code}", ProviderFault, settings
        )
        return result

    async def clear_fault(self, agency_code: str) -> None:
        """Lift one provider's fault."""
        await self._call("DELETE", f"/v1/faults/{agency_code}", None)

    async def clear_faults(self) -> None:
        """Lift every fault."""
        await self._call("DELETE", "/v1/faults", None)


def _usage_query(
    since: str | None, until: str | None, requester_code: str | None
) -> dict[str, str]:
    given = {"since": since, "until": until, "requester_code": requester_code}
    return {name: value for name, value in given.items() if value is not None}
