"""Traces and metrics across real processes: one trace from the business system through the
requester's intermediate server and the hub to the provider's intermediate server, in every
service's spans, every response and all three copies of the record; and ``GET /metrics`` of
every service counting what happened, with no personal number in any label."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import persona_population
from ipnsim.client import AgencyClient, HubOperatorClient
from ipnsim.launcher import REGISTRY_SERVICE, Launcher
from ipnsim.tracing import DigitSafeIdGenerator
from tests.e2e.conftest import run, small_network, started
from tests.e2e.test_cli import ipnsim

pytestmark = pytest.mark.e2e

PERSONAL_NUMBER = re.compile(r"(?<![0-9])[0-9]{11,12}(?![0-9])")


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Launcher, Path]]:
    data_dir = tmp_path_factory.mktemp("traced")
    trace_dir = data_dir / "traces"
    with small_network(data_dir, [YAMAGATA, ODAWARA], trace_dir=trace_dir) as launcher:
        yield launcher, trace_dir


def order() -> dict[str, Any]:
    population = persona_population(seed=0)
    person = population.persona_person("moved_in")
    return {
        "atena_number": population.atena_number(YAMAGATA, person.person_key),
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": agency_by_slug(ODAWARA).code,
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
    }


def spans_of(trace_dir: Path, trace_id: str, expected: int) -> list[dict[str, Any]]:
    """The spans of one trace in every service's file, once ``expected`` have been written."""
    deadline = time.monotonic() + 10
    while True:
        spans = [
            span
            for path in sorted(trace_dir.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if (span := json.loads(line))["trace_id"] == trace_id
        ]
        if len(spans) >= expected or time.monotonic() > deadline:
            return spans
        time.sleep(0.1)


def copies(launcher: Launcher, inquiry_id: uuid.UUID) -> dict[str, str | None]:
    """The trace id stored in each copy of the record: requester, hub and provider."""
    network = started(launcher)

    async def fetch() -> dict[str, str | None]:
        async with AgencyClient(network.agency(YAMAGATA).url) as requester:
            (mine,) = await requester.records(inquiry_id=inquiry_id)
        async with AgencyClient(network.agency(ODAWARA).url) as provider:
            (theirs,) = await provider.records(inquiry_id=inquiry_id)
        async with HubOperatorClient(network.hub.url, network.admin_token) as hub:
            central = await hub.record(inquiry_id)
        return {"requester": mine.trace_id, "hub": central.trace_id, "provider": theirs.trace_id}

    return run(fetch())


def test_one_trace_spans_business_system_to_provider_and_back(
    traced: tuple[Launcher, Path],
) -> None:
    launcher, trace_dir = traced
    network = started(launcher)
    ids = DigitSafeIdGenerator()
    trace_id = f"{ids.generate_trace_id():032x}"
    business_span = f"{ids.generate_span_id():016x}"
    response = httpx.post(
        network.agency(YAMAGATA).url + "/v1/inquiries",
        json=order(),
        headers={"traceparent": f"00-{trace_id}-{business_span}-01"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["error"] is None
    assert response.headers["X-Ipnsim-Trace-Id"] == trace_id
    assert response.headers["traceparent"].startswith(f"00-{trace_id}-")

    spans = spans_of(trace_dir, trace_id, expected=5)
    by_id = {span["span_id"]: span for span in spans}
    yamagata, odawara = agency_by_slug(YAMAGATA).code, agency_by_slug(ODAWARA).code

    def one(service: str, kind: str, name: str, agency: str | None = None) -> dict[str, Any]:
        (found,) = [
            span
            for span in spans
            if (span["service"], span["kind"], span["name"]) == (service, kind, name)
            and (agency is None or span["agency_code"] == agency)
        ]
        return found

    requester = one("intermediate_server", "SERVER", "POST /v1/inquiries", yamagata)
    to_hub = one("intermediate_server", "CLIENT", "POST /v1/inquiries", yamagata)
    hub = one("hub", "SERVER", "POST /v1/inquiries")
    to_provider = one("hub", "CLIENT", "POST /hub/provisions")
    provider = one("intermediate_server", "SERVER", "POST /hub/provisions", odawara)

    assert requester["parent_span_id"] == business_span
    assert requester["parent_is_remote"] is True
    assert to_hub["parent_span_id"] == requester["span_id"]
    assert hub["parent_span_id"] == to_hub["span_id"]
    assert to_provider["parent_span_id"] == hub["span_id"]
    assert provider["parent_span_id"] == to_provider["span_id"]
    assert response.headers["traceparent"] == f"00-{trace_id}-{requester['span_id']}-01"
    for span in (requester, hub, provider):
        assert span["attributes"]["http.response.status_code"] == 200
        assert span["status"] != "ERROR"
    assert all(span["parent_span_id"] in by_id or span is requester for span in spans)
    assert not any(PERSONAL_NUMBER.search(json.dumps(span, ensure_ascii=False)) for span in spans)

    inquiry_id = uuid.UUID(response.json()["inquiry_id"])
    assert copies(launcher, inquiry_id) == {
        "requester": trace_id,
        "hub": trace_id,
        "provider": trace_id,
    }

    # Shown where records are shown, and part of the verified record log.
    listed = ipnsim("records", "--hub", "--inquiry", str(inquiry_id), data_dir=launcher.data_dir)
    assert listed.returncode == 0, listed.stderr
    assert trace_id in listed.stdout
    verified = ipnsim("records", "verify", "--json", data_dir=launcher.data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_without_a_traceparent_the_intermediate_server_starts_the_trace(
    traced: tuple[Launcher, Path],
) -> None:
    launcher, trace_dir = traced
    network = started(launcher)
    response = httpx.post(network.agency(YAMAGATA).url + "/v1/inquiries", json=order(), timeout=30)
    assert response.status_code == 200, response.text
    trace_id = response.headers["X-Ipnsim-Trace-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)

    spans = spans_of(trace_dir, trace_id, expected=5)
    (root,) = [span for span in spans if span["parent_span_id"] is None]
    assert (root["service"], root["kind"]) == ("intermediate_server", "SERVER")
    assert {span["service"] for span in spans} == {"intermediate_server", "hub"}
    inquiry_id = uuid.UUID(response.json()["inquiry_id"])
    assert set(copies(launcher, inquiry_id).values()) == {trace_id}

    # Every other answer carries its trace too, errors included.
    refused = httpx.post(network.agency(YAMAGATA).url + "/v1/inquiries", json={}, timeout=30)
    assert refused.status_code == 422
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Ipnsim-Trace-Id"])
    health = httpx.get(network.hub.url + "/health", timeout=30)
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["X-Ipnsim-Trace-Id"])


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a service's ``/metrics``: (name, labels) → value."""
    response = httpx.get(url + "/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_every_service_counts_its_requests_and_the_hub_its_inquiries(
    traced: tuple[Launcher, Path],
) -> None:
    launcher, _ = traced
    network = started(launcher)
    hub_url, requester_url = network.hub.url, network.agency(YAMAGATA).url
    provider_url = network.agency(ODAWARA).url
    registry_url = next(s.url for s in network.services if s.name == REGISTRY_SERVICE)
    odawara = agency_by_slug(ODAWARA).code
    urls = {"hub": hub_url, "requester": requester_url, "provider": provider_url}
    before = {name: scrape(url) for name, url in urls.items()}

    inquiry = httpx.post(requester_url + "/v1/inquiries", json=order(), timeout=30)
    assert inquiry.status_code == 200, inquiry.text
    atena = order()["atena_number"]
    person = httpx.get(f"{requester_url}/v1/people/{atena}", timeout=30)
    assert person.status_code == 200
    assert httpx.get(registry_url + "/health", timeout=30).status_code == 200

    after = {name: scrape(url) for name, url in urls.items()}
    requests = "ipnsim_http_requests_total"
    post_inquiry = {"method": "POST", "route": "/v1/inquiries", "status": "200"}
    for name in ("hub", "requester"):
        assert value(after[name], requests, **post_inquiry) == (
            value(before[name], requests, **post_inquiry) + 1
        )
    provision = {"method": "POST", "route": "/hub/provisions", "status": "200"}
    assert value(after["provider"], requests, **provision) == (
        value(before["provider"], requests, **provision) + 1
    )
    person_route = {"method": "GET", "route": "/v1/people/{atena_number}", "status": "200"}
    assert value(after["requester"], requests, **person_route) >= 1
    latency = "ipnsim_http_request_duration_seconds_count"
    assert value(after["hub"], latency, **post_inquiry) == (
        value(before["hub"], latency, **post_inquiry) + 1
    )
    provided = {"outcome": "provided", "error_code": "", "provider": odawara}
    assert value(after["hub"], "ipnsim_hub_inquiries_total", **provided) == (
        value(before["hub"], "ipnsim_hub_inquiries_total", **provided) + 1
    )

    registry = scrape(registry_url)
    health = {"method": "GET", "route": "/health", "status": "200"}
    assert value(registry, requests, **health) >= 1

    for samples in (*after.values(), registry):
        for _, labels in samples:
            for _, label_value in labels:
                assert not PERSONAL_NUMBER.search(label_value), label_value
                assert atena not in label_value
