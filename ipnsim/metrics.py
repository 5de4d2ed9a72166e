"""Prometheus metrics of every service: ``GET /metrics`` in the Prometheus text format.

Every service counts its HTTP requests and their latency by method, route template (never the
raw path: no atena number, resident code or My Number becomes a label) and status. The hub
counts its inquiries (情報照会) by outcome, error code and provider; an intermediate server
counts the batch rows (一括照会) it has processed, by outcome. Each process is one service, so
the metrics live in one registry per process (:data:`REGISTRY`), with the process collector's
CPU and memory figures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from ipnsim.tracing import ASGIApp, route_template

METRICS_PATH = "/metrics"

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "ipnsim_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "ipnsim_http_request_duration_seconds",
    "Time from a request's arrival to its answer's end, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
HUB_INQUIRIES = Counter(
    "ipnsim_hub_inquiries",
    "Inquiries (情報照会) the hub answered, by outcome (provided or error), error code "
    "('' when provided) and provider agency code.",
    ["outcome", "error_code", "provider"],
    registry=REGISTRY,
)
BATCH_ROWS = Counter(
    "ipnsim_batch_rows",
    "Rows of batch inquiries (一括照会) an intermediate server has processed, by outcome "
    "(provided, not_provided, pending or failed).",
    ["outcome"],
    registry=REGISTRY,
)


def outcome_labels(error_code: str | None) -> tuple[str, str]:
    """The (outcome, error_code) labels of an exchange that ended with ``error_code``."""
    return ("error", error_code) if error_code else ("provided", "")


def count_hub_inquiry(provider_code: str, error_code: str | None) -> None:
    HUB_INQUIRIES.labels(*outcome_labels(error_code), provider_code).inc()


def count_batch_rows(counts: Mapping[str, int]) -> None:
    """Count processed batch rows: how many ended with each outcome."""
    for outcome, rows in counts.items():
        if rows:
            BATCH_ROWS.labels(outcome).inc(rows)


class MetricsMiddleware:
    """Counts every HTTP request and observes its latency (a pure ASGI middleware: a dict
    lookup and two increments a request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_counting(message: MutableMapping[str, Any]) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            key = (scope["method"], route_template(scope), status_code)
            children = self._children.get(key)
            if children is None:
                labels = (key[0], key[1], str(key[2]))
                children = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def install_metrics(app: FastAPI) -> None:
    """Add ``GET /metrics`` and the request metrics to a service's app."""

    @app.get(METRICS_PATH, tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        """The service's metrics in the Prometheus text format."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(MetricsMiddleware)
