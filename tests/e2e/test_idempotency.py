"""Idempotency keys over real processes: a retried inquiry is answered once and recorded once.

The business system sends ``Idempotency-Key`` with ``POST /v1/inquiries`` on the requester's
intermediate server (山形市 here); the inquiry crosses the hub to 小田原市 as usual.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from network.protocol.models import FORCE_OUTCOME_HEADER, InquiryResult
from tests.e2e.conftest import RunningNetwork, clear_faults
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_faults import moved_in_order, set_fault

pytestmark = pytest.mark.e2e


def send(
    network: RunningNetwork, key: str | None, *, fiscal_year: int | None = None, **headers: str
) -> httpx.Response:
    order = moved_in_order(network).model_dump(mode="json")
    if fiscal_year is not None:
        order["condition"] = {"kind": "fiscal_year", "fiscal_year": fiscal_year}
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(
        network.url(YAMAGATA) + "/v1/inquiries", json=order, headers=headers, timeout=30
    )


def record_counts(network: RunningNetwork) -> tuple[int, int, int]:
    """How many records the requester, the hub (the person's view) and the provider hold."""
    requester_atena = network.atena(YAMAGATA, "moved_in")
    at_requester = httpx.get(
        network.url(YAMAGATA) + "/v1/records", params={"atena_number": requester_atena}
    ).json()
    at_hub = httpx.get(
        f"{network.url(YAMAGATA)}/v1/people/{requester_atena}/disclosure", timeout=10
    ).json()["records"]
    at_provider = httpx.get(
        network.url(ODAWARA) + "/v1/records",
        params={"atena_number": network.atena(ODAWARA, "moved_in")},
    ).json()
    return len(at_requester), len(at_hub), len(at_provider)


def test_a_repeat_returns_the_first_answer_and_records_nothing_more(net: RunningNetwork) -> None:
    key = str(uuid.uuid4())
    before = record_counts(net)
    first = send(net, key)
    assert first.status_code == 200, first.text
    assert first.headers["Idempotent-Replayed"] == "false"
    after_first = record_counts(net)
    assert after_first == tuple(count + 1 for count in before)

    repeat = send(net, key)
    assert repeat.status_code == 200, repeat.text
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    assert InquiryResult.model_validate_json(repeat.content).items
    assert record_counts(net) == after_first


def test_without_a_key_every_request_is_a_new_inquiry(net: RunningNetwork) -> None:
    before = record_counts(net)
    first, second = send(net, None), send(net, None)
    assert first.json()["inquiry_id"] != second.json()["inquiry_id"]
    assert "Idempotent-Replayed" not in first.headers
    assert record_counts(net) == tuple(count + 2 for count in before)


def test_the_same_key_with_other_content_is_idm001(net: RunningNetwork) -> None:
    key = str(uuid.uuid4())
    assert send(net, key).status_code == 200
    before = record_counts(net)
    other = send(net, key, fiscal_year=2024)
    assert other.status_code == 422, other.text
    body = other.json()
    assert body["code"] == "IDM001"
    assert body["category"] == "idempotency"
    assert body["origin"] == "requester_server"
    assert key in body["message_en"]
    assert body["explanation"] == "/v1/errors/IDM001"
    # A forced outcome is content too: it would change the answer.
    forced = send(net, key, **{FORCE_OUTCOME_HEADER: "AVL001"})
    assert forced.json()["code"] == "IDM001"
    assert record_counts(net) == before


def test_a_repeat_while_the_first_is_in_flight_is_idm002_with_retry_after(
    net: RunningNetwork,
) -> None:
    """小田原市 answers slowly (a latency fault); the repeat arrives meanwhile."""
    assert set_fault(net, ODAWARA, {"latency_ms": 1500}).status_code == 200
    key = str(uuid.uuid4())
    before = record_counts(net)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(send, net, key)
        time.sleep(0.5)
        repeat = send(net, key)
        assert repeat.status_code == 409, repeat.text
        assert repeat.json()["code"] == "IDM002"
        assert repeat.json()["retryable"] is True
        assert int(repeat.headers["Retry-After"]) >= 1
        answered = first.result(timeout=30)
    assert answered.status_code == 200, answered.text
    clear_faults(net)
    later = send(net, key)
    assert later.headers["Idempotent-Replayed"] == "true"
    assert later.json() == answered.json()
    assert record_counts(net) == tuple(count + 1 for count in before)


def test_an_error_answer_is_kept_for_its_key_too(net: RunningNetwork) -> None:
    """A provider timeout is an answer that was recorded: the repeat gets the same answer."""
    key = str(uuid.uuid4())
    first = send(net, key, **{FORCE_OUTCOME_HEADER: "AVL001"})
    assert first.status_code == 200
    assert first.json()["error"]["code"] == "AVL001"
    repeat = send(net, key, **{FORCE_OUTCOME_HEADER: "AVL001"})
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()


def test_a_request_refused_before_sending_leaves_its_key_free(net: RunningNetwork) -> None:
    key = str(uuid.uuid4())
    order = moved_in_order(net).model_dump(mode="json")
    order["procedure_code"] = "JT99999999999999"
    refused = httpx.post(
        net.url(YAMAGATA) + "/v1/inquiries",
        json=order,
        headers={"Idempotency-Key": key},
        timeout=30,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "VAL006"
    corrected = send(net, key)
    assert corrected.status_code == 200, corrected.text
    assert corrected.headers["Idempotent-Replayed"] == "false"


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "全角"])
def test_a_malformed_key_is_val001_naming_the_header(net: RunningNetwork, key: str) -> None:
    response = httpx.post(
        net.url(YAMAGATA) + "/v1/inquiries",
        json=moved_in_order(net).model_dump(mode="json"),
        headers={"Idempotency-Key": key.encode()},
        timeout=30,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VAL001"
    assert "Idempotency-Key" in response.json()["message_en"]


def test_the_command_line_sends_a_key(net: RunningNetwork) -> None:
    key = str(uuid.uuid4())
    arguments = (
        "inquire",
        "--from",
        YAMAGATA,
        "--to",
        ODAWARA,
        "--procedure",
        "JT01010000000214",
        "--persona",
        "moved_in",
        "--idempotency-key",
        key,
        "--json",
    )
    first = ipnsim(*arguments, data_dir=net.data_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    repeat = ipnsim(*arguments, data_dir=net.data_dir)
    assert repeat.returncode == 0, repeat.stdout + repeat.stderr
    assert json_of(repeat)["inquiry_id"] == json_of(first)["inquiry_id"]
