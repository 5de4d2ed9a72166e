"""A plain endpoint answers, and is documented, exactly as the same endpoint declared to FastAPI.

Two apps serve ``POST /inquiries``: one declares its body, headers and authentication to FastAPI,
the other reads them by hand with :mod:`ipnsim.plain_endpoints`. Every request below, valid or
not, gets the same answer from both, and both publish the same OpenAPI document.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Request, Response

from error_codes import IpnsimError
from error_codes.http import install_error_handling
from ipnsim.plain_endpoints import (
    AUTHORIZATION_PARAMETER,
    header_parameter,
    json_body_openapi,
    json_response,
    optional_header,
    read_json_body,
)
from network.protocol.models import InquiryRequest

KEY_HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
KEY_DESCRIPTION = "A key naming the inquiry."
TOKEN = "Bearer right"


def check_caller(authorization: str | None) -> None:
    if authorization != TOKEN:
        raise IpnsimError("AUT001")


def declared_app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app)

    async def caller(authorization: Annotated[str | None, Header()] = None) -> None:
        check_caller(authorization)

    @app.post("/inquiries", dependencies=[Depends(caller)])
    async def inquire(
        body: InquiryRequest,
        key: Annotated[
            str | None, Header(alias=KEY_HEADER, pattern=KEY_PATTERN, description=KEY_DESCRIPTION)
        ] = None,
    ) -> InquiryRequest:
        """Echo the inquiry."""
        return body

    return app


def plain_app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app)

    @app.post(
        "/inquiries",
        response_model=InquiryRequest,
        openapi_extra=json_body_openapi(
            app,
            InquiryRequest,
            header_parameter(KEY_HEADER, pattern=KEY_PATTERN, description=KEY_DESCRIPTION),
            AUTHORIZATION_PARAMETER,
        ),
    )
    async def inquire(request: Request) -> Response:
        """Echo the inquiry."""
        body = await read_json_body(request, InquiryRequest)
        check_caller(request.headers.get("authorization"))
        _, key_errors = optional_header(request, KEY_HEADER, KEY_PATTERN)
        return json_response(body.validated(key_errors))

    return app


VALID: dict[str, Any] = {
    "inquiry_id": "2f1c4a9e-6d3b-4c1e-9a57-0b8e2d6f4a10",
    "requester_code": "0000000000000001",
    "requester_pseudonym": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "affair_code": "JM00000000000001",
    "procedure_code": "JT00000000000001",
    "info_type_code": "TM00000000000001",
    "provider_code": "0000000000000002",
    "requested_at": "2026-04-01T09:00:00+09:00",
}
JSON = {"Content-Type": "application/json"}


def encoded(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


REQUESTS: dict[str, tuple[bytes, dict[str, str]]] = {
    "valid": (encoded(VALID), JSON),
    "valid, +json with a charset": (
        encoded(VALID),
        {"Content-Type": "application/vnd.ipnsim+json; charset=utf-8"},
    ),
    "valid, with a byte-order mark": (codecs.BOM_UTF8 + encoded(VALID), JSON),
    "valid, in UTF-16": (json.dumps(VALID).encode("utf-16"), JSON),
    "valid, with a condition": (
        encoded(VALID | {"condition": {"kind": "fiscal_year", "fiscal_year": "2026"}}),
        JSON,
    ),
    "valid, a key given twice": (
        b'{"requester_non_disclosure": true, ' + encoded(VALID)[1:-1] + b", "
        b'"requester_non_disclosure": false}',
        JSON,
    ),
    "unreadable JSON": (b'{"inquiry_id": ', JSON),
    "not UTF-8": (b'{"inquiry_id": "\xff"}', JSON),
    "nested too deep": (b"[" * 100_000, JSON),
    "no body": (b"", JSON),
    "null": (b"null", JSON),
    "a list": (b"[1, 2]", JSON),
    "a string": (b'"inquiry"', JSON),
    "fields missing": (encoded({"inquiry_id": VALID["inquiry_id"]}), JSON),
    "wrong types": (
        encoded(VALID | {"inquiry_id": "x", "requester_code": 1, "requested_at": True}),
        JSON,
    ),
    "a field too many": (encoded(VALID | {"my_number": "123456789018"}), JSON),
    "a bad pattern": (encoded(VALID | {"provider_code": "12"}), JSON),
    "an inconsistent condition": (encoded(VALID | {"condition": {"kind": "fiscal_year"}}), JSON),
    "not a number": (encoded(VALID)[:-1] + b', "condition": {"fiscal_year": NaN}}', JSON),
    "a lone surrogate": (
        encoded(VALID | {"requester_pseudonym": "x"}).replace(b'"x"', b'"\\ud800"'),
        JSON,
    ),
    "JSON sent as text": (encoded(VALID), {"Content-Type": "text/plain"}),
    "JSON sent without a Content-Type": (encoded(VALID), {}),
}
"""Each request's body and headers (besides the Authorization header)."""

HEADERS: dict[str, dict[str, str]] = {
    "authorised": {"Authorization": TOKEN},
    "unauthorised": {},
    "a bad key": {"Authorization": TOKEN, KEY_HEADER: "with space"},
    "an empty key": {"Authorization": TOKEN, KEY_HEADER: ""},
    "a good key": {"Authorization": TOKEN, KEY_HEADER: "key-1"},
}


def answers(body: bytes, headers: dict[str, str]) -> list[tuple[int, Any, str | None]]:
    async def ask(app: FastAPI) -> tuple[int, Any, str | None]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/inquiries", content=body, headers=headers)
        return response.status_code, response.content, response.headers.get("content-type")

    return [asyncio.run(ask(app)) for app in (declared_app(), plain_app())]


@pytest.mark.parametrize("headers", HEADERS.values(), ids=HEADERS.keys())
@pytest.mark.parametrize("request_", REQUESTS.values(), ids=REQUESTS.keys())
def test_a_plain_endpoint_answers_as_a_declared_one(
    request_: tuple[bytes, dict[str, str]], headers: dict[str, str]
) -> None:
    body, content_headers = request_
    declared, plain = answers(body, content_headers | headers)
    assert plain == declared


def test_the_answers_compared_are_of_every_kind() -> None:
    """The requests above cover success, VAL001 (a field, the body, the request), VAL002 and
    AUT001, so the comparison is not of one answer only."""
    seen = set()
    for body, content_headers in REQUESTS.values():
        for headers in HEADERS.values():
            status, content, _ = answers(body, content_headers | headers)[1]
            seen.add(status if status == 200 else json.loads(content)["code"])
    assert seen == {200, "VAL001", "VAL002", "AUT001"}


def test_header_errors_come_before_the_body_errors() -> None:
    status, content, _ = answers(
        encoded(VALID | {"provider_code": "12"}), JSON | HEADERS["a bad key"]
    )[1]
    error = json.loads(content)
    assert (status, error["code"]) == (422, "VAL001")
    assert [detail["field"] for detail in error["details"]] == [KEY_HEADER, "provider_code"]


def test_a_body_too_large_is_refused_alike() -> None:
    """Sent without a Content-Length, the body-size limit stops it while it is read."""

    async def ask(app: FastAPI) -> tuple[int, Any]:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(20):
                yield b" " * 65_536

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/inquiries", content=chunks(), headers=JSON)
        return response.status_code, response.json()["code"]

    declared, plain = (asyncio.run(ask(app)) for app in (declared_app(), plain_app()))
    assert plain == declared == (413, "VAL003")


def test_a_client_leaving_before_its_body_is_answered_alike() -> None:
    async def ask(app: FastAPI) -> list[int]:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/inquiries",
            "headers": [(b"content-type", b"application/json")],
            "query_string": b"",
        }
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        return statuses

    declared, plain = (asyncio.run(ask(app)) for app in (declared_app(), plain_app()))
    assert len(declared) == 1
    assert plain == declared


def test_a_plain_endpoint_is_documented_as_a_declared_one() -> None:
    assert plain_app().openapi() == declared_app().openapi()
