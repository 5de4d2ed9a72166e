"""Routing to providers' intermediate servers over HTTP (hub → 提供側中間サーバー)."""

from __future__ import annotations

import logging
from typing import TypeVar

import httpx
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from error_codes import ErrorBody, IpnsimError
from ipnsim.coalescing import Coalescer
from ipnsim.http import is_timeout
from ipnsim.sandboxes import sandbox_headers
from ipnsim.tracing import client_span, outgoing_headers, spans_exported
from network.protocol.models import (
    MAX_BULK_INQUIRIES,
    Addendum,
    BulkProvisionAnswer,
    BulkProvisionRequest,
    InquiryResult,
    ProvisionAnswer,
    ProvisionRequest,
)
from network.registry import AgencyEntry

logger = logging.getLogger("ipnsim.hub.routing")


A = TypeVar("A", ProvisionAnswer, BulkProvisionAnswer)


def _answer(provider: AgencyEntry, response: httpx.Response, model: type[A]) -> A:
    """The provider's answer read as ``model``; AVL005 if it is not one."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        logger.warning(
            "provider %s answered %s with a body that is not a %s",
            provider.code,
            response.status_code,
            model.__name__,
        )
        raise IpnsimError("AVL005", provider_code=provider.code) from None


class ProviderRouter:
    """Sends provision requests and addenda to providers, mapping failures to error codes."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self.coalescer: Coalescer[tuple[AgencyEntry, ProvisionRequest], ProvisionAnswer] = (
            Coalescer(self._provide_alone, self._provide_coalesced, MAX_BULK_INQUIRIES)
        )
        """Provision requests to a provider made while another is in flight go together."""

    async def provide(self, provider: AgencyEntry, request: ProvisionRequest) -> ProvisionAnswer:
        """Ask the provider for the replica; ``AVL001``/``AVL002``/``AVL005`` when that fails.

        While a request to the same provider (in the same sandbox) is in flight, this one
        waits and goes with the others made meanwhile in one ``POST /hub/provisions/bulk``,
        each answered as alone (:class:`~ipnsim.coalescing.Coalescer`); not where spans are
        exported, so that each exchange keeps its own spans."""
        if spans_exported():
            return await self._provide_alone((provider, request))
        destination = (provider.code, *sandbox_headers().values())
        return await self.coalescer.call(destination, (provider, request))

    async def _provide_alone(self, call: tuple[AgencyEntry, ProvisionRequest]) -> ProvisionAnswer:
        provider, request = call
        response = await self._post(provider, "/hub/provisions", request)
        answer = _answer(provider, response, ProvisionAnswer)
        if answer.inquiry_id != request.inquiry_id:
            logger.warning("provider %s answered for another inquiry", provider.code)
            raise IpnsimError("AVL005", provider_code=provider.code)
        return answer

    async def _provide_coalesced(
        self, calls: list[tuple[AgencyEntry, ProvisionRequest]]
    ) -> list[ProvisionAnswer | IpnsimError]:
        """The requests the coalescer grouped (one provider's), in one bulk call. Not through
        :meth:`provide_many`: a subclass may apply faults there, and each request of the group
        has already been through :meth:`provide`."""
        return await self._provide_together(calls[0][0], [request for _, request in calls])

    async def provide_many(
        self, provider: AgencyEntry, requests: list[ProvisionRequest]
    ) -> list[ProvisionAnswer | IpnsimError]:
        """Ask the provider for many replicas in one request; per request its answer, or the
        error a single request would have met (the same for all when the call fails)."""
        return await self._provide_together(provider, requests)

    async def _provide_together(
        self, provider: AgencyEntry, requests: list[ProvisionRequest]
    ) -> list[ProvisionAnswer | IpnsimError]:
        try:
            response = await self._post(
                provider, "/hub/provisions/bulk", BulkProvisionRequest(requests=requests)
            )
            answers = _answer(provider, response, BulkProvisionAnswer).answers
            if [answer.inquiry_id for answer in answers] != [r.inquiry_id for r in requests]:
                logger.warning("provider %s answered for other inquiries", provider.code)
                raise IpnsimError("AVL005", provider_code=provider.code)
        except IpnsimError as error:
            return [error] * len(requests)
        return list(answers)

    async def deliver_addendum(self, provider: AgencyEntry, addendum: Addendum) -> None:
        """Append the addendum to the provider's copy of the record."""
        response = await self._post(provider, "/hub/addenda", addendum)
        if response.status_code >= 400:
            try:
                body = ErrorBody.model_validate_json(response.content)
            except ValidationError:
                raise IpnsimError("AVL005", provider_code=provider.code) from None
            if body.code == "REC001":
                logger.info(
                    "provider %s holds no record of inquiry %s: nothing to annotate there",
                    provider.code,
                    addendum.inquiry_id,
                )
                return
            logger.warning("provider %s refused addendum: %s", provider.code, body.code)
            raise IpnsimError("AVL005", provider_code=provider.code)

    async def deliver_result(self, requester: AgencyEntry, result: InquiryResult) -> None:
        """Give the requester's intermediate server the final result of an inquiry that waited
        for the provider's staff (自動応答不可); ``MAN005`` when it does not take it."""
        try:
            response = await self._post(requester, "/hub/results", result)
        except IpnsimError:
            raise IpnsimError("MAN005", requester_code=requester.code) from None
        if response.status_code >= 400:
            logger.warning(
                "requester %s refused the result of inquiry %s: %s",
                requester.code,
                result.inquiry_id,
                response.status_code,
            )
            raise IpnsimError("MAN005", requester_code=requester.code)

    async def _post(self, provider: AgencyEntry, path: str, body: BaseModel) -> httpx.Response:
        with trace.use_span(client_span(f"POST {path}"), end_on_exit=True):
            return await self._send(provider, path, body)

    async def _send(self, provider: AgencyEntry, path: str, body: BaseModel) -> httpx.Response:
        """POST to the provider, carrying the trace in progress (``traceparent``)."""
        try:
            return await self.client.post(
                provider.url(path),
                content=body.model_dump_json(),
                headers=outgoing_headers(
                    {
                        "Authorization": f"Bearer {provider.credential}",
                        "Content-Type": "application/json",
                    }
                    | sandbox_headers()
                ),
            )
        except httpx.TransportError as exc:
            if is_timeout(exc):
                logger.warning("provider %s did not answer within %ss", provider.code, self.timeout)
                raise IpnsimError(
                    "AVL002", provider_code=provider.code, timeout=f"{self.timeout:g}"
                ) from None
            logger.warning("provider %s unreachable: %r", provider.code, exc.__cause__ or exc)
            raise IpnsimError("AVL001", provider_code=provider.code) from None
