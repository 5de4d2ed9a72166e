"""Distributed traces (OpenTelemetry): one trace per exchange, across every service it crosses.

A business system's ``traceparent`` header (W3C Trace Context) is taken up by its intermediate
server, which starts a new trace when there is none; the intermediate server's calls to the
hub and the hub's calls to providers carry it on, so one inquiry is one trace from the business
system through the requester's intermediate server and the hub to the provider's intermediate
server and back. Every response carries its trace in ``traceparent`` and ``X-Ipnsim-Trace-Id``,
and every provision-record copy stores the trace id (:func:`current_trace_id`).

Spans are always made (the ids are needed for the records) but go nowhere unless exported;
a process that exports nothing makes them as bare ids (:func:`unrecorded_span`), which costs
a fraction of a recorded span:

- ``IPNSIM_TRACE_DIR`` (``ipnsim up --trace-dir DIR``): every span, one JSON object a line, in
  ``DIR/<service>-<pid>.jsonl``;
- ``OTEL_EXPORTER_OTLP_ENDPOINT``: OTLP over HTTP, with the ``otlp`` extra installed
  (``pip install 'ipnsim[otlp]'``).

Span names and attributes hold route templates, never a raw path: no atena number, resident
code or My Number enters a span.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

logger = logging.getLogger("ipnsim.tracing")

TRACE_DIR_ENV = "IPNSIM_TRACE_DIR"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACEPARENT_HEADER = "traceparent"
TRACE_ID_HEADER = "X-Ipnsim-Trace-Id"
TRACER_NAME = "ipnsim"

_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_provider_exports = False
"""Whether this process's provider has somewhere to send spans."""
_provider_lock = threading.Lock()


class JsonLinesSpanExporter(SpanExporter):
    """Writes every finished span as one JSON object a line (ids in lowercase hex)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_json(span), ensure_ascii=False) + "\n" for span in spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def span_json(span: ReadableSpan) -> dict[str, Any]:
    """A span as the file exporter writes it."""
    context = span.get_span_context()
    assert context is not None
    parent = span.parent
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "agency_code": span.resource.attributes.get("ipnsim.agency_code"),
        "kind": span.kind.name,
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "parent_span_id": trace.format_span_id(parent.span_id) if parent is not None else None,
        "parent_is_remote": parent.is_remote if parent is not None else None,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


_DIGIT_RUN = re.compile(r"[0-9]{11}")


class DigitSafeIdGenerator(RandomIdGenerator):
    """Random trace and span ids whose hex form has no run of 11 or more decimal digits.

    One random trace id in eight would have one, and look like a resident code (11 digits) or
    a My Number (12) to the redaction of :mod:`ipnsim.logs` and to any scanner of logs or
    records; such an id is drawn again (a trace id keeps 127 bits of randomness or so)."""

    def generate_span_id(self) -> int:
        span_id = super().generate_span_id()
        while _DIGIT_RUN.search(f"{span_id:016x}"):
            span_id = super().generate_span_id()
        return span_id

    def generate_trace_id(self) -> int:
        trace_id = super().generate_trace_id()
        while _DIGIT_RUN.search(f"{trace_id:032x}"):
            trace_id = super().generate_trace_id()
        return trace_id


def exporters_from_environment(
    service: str, environ: Mapping[str, str] | None = None
) -> list[SpanProcessor]:
    """The span processors the environment asks for (none: spans are made, never sent)."""
    env = os.environ if environ is None else environ
    processors: list[SpanProcessor] = []
    trace_dir = env.get(TRACE_DIR_ENV)
    if trace_dir:
        path = Path(trace_dir) / f"{service}-{os.getpid()}.jsonl"
        processors.append(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    if env.get(OTLP_ENDPOINT_ENV):
        try:
            module = importlib.import_module(
                "opentelemetry.exporter.otlp.proto.http.trace_exporter"
            )
        except ImportError:
            logger.warning(
                "%s is set but the OTLP exporter is not installed (pip install 'ipnsim[otlp]'): "
                "spans are not sent",
                OTLP_ENDPOINT_ENV,
            )
        else:
            processors.append(BatchSpanProcessor(module.OTLPSpanExporter()))
    return processors


def configure_tracing(
    service: str,
    attributes: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TracerProvider:
    """Install this process's tracer provider for ``service`` (``service.name``, with any other
    resource ``attributes``), once: later calls keep the first."""
    global _provider, _provider_exports
    with _provider_lock:
        if _provider is None:
            resource = Resource.create({"service.name": service, **(attributes or {})})
            provider = TracerProvider(resource=resource, id_generator=DigitSafeIdGenerator())
            processors = exporters_from_environment(service, environ)
            for processor in processors:
                provider.add_span_processor(processor)
            _provider = provider
            _provider_exports = bool(processors)
        return _provider


def spans_exported() -> bool:
    """Whether this process sends its spans anywhere (configuring tracing first if need be)."""
    if _provider is None:  # asked on every outgoing call: the lock only the first time
        configure_tracing("ipnsim")
    return _provider_exports


_ids = DigitSafeIdGenerator()


def unrecorded_span(parent: otel_context.Context | None = None) -> trace.Span:
    """A span that only carries ids, for a process that exports none: the trace of ``parent``
    (the current context when None) with its sampling flags, or a new sampled trace, and a new
    span id. It is what the SDK's tracer gives with the same ids, without the span's
    attributes, events and processors, which nothing would read."""
    above = trace.get_current_span(parent).get_span_context()
    if above.is_valid:
        trace_id, flags, state = above.trace_id, above.trace_flags, above.trace_state
    else:
        trace_id = _ids.generate_trace_id()
        flags, state = trace.TraceFlags(trace.TraceFlags.SAMPLED), None
    return trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id,
            _ids.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=state,
        )
    )


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """The tracer of this process (a provider that exports nothing until configured)."""
    global _tracer
    if _tracer is None:
        _tracer = configure_tracing("ipnsim").get_tracer(TRACER_NAME)
    return _tracer


def current_trace_id() -> str | None:
    """The trace id of the span in progress (32 lowercase hex digits), or None outside one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id)


def outgoing_headers(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``headers`` with the ``traceparent`` of the span in progress added (when there is one)."""
    _propagator.inject(headers)
    return headers


def child_traceparent(parent: otel_context.Context | None = None) -> str:
    """The ``traceparent`` of a call made now (a new span id under the span in progress in
    ``parent``, the current context when None, or a new trace), for a call whose item travels
    inside another request."""
    return traceparent_of(unrecorded_span(parent))


@contextlib.contextmanager
def continued_trace(traceparent: str | None, name: str) -> Iterator[None]:
    """Within this block, a server span named ``name`` continues the caller's
    ``traceparent`` (a new trace without one), as :class:`TracingMiddleware` makes for a
    request: for one item of a request that carries several, each in its own trace."""
    parent = _propagator.extract({TRACEPARENT_HEADER: traceparent}) if traceparent else None
    span = server_span(tracer(), spans_exported(), name, parent)
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)
        span.end()


def server_span(
    chosen: trace.Tracer, records: bool, name: str, parent: otel_context.Context | None
) -> trace.Span:
    """The server span of a request (or of one item of it) continuing ``parent``: started by
    ``chosen`` where the process ``records`` spans, else an :func:`unrecorded_span`."""
    if records:
        return chosen.start_span(name, context=parent, kind=SpanKind.SERVER)
    return unrecorded_span(parent)


def traceparent_of(span: trace.Span) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


ASGIApp = Callable[..., Any]


class TracingMiddleware:
    """A server span around every HTTP request, continuing the caller's ``traceparent``.

    The span is named ``METHOD /route/{template}`` once the route is known; its trace goes back
    in the ``traceparent`` and ``X-Ipnsim-Trace-Id`` response headers.
    """

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        attributes: Mapping[str, str] | None = None,
        provider: trace.TracerProvider | None = None,
    ) -> None:
        self.app = app
        chosen = provider if provider is not None else configure_tracing(service, attributes)
        self.tracer = chosen.get_tracer(TRACER_NAME)
        self.records = provider is not None or spans_exported()
        """False: the process exports no span, so each request gets an :func:`unrecorded_span`."""

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        for name, value in scope["headers"]:
            if name == b"traceparent" or name == b"tracestate":
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        parent = _propagator.extract(carrier) if carrier else None
        method: str = scope["method"]
        span = server_span(self.tracer, self.records, method, parent)
        token = otel_context.attach(trace.set_span_in_context(span))
        header_values = [
            (b"traceparent", traceparent_of(span).encode()),
            (b"x-ipnsim-trace-id", f"{span.get_span_context().trace_id:032x}".encode()),
        ]
        status_code = 500

        async def send_with_trace(message: MutableMapping[str, Any]) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", ()), *header_values]
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            if span.is_recording():
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status_code,
                    }
                )
                if status_code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            otel_context.detach(token)
            span.end()


UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route that handled a request (``/v1/people/{atena_number}``), never
    the raw path; ``<unmatched>`` when no route matched."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def client_span(name: str) -> trace.Span:
    """A client span (the caller's side of a call to another service), to use with
    ``trace.use_span(span, end_on_exit=True)``."""
    if not spans_exported():
        return unrecorded_span()
    return tracer().start_span(name, kind=SpanKind.CLIENT)


def install_tracing(app: Any, service: str, agency_code: str | None = None) -> None:
    """Trace every request of a service's app (add it last: the outermost middleware)."""
    attributes = {"ipnsim.agency_code": agency_code} if agency_code else None
    app.add_middleware(TracingMiddleware, service=service, attributes=attributes)
