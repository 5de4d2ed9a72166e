"""Manual-response hold (自動応答不可) over real processes: the manual_response_hold persona's
inquiry (山形市 → 福岡市) waits for Fukuoka's staff, who answer or decline it, or it expires;
the requester, the hub and the provider all end with the final state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from agencies.catalogue import FUKUOKA, YAMAGATA, agency_by_slug
from agencies.personas import MANUAL_RESPONSE_HOLD
from intermediate_server.schemas import ManualAnswer, ManualDecline
from ipnsim.client import HubOperatorClient, ServiceError
from ipnsim.launcher import Launcher, NetworkFile
from ipnsim.manual_commands import StaffClient
from network.protocol.models import InquiryResult, PersonaInquiry, ProvisionRecord
from tests.e2e.conftest import RunningNetwork, run, small_network, started
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_personas import order_for, personas_of

pytestmark = pytest.mark.e2e


def persona_inquiry(network: RunningNetwork) -> PersonaInquiry:
    persona = next(p for p in personas_of(network).personas if p.name == MANUAL_RESPONSE_HOLD)
    assert persona.feature is None
    assert persona.inquiry is not None
    assert (persona.inquiry.requester_slug, persona.inquiry.provider_slug) == (YAMAGATA, FUKUOKA)
    assert persona.inquiry.procedure_code == "JT01010000000214"
    return persona.inquiry


def send(url: str, inquiry: PersonaInquiry) -> InquiryResult:
    async def go() -> InquiryResult:
        async with StaffClient(url) as client:
            return await client.inquire(order_for(inquiry))

    return run(go())


def result_at(url: str, inquiry_id: uuid.UUID) -> InquiryResult:
    async def go() -> InquiryResult:
        async with StaffClient(url) as client:
            return await client.inquiry_result(inquiry_id)

    return run(go())


def copies(network: NetworkFile, inquiry_id: uuid.UUID) -> dict[str, ProvisionRecord]:
    """The three copies of the record: requester's (yamagata), hub's, provider's (fukuoka)."""

    async def go() -> dict[str, ProvisionRecord]:
        found: dict[str, ProvisionRecord] = {}
        for slug in (YAMAGATA, FUKUOKA):
            async with StaffClient(network.agency(slug).url) as client:
                [found[slug]] = await client.records(inquiry_id=inquiry_id)
        async with HubOperatorClient(network.hub.url, network.admin_token) as hub:
            found["hub"] = await hub.record(inquiry_id)
        return found

    return run(go())


def final_states(network: NetworkFile, inquiry_id: uuid.UUID) -> set[tuple[str, str, str | None]]:
    return {
        (record.status_detail.value, record.status_info_type.value, record.error_code)
        for record in copies(network, inquiry_id).values()
    }


def wait_for_final(url: str, inquiry_id: uuid.UUID, seconds: float = 20) -> InquiryResult:
    deadline = time.monotonic() + seconds
    while True:
        result = result_at(url, inquiry_id)
        if result.error is None or result.error.code != "MAN001":
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"inquiry {inquiry_id} still pending after {seconds}s")
        time.sleep(0.2)


def assert_pending(result: InquiryResult) -> None:
    assert (result.status_detail.value, result.status_info_type.value) == ("05", "05")
    assert result.error is not None and result.error.code == "MAN001"
    assert result.error.message_ja == "自動応答不可のため、情報提供者の職員による回答待ちです。"
    assert result.items == []


def test_staff_answer_reaches_the_requester_and_completes_every_record(
    network: RunningNetwork,
) -> None:
    inquiry = persona_inquiry(network)
    yamagata = network.url(YAMAGATA)
    pending = send(yamagata, inquiry)
    assert_pending(pending)
    assert result_at(yamagata, pending.inquiry_id) == pending
    assert final_states(network.network, pending.inquiry_id) == {("05", "05", "MAN001")}

    listed = ipnsim("manual", "list", "--agency", FUKUOKA, "--json", data_dir=network.data_dir)
    assert listed.returncode == 0, listed.stderr
    [held] = [r for r in json_of(listed) if r["inquiry_id"] == str(pending.inquiry_id)]
    assert held["requester_code"] == agency_by_slug(YAMAGATA).code
    assert held["procedure_code"] == inquiry.procedure_code
    assert held["info_type_code"] == inquiry.info_type_code
    assert held["atena_number"] == network.atena(FUKUOKA, MANUAL_RESPONSE_HOLD)
    assert held["state"] == "pending"
    assert held["deadline"] > held["received_at"]
    still = ipnsim(
        "manual", "result", str(pending.inquiry_id), "--agency", YAMAGATA, data_dir=network.data_dir
    )
    assert still.returncode == 4, still.stdout + still.stderr

    answered = ipnsim(
        "manual",
        "answer",
        str(pending.inquiry_id),
        "--agency",
        FUKUOKA,
        "--json",
        data_dir=network.data_dir,
    )
    assert answered.returncode == 0, answered.stdout + answered.stderr
    assert json_of(answered)["state"] == "answered"
    assert json_of(answered)["hub_notified_at"] is not None

    final = result_at(yamagata, pending.inquiry_id)
    assert (final.status_detail.value, final.status_info_type.value) == ("09", "01")
    assert final.error is None
    assert [item.code for item in final.items] == [f"I00{n}" for n in range(1, 8)]
    assert final.items[0].value == str(inquiry.fiscal_year)
    assert final.replica is not None
    records = copies(network.network, pending.inquiry_id)
    assert {slug: (r.status_detail.value, r.error_code) for slug, r in records.items()} == {
        YAMAGATA: ("09", None),
        FUKUOKA: ("09", None),
        "hub": ("09", None),
    }
    assert all(r.item_codes == [item.code for item in final.items] for r in records.values())
    done = ipnsim(
        "manual", "result", str(pending.inquiry_id), "--agency", YAMAGATA, data_dir=network.data_dir
    )
    assert done.returncode == 0, done.stdout + done.stderr

    listed = ipnsim("manual", "list", "--agency", FUKUOKA, "--json", data_dir=network.data_dir)
    assert str(pending.inquiry_id) not in {r["inquiry_id"] for r in json_of(listed)}
    again = ipnsim(
        "manual", "answer", str(pending.inquiry_id), "--agency", FUKUOKA, data_dir=network.data_dir
    )
    assert again.returncode == 1
    assert "MAN004" in again.stderr


def test_staff_decline_reaches_the_requester_as_man002(network: RunningNetwork) -> None:
    inquiry = persona_inquiry(network)
    yamagata = network.url(YAMAGATA)
    pending = send(yamagata, inquiry)
    assert_pending(pending)

    declined = ipnsim(
        "manual",
        "decline",
        str(pending.inquiry_id),
        "--agency",
        FUKUOKA,
        "--reason",
        "支援措置対象者",
        data_dir=network.data_dir,
    )
    assert declined.returncode == 0, declined.stdout + declined.stderr

    final = result_at(yamagata, pending.inquiry_id)
    assert (final.status_detail.value, final.status_info_type.value) == ("09", "03")
    assert final.error is not None and final.error.code == "MAN002"
    assert "支援措置対象者" in final.error.message_ja
    assert final.items == []
    assert final_states(network.network, pending.inquiry_id) == {("09", "03", "MAN002")}


def test_staff_endpoints_refuse_what_is_not_pending_here(network: RunningNetwork) -> None:
    async def go() -> None:
        async with StaffClient(network.url(FUKUOKA)) as client:
            with pytest.raises(ServiceError) as caught:
                await client.decline(uuid.uuid4(), ManualDecline(reason="x"))
            assert caught.value.body.code == "REC001"
            assert caught.value.status == 404

    run(go())
    bad = ipnsim("manual", "answer", "not-a-uuid", "--agency", FUKUOKA, data_dir=network.data_dir)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def short_hold_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    """山形市 and 福岡市 only, where an inquiry waits at most one second for staff."""
    with small_network(
        tmp_path_factory.mktemp("network-short-hold"),
        (YAMAGATA, FUKUOKA),
        manual_response_seconds=1.0,
    ) as launcher:
        yield started(launcher)


def test_an_unanswered_inquiry_expires_with_man003_everywhere(
    network: RunningNetwork, short_hold_network: NetworkFile
) -> None:
    if network.backend != "sqlite":
        pytest.skip("the short-hold network runs on SQLite only")
    inquiry = persona_inquiry(network)
    yamagata = short_hold_network.agency(YAMAGATA).url
    pending = send(yamagata, inquiry)
    assert_pending(pending)

    final = wait_for_final(yamagata, pending.inquiry_id)
    assert (final.status_detail.value, final.status_info_type.value) == ("99", "99")
    assert final.error is not None and final.error.code == "MAN003"
    assert final_states(short_hold_network, pending.inquiry_id) == {("99", "99", "MAN003")}

    async def held() -> list[str]:
        async with StaffClient(short_hold_network.agency(FUKUOKA).url) as client:
            return [r.state for r in await client.manual_requests("all")]

    assert run(held()) == ["expired"]


@pytest.fixture(scope="module")
def delivery_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """山形市 and 福岡市 only, with a long hold: for stopping the requester during delivery."""
    with small_network(
        tmp_path_factory.mktemp("network-delivery"),
        (YAMAGATA, FUKUOKA),
        manual_response_seconds=60.0,
    ) as launcher:
        yield launcher


def test_an_answer_the_requester_cannot_take_yet_is_man005_and_arrives_later(
    network: RunningNetwork, delivery_network: Launcher
) -> None:
    if network.backend != "sqlite":
        pytest.skip("the delivery network runs on SQLite only")
    started = delivery_network.network
    assert started is not None
    inquiry = persona_inquiry(network)
    yamagata = started.agency(YAMAGATA).url
    pending = send(yamagata, inquiry)
    assert_pending(pending)
    delivery_network.stop_service(YAMAGATA)

    async def answer() -> str:
        async with StaffClient(started.agency(FUKUOKA).url) as client:
            view = await client.answer(pending.inquiry_id, ManualAnswer(answered_by="staff01"))
            return view.state

    state = run(answer())
    delivery_network.start_service(YAMAGATA)
    delivery_network.wait_healthy()

    assert state != "pending"
    final = wait_for_final(yamagata, pending.inquiry_id, seconds=30)
    assert (final.status_detail.value, final.status_info_type.value) == ("09", "01")
    assert final.items
    assert final_states(started, pending.inquiry_id) == {("09", "01", None)}
