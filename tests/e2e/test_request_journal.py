"""The request journal over real processes: what the business system sent, and the verdict."""

from __future__ import annotations

import uuid

import httpx
import pytest

from agencies.catalogue import YAMAGATA
from tests.e2e.conftest import RunningNetwork
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_faults import moved_in_order

pytestmark = pytest.mark.e2e


def journal(network: RunningNetwork, **query: str) -> list[dict[str, object]]:
    response = httpx.get(network.url(YAMAGATA) + "/v1/journal", params=query, timeout=10)
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


def test_every_request_and_its_verdict_is_journalled(network: RunningNetwork) -> None:
    marker = f"/v1/people/{uuid.uuid4().int % 10**15:015d}"
    with httpx.Client(base_url=network.url(YAMAGATA), timeout=30) as yamagata:
        ok = yamagata.post("/v1/inquiries", json=moved_in_order(network).model_dump(mode="json"))
        assert ok.status_code == 200
        near_miss = moved_in_order(network).model_dump(mode="json")
        near_miss["atena_number"] = "12345"
        del near_miss["provider_code"]
        refused = yamagata.post("/v1/inquiries", json=near_miss)
        assert refused.status_code == 422
        unknown = yamagata.get(marker)
        assert unknown.json()["code"] == "IDN002"

    newest = journal(network, limit="3")
    assert [entry["path"] for entry in newest] == [marker, "/v1/inquiries", "/v1/inquiries"]
    assert [entry["verdict"] for entry in newest] == ["refused", "refused", "accepted"]
    assert newest[0]["error_code"] == "IDN002"
    assert newest[1]["error_code"] == "VAL001"
    fields = {detail["field"] for detail in newest[1]["details"]}  # type: ignore[attr-defined]
    assert fields == {"atena_number", "provider_code"}
    assert all(entry["method"] in {"GET", "POST"} for entry in newest)
    # Reading the journal is not itself journalled.
    assert journal(network, limit="1")[0]["path"] == marker
    assert all(entry["verdict"] == "refused" for entry in journal(network, refused_only="true"))

    shown = ipnsim(
        "journal",
        "--agency",
        YAMAGATA,
        "--refused",
        "--limit",
        "2",
        "--json",
        data_dir=network.data_dir,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert [entry["path"] for entry in json_of(shown)] == [marker, "/v1/inquiries"]
    table = ipnsim("journal", "--agency", YAMAGATA, data_dir=network.data_dir)
    assert table.returncode == 0 and "VAL001" in table.stdout and "atena_number" in table.stdout


def test_the_journal_holds_no_request_body(network: RunningNetwork) -> None:
    person = network.population.persona_person("moved_in")
    with httpx.Client(base_url=network.url(YAMAGATA), timeout=30) as yamagata:
        yamagata.post(
            "/v1/people",
            json={
                "atena_number": "12",
                "resident_code": person.resident_code,
                "my_number": person.my_number,
            },
        )
    text = httpx.get(network.url(YAMAGATA) + "/v1/journal", params={"limit": "50"}).text
    assert person.resident_code not in text
    if person.my_number:
        assert person.my_number not in text
