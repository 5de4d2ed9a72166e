"""This server's calls to the hub, with failures mapped to error codes (AVL003, AVL004)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypeAlias, TypeVar

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from error_codes import ErrorBody, ForwardedError, IpnsimError
from ipnsim.coalescing import Coalescer
from ipnsim.http import is_timeout
from ipnsim.sandboxes import sandbox_headers
from ipnsim.tracing import child_traceparent, client_span, outgoing_headers, spans_exported
from network.protocol.models import (
    MAX_CONCURRENT_INQUIRIES,
    BulkInquiryResult,
    ConcurrentInquiries,
    InquiryRequest,
    InquiryResult,
    TracedInquiry,
)

logger = logging.getLogger("ipnsim.intermediate.hub")

_Inquiry: TypeAlias = tuple[InquiryRequest, otel_context.Context]
"""An inquiry to send, and the tracing context it was made in."""

M = TypeVar("M", bound=BaseModel)


class HubClient:
    def __init__(
        self, client: httpx.AsyncClient, hub_url: str, credential: str, timeout: float
    ) -> None:
        self.client = client
        self.base = hub_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
        self.timeout = timeout
        self.coalescer: Coalescer[_Inquiry, InquiryResult] = Coalescer(
            self._inquire_alone, self._inquire_together, MAX_CONCURRENT_INQUIRIES
        )
        """Inquiries made while another is in flight to the hub go together."""

    async def inquire(
        self, request: InquiryRequest, headers: Mapping[str, str] | None = None
    ) -> InquiryResult:
        """``POST /v1/inquiries``: the hub's result, or its error answer raised.

        While another inquiry (in the same sandbox) is in flight to the hub, this one waits
        and goes with the others made meanwhile in one ``POST /v1/inquiries/concurrent``, each
        with its own trace and handled as alone (:class:`~ipnsim.coalescing.Coalescer`); not
        with extra ``headers`` (a forced outcome), nor where spans are exported, so that each
        exchange keeps its own spans."""
        if headers or spans_exported():
            return await self.post("/v1/inquiries", request, InquiryResult, headers)
        inquiry = (request, otel_context.get_current())
        return await self.coalescer.call(tuple(sandbox_headers().values()), inquiry)

    async def _inquire_alone(self, inquiry: _Inquiry) -> InquiryResult:
        """Run in the inquiry's own context: its trace goes in the request's header."""
        return await self.post("/v1/inquiries", inquiry[0], InquiryResult)

    async def _inquire_together(
        self, inquiries: list[_Inquiry]
    ) -> list[InquiryResult | IpnsimError]:
        """Each inquiry carries the trace it was made in (``TracedInquiry.traceparent``)."""
        traced = [
            TracedInquiry(inquiry=request, traceparent=child_traceparent(made_in))
            for request, made_in in inquiries
        ]
        answer = await self.post(
            "/v1/inquiries/concurrent", ConcurrentInquiries(inquiries=traced), BulkInquiryResult
        )
        if len(answer.items) != len(traced):
            logger.warning(
                "hub answered %d items for %d concurrent inquiries",
                len(answer.items),
                len(traced),
            )
            raise IpnsimError("AVL003")
        outcomes: list[InquiryResult | IpnsimError] = []
        for item in answer.items:
            if item.result is not None:
                outcomes.append(item.result)
            else:
                assert item.refused is not None  # an item carries one or the other
                outcomes.append(ForwardedError(item.refused))
        return outcomes

    async def post(
        self, path: str, body: BaseModel, answer: type[M], headers: Mapping[str, str] | None = None
    ) -> M:
        """POST ``body`` (with any extra ``headers``); the hub's error answer is raised as that
        error with its messages. The trace in progress goes along (``traceparent``)."""
        with trace.use_span(client_span(f"POST {path}"), end_on_exit=True):
            try:
                response = await self.client.post(
                    self.base + path,
                    content=body.model_dump_json(),
                    headers=outgoing_headers(
                        self.headers | sandbox_headers() | dict(headers or {})
                    ),
                )
            except httpx.TransportError as exc:
                if is_timeout(exc):
                    logger.warning("hub did not answer %s within %ss", path, self.timeout)
                    raise IpnsimError("AVL004", timeout=f"{self.timeout:g}") from None
                logger.warning("hub unreachable for %s: %r", path, exc.__cause__ or exc)
                raise IpnsimError("AVL003") from None
        try:
            if response.status_code >= 400:
                raise ForwardedError(ErrorBody.model_validate_json(response.content))
            return answer.model_validate_json(response.content)
        except ValidationError:
            logger.warning("hub answered %s %s with an unexpected body", path, response.status_code)
            raise IpnsimError("AVL003") from None
