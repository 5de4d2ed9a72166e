"""One inquiry across real processes: requester's server → hub → provider's server → back."""

from __future__ import annotations

import time
import uuid

import pytest

from agencies.catalogue import DIGITAL_AGENCY, FUKUOKA, ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO, PUBLIC_FUND_ACCOUNT_INFO
from error_codes import to_fullwidth
from intermediate_server.schemas import InquiryOrder, MistakenDeclaration
from ipnsim.client import ServiceError
from network.protocol.models import (
    ConditionKind,
    DetailStatus,
    InfoTypeStatus,
    InquiryCondition,
    InquiryResult,
    ProvisionRecord,
    RecordSide,
)
from tests.e2e.conftest import PROVIDER_TIMEOUT, RunningNetwork, run

pytestmark = pytest.mark.e2e

TAX_AFFAIR = "JM01000000121000"
TAX_PROCEDURE = "JT01010000000214"
ACCOUNT_AFFAIR = "JM01000000041000"
ACCOUNT_PROCEDURE = "JT01010000000001"


def tax_order(net: RunningNetwork, persona: str, fiscal_year: int | None = 2026) -> InquiryOrder:
    condition = (
        InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=fiscal_year)
        if fiscal_year
        else InquiryCondition()
    )
    return InquiryOrder(
        atena_number=net.atena(YAMAGATA, persona),
        affair_code=TAX_AFFAIR,
        procedure_code=TAX_PROCEDURE,
        info_type_code=LOCAL_TAX_INFO,
        provider_code=net.code(ODAWARA),
        condition=condition,
        user_id="e2e",
    )


def inquire(net: RunningNetwork, slug: str, order: InquiryOrder) -> InquiryResult:
    async def send() -> InquiryResult:
        async with net.agency(slug) as client:
            return await client.inquire(order)

    return run(send())


def copies(
    net: RunningNetwork, inquiry_id: uuid.UUID, requester: str, provider: str
) -> dict[RecordSide, ProvisionRecord]:
    async def fetch() -> list[ProvisionRecord]:
        async with net.agency(requester) as req, net.agency(provider) as prov, net.hub() as hub:
            return [
                *(await req.records(inquiry_id=inquiry_id)),
                await hub.record(inquiry_id),
                *(await prov.records(inquiry_id=inquiry_id)),
            ]

    found = run(fetch())
    by_side = {record.side: record for record in found}
    assert len(by_side) == len(found), "one copy per side"
    return by_side


def test_successful_inquiry_returns_exactly_the_seeded_items(network: RunningNetwork) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "moved_in"))

    person = network.population.persona_person("moved_in")
    seeded = next(
        replica
        for replica in network.population.replicas_of(person.person_key)
        if replica.agency_slug == ODAWARA and replica.fiscal_year == 2026
    )
    assert result.error is None
    assert (result.status_detail, result.status_info_type) == ("09", "01")
    assert [(item.code, item.value) for item in result.items] == list(seeded.items)
    assert result.replica is not None
    assert result.replica.record_id == seeded.record_id
    assert result.provider_name == "小田原市"


def test_latest_condition_returns_the_newest_fiscal_year(network: RunningNetwork) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "moved_in", fiscal_year=None))

    assert result.error is None
    assert result.replica is not None
    assert result.replica.fiscal_year == 2026


def test_each_agency_holds_its_own_pseudonym_and_the_hub_converts(
    network: RunningNetwork,
) -> None:
    async def pseudonyms() -> tuple[str | None, str | None]:
        async with network.agency(YAMAGATA) as yamagata, network.agency(ODAWARA) as odawara:
            at_yamagata = await yamagata.person(network.atena(YAMAGATA, "moved_in"))
            at_odawara = await odawara.person(network.atena(ODAWARA, "moved_in"))
            return at_yamagata.pseudonym, at_odawara.pseudonym

    yamagata_pseudonym, odawara_pseudonym = run(pseudonyms())
    assert yamagata_pseudonym is not None
    assert odawara_pseudonym is not None
    assert yamagata_pseudonym != odawara_pseudonym

    result = inquire(network, YAMAGATA, tax_order(network, "moved_in"))

    async def provider_copies() -> list[ProvisionRecord]:
        async with network.agency(ODAWARA) as odawara:
            return await odawara.records(atena_number=network.atena(ODAWARA, "moved_in"))

    # The provider found the person under its own atena number: the hub converted the 符号.
    found = [r for r in run(provider_copies()) if r.inquiry_id == result.inquiry_id]
    assert len(found) == 1
    assert found[0].side is RecordSide.PROVIDER
    assert found[0].error_code is None


def test_not_permitted_returns_prm001_with_the_real_message(network: RunningNetwork) -> None:
    order = tax_order(network, "moved_in").model_copy(
        update={"provider_code": network.code(DIGITAL_AGENCY)}
    )
    result = inquire(network, YAMAGATA, order)

    assert result.error is not None
    assert result.error.code == "PRM001"
    assert (result.status_detail, result.status_info_type) == ("99", "99")
    assert result.error.message_ja == (
        "指定された特定個人情報名「ＴＭ０００００００００００００２」の照会は許可されていません。"
    )
    assert result.items == []


def test_no_replica_returns_rpl001_with_status_09_02(network: RunningNetwork) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "registered_without_tax"))

    assert result.error is not None
    assert result.error.code == "RPL001"
    assert (result.status_detail, result.status_info_type) == (
        DetailStatus.COMPLETED,
        InfoTypeStatus.NO_DATA,
    )


def test_pseudonym_not_acquired_returns_idn001_with_the_real_message(
    network: RunningNetwork,
) -> None:
    atena = network.atena(YAMAGATA, "no_pseudonym")
    order = tax_order(network, "moved_in").model_copy(update={"atena_number": atena})
    result = inquire(network, YAMAGATA, order)

    assert result.error is not None
    assert result.error.code == "IDN001"
    fullwidth = atena.translate({ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"})
    assert result.error.message_ja == (
        f"指定された団体内統合宛名番号「{fullwidth}」は符号が未取得です。"
    )


def test_provider_without_the_persons_pseudonym_returns_idn004(network: RunningNetwork) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "lifelong_yamagata"))

    assert result.error is not None
    assert result.error.code == "IDN004"


def test_public_fund_account_is_provided_or_explicitly_absent(network: RunningNetwork) -> None:
    def account_order(persona: str) -> InquiryOrder:
        return InquiryOrder(
            atena_number=network.atena(FUKUOKA, persona),
            affair_code=ACCOUNT_AFFAIR,
            procedure_code=ACCOUNT_PROCEDURE,
            info_type_code=PUBLIC_FUND_ACCOUNT_INFO,
            provider_code=network.code(DIGITAL_AGENCY),
        )

    holder = inquire(network, FUKUOKA, account_order("account_holder"))
    absent = inquire(network, FUKUOKA, account_order("no_account"))

    person = network.population.persona_person("account_holder")
    account = next(
        r
        for r in network.population.replicas_of(person.person_key)
        if r.agency_slug == DIGITAL_AGENCY
    )
    assert holder.error is None
    assert [(item.code, item.value) for item in holder.items] == list(account.items)
    assert absent.error is not None
    assert absent.error.code == "RPL001"


def test_three_records_share_one_inquiry_id(network: RunningNetwork) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "moved_in"))
    records = copies(network, result.inquiry_id, YAMAGATA, ODAWARA)

    assert set(records) == {RecordSide.REQUESTER, RecordSide.HUB, RecordSide.PROVIDER}
    for record in records.values():
        assert record.inquiry_id == result.inquiry_id
        assert record.requester_code == network.code(YAMAGATA)
        assert record.provider_code == network.code(ODAWARA)
        assert record.affair_code == TAX_AFFAIR
        assert record.procedure_code == TAX_PROCEDURE
        assert record.info_type_code == LOCAL_TAX_INFO
        assert record.item_codes == [item.code for item in result.items]
        assert (record.status_detail, record.status_info_type) == ("09", "01")
        assert record.requested_at == result.requested_at
    assert records[RecordSide.HUB].provided_at == result.provided_at


def test_failed_inquiries_are_recorded_at_the_hub_too(network: RunningNetwork) -> None:
    order = tax_order(network, "moved_in").model_copy(
        update={"provider_code": network.code(DIGITAL_AGENCY)}
    )
    result = inquire(network, YAMAGATA, order)

    async def hub_copy() -> ProvisionRecord:
        async with network.hub() as hub:
            return await hub.record(result.inquiry_id)

    record = run(hub_copy())
    assert record.error_code == "PRM001"
    assert record.item_codes == []


def test_mistaken_person_addendum_reaches_all_copies_and_the_persons_view(
    network: RunningNetwork,
) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "namesake"))
    before = copies(network, result.inquiry_id, YAMAGATA, ODAWARA)

    async def declare() -> uuid.UUID:
        async with network.agency(YAMAGATA) as yamagata:
            addendum = await yamagata.declare_mistaken(
                result.inquiry_id,
                MistakenDeclaration(reason="同姓の別人を照会", declared_by_user="e2e-staff"),
            )
            repeated = await yamagata.declare_mistaken(
                result.inquiry_id,
                MistakenDeclaration(reason="同姓の別人を照会", declared_by_user="e2e-staff"),
            )
            assert repeated.addendum_id == addendum.addendum_id
            with pytest.raises(ServiceError) as again:
                await yamagata.declare_mistaken(
                    result.inquiry_id,
                    MistakenDeclaration(reason="別の理由", declared_by_user="e2e-staff"),
                )
            assert again.value.status == 409
            assert again.value.body.code == "REC005"
            assert again.value.body.retryable is False
            assert to_fullwidth(str(result.inquiry_id)) in again.value.body.message_ja
            return addendum.addendum_id

    addendum_id = run(declare())
    after = copies(network, result.inquiry_id, YAMAGATA, ODAWARA)

    for side, record in after.items():
        assert [a.addendum_id for a in record.addenda] == [addendum_id], side
        assert record.addenda[0].reason == "同姓の別人を照会"
        assert record.addenda[0].declared_by_agency == network.code(YAMAGATA)
        unchanged = before[side].model_copy(update={"addenda": []})
        assert record.model_copy(update={"addenda": []}) == unchanged, side

    async def view() -> list[ProvisionRecord]:
        async with network.agency(YAMAGATA) as yamagata:
            return (await yamagata.disclosure(network.atena(YAMAGATA, "namesake"))).records

    shown = [record for record in run(view()) if record.inquiry_id == result.inquiry_id]
    assert len(shown) == 1
    assert [a.addendum_id for a in shown[0].addenda] == [addendum_id]


def test_disclosure_shows_only_the_persons_own_records_and_hides_non_disclosed(
    network: RunningNetwork,
) -> None:
    visible = inquire(network, YAMAGATA, tax_order(network, "moved_in"))
    hidden = inquire(
        network,
        YAMAGATA,
        tax_order(network, "moved_in").model_copy(update={"non_disclosure": True}),
    )
    other = inquire(network, YAMAGATA, tax_order(network, "namesake"))

    async def view() -> set[uuid.UUID]:
        async with network.agency(YAMAGATA) as yamagata:
            shown = await yamagata.disclosure(network.atena(YAMAGATA, "moved_in"))
            return {record.inquiry_id for record in shown.records}

    shown = run(view())
    assert visible.inquiry_id in shown
    assert hidden.inquiry_id not in shown
    assert other.inquiry_id not in shown


def test_a_killed_provider_yields_avl001_within_the_timeout(network: RunningNetwork) -> None:
    network.launcher.kill_service(ODAWARA)
    try:
        started = time.monotonic()
        result = inquire(network, YAMAGATA, tax_order(network, "moved_in"))
        elapsed = time.monotonic() - started

        assert result.error is not None
        assert result.error.code == "AVL001"
        assert result.error.retryable is True
        assert elapsed < PROVIDER_TIMEOUT + 1.0

        async def hub_copy() -> ProvisionRecord:
            async with network.hub() as hub:
                return await hub.record(result.inquiry_id)

        assert run(hub_copy()).error_code == "AVL001"
    finally:
        network.launcher.start_service(ODAWARA)
        network.launcher.wait_healthy()

    assert inquire(network, YAMAGATA, tax_order(network, "moved_in")).error is None


def test_addendum_waits_for_a_provider_that_is_down_and_arrives_later(
    network: RunningNetwork,
) -> None:
    result = inquire(network, YAMAGATA, tax_order(network, "namesake"))
    network.launcher.kill_service(ODAWARA)
    try:

        async def declare() -> uuid.UUID:
            async with network.agency(YAMAGATA) as yamagata:
                addendum = await yamagata.declare_mistaken(
                    result.inquiry_id,
                    MistakenDeclaration(reason="誤照会", declared_by_user="e2e-staff"),
                )
                return addendum.addendum_id

        addendum_id = run(declare())
    finally:
        network.launcher.start_service(ODAWARA)
        network.launcher.wait_healthy()

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        provider = copies(network, result.inquiry_id, YAMAGATA, ODAWARA)[RecordSide.PROVIDER]
        if provider.addenda:
            break
        time.sleep(0.5)
    assert [a.addendum_id for a in provider.addenda] == [addendum_id]
