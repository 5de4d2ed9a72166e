"""Error-classification codes: the catalogue, message rendering and the shared HTTP wiring."""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from error_codes import (
    CATALOGUE,
    Category,
    ErrorBody,
    FieldProblem,
    ForwardedError,
    IpnsimError,
    lookup,
    to_fullwidth,
)
from error_codes.http import install_error_handling

PREFIXES = {
    Category.VALIDATION: "VAL",
    Category.AUTHENTICATION: "AUT",
    Category.AGENCY: "AGY",
    Category.IDENTITY: "IDN",
    Category.PERMISSION: "PRM",
    Category.REPLICA: "RPL",
    Category.AVAILABILITY: "AVL",
    Category.RECORDS: "REC",
    Category.INTERNAL: "SYS",
    Category.MANUAL_RESPONSE: "MAN",
    Category.IDEMPOTENCY: "IDM",
    Category.BATCH: "BAT",
    Category.SANDBOX: "SBX",
}

# Codes that describe a state rather than a failure: MAN001 (pending) answers 202 Accepted.
NOT_FAILURES = {"MAN001": 202}

# The real 「「レコード識別番号」が既に存在しています。」 names no record id; the English one may.
JA_MAY_OMIT = {"RPL002": {"record_id"}}


def placeholders(template: str) -> set[str]:
    """Parameter names of a message; ``kind_ja`` and ``kind_en`` count as one, ``kind``."""
    return {
        name.removesuffix("_ja").removesuffix("_en")
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    }


# --- the catalogue --------------------------------------------------------------------------


def test_catalogue_is_keyed_by_code_and_lookup_finds_entries() -> None:
    assert len(CATALOGUE) >= 20
    for code, entry in CATALOGUE.items():
        assert entry.code == code
        assert lookup(code) is entry
    with pytest.raises(KeyError):
        lookup("NOP999")


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_entry_is_well_formed(code: str) -> None:
    entry = CATALOGUE[code]
    assert re.fullmatch(r"[A-Z]{3}[0-9]{3}", entry.code)
    assert entry.code[:3] == PREFIXES[entry.category]
    if entry.code in NOT_FAILURES:
        assert entry.http_status == NOT_FAILURES[entry.code]
    else:
        assert 400 <= entry.http_status <= 599
    for text in (entry.message_ja, entry.message_en, entry.cause, entry.remedy):
        assert text.strip()
    assert isinstance(entry.retryable, bool)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_messages_name_the_same_parameters(code: str) -> None:
    entry = CATALOGUE[code]
    ja = placeholders(entry.message_ja)
    en = placeholders(entry.message_en)
    assert ja - en == set()
    assert en - ja == JA_MAY_OMIT.get(code, set())


def test_every_category_has_codes() -> None:
    assert {entry.category for entry in CATALOGUE.values()} == set(Category)


def test_availability_codes_are_retryable_and_client_errors_are_not() -> None:
    for entry in CATALOGUE.values():
        if entry.category is Category.AVAILABILITY:
            assert entry.retryable, entry.code
        if entry.category in {Category.VALIDATION, Category.PERMISSION}:
            assert not entry.retryable, entry.code


# --- message rendering ----------------------------------------------------------------------


def test_to_fullwidth() -> None:
    assert to_fullwidth("TM0002 a-z") == "ＴＭ０００２\u3000ａ－ｚ"
    assert to_fullwidth("山形市") == "山形市"


def test_idn001_reproduces_the_real_message() -> None:
    error = IpnsimError("IDN001", atena_number="000000014689427")
    assert (
        error.message_ja
        == "指定された団体内統合宛名番号「０００００００１４６８９４２７」は符号が未取得です。"
    )
    assert "'000000014689427'" in error.message_en
    assert error.code == "IDN001"
    assert error.http_status == 409


def test_prm001_reproduces_the_real_message() -> None:
    error = IpnsimError("PRM001", info_type_code="TM00000000000002")
    assert (
        error.message_ja
        == "指定された特定個人情報名「ＴＭ０００００００００００００２」の照会は許可されていません。"
    )
    assert "'TM00000000000002'" in error.message_en
    assert error.http_status == 403


def test_rpl002_reproduces_the_real_message() -> None:
    error = IpnsimError("RPL002", record_id="R-1")
    assert error.message_ja == "「レコード識別番号」が既に存在しています。"
    assert error.message_en == "A replica with record id 'R-1' already exists."


def test_unquoted_parameters_stay_half_width() -> None:
    error = IpnsimError("RPL004", item="I001", problem="not a valid integer")
    assert error.message_ja.endswith("項目「Ｉ００１」：not a valid integer")
    error = IpnsimError("VAL006", kind_ja="事務コード", kind_en="affair", code="JM99")
    assert error.message_ja == "指定された事務コード「ＪＭ９９」は定義されていません。"
    assert error.message_en == "The affair 'JM99' is not defined."


def test_missing_parameter_is_left_visible() -> None:
    error = IpnsimError("IDN001")
    assert "{atena_number}" in error.message_en
    assert "「{atena_number}」" in error.message_ja
    error = IpnsimError("VAL001", field="x")
    assert error.message_ja == "入力値に誤りがあります。項目「ｘ」：{problem}"


def test_parameter_values_are_not_formatted_again() -> None:
    error = IpnsimError("VAL001", field="x", problem="{field} and {0}")
    assert error.message_en == "The request has an invalid field 'x': {field} and {0}"


def test_unknown_code_is_refused() -> None:
    with pytest.raises(KeyError):
        IpnsimError("ZZZ999")


def test_body_is_the_wire_form() -> None:
    detail = FieldProblem(field="condition.fiscal_year", problem="too small")
    error = IpnsimError("VAL001", details=[detail], field="condition.fiscal_year", problem="x")
    body = error.body()
    assert body.code == "VAL001"
    assert body.category is Category.VALIDATION
    assert body.retryable is False
    assert body.explanation == "/v1/errors/VAL001"
    assert body.details == [detail]
    assert body.message_ja == error.message_ja
    assert str(error).startswith("VAL001: ")


def test_forwarded_error_keeps_the_rendered_messages() -> None:
    original = IpnsimError("AVL001", provider_code="1419900000002200").body()
    received = ErrorBody.model_validate_json(original.model_dump_json())
    forwarded = ForwardedError(received)
    assert forwarded.code == "AVL001"
    assert forwarded.http_status == 502
    assert forwarded.message_ja == original.message_ja
    assert "１４１９９" in forwarded.message_ja
    assert forwarded.message_en == original.message_en
    assert forwarded.body() == original
    # Messages rendered elsewhere are passed on verbatim, even if they differ from ours.
    odd = received.model_copy(update={"message_ja": "別の文言", "message_en": "other words"})
    assert ForwardedError(odd).body().message_ja == "別の文言"
    assert ForwardedError(odd).body().message_en == "other words"


# --- HTTP wiring ------------------------------------------------------------------------------

LIMIT = 100


class Payload(BaseModel):
    name: str
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app, body_limit=LIMIT)

    @app.post("/echo")
    async def echo(payload: Payload) -> Payload:
        return payload

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("very secret internal detail")

    @app.get("/refuse")
    async def refuse() -> None:
        raise IpnsimError("PRM001", info_type_code="TM00000000000002")

    return app


def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_validation_failure_is_val001_naming_the_field() -> None:
    response = call("POST", "/echo", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VAL001"
    assert [detail["field"] for detail in body["details"]] == ["count"]
    assert "「ｃｏｕｎｔ」" in body["message_ja"]
    assert "'count'" in body["message_en"]


def test_missing_field_is_val001() -> None:
    response = call("POST", "/echo", json={"count": 1})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "name"


def test_invalid_json_is_val002() -> None:
    response = call(
        "POST", "/echo", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VAL002"


def test_body_over_the_limit_with_content_length_is_val003() -> None:
    body = b'{"name": "' + b"x" * LIMIT + b'", "count": 1}'
    response = call("POST", "/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "VAL003"
    assert str(LIMIT) in response.json()["message_en"]


def test_body_within_the_limit_passes() -> None:
    response = call("POST", "/echo", json={"name": "x", "count": 1})
    assert response.status_code == 200
    assert response.json() == {"name": "x", "count": 1}


def chunks(total: int, size: int = 30) -> AsyncIterator[bytes]:
    async def generate() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            yield b"x" * min(size, total - sent)
            sent += size

    return generate()


def test_chunked_body_over_the_limit_is_val003() -> None:
    response = call("POST", "/raw", content=chunks(LIMIT * 3))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["code"] == "VAL003"


def test_chunked_body_over_the_limit_to_a_model_endpoint_is_val003() -> None:
    response = call(
        "POST",
        "/echo",
        content=chunks(LIMIT * 3),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "VAL003"
    assert str(LIMIT) in response.json()["message_en"]


def test_chunked_body_within_the_limit_passes() -> None:
    response = call("POST", "/raw", content=chunks(LIMIT - 10))
    assert response.status_code == 200
    assert response.json() == {"size": LIMIT - 10}


def test_unknown_path_is_val004() -> None:
    response = call("GET", "/no/such/thing")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "VAL004"
    assert "/no/such/thing" in body["message_en"]


def test_wrong_method_is_val005() -> None:
    response = call("GET", "/echo")
    assert response.status_code == 405
    assert response.json()["code"] == "VAL005"


def test_unexpected_exception_is_sys001_without_traceback() -> None:
    response = call("GET", "/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "SYS001"
    assert "very secret" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


def test_ipnsim_error_travels_with_its_status() -> None:
    response = call("GET", "/refuse")
    assert response.status_code == 403
    body = ErrorBody.model_validate(response.json())
    assert body.code == "PRM001"
    assert body.message_ja == IpnsimError("PRM001", info_type_code="TM00000000000002").message_ja


def test_errors_endpoint_lists_the_catalogue() -> None:
    response = call("GET", "/v1/errors")
    assert response.status_code == 200
    listed = response.json()
    assert [entry["code"] for entry in listed] == list(CATALOGUE)
    assert all(entry["cause"] and entry["remedy"] for entry in listed)


def test_errors_endpoint_explains_one_code() -> None:
    response = call("GET", "/v1/errors/PRM001")
    assert response.status_code == 200
    body = response.json()
    entry = CATALOGUE["PRM001"]
    assert body["code"] == "PRM001"
    assert body["http_status"] == 403
    assert body["cause"] == entry.cause
    assert body["remedy"] == entry.remedy
    assert body["message_ja"] == entry.message_ja


def test_errors_endpoint_accepts_lower_case() -> None:
    assert call("GET", "/v1/errors/prm001").json()["code"] == "PRM001"


def test_errors_endpoint_refuses_an_unknown_code() -> None:
    response = call("GET", "/v1/errors/NOPE")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VAL006"
    assert "ＮＯＰＥ" in body["message_ja"]
