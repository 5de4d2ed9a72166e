"""The hub's bound on inquiries in flight over real processes: beyond it an inquiry is refused
at once with AVL007 (HTTP 503, Retry-After) and never reaches the provider."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import persona_population
from ipnsim.launcher import NetworkFile
from tests.e2e.conftest import run, small_network, started

pytestmark = pytest.mark.e2e

NHI_AFFAIR = "JM01000000121000"
NHI_TAX_PROCEDURE = "JT01010000000214"
PERSONA = "moved_in"
LATENCY_MS = 2500
"""How long Odawara's answer is held: long enough for the other inquiries to overlap it."""


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    """山形市 and 小田原市 only, behind a hub that handles one inquiry at a time."""
    with small_network(
        tmp_path_factory.mktemp("network-one-at-a-time"),
        (YAMAGATA, ODAWARA),
        max_inquiries_in_flight=1,
    ) as launcher:
        yield started(launcher)


def order() -> dict[str, Any]:
    population = persona_population(seed=0)
    person = population.persona_person(PERSONA)
    return {
        "atena_number": population.atena_number(YAMAGATA, person.person_key),
        "affair_code": NHI_AFFAIR,
        "procedure_code": NHI_TAX_PROCEDURE,
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": agency_by_slug(ODAWARA).code,
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
    }


def hub_request(pseudonym: str) -> dict[str, Any]:
    """The inquiry as an intermediate server sends it to the hub."""
    body = order()
    del body["atena_number"]
    return body | {
        "inquiry_id": str(uuid.uuid4()),
        "requester_code": agency_by_slug(YAMAGATA).code,
        "requester_pseudonym": pseudonym,
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def test_an_inquiry_beyond_the_limit_in_flight_is_avl007_and_not_routed(
    one_at_a_time: NetworkFile,
) -> None:
    hub_url = one_at_a_time.hub.url
    admin = {"Authorization": f"Bearer {one_at_a_time.admin_token}"}
    yamagata = one_at_a_time.agency(YAMAGATA)
    as_yamagata = {"Authorization": f"Bearer {yamagata.credential}"}
    person = persona_population(seed=0).persona_person(PERSONA)
    odawara_code = agency_by_slug(ODAWARA).code

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response, str]:
        async with httpx.AsyncClient(timeout=30) as client:
            issued = await client.post(
                hub_url + "/v1/pseudonyms",
                json={"agency_code": yamagata.agency_code, "resident_code": person.resident_code},
                headers=as_yamagata,
            )
            assert issued.status_code == 200, issued.text
            fault = await client.put(
                f"{hub_url}/v1/faults/{odawara_code}",
                json={"latency_ms": LATENCY_MS},
                headers=admin,
            )
            assert fault.status_code == 200, fault.text
            try:
                held = asyncio.create_task(
                    client.post(yamagata.url + "/v1/inquiries", json=order())
                )
                await asyncio.sleep(LATENCY_MS / 1000 / 3)
                assert not held.done()
                sent = hub_request(issued.json()["pseudonym"])
                direct = await client.post(
                    hub_url + "/v1/inquiries", json=sent, headers=as_yamagata
                )
                relayed = await client.post(yamagata.url + "/v1/inquiries", json=order())
                assert not held.done(), "the refusals waited for the inquiry in flight"
                answered = await held
            finally:
                await client.delete(f"{hub_url}/v1/faults/{odawara_code}", headers=admin)
        return answered, direct, relayed, str(sent["inquiry_id"])

    answered, direct, relayed, direct_id = run(scenario())

    assert answered.status_code == 200, answered.text
    assert answered.json()["error"] is None
    assert answered.json()["items"]

    assert direct.status_code == 503
    assert direct.headers["Retry-After"] == "1"
    body = direct.json()
    assert (body["code"], body["retryable"], body["category"]) == ("AVL007", True, "availability")
    assert "「１」" in body["message_ja"]

    # The requester's intermediate server passes the refusal on and records it.
    assert relayed.status_code == 200, relayed.text
    result = relayed.json()
    assert result["error"]["code"] == "AVL007"
    assert (result["status_detail"], result["status_info_type"]) == ("99", "99")

    with httpx.Client(timeout=10) as client:
        for refused in (direct_id, result["inquiry_id"]):
            hub_copy = client.get(f"{hub_url}/v1/records/{refused}", headers=admin)
            assert (hub_copy.status_code, hub_copy.json()["code"]) == (404, "REC001")
        odawara = one_at_a_time.agency(ODAWARA).url
        provider_copies = client.get(odawara + "/v1/records").json()
        assert [r["inquiry_id"] for r in provider_copies] == [answered.json()["inquiry_id"]]
        requester_copy = client.get(
            yamagata.url + "/v1/records", params={"inquiry_id": result["inquiry_id"]}
        ).json()
        assert [r["error_code"] for r in requester_copy] == ["AVL007"]

        # The place is free again once the inquiry in flight is answered.
        again = client.post(yamagata.url + "/v1/inquiries", json=order(), timeout=30).json()
        assert again["error"] is None
