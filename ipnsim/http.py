"""The HTTP client every service uses to call another: httpx over aiohttp's connection pool.

Plain httpx loses throughput as concurrency rises; the aiohttp transport keeps httpx's
interface at about three times the rate (benchmarks/ and PERFORMANCE notes).
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport


def make_client(timeout: float, max_connections: int = 200) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=httpx.Limits(max_connections=max_connections)),
        timeout=httpx.Timeout(timeout),
    )


def is_timeout(error: httpx.TransportError) -> bool:
    """Whether a failed call ran out of time, as opposed to finding nobody there.

    The aiohttp transport reports every lost connection as ``ConnectTimeout``; the aiohttp
    error it was raised from tells the two apart.
    """
    cause = error.__cause__
    if cause is not None:
        return isinstance(cause, TimeoutError)
    return isinstance(error, httpx.TimeoutException)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
