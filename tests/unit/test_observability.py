"""The metrics and tracing plumbing every service shares (ipnsim.metrics, ipnsim.tracing)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from ipnsim import metrics, tracing
from ipnsim.metrics import count_batch_rows, count_hub_inquiry, install_metrics
from ipnsim.tracing import (
    OTLP_ENDPOINT_ENV,
    TRACE_DIR_ENV,
    DigitSafeIdGenerator,
    TracingMiddleware,
    exporters_from_environment,
    span_json,
)
from network.db import HubRecord
from network.protocol.models import LogEventKind
from network.protocol.record_log import event_fields, event_leaf_hash


def sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def service_app(provider: TracerProvider | None = None) -> FastAPI:
    app = FastAPI()
    install_metrics(app)

    @app.get("/v1/people/{atena_number}")
    async def person(atena_number: str) -> dict[str, str]:
        return {"found": "yes"}

    if provider is not None:
        app.add_middleware(TracingMiddleware, service="test", provider=provider)
    return app


def call(app: FastAPI, method: str, path: str, **options: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **options)

    return asyncio.run(send())


def test_requests_are_counted_by_route_template_never_by_raw_path() -> None:
    app = service_app()
    labels = {"method": "GET", "route": "/v1/people/{atena_number}", "status": "200"}
    before = sample("ipnsim_http_requests_total", **labels)
    latency_before = sample("ipnsim_http_request_duration_seconds_count", **labels)
    assert call(app, "GET", "/v1/people/123456789012345").status_code == 200
    assert call(app, "GET", "/v1/people/000000000001").status_code == 200
    assert sample("ipnsim_http_requests_total", **labels) == before + 2
    assert sample("ipnsim_http_request_duration_seconds_count", **labels) == latency_before + 2

    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before_unmatched = sample("ipnsim_http_requests_total", **unmatched)
    assert call(app, "GET", "/v1/residents/12345678901").status_code == 404
    assert sample("ipnsim_http_requests_total", **unmatched) == before_unmatched + 1

    exposition = call(app, "GET", "/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    label_values = [
        value
        for family in text_string_to_metric_families(exposition.text)
        for item in family.samples
        for value in item.labels.values()
    ]
    assert "/v1/people/{atena_number}" in label_values
    assert not [value for value in label_values if re.search(r"[0-9]{11}", value)]


def test_hub_inquiries_are_counted_by_outcome_error_code_and_provider() -> None:
    provider = "2014206900000000"
    provided = {"outcome": "provided", "error_code": "", "provider": provider}
    failed = {"outcome": "error", "error_code": "AVL001", "provider": provider}
    before = (
        sample("ipnsim_hub_inquiries_total", **provided),
        sample("ipnsim_hub_inquiries_total", **failed),
    )
    count_hub_inquiry(provider, None)
    count_hub_inquiry(provider, "AVL001")
    count_hub_inquiry(provider, "AVL001")
    assert sample("ipnsim_hub_inquiries_total", **provided) == before[0] + 1
    assert sample("ipnsim_hub_inquiries_total", **failed) == before[1] + 2


def test_batch_rows_are_counted_by_outcome() -> None:
    before = sample("ipnsim_batch_rows_total", outcome="provided")
    before_failed = sample("ipnsim_batch_rows_total", outcome="failed")
    count_batch_rows({"provided": 3, "not_provided": 0, "pending": 0, "failed": 1})
    assert sample("ipnsim_batch_rows_total", outcome="provided") == before + 3
    assert sample("ipnsim_batch_rows_total", outcome="failed") == before_failed + 1


def traced_app() -> tuple[FastAPI, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return service_app(provider), exporter


def test_a_request_continues_the_callers_trace_and_answers_it() -> None:
    app, exporter = traced_app()
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = call(
        app,
        "GET",
        "/v1/people/123456789012345",
        headers={"traceparent": f"00-{trace_id}-{parent}-01"},
    )
    (span,) = exporter.get_finished_spans()
    written = span_json(span)
    assert written["trace_id"] == trace_id
    assert written["parent_span_id"] == parent
    assert written["parent_is_remote"] is True
    assert written["kind"] == "SERVER"
    assert written["name"] == "GET /v1/people/{atena_number}"
    assert written["attributes"]["http.route"] == "/v1/people/{atena_number}"
    assert written["attributes"]["http.response.status_code"] == 200
    assert response.headers["x-ipnsim-trace-id"] == trace_id
    assert response.headers["traceparent"] == f"00-{trace_id}-{written['span_id']}-01"
    assert "123456789012345" not in json.dumps(written)


def test_a_request_without_a_trace_starts_one() -> None:
    app, exporter = traced_app()
    response = call(app, "GET", "/v1/people/123456789012345", headers={"traceparent": "junk"})
    (span,) = exporter.get_finished_spans()
    written = span_json(span)
    assert written["parent_span_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", written["trace_id"])
    assert response.headers["x-ipnsim-trace-id"] == written["trace_id"]


def test_the_trace_directory_receives_every_span_as_a_json_line(tmp_path: Path) -> None:
    processors = exporters_from_environment("hub", {TRACE_DIR_ENV: str(tmp_path)})
    assert len(processors) == 1
    provider = TracerProvider()
    provider.add_span_processor(processors[0])
    app = service_app(provider)
    call(app, "GET", "/v1/people/123456789012345")
    call(app, "GET", "/metrics")
    provider.shutdown()
    (path,) = tmp_path.glob("hub-*.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["name"] for line in lines] == ["GET /v1/people/{atena_number}", "GET /metrics"]


def test_without_configuration_no_span_is_exported() -> None:
    assert exporters_from_environment("hub", {}) == []


def unexported_app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """A service app whose process exports no span."""
    monkeypatch.setattr(tracing, "spans_exported", lambda: False)
    app = service_app()
    app.add_middleware(TracingMiddleware, service="test")
    return app


def test_unexported_spans_continue_the_callers_trace_with_its_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = unexported_app(monkeypatch)
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for flags in ("01", "00"):
        response = call(
            app,
            "GET",
            "/v1/people/123456789012345",
            headers={"traceparent": f"00-{trace_id}-{parent}-{flags}"},
        )
        assert response.headers["x-ipnsim-trace-id"] == trace_id
        version, answered_trace, span_id, answered_flags = response.headers["traceparent"].split(
            "-"
        )
        assert (version, answered_trace, answered_flags) == ("00", trace_id, flags)
        assert re.fullmatch(r"[0-9a-f]{16}", span_id) and span_id != parent


def test_unexported_spans_start_a_sampled_trace_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = unexported_app(monkeypatch)
    seen = set()
    for _ in range(3):
        response = call(app, "GET", "/v1/people/123456789012345")
        trace_id = response.headers["x-ipnsim-trace-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert response.headers["traceparent"].startswith(f"00-{trace_id}-")
        assert response.headers["traceparent"].endswith("-01")
        seen.add(trace_id)
    assert len(seen) == 3


def test_an_unexported_client_span_is_a_child_in_the_same_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracing, "spans_exported", lambda: False)
    server = tracing.unrecorded_span()
    assert not server.is_recording()
    with trace_api.use_span(server, end_on_exit=True):
        outer = tracing.current_trace_id()
        with trace_api.use_span(tracing.client_span("POST /v1/inquiries"), end_on_exit=True):
            headers = tracing.outgoing_headers({})
            inner = tracing.current_trace_id()
    assert outer is not None and inner == outer
    assert headers["traceparent"].split("-")[1] == outer
    assert headers["traceparent"].split("-")[2] != f"{server.get_span_context().span_id:016x}"
    assert tracing.current_trace_id() is None


def record(trace_id: str | None) -> HubRecord:
    return HubRecord(
        inquiry_id="00000000-0000-0000-0000-000000000001",
        person_key="key",
        requester_code="0000000000000001",
        requester_name="requester",
        provider_code="0000000000000002",
        provider_name="provider",
        affair_code="JM01000000121000",
        procedure_code="JT01010000000214",
        info_type_code="TM00000000000002",
        item_codes=["I001"],
        requested_at=None,
        provided_at=None,
        status_detail="01",
        status_info_type="09",
        error_code=None,
        requester_non_disclosure=False,
        provider_non_disclosure=False,
        provider_reached=True,
        recorded_at=None,
        trace_id=trace_id,
    )


def test_a_records_trace_id_is_in_its_leaf_and_an_empty_one_leaves_old_leaves_alone() -> None:
    untraced = event_fields(record(None), LogEventKind.RECORD)
    assert "trace_id" not in untraced
    traced = event_fields(record("4bf92f3577b34da6a3ce929d0e0e4736"), LogEventKind.RECORD)
    assert traced["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    other = event_fields(record("0af7651916cd43dd8448eb211c80319c"), LogEventKind.RECORD)
    assert len({event_leaf_hash(event) for event in (untraced, traced, other)}) == 3


def test_no_trace_or_span_id_of_ours_looks_like_a_resident_code_or_my_number() -> None:
    ids = DigitSafeIdGenerator()
    written = [f"{ids.generate_trace_id():032x}" for _ in range(3000)]
    written += [f"{ids.generate_span_id():016x}" for _ in range(3000)]
    assert not [value for value in written if re.search(r"[0-9]{11}", value)]
    assert len(set(written)) == len(written)


def test_otlp_without_its_exporter_installed_is_a_warning_not_a_failure(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(tracing.importlib, "import_module", missing)
    with caplog.at_level("WARNING", logger="ipnsim.tracing"):
        assert exporters_from_environment("hub", {OTLP_ENDPOINT_ENV: "http://127.0.0.1:4318"}) == []
    assert "ipnsim[otlp]" in caplog.text
