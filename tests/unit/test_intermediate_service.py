"""An intermediate server's behaviour on a real SQLite database, with a fake hub."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from stdnum.jp import in_ as my_number_format

from error_codes import to_fullwidth
from intermediate_server.db import LocalRecord
from intermediate_server.schemas import (
    InquiryOrder,
    MistakenDeclaration,
    PersonRegistration,
    ReplicaContent,
    ReplicaRegistration,
)
from intermediate_server.service import AgencyIdentity, IntermediateService
from network.protocol.models import (
    Addendum,
    ConditionKind,
    InquiryCondition,
    InquiryRequest,
    MistakenInquiryDeclaration,
    ProvisionRequest,
    PseudonymRequest,
    RecordSide,
    ReplicaItem,
)
from network.pseudonyms import person_key, pseudonym_for
from tests.unit.fake_hub import FakeHub, run_with_hub
from tests.unit.raising import expect

AGENCY = AgencyIdentity(code="2014206900000000", name_ja="小田原市")
PROVIDER = "2006201400000000"
TODAY = dt.date(2026, 6, 15)
ATENA = "000000014689427"
OTHER_ATENA = "000000099999999"
RESIDENT = "12345678901"
MY_NUMBER = "12345678901" + my_number_format.calc_check_digit("12345678901")
TAX = "TM00000000000002"
ACCOUNT = "TM00000000000089"
SECRET = b"fake-hub-secret-0123456789"

Scenario = Callable[[IntermediateService, FakeHub], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> FakeHub:
    return run_with_hub(tmp_path, AGENCY, FakeHub(SECRET), scenario, today=lambda: TODAY)


def tax_items(**overrides: str | None) -> list[ReplicaItem]:
    values = {
        "I001": "2025",
        "I002": "3500000",
        "I003": "2100000",
        "I004": "126000",
        "I005": "5000",
        "I006": "1",
        "I007": "0",
    } | overrides
    return [
        ReplicaItem(code=code, value=value)
        if value is not None
        else ReplicaItem(code=code, reason_of_null="NotAcceptable")
        for code, value in values.items()
    ]


def replica(
    record_id: str,
    *,
    start: dt.date = dt.date(2026, 6, 1),
    end: dt.date | None = None,
    fiscal_year: int | None = 2026,
    atena: str = ATENA,
    items: list[ReplicaItem] | None = None,
    layout_version: int = 1,
    info_type: str = TAX,
) -> ReplicaRegistration:
    return ReplicaRegistration(
        record_id=record_id,
        atena_number=atena,
        info_type_code=info_type,
        layout_version=layout_version,
        fiscal_year=fiscal_year,
        publication_start=start,
        publication_end=end,
        items=items if items is not None else tax_items(I001=str(fiscal_year or 2026)),
    )


async def register(service: IntermediateService, atena: str = ATENA, **kwargs: Any) -> str:
    view = await service.register_person(
        PersonRegistration(
            atena_number=atena, resident_code=kwargs.pop("resident", RESIDENT), **kwargs
        )
    )
    assert view.pseudonym is not None
    return view.pseudonym


async def reached_hub(service: IntermediateService, inquiry_id: uuid.UUID) -> bool:
    async with service.sessions() as session:
        row = await session.get(LocalRecord, (str(inquiry_id), RecordSide.REQUESTER.value))
    assert row is not None
    return row.reached_hub


def provision(pseudonym: str, condition: InquiryCondition | None = None) -> ProvisionRequest:
    return ProvisionRequest(
        inquiry_id=uuid.uuid4(),
        requester_code=PROVIDER,
        requester_name="山形市",
        provider_code=AGENCY.code,
        provider_pseudonym=pseudonym,
        affair_code="JM01000000121000",
        procedure_code="JT01010000000214",
        info_type_code=TAX,
        condition=condition or InquiryCondition(),
        requested_at=dt.datetime(2026, 6, 15, 1, tzinfo=dt.UTC),
    )


def order(atena: str = ATENA, **kwargs: Any) -> InquiryOrder:
    return InquiryOrder(
        atena_number=atena,
        affair_code="JM01000000121000",
        procedure_code="JT01010000000214",
        info_type_code=TAX,
        provider_code=PROVIDER,
        **kwargs,
    )


# --- people and 符号 ----------------------------------------------------------------------


def test_register_person_obtains_the_pseudonym_without_the_my_number(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        view = await service.register_person(
            PersonRegistration(atena_number=ATENA, resident_code=RESIDENT, my_number=MY_NUMBER)
        )
        assert view.has_my_number
        assert view.pseudonym == pseudonym_for(SECRET, person_key(SECRET, RESIDENT), AGENCY.code)
        assert view.pseudonym_acquired_at is not None
        assert (await service.person(ATENA)).pseudonym == view.pseudonym

    hub = run(tmp_path, scenario)
    assert hub.paths() == ["/v1/pseudonyms"]
    sent = hub.calls[0][1]
    assert sent == PseudonymRequest(agency_code=AGENCY.code, resident_code=RESIDENT)
    assert MY_NUMBER not in sent.model_dump_json()


def test_register_person_is_idempotent_for_the_same_resident_code(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        first = await register(service)
        second = await service.register_person(
            PersonRegistration(atena_number=ATENA, resident_code=RESIDENT, my_number=MY_NUMBER)
        )
        assert second.pseudonym == first
        assert second.has_my_number

    hub = run(tmp_path, scenario)
    assert hub.paths() == ["/v1/pseudonyms"]


def test_register_person_with_another_resident_code_is_idn005(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        error = await expect(
            service.register_person(
                PersonRegistration(atena_number=ATENA, resident_code="98765432109")
            ),
            "IDN005",
        )
        assert "０００００００１４６８９４２７" in error.message_ja
        view = await service.person(ATENA)
        assert view.pseudonym == pseudonym_for(SECRET, person_key(SECRET, RESIDENT), AGENCY.code)

    run(tmp_path, scenario)


def test_register_person_without_pseudonym_then_acquire(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        view = await service.register_person(
            PersonRegistration(atena_number=ATENA, resident_code=RESIDENT, acquire_pseudonym=False)
        )
        assert view.pseudonym is None
        assert not view.has_my_number
        assert hub.calls == []
        acquired = await service.acquire_pseudonym(ATENA)
        assert acquired.pseudonym is not None
        await expect(service.acquire_pseudonym(OTHER_ATENA), "IDN002")
        await expect(service.person(OTHER_ATENA), "IDN002")

    run(tmp_path, scenario)


# --- replicas ----------------------------------------------------------------------------------


def test_register_list_update_and_delete_a_replica(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        view = await service.register_replica(replica("R1", items=tax_items(I006=None)))
        assert view.record_id == "R1"
        assert view.items[5] == ReplicaItem(code="I006", reason_of_null="NotAcceptable")
        assert [row.record_id for row in await service.replicas(ATENA)] == ["R1"]
        assert await service.replicas(OTHER_ATENA) == []

        content = ReplicaContent(
            layout_version=1,
            fiscal_year=2026,
            publication_start=dt.date(2026, 6, 1),
            items=tax_items(I002="4000000"),
        )
        updated = await service.update_replica("R1", content)
        assert updated.items[1].value == "4000000"
        assert updated.registered_at == view.registered_at
        assert updated.updated_at >= view.updated_at
        assert (await service.replicas(None))[0].items[1].value == "4000000"

        await service.delete_replica("R1")
        assert await service.replicas(None) == []

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("registration", "item", "problem"),
    [
        (
            replica("R1", items=[*tax_items(), ReplicaItem(code="I099", value="1")]),
            "I099",
            "not an item",
        ),
        (replica("R1", items=tax_items()[:-1]), "I007", "missing"),
        (replica("R1", items=tax_items(I002="three million")), "I002", "not a valid integer"),
        (replica("R1", items=tax_items(I007="零")), "I007", "not a valid code"),
    ],
)
def test_replica_layout_is_checked(
    tmp_path: Path, registration: ReplicaRegistration, item: str, problem: str
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        error = await expect(service.register_replica(registration), "RPL004")
        assert error.params["item"] == item
        assert problem in error.params["problem"]
        assert f"「{to_fullwidth(item)}」" in error.message_ja
        assert await service.replicas(None) == []

    run(tmp_path, scenario)


def test_a_replica_on_another_layout_version_is_rpl006(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        error = await expect(service.register_replica(replica("R1", layout_version=2)), "RPL006")
        assert (error.params["given"], error.params["current"]) == ("2", "1")
        assert "「２」" in error.message_ja and "「１」" in error.message_ja
        assert await service.replicas(None) == []

    run(tmp_path, scenario)


def test_update_is_checked_against_the_layout(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await service.register_replica(replica("R1"))
        bad = ReplicaContent(
            layout_version=1, publication_start=dt.date(2026, 6, 1), items=tax_items(I001="x")
        )
        await expect(service.update_replica("R1", bad), "RPL004")
        assert (await service.replicas(ATENA))[0].items[0].value == "2026"

    run(tmp_path, scenario)


def test_replica_of_an_unknown_info_type_or_person(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await expect(
            service.register_replica(replica("R1", info_type="TM00000000000999")), "VAL006"
        )
        await expect(service.register_replica(replica("R2", atena=OTHER_ATENA)), "IDN002")

    run(tmp_path, scenario)


def test_duplicate_record_id_is_rpl002(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await service.register_replica(replica("R1"))
        error = await expect(service.register_replica(replica("R1", fiscal_year=2025)), "RPL002")
        assert error.message_ja == "「レコード識別番号」が既に存在しています。"
        assert [row.fiscal_year for row in await service.replicas(None)] == [2026]

    run(tmp_path, scenario)


def test_update_or_delete_unknown_is_rpl003(tmp_path: Path) -> None:
    content = ReplicaContent(
        layout_version=1, publication_start=dt.date(2026, 6, 1), items=tax_items()
    )

    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await expect(service.update_replica("NOPE", content), "RPL003")
        await expect(service.delete_replica("NOPE"), "RPL003")
        await service.register_replica(replica("R1"))
        await service.delete_replica("R1")
        await expect(service.update_replica("R1", content), "RPL003")
        await expect(service.delete_replica("R1"), "RPL003")

    run(tmp_path, scenario)


def test_deleted_record_id_can_be_registered_again(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await service.register_replica(replica("R1", fiscal_year=2025))
        await service.delete_replica("R1")
        again = await service.register_replica(replica("R1", fiscal_year=2026))
        assert again.fiscal_year == 2026
        assert [(row.record_id, row.fiscal_year) for row in await service.replicas(None)] == [
            ("R1", 2026)
        ]
        await expect(service.register_replica(replica("R1")), "RPL002")

    run(tmp_path, scenario)


# --- 情報提供 (provide) -----------------------------------------------------------------------


async def seed_replicas(service: IntermediateService) -> str:
    """Replicas of one person, seen on TODAY (2026-06-15)."""
    pseudonym = await register(service)
    await service.register_replica(
        replica("FY2024", start=dt.date(2024, 6, 1), end=dt.date(2025, 5, 31), fiscal_year=2024)
    )
    await service.register_replica(replica("FY2025", start=dt.date(2025, 6, 1), fiscal_year=2025))
    await service.register_replica(replica("FY2026", start=dt.date(2026, 6, 1), fiscal_year=2026))
    await service.register_replica(replica("FUTURE", start=dt.date(2026, 7, 1), fiscal_year=2027))
    await service.register_replica(
        replica("ENDED", start=dt.date(2026, 6, 5), end=dt.date(2026, 6, 14), fiscal_year=2026)
    )
    return pseudonym


async def provided_record_id(
    service: IntermediateService,
    pseudonym: str,
    condition: InquiryCondition | None = None,
    missing: str = "RPL001",
) -> str | None:
    """The record id of the replica provided, or None when the answer is ``missing``."""
    answer = await service.provide(provision(pseudonym, condition))
    if answer.error is not None:
        assert answer.error.code == missing
        assert answer.items == []
        return None
    assert answer.replica is not None
    return answer.replica.record_id


def test_latest_picks_the_newest_published_replica(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        assert await provided_record_id(service, pseudonym) == "FY2026"
        await service.delete_replica("FY2026")
        assert await provided_record_id(service, pseudonym) == "FY2025"

    run(tmp_path, scenario)


def test_fiscal_year_condition_filters(tmp_path: Path) -> None:
    def year(value: int) -> InquiryCondition:
        return InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=value)

    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        assert await provided_record_id(service, pseudonym, year(2025)) == "FY2025"
        assert await provided_record_id(service, pseudonym, year(2026)) == "FY2026"
        # Fiscal year 2027 is not released before 1 June 2027 (6月公開), whatever is
        # registered; publication ended: stale, said so.
        assert await provided_record_id(service, pseudonym, year(2027), "RPL010") is None
        assert await provided_record_id(service, pseudonym, year(2024), "RPL007") is None

    run(tmp_path, scenario)


def test_date_range_condition_selects_by_overlap(tmp_path: Path) -> None:
    def period(start: str, end: str) -> InquiryCondition:
        return InquiryCondition(
            kind=ConditionKind.DATE_RANGE,
            date_from=dt.date.fromisoformat(start),
            date_to=dt.date.fromisoformat(end),
        )

    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        assert (
            await provided_record_id(service, pseudonym, period("2025-07-01", "2025-12-31"))
            == "FY2025"
        )
        assert (
            await provided_record_id(service, pseudonym, period("2025-01-01", "2026-06-01"))
            == "FY2026"
        )
        assert (
            await provided_record_id(service, pseudonym, period("2026-06-10", "2026-12-31"))
            == "FY2026"
        )
        assert (
            await provided_record_id(
                service, pseudonym, period("2020-01-01", "2025-05-31"), "RPL007"
            )
            is None
        )

    run(tmp_path, scenario)


def test_provide_answers_and_records_as_provider(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        request = provision(pseudonym)
        answer = await service.provide(request)
        assert answer.inquiry_id == request.inquiry_id
        assert answer.error is None
        assert [item.code for item in answer.items] == [f"I00{n}" for n in range(1, 8)]
        assert answer.items[0].value == "2026"
        assert answer.replica is not None
        assert answer.replica.fiscal_year == 2026
        assert answer.replica.publication_start == dt.date(2026, 6, 1)

        records = await service.records(inquiry_id=request.inquiry_id)
        assert len(records) == 1
        record = records[0]
        assert record.side is RecordSide.PROVIDER
        assert record.requester_code == PROVIDER
        assert record.provider_code == AGENCY.code
        assert record.provider_name == AGENCY.name_ja
        assert record.item_codes == [item.code for item in answer.items]
        assert (record.status_detail, record.status_info_type) == ("09", "01")
        assert record.error_code is None
        assert [r.inquiry_id for r in await service.records(atena_number=ATENA)] == [
            request.inquiry_id
        ]

    hub = run(tmp_path, scenario)
    assert "/v1/inquiries" not in hub.paths()


def test_deleted_and_other_info_type_replicas_are_not_provided(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await register(service)
        await service.register_replica(replica("R1", start=dt.date(2026, 1, 1)))
        await service.delete_replica("R1")
        account = [
            ReplicaItem(code="I001", value="0001"),
            ReplicaItem(code="I002", value="001"),
            ReplicaItem(code="I003", value="1"),
            ReplicaItem(code="I004", value="1234567"),
            ReplicaItem(code="I005", value="ﾔﾏﾀﾞ ﾀﾛｳ"),
        ]
        await service.register_replica(
            replica(
                "ACC", start=dt.date(2026, 1, 1), fiscal_year=None, info_type=ACCOUNT, items=account
            )
        )
        answer = await service.provide(provision(pseudonym))
        assert answer.error is not None
        assert answer.error.code == "RPL005"
        assert answer.items == []

    run(tmp_path, scenario)


def test_a_deleted_only_match_is_rpl005_recorded_as_09_02(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        await service.delete_replica("FY2025")
        fy2025 = InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2025)
        request = provision(pseudonym, fy2025)
        answer = await service.provide(request)
        assert answer.error is not None
        assert answer.error.code == "RPL005"
        assert "削除" in answer.error.message_ja
        assert answer.items == [] and answer.replica is None
        [record] = await service.records(inquiry_id=request.inquiry_id)
        assert record.error_code == "RPL005"
        assert (record.status_detail, record.status_info_type) == ("09", "02")
        # Another condition with no replica ever registered stays RPL001.
        fy2023 = InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2023)
        assert await provided_record_id(service, pseudonym, fy2023) is None
        # A live replica matching the condition wins over a deleted one.
        assert await provided_record_id(service, pseudonym) == "FY2026"
        await service.register_replica(
            replica("FY2025B", start=dt.date(2025, 6, 1), fiscal_year=2025)
        )
        assert await provided_record_id(service, pseudonym, fy2025) == "FY2025B"

    run(tmp_path, scenario)


def test_a_match_past_its_publication_period_is_rpl007_recorded_as_09_02(
    tmp_path: Path,
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        fy2024 = InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2024)
        request = provision(pseudonym, fy2024)
        answer = await service.provide(request)
        assert answer.error is not None
        assert answer.error.code == "RPL007"
        assert "2025-05-31" in answer.error.message_en
        assert "「２０２５－０５－３１」" in answer.error.message_ja
        [record] = await service.records(inquiry_id=request.inquiry_id)
        assert (record.error_code, record.status_detail, record.status_info_type) == (
            "RPL007",
            "09",
            "02",
        )
        # A tombstone whose own period had ended does not hide a live, ended replica.
        await service.delete_replica("FY2024")
        await service.register_replica(
            replica(
                "FY2024B", start=dt.date(2024, 6, 1), end=dt.date(2025, 3, 31), fiscal_year=2024
            )
        )
        assert await provided_record_id(service, pseudonym, fy2024, "RPL007") is None

    run(tmp_path, scenario)


def test_unknown_pseudonym_is_rpl001_and_recorded(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await seed_replicas(service)
        request = provision("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        answer = await service.provide(request)
        assert answer.error is not None
        assert answer.error.code == "RPL001"
        assert answer.items == []
        assert answer.replica is None
        [record] = await service.records(inquiry_id=request.inquiry_id)
        assert record.side is RecordSide.PROVIDER
        assert record.error_code == "RPL001"
        assert (record.status_detail, record.status_info_type) == ("09", "02")
        assert record.item_codes == []

    run(tmp_path, scenario)


# --- 情報照会 (inquire) -----------------------------------------------------------------------


def test_inquiry_for_an_unregistered_atena_is_idn002_and_recorded(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        result = await service.inquire(order(OTHER_ATENA))
        assert result.error is not None
        assert result.error.code == "IDN002"
        assert (result.status_detail, result.status_info_type) == ("99", "99")
        [record] = await service.records(inquiry_id=result.inquiry_id)
        assert record.side is RecordSide.REQUESTER
        assert record.error_code == "IDN002"
        assert record.provider_code == PROVIDER
        assert await reached_hub(service, result.inquiry_id) is False

    hub = run(tmp_path, scenario)
    assert hub.calls == []


def test_inquiry_without_pseudonym_is_idn001_and_not_sent(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_person(
            PersonRegistration(atena_number=ATENA, resident_code=RESIDENT, acquire_pseudonym=False)
        )
        result = await service.inquire(order())
        assert result.error is not None
        assert result.error.code == "IDN001"
        assert (
            result.error.message_ja
            == "指定された団体内統合宛名番号「０００００００１４６８９４２７」は符号が未取得です。"
        )
        declaration = MistakenDeclaration(reason="wrong person", declared_by_user="clerk01")
        error = await expect(service.declare_mistaken(result.inquiry_id, declaration), "REC003")
        assert str(result.inquiry_id) in error.message_en

    hub = run(tmp_path, scenario)
    assert hub.calls == []


def test_hub_failure_is_recorded(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        hub.fail_with = "AVL003"
        result = await service.inquire(order())
        assert result.error is not None
        assert result.error.code == "AVL003"
        assert result.error.retryable
        assert (result.status_detail, result.status_info_type) == ("99", "99")
        [record] = await service.records(atena_number=ATENA)
        assert record.inquiry_id == result.inquiry_id
        assert record.error_code == "AVL003"
        assert record.item_codes == []
        assert await reached_hub(service, result.inquiry_id) is False
        declaration = MistakenDeclaration(reason="wrong person", declared_by_user="clerk01")
        await expect(service.declare_mistaken(result.inquiry_id, declaration), "REC003")

    hub = run(tmp_path, scenario)
    assert hub.paths() == ["/v1/pseudonyms", "/v1/inquiries"]


def test_a_hub_timeout_may_have_been_recorded_so_it_can_be_declared(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        hub.fail_with = "AVL004"
        result = await service.inquire(order())
        assert result.error is not None
        assert result.error.code == "AVL004"
        assert await reached_hub(service, result.inquiry_id) is True

    run(tmp_path, scenario)


def test_a_forced_outcome_is_passed_on_to_the_hub_as_its_header(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        await service.inquire(order(), forced_outcome="AVL001")
        assert hub.headers == {"X-Ipnsim-Force-Outcome": "AVL001"}
        await service.inquire(order())
        assert not hub.headers

    run(tmp_path, scenario)


def test_successful_inquiry_is_recorded_and_names_the_person_by_pseudonym(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await register(service, my_number=MY_NUMBER)
        result = await service.inquire(order(non_disclosure=True, user_id="clerk01"))
        assert result.error is None
        assert result.items == [ReplicaItem(code="I001", value="2025")]
        [record] = await service.records(inquiry_id=result.inquiry_id)
        assert record.side is RecordSide.REQUESTER
        assert record.item_codes == ["I001"]
        assert record.provider_name == "山形市"
        assert record.requester_non_disclosure is True
        assert (record.status_detail, record.status_info_type) == ("09", "01")
        assert await reached_hub(service, result.inquiry_id) is True

        path, sent = hub.calls[-1]
        assert path == "/v1/inquiries"
        assert isinstance(sent, InquiryRequest)
        assert sent.inquiry_id == result.inquiry_id
        assert sent.requester_pseudonym == pseudonym
        assert sent.requester_code == AGENCY.code
        assert sent.requester_non_disclosure is True
        assert ATENA not in sent.model_dump_json()

    hub = run(tmp_path, scenario)
    for _, body in hub.calls:
        assert MY_NUMBER not in body.model_dump_json()
        assert "my_number" not in body.model_dump()


def test_unknown_codes_are_refused_before_recording(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        bad = order().model_copy(update={"procedure_code": "JT09999999999999"})
        await expect(service.inquire(bad), "VAL006")
        assert await service.records() == []

    run(tmp_path, scenario)


def test_declare_mistaken_on_a_sent_inquiry(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        result = await service.inquire(order())
        declaration = MistakenDeclaration(reason="wrong person", declared_by_user="clerk01")
        addendum = await service.declare_mistaken(result.inquiry_id, declaration)
        assert addendum.inquiry_id == result.inquiry_id
        path, sent = hub.calls[-1]
        assert path == f"/v1/inquiries/{result.inquiry_id}/addenda"
        assert sent == MistakenInquiryDeclaration(
            requester_code=AGENCY.code, reason="wrong person", declared_by_user="clerk01"
        )
        [record] = await service.records(inquiry_id=result.inquiry_id)
        assert record.addenda == [addendum]
        # The original record is not changed.
        assert record.item_codes == ["I001"]
        assert record.error_code is None
        await expect(service.declare_mistaken(uuid.uuid4(), declaration), "REC001")

    run(tmp_path, scenario)


def test_a_second_declaration_refused_by_the_hub_is_passed_on(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service)
        result = await service.inquire(order())
        declaration = MistakenDeclaration(reason="wrong person", declared_by_user="clerk01")
        first = await service.declare_mistaken(result.inquiry_id, declaration)
        hub.fail_with = "REC005"
        await expect(service.declare_mistaken(result.inquiry_id, declaration), "REC005")
        [record] = await service.records(inquiry_id=result.inquiry_id)
        assert record.addenda == [first]

    run(tmp_path, scenario)


def test_append_addendum_twice_is_idempotent(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await seed_replicas(service)
        request = provision(pseudonym)
        await service.provide(request)
        addendum = Addendum(
            addendum_id=uuid.uuid4(),
            inquiry_id=request.inquiry_id,
            reason="wrong person",
            declared_by_agency=PROVIDER,
            declared_by_user="clerk01",
            declared_at=dt.datetime(2026, 6, 16, tzinfo=dt.UTC),
        )
        await service.append_addendum(addendum, RecordSide.PROVIDER)
        await service.append_addendum(addendum, RecordSide.PROVIDER)
        [record] = await service.records(inquiry_id=request.inquiry_id)
        assert record.addenda == [addendum]
        # No requester copy of this inquiry exists here.
        await expect(service.append_addendum(addendum, RecordSide.REQUESTER), "REC001")

    run(tmp_path, scenario)


def test_disclosure_asks_the_hub_by_pseudonym(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await expect(service.disclosure(ATENA), "IDN002")
        await service.register_person(
            PersonRegistration(atena_number=ATENA, resident_code=RESIDENT, acquire_pseudonym=False)
        )
        await expect(service.disclosure(ATENA), "IDN001")

    hub = run(tmp_path, scenario)
    assert hub.calls == []
