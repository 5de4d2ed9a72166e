"""This server's calls to the hub, with failures mapped to error codes (AVL003, AVL004)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypeVar

import httpx
from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from error_codes import ErrorBody, ForwardedError, IpnsimError
from ipnsim.http import is_timeout
from ipnsim.sandboxes import sandbox_headers
from ipnsim.tracing import client_span, outgoing_headers

logger = logging.getLogger("ipnsim.intermediate.hub")

M = TypeVar("M", bound=BaseModel)


class HubClient:
    def __init__(
        self, client: httpx.AsyncClient, hub_url: str, credential: str, timeout: float
    ) -> None:
        self.client = client
        self.base = hub_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
        self.timeout = timeout

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
