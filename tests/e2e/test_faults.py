"""Faults on demand over real processes: set at the hub, felt by a business system's inquiry.

The network fixture is shared by every end-to-end test: each test here clears the hub's faults
when it ends, whatever happens, so the others see a healthy network.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from intermediate_server.schemas import InquiryOrder
from ipnsim.launcher import Launcher, LaunchError, find_free_port_block, port_is_free
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    InquiryRequest,
    InquiryResult,
    ProviderFault,
)
from tests.e2e.conftest import PROVIDER_TIMEOUT, RunningNetwork, small_launcher
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_personas import order_for, personas_of

pytestmark = pytest.mark.e2e

JST = dt.timezone(dt.timedelta(hours=9))


def admin(network: RunningNetwork) -> dict[str, str]:
    return {"Authorization": f"Bearer {network.network.admin_token}"}


def set_fault(network: RunningNetwork, slug: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(
        f"{network.network.hub.url}/v1/faults/{network.code(slug)}",
        json=body,
        headers=admin(network),
        timeout=10,
    )


def moved_in_order(network: RunningNetwork) -> InquiryOrder:
    """山形市 asks 小田原市 for local tax (JT01010000000214) about moved_in: 09/01 normally."""
    persona = next(p for p in personas_of(network).personas if p.name == "moved_in")
    assert persona.inquiry is not None
    assert (persona.inquiry.requester_slug, persona.inquiry.procedure_code) == (
        YAMAGATA,
        "JT01010000000214",
    )
    assert persona.inquiry.provider_code == network.code(ODAWARA)
    return order_for(persona.inquiry)


def send(network: RunningNetwork, headers: dict[str, str] | None = None) -> httpx.Response:
    """The business system's inquiry to 山形市's intermediate server, as it sends it."""
    return httpx.post(
        network.url(YAMAGATA) + "/v1/inquiries",
        json=moved_in_order(network).model_dump(mode="json"),
        headers=headers or {},
        timeout=30,
    )


def inquire(network: RunningNetwork, headers: dict[str, str] | None = None) -> InquiryResult:
    response = send(network, headers)
    assert response.status_code == 200, response.text
    return InquiryResult.model_validate_json(response.content)


def hub_record(network: RunningNetwork, inquiry_id: uuid.UUID) -> dict[str, Any]:
    response = httpx.get(
        f"{network.network.hub.url}/v1/records/{inquiry_id}", headers=admin(network), timeout=10
    )
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def requester_record(network: RunningNetwork, inquiry_id: uuid.UUID) -> dict[str, Any]:
    response = httpx.get(
        network.url(YAMAGATA) + "/v1/records",
        params={"inquiry_id": str(inquiry_id)},
        timeout=10,
    )
    [record] = response.json()
    assert isinstance(record, dict)
    return record


def assert_failed_and_recorded(network: RunningNetwork, result: InquiryResult, code: str) -> None:
    assert result.error is not None, result
    assert result.error.code == code
    assert (result.status_detail.value, result.status_info_type.value) == ("99", "99")
    assert result.items == []
    at_hub = hub_record(network, result.inquiry_id)
    assert at_hub["error_code"] == code
    assert (at_hub["status_detail"], at_hub["status_info_type"]) == ("99", "99")
    assert requester_record(network, result.inquiry_id)["error_code"] == code


def assert_normal(result: InquiryResult) -> None:
    assert result.error is None, result.error
    assert (result.status_detail.value, result.status_info_type.value) == ("09", "01")
    assert result.items


def window_excluding_now() -> str:
    """Online hours that start two hours from now (JST), so now is outside them."""
    now = dt.datetime.now(JST)
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    return f"{start}-{end}"


def window_including_now() -> str:
    now = dt.datetime.now(JST)
    start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=1)).strftime("%H:%M")
    return f"{start}-{end}"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"down": True}, "AVL001"),
        ({"timeout": True}, "AVL002"),
        ({"error_rate": 1.0, "error_code": "AVL005", "seed": 3}, "AVL005"),
        ({"force_code": "PRM001"}, "PRM001"),
        ({"force_code": "IDN004"}, "IDN004"),
        ({"online_hours": "__outside__"}, "AVL006"),
    ],
)
def test_each_fault_set_over_http_is_felt_recorded_and_cleared(
    net: RunningNetwork, fault: dict[str, Any], code: str
) -> None:
    if fault.get("online_hours") == "__outside__":
        fault = {"online_hours": window_excluding_now()}
    response = set_fault(net, ODAWARA, fault)
    assert response.status_code == 200, response.text
    assert ProviderFault.model_validate_json(response.content).agency_code == net.code(ODAWARA)

    started = time.monotonic()
    result = inquire(net)
    elapsed = time.monotonic() - started

    assert_failed_and_recorded(net, result, code)
    assert result.error is not None
    if code == "AVL002":
        assert elapsed >= PROVIDER_TIMEOUT
        assert f"{PROVIDER_TIMEOUT:g} seconds" in result.error.message_en
    if code == "AVL006":
        hours = fault["online_hours"]
        assert hours in result.error.message_en
        assert "オンライン時間" in result.error.message_ja
    delete = httpx.delete(
        f"{net.network.hub.url}/v1/faults/{net.code(ODAWARA)}", headers=admin(net), timeout=10
    )
    assert delete.status_code == 204
    assert_normal(inquire(net))


def test_a_fault_touches_only_its_provider(net: RunningNetwork) -> None:
    assert set_fault(net, YAMAGATA, {"down": True}).status_code == 200

    assert_normal(inquire(net))


def test_latency_delays_the_answer_but_it_still_arrives(net: RunningNetwork) -> None:
    assert set_fault(net, ODAWARA, {"latency_ms": 600}).status_code == 200

    started = time.monotonic()
    result = inquire(net)

    assert time.monotonic() - started >= 0.6
    assert_normal(result)


def test_latency_beyond_the_hubs_timeout_is_a_timeout(net: RunningNetwork) -> None:
    assert set_fault(net, ODAWARA, {"latency_range_ms": [5000, 9000]}).status_code == 200

    started = time.monotonic()
    result = inquire(net)

    assert PROVIDER_TIMEOUT <= time.monotonic() - started < 5
    assert_failed_and_recorded(net, result, "AVL002")


def test_within_online_hours_the_provider_answers(net: RunningNetwork) -> None:
    assert set_fault(net, ODAWARA, {"online_hours": window_including_now()}).status_code == 200

    assert_normal(inquire(net))


def test_the_error_rate_follows_its_seed(net: RunningNetwork) -> None:
    assert (
        set_fault(net, ODAWARA, {"error_rate": 0.5, "error_code": "AVL001", "seed": 11}).status_code
        == 200
    )
    draws = random.Random(11)
    expected = ["AVL001" if draws.random() < 0.5 else None for _ in range(8)]
    assert None in expected and "AVL001" in expected

    outcomes = [inquire(net).error for _ in range(8)]

    assert [error.code if error else None for error in outcomes] == expected


def test_the_admin_api_lists_and_refuses(net: RunningNetwork) -> None:
    hub = net.network.hub.url
    assert set_fault(net, ODAWARA, {"force_code": "rpl001"}).status_code == 200
    listed = httpx.get(hub + "/v1/faults", headers=admin(net), timeout=10)
    unknown = httpx.put(
        hub + "/v1/faults/2001692600000000", json={"down": True}, headers=admin(net), timeout=10
    )
    bad = set_fault(net, ODAWARA, {"latency_ms": 10, "latency_range_ms": [1, 2]})
    not_forceable = set_fault(net, ODAWARA, {"force_code": "AVL003"})
    no_token = httpx.get(hub + "/v1/faults", timeout=10)

    assert [ProviderFault.model_validate(item) for item in listed.json()] == [
        ProviderFault(agency_code=net.code(ODAWARA), force_code="RPL001")
    ]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "AGY001")
    assert (bad.status_code, bad.json()["code"]) == (422, "VAL001")
    assert "not both" in bad.json()["message_en"]
    assert not_forceable.json()["code"] == "VAL001"
    assert "requester's server" in not_forceable.json()["details"][0]["problem"]
    assert (no_token.status_code, no_token.json()["code"]) == (401, "AUT001")
    # A forced "no replica" is processed, with status 09/02, like the real one.
    result = inquire(net)
    assert result.error is not None and result.error.code == "RPL001"
    assert (result.status_detail.value, result.status_info_type.value) == ("09", "02")
    assert hub_record(net, result.inquiry_id)["error_code"] == "RPL001"


def test_faults_through_the_command_line(net: RunningNetwork) -> None:
    data_dir = net.data_dir
    down = ipnsim("fault", "set", "odawara", "--down", data_dir=data_dir)
    assert down.returncode == 0, down.stderr
    assert "down (AVL001)" in down.stdout

    listed = ipnsim("fault", "list", "--json", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert [ProviderFault.model_validate(item) for item in json_of(listed)] == [
        ProviderFault(agency_code=net.code(ODAWARA), down=True)
    ]
    assert_failed_and_recorded(net, inquire(net), "AVL001")

    by_code = ipnsim(
        "fault",
        "set",
        net.code(ODAWARA),
        "--latency-range",
        "10:20",
        "--error-rate",
        "1",
        "--code",
        "AVL005",
        "--online-hours",
        window_including_now(),
        data_dir=data_dir,
    )
    assert by_code.returncode == 0, by_code.stderr
    table = ipnsim("fault", "list", data_dir=data_dir)
    assert "error rate 1 → AVL005" in table.stdout
    assert "latency 10–20 ms" in table.stdout
    assert_failed_and_recorded(net, inquire(net), "AVL005")

    forced = ipnsim("fault", "set", "odawara", "--force", "AVL002", data_dir=data_dir)
    assert forced.returncode == 0, forced.stderr
    assert_failed_and_recorded(net, inquire(net), "AVL002")

    timeout = ipnsim("fault", "set", "odawara", "--timeout", data_dir=data_dir)
    assert timeout.returncode == 0, timeout.stderr
    assert_failed_and_recorded(net, inquire(net), "AVL002")

    offline = ipnsim(
        "fault", "set", "odawara", "--online-hours", window_excluding_now(), data_dir=data_dir
    )
    assert offline.returncode == 0, offline.stderr
    assert_failed_and_recorded(net, inquire(net), "AVL006")

    cleared = ipnsim("fault", "clear", "odawara", data_dir=data_dir)
    assert cleared.returncode == 0, cleared.stderr
    assert ipnsim("fault", "list", data_dir=data_dir).stdout.strip() == "no faults in force"
    assert_normal(inquire(net))

    assert ipnsim("fault", "set", "fukuoka", "--down", data_dir=data_dir).returncode == 0
    assert ipnsim("fault", "clear", data_dir=data_dir).returncode == 0
    assert json_of(ipnsim("fault", "list", "--json", data_dir=data_dir)) == []


def test_the_command_line_explains_bad_faults(net: RunningNetwork) -> None:
    data_dir = net.data_dir
    cases = [
        (("fault", "set", "nowhere", "--down"), 2, "no agency 'nowhere'"),
        (("fault", "set", "odawara"), 2, "sets no failure"),
        (("fault", "set", "odawara", "--force", "IDN001"), 2, "requester's server"),
        (("fault", "set", "odawara", "--error-rate", "0.5"), 2, "go together"),
        (("fault", "set", "odawara", "--latency-range", "9-1"), 2, "MIN:MAX"),
        (("fault", "set", "odawara", "--online-hours", "8時-20時"), 2, "HH:MM-HH:MM"),
        (("fault", "set", "2001692600000000", "--down"), 1, "AGY001"),
    ]
    for args, status, message in cases:
        result = ipnsim(*args, data_dir=data_dir)
        assert result.returncode == status, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert json_of(ipnsim("fault", "list", "--json", data_dir=data_dir)) == []


@pytest.mark.parametrize("code", ["AVL001", "AVL002", "AVL006", "PRM001", "SYS001"])
def test_the_forced_outcome_header_is_answered_and_recorded(net: RunningNetwork, code: str) -> None:
    response = send(net, {FORCE_OUTCOME_HEADER: code.lower()})

    if code == "SYS001":
        # A code of any service (not of the hub or the provider) cannot be forced.
        assert response.status_code == 422
        assert response.json()["code"] == "VAL001"
        assert response.json()["details"][0]["field"] == FORCE_OUTCOME_HEADER
        return
    assert response.status_code == 200, response.text
    result = InquiryResult.model_validate_json(response.content)
    assert_failed_and_recorded(net, result, code)
    assert_normal(inquire(net))


def test_a_forced_outcome_wins_over_a_fault_in_force(net: RunningNetwork) -> None:
    assert set_fault(net, ODAWARA, {"down": True}).status_code == 200

    result = inquire(net, {FORCE_OUTCOME_HEADER: "AVL005"})

    assert_failed_and_recorded(net, result, "AVL005")


def test_an_unknown_forced_outcome_is_val001_naming_the_header(net: RunningNetwork) -> None:
    before = httpx.get(net.url(YAMAGATA) + "/v1/records", timeout=10).json()

    response = send(net, {FORCE_OUTCOME_HEADER: "NOPE42"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VAL001"
    assert FORCE_OUTCOME_HEADER in body["message_en"]
    assert "not a catalogued error code" in body["details"][0]["problem"]
    assert httpx.get(net.url(YAMAGATA) + "/v1/records", timeout=10).json() == before


def test_the_hub_honours_and_checks_the_header_itself(net: RunningNetwork) -> None:
    """An intermediate server built by a vendor may send the header to the hub directly."""
    order = moved_in_order(net)
    person = httpx.get(f"{net.url(YAMAGATA)}/v1/people/{order.atena_number}", timeout=10).json()

    def request() -> dict[str, Any]:
        return InquiryRequest(
            inquiry_id=uuid.uuid4(),
            requester_code=net.code(YAMAGATA),
            requester_pseudonym=person["pseudonym"],
            affair_code=order.affair_code,
            procedure_code=order.procedure_code,
            info_type_code=order.info_type_code,
            provider_code=order.provider_code,
            condition=order.condition,
            requested_at=dt.datetime.now(dt.UTC),
        ).model_dump(mode="json")

    def post(body: dict[str, Any], code: str) -> httpx.Response:
        return httpx.post(
            net.network.hub.url + "/v1/inquiries",
            json=body,
            headers={
                "Authorization": f"Bearer {net.credential(YAMAGATA)}",
                FORCE_OUTCOME_HEADER: code,
            },
            timeout=10,
        )

    refused_body = request()
    refused = post(refused_body, "RPL002")
    forced = post(request(), "AVL005")

    assert refused.status_code == 422
    assert refused.json()["code"] == "VAL001"
    assert refused.json()["details"][0]["field"] == FORCE_OUTCOME_HEADER
    missing = httpx.get(
        f"{net.network.hub.url}/v1/records/{refused_body['inquiry_id']}",
        headers=admin(net),
        timeout=10,
    )
    assert missing.json()["code"] == "REC001"
    assert forced.status_code == 200, forced.text
    result = InquiryResult.model_validate_json(forced.content)
    assert result.error is not None and result.error.code == "AVL005"
    assert hub_record(net, result.inquiry_id)["error_code"] == "AVL005"


# --- the faults file at start-up ----------------------------------------------------------------


def odawara_launcher(tmp_path: Path, faults_file: Path) -> Launcher:
    """The hub, 小田原市 and the resident registry, with the faults of ``faults_file``."""
    return small_launcher(
        tmp_path / "network",
        (ODAWARA,),
        population=5,
        faults_file=faults_file,
        startup_timeout=60,
    )


def test_the_hub_starts_with_the_faults_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    code = agency_by_slug(ODAWARA).code
    path.write_text(json.dumps([{"agency_code": code, "timeout": True}]), encoding="utf-8")
    launcher = odawara_launcher(tmp_path, path)
    try:
        started = launcher.start()
        listed = httpx.get(
            started.hub.url + "/v1/faults",
            headers={"Authorization": f"Bearer {started.admin_token}"},
            timeout=10,
        )
    finally:
        launcher.stop()

    assert [ProviderFault.model_validate(item) for item in listed.json()] == [
        ProviderFault(agency_code=code, timeout=True)
    ]


def test_the_hub_refuses_to_start_with_a_bad_faults_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text('[{"agency_code": "2001692600000000", "down": true}]', encoding="utf-8")
    launcher = odawara_launcher(tmp_path, path)

    try:
        with pytest.raises(LaunchError) as caught:
            launcher.start()
    finally:
        launcher.stop()

    assert "hub exited" in str(caught.value)
    assert str(path) in str(caught.value)
    assert "not in the hub's registry: 2001692600000000" in str(caught.value)


def test_up_checks_that_the_faults_file_exists(tmp_path: Path) -> None:
    result = ipnsim("up", "--faults", str(tmp_path / "absent.json"), data_dir=tmp_path)

    assert result.returncode == 2
    assert "absent.json" in result.stderr
    assert not (tmp_path / "network.json").exists()


def ipnsim_serving_on(ports: range) -> list[int]:
    """Process ids of ``ipnsim serve`` processes listening (or about to) on one of ``ports``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended meanwhile
            continue
        if "ipnsim" in args and "serve" in args and "--port" in args:
            port = args[args.index("--port") + 1]
            if port.isdigit() and int(port) in ports:
                found.append(int(proc.name))
    return found


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"agency_code": "2014206900000000", "down": tru', "not JSON"),
        ('{"agency_code": "2014206900000000", "down": true}', "not a list of faults"),
    ],
    ids=["not-json", "not-a-list"],
)
def test_up_with_a_malformed_faults_file_stops_and_says_why(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "faults.json"
    path.write_text(content, encoding="utf-8")
    port = find_free_port_block(3)  # the hub, 小田原市, the resident registry

    result = ipnsim(
        "up",
        "--port",
        str(port),
        "--agencies",
        ODAWARA,
        "--population",
        "5",
        "--faults",
        str(path),
        data_dir=tmp_path / "network",
        timeout=120,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert str(path) in last_line and reason in last_line, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    left_running = ipnsim_serving_on(range(port, port + 3))
    for pid in left_running:  # so that a failure here leaves nothing behind either
        os.kill(pid, signal.SIGTERM)
    assert left_running == []
    assert all(port_is_free("127.0.0.1", port + offset) for offset in range(3))
