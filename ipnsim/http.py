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
