"""Routing to providers over real loopback sockets: failures map to AVL001/AVL002/AVL005."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from error_codes import IpnsimError
from ipnsim.http import make_client
from network.protocol.models import (
    Addendum,
    AgencyKind,
    InquiryCondition,
    ProvisionAnswer,
    ProvisionRequest,
    ReplicaItem,
)
from network.registry import AgencyEntry
from network.routing import ProviderRouter
from tests.unit.raising import expect

TIMEOUT = 0.5
PROVIDER_CODE = "2014206900000000"
CREDENTIAL = "odawara-credential-0001"


def provider(port: int) -> AgencyEntry:
    return AgencyEntry(
        code=PROVIDER_CODE,
        name_ja="小田原市",
        name_en="Odawara City",
        kind=AgencyKind.MUNICIPALITY,
        base_url=f"http://127.0.0.1:{port}",
        credential=CREDENTIAL,
    )


def provision_request() -> ProvisionRequest:
    return ProvisionRequest(
        inquiry_id=uuid.uuid4(),
        requester_code="2006201400000000",
        requester_name="山形市",
        provider_code=PROVIDER_CODE,
        provider_pseudonym="ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        affair_code="JM01000000121000",
        procedure_code="JT01010000000214",
        info_type_code="TM00000000000002",
        condition=InquiryCondition(),
        requested_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    )


def addendum() -> Addendum:
    return Addendum(
        addendum_id=uuid.uuid4(),
        inquiry_id=uuid.uuid4(),
        reason="wrong person",
        declared_by_agency="2006201400000000",
        declared_by_user="clerk01",
        declared_at=dt.datetime(2026, 6, 2, tzinfo=dt.UTC),
    )


Reply = Callable[[bytes], tuple[int, str, bytes]]


@asynccontextmanager
async def http_server(reply: Reply, seen: list[tuple[bytes, bytes]]) -> AsyncIterator[int]:
    """A minimal HTTP/1.1 server on 127.0.0.1 answering every request with ``reply(body)``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            seen.append((head, body))
            status, content_type, payload = reply(body)
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def run_with_router(
    scenario: Callable[[ProviderRouter], Awaitable[None]],
    client_factory: Callable[[], httpx.AsyncClient] = lambda: make_client(TIMEOUT),
) -> None:
    async def go() -> None:
        client = client_factory()
        try:
            await scenario(ProviderRouter(client, TIMEOUT))
        finally:
            await client.aclose()

    asyncio.run(go())


def closed_port() -> tuple[socket.socket, int]:
    """A port bound on 127.0.0.1 but not listening: connections to it are refused."""
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bound.bind(("127.0.0.1", 0))
    return bound, bound.getsockname()[1]


@pytest.mark.parametrize(
    "client_factory",
    [lambda: make_client(TIMEOUT), lambda: httpx.AsyncClient(timeout=TIMEOUT)],
    ids=["aiohttp-transport", "httpx-transport"],
)
def test_nothing_listening_is_avl001(client_factory: Callable[[], httpx.AsyncClient]) -> None:
    bound, port = closed_port()
    try:

        async def scenario(router: ProviderRouter) -> None:
            error = await expect(router.provide(provider(port), provision_request()), "AVL001")
            assert "２０１４２０６９" in error.message_ja
            await expect(router.deliver_addendum(provider(port), addendum()), "AVL001")

        started = time.monotonic()
        run_with_router(scenario, client_factory)
        assert time.monotonic() - started < TIMEOUT * 4
    finally:
        bound.close()


def test_silent_provider_is_avl002_within_the_timeout() -> None:
    async def scenario(router: ProviderRouter) -> None:
        release = asyncio.Event()
        accepted: list[bool] = []

        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(True)
            await release.wait()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(hang, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            started = time.monotonic()
            error = await expect(router.provide(provider(port), provision_request()), "AVL002")
            elapsed = time.monotonic() - started
            assert accepted
            assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 2.0
            assert "０．５" in error.message_ja
            assert "0.5 seconds" in error.message_en
        finally:
            release.set()
            server.close()
            await server.wait_closed()

    run_with_router(scenario)


def test_non_json_answer_is_avl005() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: (200, "text/html", b"<html>proxy</html>"), seen) as port:
            await expect(router.provide(provider(port), provision_request()), "AVL005")

    run_with_router(scenario)
    assert len(seen) == 1


def test_error_page_is_avl005() -> None:
    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: (502, "text/plain", b"Bad Gateway"), []) as port:
            await expect(router.provide(provider(port), provision_request()), "AVL005")

    run_with_router(scenario)


def answer_for(inquiry_id: str) -> bytes:
    return (
        ProvisionAnswer(
            inquiry_id=uuid.UUID(inquiry_id),
            provided_at=dt.datetime(2026, 6, 1, 0, 0, 1, tzinfo=dt.UTC),
            items=[ReplicaItem(code="I001", value="2025")],
        )
        .model_dump_json()
        .encode()
    )


def test_answer_is_parsed_and_the_credential_sent() -> None:
    seen: list[tuple[bytes, bytes]] = []
    request = provision_request()

    def reply(body: bytes) -> tuple[int, str, bytes]:
        return 200, "application/json", answer_for(json.loads(body)["inquiry_id"])

    async def scenario(router: ProviderRouter) -> None:
        async with http_server(reply, seen) as port:
            answer = await router.provide(provider(port), request)
            assert answer.inquiry_id == request.inquiry_id
            assert answer.items == [ReplicaItem(code="I001", value="2025")]

    run_with_router(scenario)
    head, body = seen[0]
    assert head.startswith(b"POST /hub/provisions ")
    assert f"\r\nauthorization: bearer {CREDENTIAL}\r\n".encode() in head.lower()
    assert ProvisionRequest.model_validate_json(body) == request


def test_answer_for_another_inquiry_is_avl005() -> None:
    other = str(uuid.uuid4())

    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: (200, "application/json", answer_for(other)), []) as port:
            await expect(router.provide(provider(port), provision_request()), "AVL005")

    run_with_router(scenario)


def test_addendum_delivered() -> None:
    seen: list[tuple[bytes, bytes]] = []
    sent = addendum()

    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: (204, "application/json", b""), seen) as port:
            await router.deliver_addendum(provider(port), sent)

    run_with_router(scenario)
    head, body = seen[0]
    assert head.startswith(b"POST /hub/addenda ")
    assert Addendum.model_validate_json(body) == sent


@pytest.mark.parametrize(
    "reply",
    [
        (401, "application/json", IpnsimError("AUT001").body().model_dump_json().encode()),
        (404, "application/json", b'{"code": "REC001"}'),
        (500, "text/plain", b"Internal Server Error"),
    ],
)
def test_addendum_refused_is_avl005(reply: tuple[int, str, bytes]) -> None:
    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: reply, []) as port:
            await expect(router.deliver_addendum(provider(port), addendum()), "AVL005")

    run_with_router(scenario)


def test_addendum_for_a_record_the_provider_never_kept_needs_no_delivery() -> None:
    """A provider that timed out may hold no record: its REC001 ends the redelivery."""
    reply = (
        404,
        "application/json",
        IpnsimError("REC001", inquiry_id="x").body().model_dump_json().encode(),
    )
    received: list[tuple[bytes, bytes]] = []

    async def scenario(router: ProviderRouter) -> None:
        async with http_server(lambda _: reply, received) as port:
            await router.deliver_addendum(provider(port), addendum())

    run_with_router(scenario)
    assert len(received) == 1
