"""Manual-response hold (自動応答不可): the provider's desk, the requester's result store and the
hub's completion of the record, each on a real SQLite database with fakes around it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from error_codes import IpnsimError
from intermediate_server.db import StoredResult
from intermediate_server.schemas import (
    ManualAnswer,
    ManualDecline,
    ReplicaBulkItem,
    ReplicaContent,
)
from intermediate_server.service import IntermediateService
from network.manual import complete_manual_response
from network.protocol.models import (
    DetailStatus,
    InfoTypeStatus,
    InquiryRequest,
    InquiryResult,
    ProvisionAnswer,
    ReplicaItem,
    outcome_statuses,
)
from network.service import HubService
from tests.unit import test_hub_service as hub_tests
from tests.unit.fake_hub import FakeHub, run_with_hub
from tests.unit.raising import expect
from tests.unit.test_intermediate_service import (
    AGENCY,
    ATENA,
    PROVIDER,
    SECRET,
    TODAY,
    order,
    provision,
    register,
    replica,
    tax_items,
)

HOLD = 3600.0


class ManualHub(FakeHub):
    """The fake hub, which also takes final answers and can answer an inquiry "pending"."""

    def __init__(self) -> None:
        super().__init__(SECRET)
        self.finals: list[ProvisionAnswer] = []
        self.final_fails_with: str | None = None
        self.inquiry_pending = False

    async def post(self, path: str, body: BaseModel, answer: type[Any], headers: Any = None) -> Any:
        if path == "/v1/manual-responses":
            assert isinstance(body, ProvisionAnswer)
            if self.final_fails_with is not None:
                raise IpnsimError(self.final_fails_with, requester_code=PROVIDER)
            self.finals.append(body)
            return InquiryResult(
                inquiry_id=body.inquiry_id,
                requester_code=PROVIDER,
                provider_code=AGENCY.code,
                info_type_code="TM00000000000002",
                status_detail=DetailStatus.COMPLETED,
                status_info_type=InfoTypeStatus.PROVIDED,
                requested_at=body.provided_at,
            )
        if self.inquiry_pending and isinstance(body, InquiryRequest):
            self.calls.append((path, body))
            status_detail, status_info_type = outcome_statuses("MAN001")
            return InquiryResult(
                inquiry_id=body.inquiry_id,
                requester_code=body.requester_code,
                provider_code=body.provider_code,
                provider_name="山形市",
                info_type_code=body.info_type_code,
                status_detail=status_detail,
                status_info_type=status_info_type,
                requested_at=body.requested_at,
                error=IpnsimError("MAN001").body(),
            )
        return await super().post(path, body, answer, headers)


Scenario = Callable[[IntermediateService, ManualHub], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> ManualHub:
    return run_with_hub(
        tmp_path, AGENCY, ManualHub(), scenario, today=lambda: TODAY, manual_hold_seconds=HOLD
    )


async def flagged(service: IntermediateService) -> str:
    """A person whose current tax replica is flagged 自動応答不可; returns their 符号."""
    pseudonym = await register(service)
    flagged_replica = replica("HELD").model_copy(update={"manual_response": True})
    view = await service.register_replica(flagged_replica)
    assert view.manual_response is True
    return pseudonym


async def provider_statuses(service: IntermediateService, inquiry_id: uuid.UUID) -> tuple[Any, ...]:
    [record] = await service.records(inquiry_id=inquiry_id)
    return record.status_detail, record.status_info_type, record.error_code, record.item_codes


# --- the flag -------------------------------------------------------------------------------


def test_the_flag_is_kept_on_registration_bulk_registration_and_update(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        await register(service)
        plain = await service.register_replica(replica("PLAIN"))
        assert plain.manual_response is False
        bulk = ReplicaBulkItem.model_validate(
            replica("BULK").model_dump(mode="json") | {"manual_response": True}
        )
        assert (await service.register_replicas_bulk([bulk])).created == 1
        content = ReplicaContent.model_validate(
            replica("PLAIN").model_dump(
                include={"layout_version", "fiscal_year", "publication_start", "items"}
            )
            | {"manual_response": True}
        )
        updated = await service.update_replica("PLAIN", content)
        assert updated.manual_response is True
        flags = {view.record_id: view.manual_response for view in await service.replicas(ATENA)}
        assert flags == {"PLAIN": True, "BULK": True}

    run(tmp_path, scenario)


# --- as provider ----------------------------------------------------------------------------


def test_a_flagged_replica_is_held_pending_and_listed_for_staff(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        pseudonym = await flagged(service)
        request = provision(pseudonym)
        answer = await service.provide(request)
        assert answer.error is not None and answer.error.code == "MAN001"
        assert answer.items == [] and answer.replica is None
        assert "自動応答不可" in answer.error.message_ja
        assert await provider_statuses(service, request.inquiry_id) == ("05", "05", "MAN001", [])

        [held] = await service.manual.requests()
        assert held.inquiry_id == request.inquiry_id
        assert held.atena_number == ATENA
        assert held.record_id == "HELD"
        assert held.requester_code == PROVIDER
        assert held.procedure_code == "JT01010000000214"
        assert held.state == "pending"
        assert held.deadline - held.received_at == dt.timedelta(seconds=HOLD)

    hub = run(tmp_path, scenario)
    assert hub.finals == []


def test_staff_answer_provides_the_items_and_tells_the_hub(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        request = provision(await flagged(service))
        await service.provide(request)
        view = await service.manual.answer(request.inquiry_id, ManualAnswer(answered_by="k.sato"))
        assert view.state == "answered"
        assert view.hub_notified_at is not None
        [final] = hub.finals
        assert final.inquiry_id == request.inquiry_id
        assert final.error is None
        assert final.items == tax_items(I001="2026")
        assert final.replica is not None and final.replica.record_id == "HELD"
        codes = [f"I00{n}" for n in range(1, 8)]
        assert await provider_statuses(service, request.inquiry_id) == ("09", "01", None, codes)
        assert await service.manual.requests() == []
        assert [r.state for r in await service.manual.requests(None)] == ["answered"]
        await expect(service.manual.answer(request.inquiry_id, ManualAnswer()), "MAN004")
        await expect(
            service.manual.decline(request.inquiry_id, ManualDecline(reason="x")), "MAN004"
        )
        await expect(service.manual.answer(uuid.uuid4(), ManualAnswer()), "REC001")

    run(tmp_path, scenario)


def test_staff_may_answer_with_another_replica_of_the_same_person(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        request = provision(await flagged(service))
        await service.register_replica(
            replica("OLDER", start=dt.date(2025, 6, 1), fiscal_year=2025)
        )
        await service.provide(request)
        await expect(
            service.manual.answer(request.inquiry_id, ManualAnswer(record_id="NOSUCH")), "RPL003"
        )
        await service.manual.answer(request.inquiry_id, ManualAnswer(record_id="OLDER"))
        [final] = hub.finals
        assert final.replica is not None and final.replica.record_id == "OLDER"
        assert final.items[0] == ReplicaItem(code="I001", value="2025")

    run(tmp_path, scenario)


def test_staff_decline_is_man002_with_the_reason(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        request = provision(await flagged(service))
        await service.provide(request)
        view = await service.manual.decline(
            request.inquiry_id, ManualDecline(reason="支援措置対象者のため")
        )
        assert view.state == "declined"
        [final] = hub.finals
        assert final.error is not None and final.error.code == "MAN002"
        assert "支援措置対象者のため" in final.error.message_ja
        assert final.items == []
        assert await provider_statuses(service, request.inquiry_id) == ("09", "03", "MAN002", [])

    run(tmp_path, scenario)


def test_an_unanswered_request_expires_with_man003(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        request = provision(await flagged(service))
        await service.provide(request)
        assert await service.manual.expire_overdue() == 0
        [held] = await service.manual.requests()
        later = held.deadline + dt.timedelta(seconds=1)
        service.manual.clock = lambda: later
        assert await service.manual.expire_overdue() == 1
        assert await service.manual.expire_overdue() == 0
        [final] = hub.finals
        assert final.error is not None and final.error.code == "MAN003"
        deadline_jst = held.deadline.astimezone(dt.timezone(dt.timedelta(hours=9)))
        assert deadline_jst.isoformat(timespec="seconds") in final.error.message_en
        assert await provider_statuses(service, request.inquiry_id) == ("99", "99", "MAN003", [])
        assert [r.state for r in await service.manual.requests(None)] == ["expired"]

    run(tmp_path, scenario)


def test_a_final_answer_the_hub_did_not_take_is_sent_again(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        request = provision(await flagged(service))
        await service.provide(request)
        hub.final_fails_with = "MAN005"
        view = await service.manual.answer(request.inquiry_id, ManualAnswer())
        assert view.state == "answered" and view.hub_notified_at is None
        assert await service.manual.notify_unacknowledged() == 0
        hub.final_fails_with = None
        assert await service.manual.notify_unacknowledged() == 1
        assert await service.manual.notify_unacknowledged() == 0
        [final] = hub.finals
        assert final.error is None

    run(tmp_path, scenario)


# --- as requester ---------------------------------------------------------------------------


def test_requester_keeps_the_pending_result_and_completes_it_on_delivery(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        await register(service)
        hub.inquiry_pending = True
        pending = await service.inquire(order())
        assert (pending.status_detail, pending.status_info_type) == ("05", "05")
        assert await service.manual.result(pending.inquiry_id) == pending

        final = pending.model_copy(
            update={
                "status_detail": DetailStatus.COMPLETED,
                "status_info_type": InfoTypeStatus.PROVIDED,
                "error": None,
                "items": tax_items(),
                "provided_at": pending.requested_at + dt.timedelta(hours=2),
            }
        )
        await service.manual.receive_result(final)
        await service.manual.receive_result(final)  # delivered twice: one result
        assert await service.manual.result(pending.inquiry_id) == final
        [record] = await service.records(inquiry_id=pending.inquiry_id)
        assert (record.status_detail, record.status_info_type, record.error_code) == (
            "09",
            "01",
            None,
        )
        assert record.item_codes == [item.code for item in tax_items()]
        assert record.provided_at == final.provided_at
        async with service.sessions() as session:
            assert await session.get(StoredResult, str(pending.inquiry_id)) is not None

        other = final.model_copy(update={"requester_code": "2040130700000000"})
        await expect(service.manual.receive_result(other), "AUT002")
        unknown = final.model_copy(update={"inquiry_id": uuid.uuid4()})
        await expect(service.manual.receive_result(unknown), "REC001")

    run(tmp_path, scenario)


def test_result_of_an_ordinary_inquiry_is_read_from_its_record(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        await register(service)
        sent = await service.inquire(order())
        result = await service.manual.result(sent.inquiry_id)
        assert (result.status_detail, result.status_info_type) == ("09", "01")
        assert result.error is None
        assert result.items == []  # values are not kept, only the record
        await expect(service.manual.result(uuid.uuid4()), "REC001")

    run(tmp_path, scenario)


# --- statuses -------------------------------------------------------------------------------


def test_statuses_of_the_manual_response_codes() -> None:
    assert outcome_statuses("MAN001") == (DetailStatus.PENDING, InfoTypeStatus.PENDING)
    assert outcome_statuses("MAN002") == (DetailStatus.COMPLETED, InfoTypeStatus.DECLINED)
    assert outcome_statuses("MAN003") == (DetailStatus.FAILED, InfoTypeStatus.ERROR)
    assert outcome_statuses(None) == ("09", "01")
    assert outcome_statuses("RPL001") == ("09", "02")


# --- at the hub -----------------------------------------------------------------------------


class DeliveringRouter(hub_tests.FakeRouter):
    """The hub's fake router, which answers MAN001 and records deliveries to requesters."""

    def __init__(self) -> None:
        super().__init__()
        self.answer_error = "MAN001"
        self.results: list[tuple[str, InquiryResult]] = []
        self.result_fails = False

    async def deliver_result(self, requester: Any, result: InquiryResult) -> None:
        if self.result_fails:
            raise IpnsimError("MAN005", requester_code=requester.code)
        self.results.append((requester.code, result))


def run_hub(
    tmp_path: Path, scenario: Callable[[HubService, DeliveringRouter], Awaitable[None]]
) -> None:
    router = DeliveringRouter()

    async def wrapped(service: HubService, _router: Any) -> None:
        service.router = router  # type: ignore[assignment]
        await scenario(service, router)

    hub_tests.run(tmp_path, wrapped)


async def pending_inquiry(service: HubService) -> InquiryRequest:
    request = hub_tests.inquiry(await hub_tests.issue(service, hub_tests.YAMAGATA))
    await hub_tests.issue(service, hub_tests.ODAWARA)
    result = await service.inquire(hub_tests.AGENCIES[hub_tests.YAMAGATA], request)
    assert (result.status_detail, result.status_info_type) == ("05", "05")
    assert result.error is not None and result.error.code == "MAN001"
    return request


def test_hub_completes_a_pending_record_and_delivers_the_result(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: DeliveringRouter) -> None:
        request = await pending_inquiry(service)
        row = await service.record(None, request.inquiry_id)
        assert (row.status_detail, row.status_info_type, row.error_code) == ("05", "05", "MAN001")
        stored = await hub_tests.hub_row(service, request.inquiry_id)
        answer = ProvisionAnswer(
            inquiry_id=request.inquiry_id,
            provided_at=dt.datetime(2026, 6, 16, 3, tzinfo=dt.UTC),
            items=hub_tests.ITEMS,
        )
        odawara = hub_tests.AGENCIES[hub_tests.ODAWARA]
        # Only the provider may complete it.
        await expect(
            complete_manual_response(service, hub_tests.AGENCIES[hub_tests.FUKUOKA], answer),
            "REC001",
        )
        router.result_fails = True
        await expect(complete_manual_response(service, odawara, answer), "MAN005")
        # The record as first written is unchanged; the outcome is a later event of the log.
        assert (await hub_tests.hub_row(service, request.inquiry_id)).error_code == "MAN001"
        assert stored.leaf_index is not None
        row = await service.record(None, request.inquiry_id)
        assert (row.status_detail, row.status_info_type, row.error_code) == ("09", "01", None)
        assert row.item_codes == ["I001", "I002"]
        assert row.provided_at == answer.provided_at
        assert service.log.tree.size == 2
        router.result_fails = False
        result = await complete_manual_response(service, odawara, answer)  # the retry
        assert result.items == hub_tests.ITEMS
        [(code, delivered)] = router.results
        assert code == hub_tests.YAMAGATA
        assert delivered == result
        assert (delivered.status_detail, delivered.status_info_type) == ("09", "01")
        assert delivered.provider_name == "小田原市"
        # Another outcome for a completed record is refused.
        declined = answer.model_copy(
            update={"items": [], "error": IpnsimError("MAN002", reason="x").body()}
        )
        await expect(complete_manual_response(service, odawara, declined), "MAN004")

    run_hub(tmp_path, scenario)


def test_hub_records_a_declined_inquiry_as_09_03(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: DeliveringRouter) -> None:
        request = await pending_inquiry(service)
        declined = ProvisionAnswer(
            inquiry_id=request.inquiry_id,
            provided_at=dt.datetime(2026, 6, 16, 3, tzinfo=dt.UTC),
            error=IpnsimError("MAN002", reason="支援措置").body(),
        )
        odawara = hub_tests.AGENCIES[hub_tests.ODAWARA]
        result = await complete_manual_response(service, odawara, declined)
        assert (result.status_detail, result.status_info_type) == ("09", "03")
        record = await service.record(None, request.inquiry_id)
        assert (record.status_detail, record.status_info_type, record.error_code) == (
            "09",
            "03",
            "MAN002",
        )
        still_pending = declined.model_copy(update={"error": IpnsimError("MAN001").body()})
        await expect(complete_manual_response(service, odawara, still_pending), "MAN004")

    run_hub(tmp_path, scenario)
