"""The live flow's event stream (照会の流れ): publisher, server-sent events, and the hub's hops."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from network.events import FlowEvents, sse_message, sse_stream
from network.service import HubService
from tests.unit.test_hub_service import (
    AGENCIES,
    DIGITAL,
    ODAWARA,
    RESIDENT,
    YAMAGATA,
    FakeRouter,
    inquiry,
    issue,
    run,
)


def parse(message: str) -> dict[str, Any]:
    lines = dict(line.split(": ", 1) for line in message.strip().splitlines())
    assert lines["event"] == "hop"
    event: dict[str, Any] = json.loads(lines["data"])
    assert lines["id"] == str(event["id"])
    return event


def test_publishing_without_subscribers_does_nothing() -> None:
    events = FlowEvents()
    assert not events.listening
    events.publish("received", "x", time.perf_counter())
    with events.subscribe() as queue:
        assert events.listening
        assert queue.empty()
    assert not events.listening


def test_every_subscriber_receives_each_event_with_its_elapsed_time() -> None:
    async def go() -> None:
        events = FlowEvents()
        with events.subscribe() as first, events.subscribe() as second:
            started = time.perf_counter() - 0.25
            events.publish("received", "inquiry-1", started, requester_code=YAMAGATA)
            events.publish("answered", "inquiry-1", started, status="0901")
            for queue in (first, second):
                received = [queue.get_nowait(), queue.get_nowait()]
                assert [event["hop"] for event in received] == ["received", "answered"]
                assert received[0]["requester_code"] == YAMAGATA
                assert received[0]["inquiry_id"] == "inquiry-1"
                assert received[0]["elapsed_ms"] >= 250
                assert received[1]["id"] > received[0]["id"]

    asyncio.run(go())


def test_a_slow_subscriber_loses_its_oldest_events_not_the_newest() -> None:
    async def go() -> None:
        events = FlowEvents(queue_size=3)
        with events.subscribe() as queue:
            for number in range(5):
                events.publish("received", f"inquiry-{number}", time.perf_counter())
            kept = [queue.get_nowait()["inquiry_id"] for _ in range(queue.qsize())]
        assert kept == ["inquiry-2", "inquiry-3", "inquiry-4"]

    asyncio.run(go())


def test_sse_message_is_one_event_of_type_hop_with_json_data() -> None:
    message = sse_message({"id": 7, "hop": "converted", "provider_pseudonym": "符号"})
    assert message.endswith("\n\n")
    assert parse(message) == {"id": 7, "hop": "converted", "provider_pseudonym": "符号"}


def test_stream_starts_with_a_comment_then_sends_events_and_heartbeats() -> None:
    async def go() -> list[str]:
        events = FlowEvents()
        stream = sse_stream(events, heartbeat=0.05, limit=1)
        chunks = [await anext(stream)]
        assert events.listening  # subscribed once the first bytes are out
        chunks.append(await anext(stream))  # nothing published: a heartbeat
        events.publish("permitted", "inquiry-9", time.perf_counter())
        chunks.extend([chunk async for chunk in stream])
        assert not events.listening  # the stream unsubscribed when it ended
        return chunks

    chunks = asyncio.run(go())
    assert chunks[0] == ": subscribed\n\n"
    assert chunks[1] == ": heartbeat\n\n"
    assert parse(chunks[2])["hop"] == "permitted"


def test_a_successful_inquiry_publishes_every_hop_with_pseudonyms_only(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        provider_pseudonym = await issue(service, ODAWARA)
        with service.events.subscribe() as queue:
            await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
            while not queue.empty():
                seen.append(queue.get_nowait())
        assert seen[0]["requester_pseudonym"] == requester_pseudonym
        assert seen[2]["provider_pseudonym"] == provider_pseudonym

    run(tmp_path, scenario)
    assert [event["hop"] for event in seen] == [
        "received",
        "permitted",
        "converted",
        "forwarded",
        "provided",
        "answered",
    ]
    assert seen[-1]["status"] == "0901"
    assert seen[-1]["error_code"] is None
    assert seen[4]["items"] == 2
    assert [event["elapsed_ms"] for event in seen] == sorted(event["elapsed_ms"] for event in seen)
    assert len({event["inquiry_id"] for event in seen}) == 1
    assert all(RESIDENT not in json.dumps(event, ensure_ascii=False) for event in seen)


def test_a_refused_inquiry_ends_with_its_error_code_and_explanation(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        with service.events.subscribe() as queue:
            # 山形市 may not ask デジタル庁 for local-tax information: refused before routing.
            await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym, DIGITAL))
            while not queue.empty():
                seen.append(queue.get_nowait())

    run(tmp_path, scenario)
    assert [event["hop"] for event in seen] == ["received", "answered"]
    assert seen[-1]["error_code"] == "PRM001"
    assert seen[-1]["error_message_en"]
    assert seen[-1]["error_message_ja"]
    assert seen[-1]["provider_reached"] is False
