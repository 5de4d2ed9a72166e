"""Bad input over real HTTP: every refusal has a code and a clear message, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencies.catalogue import DIGITAL_AGENCY, ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO
from error_codes import to_fullwidth
from tests.e2e.conftest import RunningNetwork

pytestmark = pytest.mark.e2e


def good_order(net: RunningNetwork) -> dict[str, Any]:
    return {
        "atena_number": net.atena(YAMAGATA, "moved_in"),
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": net.code(ODAWARA),
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"affair_code": "JM0100000012100"}, "affair_code"),
        ({"procedure_code": "JX01010000000214"}, "procedure_code"),
        ({"info_type_code": "TM0000000000000A"}, "info_type_code"),
        ({"provider_code": "201420690000000"}, "provider_code"),
        ({"atena_number": "00000008091339"}, "atena_number"),
        ({"condition": {"kind": "fiscal_year"}}, "condition"),
        (
            {
                "condition": {
                    "kind": "date_range",
                    "date_from": "2026-02-30",
                    "date_to": "2026-03-01",
                }
            },
            "condition.date_from",
        ),
        (
            {
                "condition": {
                    "kind": "date_range",
                    "date_from": "2026-04-01",
                    "date_to": "2026-03-01",
                }
            },
            "condition",
        ),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_malformed_inquiries_are_refused_with_val001_naming_the_field(
    network: RunningNetwork, change: dict[str, Any], field: str
) -> None:
    body = good_order(network) | change
    response = httpx.post(f"{network.url(YAMAGATA)}/v1/inquiries", json=body)

    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "VAL001"
    assert field in {detail["field"] for detail in error["details"]}
    assert error["message_ja"].startswith("入力値に誤りがあります。")
    assert error["explanation"] == "/v1/errors/VAL001"


def test_unknown_catalogue_codes_are_refused_with_val006(network: RunningNetwork) -> None:
    body = good_order(network) | {"info_type_code": "TM99999999999999"}
    response = httpx.post(f"{network.url(YAMAGATA)}/v1/inquiries", json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "VAL006"


def test_an_unknown_provider_agency_is_answered_with_agy001(network: RunningNetwork) -> None:
    body = good_order(network) | {"provider_code": "2099999900000000"}
    response = httpx.post(f"{network.url(YAMAGATA)}/v1/inquiries", json=body)

    assert response.status_code == 200
    result = response.json()
    assert result["error"]["code"] == "AGY001"
    assert to_fullwidth("2099999900000000") in result["error"]["message_ja"]


def test_not_json_oversize_and_unknown_paths(network: RunningNetwork) -> None:
    base = network.url(YAMAGATA)
    not_json = httpx.post(
        f"{base}/v1/inquiries", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    oversize = httpx.post(f"{base}/v1/replicas", content=b"x" * (2 * 1024 * 1024))
    unknown = httpx.get(f"{base}/v1/nothing-here")
    wrong_method = httpx.delete(f"{base}/v1/inquiries")

    assert (not_json.status_code, not_json.json()["code"]) == (400, "VAL002")
    assert (oversize.status_code, oversize.json()["code"]) == (413, "VAL003")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "VAL004")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "VAL005")


def test_duplicate_record_id_is_refused_with_the_real_message(network: RunningNetwork) -> None:
    person = network.population.persona_person("moved_in")
    seeded = next(
        r for r in network.population.replicas_of(person.person_key) if r.agency_slug == ODAWARA
    )
    body = {
        "record_id": seeded.record_id,
        "atena_number": seeded.atena_number,
        "info_type_code": seeded.info_type_code,
        "layout_version": seeded.layout_version,
        "fiscal_year": seeded.fiscal_year,
        "publication_start": seeded.publication_start.isoformat(),
        "items": [{"code": code, "value": value} for code, value in seeded.items],
    }
    response = httpx.post(f"{network.url(ODAWARA)}/v1/replicas", json=body)

    assert response.status_code == 409
    assert response.json()["code"] == "RPL002"
    assert response.json()["message_ja"] == "「レコード識別番号」が既に存在しています。"


def test_replica_items_must_follow_the_layout(network: RunningNetwork) -> None:
    body = {
        "record_id": "E2E-LAYOUT-1",
        "atena_number": network.atena(ODAWARA, "moved_in"),
        "info_type_code": LOCAL_TAX_INFO,
        "layout_version": 1,
        "fiscal_year": 2024,
        "publication_start": "2024-06-01",
        "items": [{"code": "I001", "value": "2024"}, {"code": "I999", "value": "1"}],
    }
    response = httpx.post(f"{network.url(ODAWARA)}/v1/replicas", json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "RPL004"
    assert "I999" in response.json()["message_en"]


def test_the_hub_refuses_callers_without_a_valid_credential(network: RunningNetwork) -> None:
    hub = network.network.hub.url
    body = {"agency_code": network.code(YAMAGATA), "resident_code": "12345678901"}

    missing = httpx.post(f"{hub}/v1/pseudonyms", json=body)
    wrong = httpx.post(
        f"{hub}/v1/pseudonyms", json=body, headers={"Authorization": "Bearer not-a-credential"}
    )
    impersonating = httpx.post(
        f"{hub}/v1/pseudonyms",
        json=body,
        headers={"Authorization": f"Bearer {network.credential(ODAWARA)}"},
    )

    assert (missing.status_code, missing.json()["code"]) == (401, "AUT001")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "AUT001")
    assert (impersonating.status_code, impersonating.json()["code"]) == (403, "AUT002")


def test_only_the_requester_may_declare_an_inquiry_mistaken(network: RunningNetwork) -> None:
    inquiry = httpx.post(f"{network.url(YAMAGATA)}/v1/inquiries", json=good_order(network)).json()
    declaration = {
        "requester_code": network.code(ODAWARA),
        "reason": "not ours",
        "declared_by_user": "intruder",
    }
    response = httpx.post(
        f"{network.network.hub.url}/v1/inquiries/{inquiry['inquiry_id']}/addenda",
        json=declaration,
        headers={"Authorization": f"Bearer {network.credential(ODAWARA)}"},
    )

    assert (response.status_code, response.json()["code"]) == (403, "REC002")


def test_intermediate_servers_answer_only_the_hub(network: RunningNetwork) -> None:
    response = httpx.post(
        f"{network.url(ODAWARA)}/hub/provisions",
        json={},
        headers={"Authorization": f"Bearer {network.credential(YAMAGATA)}"},
    )

    assert (response.status_code, response.json()["code"]) == (401, "AUT001")


def test_a_hub_record_is_visible_only_to_its_requester_provider_and_operator(
    network: RunningNetwork,
) -> None:
    inquiry = httpx.post(f"{network.url(YAMAGATA)}/v1/inquiries", json=good_order(network)).json()
    url = f"{network.network.hub.url}/v1/records/{inquiry['inquiry_id']}"

    def status(token: str) -> int:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(network.credential(YAMAGATA)) == 200
    assert status(network.credential(ODAWARA)) == 200
    assert status(network.network.admin_token) == 200
    assert status(network.credential(DIGITAL_AGENCY)) == 404


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"atena_number": None},
        {"atena_number": 123456789012345},
        {"condition": "latest"},
        {"condition": {"kind": "someday"}},
        {"non_disclosure": "perhaps"},
    ],
)
def test_no_malformed_body_ever_causes_a_server_error(
    network: RunningNetwork, body: object
) -> None:
    for path in ("/v1/inquiries", "/v1/people", "/v1/replicas"):
        response = httpx.post(f"{network.url(YAMAGATA)}{path}", json=body)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.json()["code"].startswith("VAL")
