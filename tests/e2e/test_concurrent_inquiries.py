"""Inquiries made at once (over real processes): those an intermediate server makes while
another of its calls to the hub is in flight go together, and so do the hub's calls to a
provider; each inquiry still ends exactly as the same inquiry sent alone does, with the same
result and the same three copies of its record, every copy in the inquiry's own trace."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from intermediate_server.batch import inquiry_order
from intermediate_server.schemas import InquiryOrder
from ipnsim.client import AgencyClient, HubOperatorClient, ServiceError
from ipnsim.launcher import NetworkFile
from ipnsim.tracing import DigitSafeIdGenerator
from network.protocol.batch_file import RequestFileReader, Variant
from network.protocol.layouts import catalogue
from network.protocol.models import RecordSide
from tests.e2e.conftest import run, small_network
from tests.e2e.test_bulk_inquiry import NAME, copies, request_file

pytestmark = pytest.mark.e2e

ROUNDS = 4
"""How many times every order is sent at once with the others."""


def orders() -> list[InquiryOrder]:
    """山形市's local-tax inquiries to 小田原市: data, no data, no 符号 at the provider, an
    unknown person, a person without 符号, an info type the procedure may not obtain, and data
    again (as in the bulk-inquiry tests)."""
    reader = RequestFileReader(
        io.BytesIO(request_file()), NAME, catalogue(), encoding="cp932", variant=Variant.FIXED
    )
    return [inquiry_order(row) for row in reader.rows()]


def comparable(answer: httpx.Response) -> tuple[int, dict[str, Any]]:
    """An answer without what differs between two inquiries of the same order."""
    body = answer.json()
    assert isinstance(body, dict)
    for key in ("inquiry_id", "requested_at", "provided_at"):
        body.pop(key, None)
    return answer.status_code, body


def requests_to(service_url: str, route: str) -> float:
    """How many requests of this route template a service has answered (its /metrics)."""
    text = httpx.get(service_url + "/metrics", timeout=10).text
    pattern = re.compile(
        r'^ipnsim_http_requests_total\{[^}]*route="' + re.escape(route) + r'"[^}]*\} (\S+)$',
        re.MULTILINE,
    )
    return sum(float(value) for value in pattern.findall(text))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    with small_network(
        tmp_path_factory.mktemp("concurrent") / "network", [YAMAGATA, ODAWARA]
    ) as launcher:
        assert launcher.network is not None
        yield launcher.network


def test_inquiries_sent_together_end_as_each_alone(network: NetworkFile) -> None:
    url = network.agency(YAMAGATA).url + "/v1/inquiries"
    bodies = [order.model_dump(mode="json") for order in orders()]
    ids = DigitSafeIdGenerator()

    async def alone() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return [await client.post(url, json=body) for body in bodies]

    async def together() -> list[tuple[str, httpx.Response]]:
        traces = [f"{ids.generate_trace_id():032x}" for _ in range(ROUNDS * len(bodies))]
        async with httpx.AsyncClient(
            timeout=60, limits=httpx.Limits(max_connections=100)
        ) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        url,
                        json=bodies[turn % len(bodies)],
                        headers={"traceparent": f"00-{trace}-{ids.generate_span_id():016x}-01"},
                    )
                    for turn, trace in enumerate(traces)
                )
            )
        return list(zip(traces, answers, strict=True))

    hub_before = requests_to(network.hub.url, "/v1/inquiries/concurrent")
    provider_before = requests_to(network.agency(ODAWARA).url, "/hub/provisions/bulk")
    expected = run(alone())
    sent = run(together())

    # Each answer is what the same order got alone, and comes back in its own trace.
    for turn, (trace, answer) in enumerate(sent):
        assert comparable(answer) == comparable(expected[turn % len(bodies)]), turn
        assert answer.headers["X-Ipnsim-Trace-Id"] == trace
    # They did go together: to the hub, and from the hub to the provider.
    assert requests_to(network.hub.url, "/v1/inquiries/concurrent") > hub_before
    assert requests_to(network.agency(ODAWARA).url, "/hub/provisions/bulk") > provider_before

    # Every recorded one has the same three copies as alone, each in the inquiry's trace.
    for turn, (trace, answer) in enumerate(sent):
        if answer.status_code != 200:
            continue
        alone_answer = expected[turn % len(bodies)]
        inquiry_id = answer.json()["inquiry_id"]
        assert run(copies(network, inquiry_id)) == run(
            copies(network, alone_answer.json()["inquiry_id"])
        )
        kept = run(trace_ids(network, inquiry_id))
        assert "requester" in kept, turn  # the others where the same order alone has them
        assert set(kept.values()) == {trace}, turn
        if answer.json()["error"] is None:
            assert "provider" in kept, turn


async def trace_ids(network: NetworkFile, inquiry_id: str) -> dict[str, str | None]:
    """The trace id in each copy of the record that exists."""
    key = uuid.UUID(inquiry_id)
    found: dict[str, str | None] = {}
    async with (
        AgencyClient(network.agency(YAMAGATA).url) as yamagata,
        AgencyClient(network.agency(ODAWARA).url) as odawara,
        HubOperatorClient(network.hub.url, network.admin_token) as hub,
    ):
        for record in await yamagata.records(inquiry_id=key):
            if record.side is RecordSide.REQUESTER:
                found["requester"] = record.trace_id
        for record in await odawara.records(inquiry_id=key):
            if record.side is RecordSide.PROVIDER:
                found["provider"] = record.trace_id
        try:
            found["hub"] = (await hub.record(key)).trace_id
        except ServiceError as error:
            if error.body.code != "REC001":
                raise
    return found
