"""Fan-out inquiries (一括照会先指定) over real processes: one person, every provider concerned.

山形市 asks about moved_in, who lived in 小田原市 before (小田原市 knows them; 福岡市 does not).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from agencies.catalogue import DIGITAL_AGENCY, FUKUOKA, KANAGAWA, ODAWARA, YAMAGATA
from tests.e2e.conftest import RunningNetwork
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_faults import admin, moved_in_order, set_fault

pytestmark = pytest.mark.e2e


def fan_out(network: RunningNetwork, requester: str = YAMAGATA, **providers: Any) -> httpx.Response:
    order = moved_in_order(network).model_dump(mode="json")
    del order["provider_code"]
    return httpx.post(
        network.url(requester) + "/v1/inquiries/fan-out",
        json=order | providers,
        timeout=30,
    )


def by_provider(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return {result["provider_code"]: result for result in results}


def test_holding_asks_every_provider_that_knows_the_person(net: RunningNetwork) -> None:
    response = fan_out(net, scope="holding")
    results = by_provider(response)
    assert response.json()["scope"] == "holding"
    assert list(results) == [net.code(ODAWARA)]
    [odawara] = results.values()
    assert (odawara["status_detail"], odawara["status_info_type"]) == ("09", "01")
    assert odawara["items"]


def test_permitted_asks_every_permitted_provider_each_recorded_on_its_own(
    net: RunningNetwork,
) -> None:
    response = fan_out(net, scope="permitted")
    results = by_provider(response)
    # Only municipalities hold local tax; the requester itself is never asked.
    assert list(results) == sorted([net.code(ODAWARA), net.code(FUKUOKA)])
    assert results[net.code(ODAWARA)]["error"] is None
    assert results[net.code(FUKUOKA)]["error"]["code"] == "IDN004"
    inquiry_ids = {result["inquiry_id"] for result in results.values()}
    assert len(inquiry_ids) == 2
    for provider_code, result in results.items():
        at_hub = httpx.get(
            f"{net.network.hub.url}/v1/records/{result['inquiry_id']}",
            headers=admin(net),
            timeout=10,
        ).json()
        assert at_hub["provider_code"] == provider_code
        assert at_hub["error_code"] == (result["error"] or {}).get("code")
        [at_requester] = httpx.get(
            net.url(YAMAGATA) + "/v1/records",
            params={"inquiry_id": result["inquiry_id"]},
            timeout=10,
        ).json()
        assert at_requester["provider_code"] == provider_code
    [at_provider] = httpx.get(
        net.url(ODAWARA) + "/v1/records",
        params={"inquiry_id": results[net.code(ODAWARA)]["inquiry_id"]},
        timeout=10,
    ).json()
    assert at_provider["side"] == "provider"


def test_listed_providers_are_asked_as_listed(net: RunningNetwork) -> None:
    """A listed provider the permission table does not allow gets PRM001 as its result."""
    results = by_provider(
        fan_out(net, provider_codes=[net.code(DIGITAL_AGENCY), net.code(ODAWARA)])
    )
    assert set(results) == {net.code(DIGITAL_AGENCY), net.code(ODAWARA)}
    assert results[net.code(DIGITAL_AGENCY)]["error"]["code"] == "PRM001"
    assert results[net.code(ODAWARA)]["error"] is None


def test_the_providers_are_asked_concurrently(net: RunningNetwork) -> None:
    """Two providers that each take 1.5 s answer a fan-out in well under 3 s."""
    for slug in (ODAWARA, FUKUOKA):
        assert set_fault(net, slug, {"latency_ms": 1500}).status_code == 200
    started = time.monotonic()
    results = by_provider(fan_out(net, scope="permitted"))
    elapsed = time.monotonic() - started
    assert len(results) == 2
    assert elapsed < 2.7, f"the fan-out took {elapsed:.2f} s: the providers were asked in turn"


def test_a_fan_out_is_refused_as_a_whole_when_nothing_can_be_asked(net: RunningNetwork) -> None:
    both = fan_out(net, scope="holding", provider_codes=[net.code(ODAWARA)])
    assert (both.status_code, both.json()["code"]) == (422, "VAL001")
    repeated = fan_out(net, provider_codes=[net.code(ODAWARA), net.code(ODAWARA)])
    assert (repeated.status_code, repeated.json()["code"]) == (422, "VAL001")
    # A prefecture may not ask for local tax from anyone: PRM001 for the whole request.
    order = moved_in_order(net).model_dump(mode="json")
    del order["provider_code"]
    order["atena_number"] = net.atena(KANAGAWA, "intractable_disease")
    refused = httpx.post(
        net.url(KANAGAWA) + "/v1/inquiries/fan-out", json=order | {"scope": "permitted"}
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "PRM001"


def test_the_command_line_fans_out(net: RunningNetwork) -> None:
    common = (
        "fan-out",
        "--from",
        YAMAGATA,
        "--procedure",
        "JT01010000000214",
        "--persona",
        "moved_in",
    )
    holding = ipnsim(*common, "--scope", "holding", "--json", data_dir=net.data_dir)
    assert holding.returncode == 0, holding.stdout + holding.stderr
    assert [r["provider_code"] for r in json_of(holding)["results"]] == [net.code(ODAWARA)]
    permitted = ipnsim(*common, "--scope", "permitted", data_dir=net.data_dir)
    assert permitted.returncode == 1, permitted.stdout + permitted.stderr
    assert "IDN004" in permitted.stdout and "2 providers" in permitted.stdout
    listed = ipnsim(*common, "--to", ODAWARA, "--to", FUKUOKA, "--json", data_dir=net.data_dir)
    assert len(json_of(listed)["results"]) == 2
    neither = ipnsim(*common, data_dir=net.data_dir)
    assert neither.returncode == 2
    assert "--scope" in neither.stdout + neither.stderr
    assert "Traceback" not in neither.stdout + neither.stderr
