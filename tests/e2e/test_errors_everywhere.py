"""Error codes over a running network: every service explains every code, every error answer
links to an explanation that resolves on the same service, and the hub counts where errors
cluster (``GET /v1/stats/errors`` and ``ipnsim stats errors``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from agencies.personas import LIFELONG_YAMAGATA, NOT_PERMITTED, REGISTERED_WITHOUT_TAX
from error_codes import CATALOGUE
from error_codes.http import ErrorExplanation
from ipnsim.launcher import ServiceInfo
from network.protocol.models import ErrorStatistics, InquiryResult
from tests.e2e.conftest import RunningNetwork, run
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_personas import order_for, personas_of

pytestmark = pytest.mark.e2e

ERROR_FIELDS = ("code", "message_ja", "message_en", "explanation")


def services(network: RunningNetwork) -> list[ServiceInfo]:
    found = network.network.services
    assert {service.role for service in found} == {"hub", "agency", "registry"}
    return found


def test_every_service_explains_every_code(network: RunningNetwork) -> None:
    expected = [
        ErrorExplanation.model_validate(entry, from_attributes=True).model_dump(mode="json")
        for entry in CATALOGUE.values()
    ]
    with httpx.Client(timeout=10) as client:
        for service in services(network):
            listed = client.get(f"{service.url}/v1/errors")
            assert listed.status_code == 200, service.name
            assert listed.json() == expected, service.name
            for code, explained in zip(CATALOGUE, expected, strict=True):
                for asked in (code, code.lower()):
                    answer = client.get(f"{service.url}/v1/errors/{asked}")
                    assert answer.status_code == 200, (service.name, asked)
                    assert answer.json() == explained


def check_error(client: httpx.Client, service: ServiceInfo, response: httpx.Response) -> str:
    """The answer is an error body whose explanation resolves on the same service."""
    assert response.status_code >= 400, (service.name, response.request.url)
    body = response.json()
    for name in ERROR_FIELDS:
        assert isinstance(body.get(name), str) and body[name], (service.name, name, body)
    code: str = body["code"]
    assert code in CATALOGUE
    assert response.status_code == CATALOGUE[code].http_status
    assert body["explanation"] == f"/v1/errors/{code}"
    explained = client.get(service.url + body["explanation"])
    assert explained.status_code == 200, (service.name, body["explanation"])
    assert explained.json()["code"] == code
    assert explained.json()["message_en"] == CATALOGUE[code].message_en
    return code


def requests_that_fail(network: RunningNetwork, service: ServiceInfo) -> list[tuple[Any, ...]]:
    """(method, path, keyword arguments, expected code) of requests this service refuses."""
    common: list[tuple[Any, ...]] = [
        ("GET", "/v1/no-such-thing", {}, "VAL004"),
        ("DELETE", "/health", {}, "VAL005"),
        ("GET", "/v1/errors/XYZ999", {}, "VAL006"),
        ("GET", "/v1/errors/not-a-code", {}, "VAL006"),
    ]
    if service.role == "hub":
        agency = {"Authorization": f"Bearer {network.credential(YAMAGATA)}"}
        return [
            *common,
            ("GET", "/v1/records", {}, "AUT001"),
            ("GET", "/v1/stats/errors", {"headers": agency}, "AUT001"),
            ("POST", "/v1/pseudonyms", {"json": {}, "headers": agency}, "VAL001"),
            (
                "POST",
                "/v1/pseudonyms",
                {"content": b"{", "headers": agency | {"Content-Type": "application/json"}},
                "VAL002",
            ),
            ("GET", "/v1/personas/nobody", {}, "VAL006"),
        ]
    if service.role == "agency":
        return [
            *common,
            ("POST", "/v1/people", {"json": {}}, "VAL001"),
            (
                "POST",
                "/v1/people",
                {"content": b"not json", "headers": {"Content-Type": "application/json"}},
                "VAL002",
            ),
            ("GET", "/v1/people/000000000000000", {}, "IDN002"),
            ("POST", "/hub/provisions", {"json": {}}, "AUT001"),
        ]
    return [
        *common,
        ("POST", "/v1/lookup", {"json": {}}, "VAL001"),
        (
            "POST",
            "/v1/lookup",
            {"json": {"name": "存在 しない", "birth_date": "1900-01-01", "sex": "male"}},
            "IDN007",
        ),
    ]


def test_every_error_answer_links_to_an_explanation_on_the_same_service(
    network: RunningNetwork,
) -> None:
    with httpx.Client(timeout=10) as client:
        for service in services(network):
            for method, path, arguments, expected in requests_that_fail(network, service):
                response = client.request(method, service.url + path, **arguments)
                code = check_error(client, service, response)
                assert code == expected, (service.name, method, path, response.json())


def test_an_inquiry_error_links_to_its_explanation_at_the_requester(
    network: RunningNetwork,
) -> None:
    persona = next(p for p in personas_of(network).personas if p.name == LIFELONG_YAMAGATA)
    assert persona.inquiry is not None
    requester = network.network.agency(persona.inquiry.requester_slug)
    with httpx.Client(timeout=10) as client:
        answer = client.post(
            f"{requester.url}/v1/inquiries",
            json=order_for(persona.inquiry).model_dump(mode="json", exclude_none=True),
        )
        assert answer.status_code == 200
        error = answer.json()["error"]
        assert error["code"] == "IDN004"
        for name in ERROR_FIELDS:
            assert error[name]
        explained = client.get(requester.url + error["explanation"])
        assert explained.status_code == 200
        assert explained.json()["cause"] == CATALOGUE["IDN004"].cause


# --- where errors cluster -----------------------------------------------------------------


def hub_statistics(network: RunningNetwork, days: int = 7) -> ErrorStatistics:
    async def fetch() -> ErrorStatistics:
        async with network.hub() as hub:
            return await hub.error_statistics(days)

    return run(fetch())


def counted(statistics: ErrorStatistics) -> Counter[tuple[str, str, dt.date]]:
    return Counter({(c.provider_code, c.error_code, c.day): c.count for c in statistics.counts})


def send_persona_inquiries(network: RunningNetwork, names: list[str]) -> list[InquiryResult]:
    personas = {persona.name: persona for persona in personas_of(network).personas}

    async def send() -> list[InquiryResult]:
        results = []
        for name in names:
            inquiry = personas[name].inquiry
            assert inquiry is not None
            async with network.agency(inquiry.requester_slug) as client:
                results.append(await client.inquire(order_for(inquiry)))
        return results

    return run(send())


def test_hub_counts_failed_inquiries_by_provider_code_and_day(network: RunningNetwork) -> None:
    before = hub_statistics(network)
    names = [LIFELONG_YAMAGATA] * 3 + [NOT_PERMITTED] * 2 + [REGISTERED_WITHOUT_TAX]
    results = send_persona_inquiries(network, names)
    # A successful inquiry is not counted.
    send_persona_inquiries(network, ["moved_in"])
    after = hub_statistics(network)

    expected: Counter[tuple[str, str, dt.date]] = Counter()
    for result in results:
        assert result.error is not None
        day = result.requested_at.astimezone(dt.UTC).date()
        expected[(result.provider_code, result.error.code, day)] += 1
    assert sorted({code for _, code, _ in expected}) == ["IDN004", "PRM001", "RPL001"]
    assert counted(after) - counted(before) == expected
    assert after.total - before.total == len(names)
    assert after.total == sum(c.count for c in after.counts)
    assert after.until == dt.datetime.now(dt.UTC).date()
    assert after.since == after.until - dt.timedelta(days=6)
    names_by_code = {c.provider_code: c.provider_name for c in after.counts}
    assert names_by_code[network.code(ODAWARA)] == "小田原市"

    # The command line shows the same counts, the worst provider first.
    shown = ipnsim("stats", "errors", "--json", data_dir=network.data_dir)
    assert shown.returncode == 0, shown.stderr
    assert ErrorStatistics.model_validate(json_of(shown)) == after

    table = ipnsim("stats", "errors", "--days", "3", data_dir=network.data_dir)
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stdout + table.stderr
    totals: Counter[str] = Counter()
    for count in hub_statistics(network, 3).counts:
        totals[count.provider_code] += count.count
    lines = table.stdout.splitlines()
    first = next(line for line in lines if any(code in line for code in totals))
    assert totals[next(code for code in totals if code in first)] == max(totals.values())
    for code, total in totals.items():
        assert any(code in line and f" {total} " in line for line in lines), code
    for code in ("IDN004", "PRM001", "RPL001"):
        assert code in table.stdout
    assert f"{sum(totals.values())} failed inquiries in the last 3 days" in table.stdout


def test_error_statistics_are_for_the_operator_only(network: RunningNetwork) -> None:
    url = f"{network.network.hub.url}/v1/stats/errors"
    operator = {"Authorization": f"Bearer {network.network.admin_token}"}
    with httpx.Client(timeout=10) as client:
        assert client.get(url).json()["code"] == "AUT001"
        wrong = client.get(url, headers={"Authorization": "Bearer not-the-token"})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "AUT001")
        for days in ("0", "367", "week"):
            refused = client.get(url, params={"days": days}, headers=operator)
            assert (refused.status_code, refused.json()["code"]) == (422, "VAL001")
            assert refused.json()["details"][0]["field"] == "days"
        answered = client.get(url, params={"days": "366"}, headers=operator)
        assert answered.status_code == 200
        assert answered.json()["days"] == 366
