"""Bulk loading over real processes: people and replicas registered in bulk are inquired about."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO
from intermediate_server.schemas import BulkResult, InquiryOrder, PersonRegistration
from intermediate_server.schemas import ReplicaRegistration as Replica
from ipnsim.client import ServiceError
from network.protocol.models import (
    ConditionKind,
    DetailStatus,
    InfoTypeStatus,
    InquiryCondition,
    InquiryResult,
    ReplicaItem,
)
from tests.e2e.conftest import RunningNetwork, run

pytestmark = pytest.mark.e2e

PEOPLE = 5
TAX_VALUES = ("2026", "4200000", "3000000", "180000", "5000", "0", "0")


def odawara_atena(n: int) -> str:
    return f"99100000000{n:04d}"


def yamagata_atena(n: int) -> str:
    return f"99200000000{n:04d}"


def resident_code(n: int) -> str:
    return f"9930000{n:04d}"


def tax_replica(n: int) -> Replica:
    values = (*TAX_VALUES[:1], str(4_000_000 + n), *TAX_VALUES[2:])
    return Replica(
        record_id=f"BULK-E2E-TAX-2026-{n:04d}",
        atena_number=odawara_atena(n),
        info_type_code=LOCAL_TAX_INFO,
        layout_version=1,
        fiscal_year=2026,
        publication_start=dt.date(2026, 6, 1),
        items=[ReplicaItem(code=f"I{i:03d}", value=v) for i, v in enumerate(values, start=1)],
    )


def test_people_and_replicas_loaded_in_bulk_can_be_inquired_about(
    network: RunningNetwork,
) -> None:
    at_odawara = [
        PersonRegistration(atena_number=odawara_atena(n), resident_code=resident_code(n))
        for n in range(PEOPLE)
    ]
    at_yamagata = [
        PersonRegistration(atena_number=yamagata_atena(n), resident_code=resident_code(n))
        for n in range(PEOPLE)
    ]
    replicas = [tax_replica(n) for n in range(PEOPLE)]

    async def load() -> tuple[list[BulkResult], InquiryResult]:
        async with network.agency(ODAWARA) as odawara, network.agency(YAMAGATA) as yamagata:
            results = [
                await odawara.register_people_bulk(at_odawara),
                await yamagata.register_people_bulk(at_yamagata),
                await odawara.register_replicas_bulk(replicas),
                await odawara.register_people_bulk(at_odawara),
                await odawara.register_replicas_bulk(replicas),
            ]
            person = await yamagata.person(yamagata_atena(3))
            assert person.pseudonym is not None
            answer = await yamagata.inquire(
                InquiryOrder(
                    atena_number=yamagata_atena(3),
                    affair_code="JM01000000121000",
                    procedure_code="JT01010000000214",
                    info_type_code=LOCAL_TAX_INFO,
                    provider_code=network.code(ODAWARA),
                    condition=InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2026),
                    user_id="e2e-bulk",
                )
            )
        return results, answer

    results, answer = run(load())
    counts = [(result.created, result.existing) for result in results]
    assert counts == [(5, 0), (5, 0), (5, 0), (0, 5), (0, 5)]
    assert answer.error is None, answer.error
    assert (answer.status_detail, answer.status_info_type) == (
        DetailStatus.COMPLETED,
        InfoTypeStatus.PROVIDED,
    )
    assert {item.code: item.value for item in answer.items}["I002"] == "4000003"
    assert answer.replica is not None
    assert answer.replica.record_id == "BULK-E2E-TAX-2026-0003"


def test_more_than_ten_thousand_items_is_val001(network: RunningNetwork) -> None:
    people = [
        PersonRegistration(atena_number=f"99400{n:010d}", resident_code=f"994{n:08d}")
        for n in range(10_001)
    ]

    async def send() -> None:
        async with network.agency(ODAWARA) as odawara:
            await odawara.register_people_bulk(people, chunk_size=len(people))

    with pytest.raises(ServiceError) as caught:
        run(send())
    assert caught.value.status == 422
    assert caught.value.body.code == "VAL001"
    assert caught.value.body.details[0].field == "people"


def test_a_bad_item_is_named_by_its_index_and_nothing_is_written(network: RunningNetwork) -> None:
    replicas = [tax_replica(100), tax_replica(101).model_copy(update={"atena_number": "9" * 15})]

    async def send() -> int:
        async with network.agency(ODAWARA) as odawara:
            await odawara.register_people_bulk(
                [
                    PersonRegistration(
                        atena_number=odawara_atena(100), resident_code=resident_code(100)
                    )
                ]
            )
            with pytest.raises(ServiceError) as caught:
                await odawara.register_replicas_bulk(replicas)
            assert caught.value.body.code == "IDN002"
            assert [detail.field for detail in caught.value.body.details] == ["replicas.1"]
            return len(await odawara.replicas(odawara_atena(100)))

    assert run(send()) == 0


def test_bulk_pseudonyms_at_the_hub_need_the_agency_credential(network: RunningNetwork) -> None:
    body = {"agency_code": network.code(ODAWARA), "resident_codes": [resident_code(200)]}
    url = network.network.hub.url + "/v1/pseudonyms/bulk"
    anonymous = httpx.post(url, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "AUT001"
    other = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {network.credential(YAMAGATA)}"}
    )
    assert other.json()["code"] == "AUT002"
    own = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {network.credential(ODAWARA)}"}
    )
    assert own.status_code == 200
    issued = own.json()
    assert issued["agency_code"] == network.code(ODAWARA)
    assert len(issued["pseudonyms"]) == 1
