"""Bulk loading on real SQLite databases: the hub's 符号一括取得 and the intermediate server's
一括登録 of people and replicas (fakes stand in for the services they call)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from stdnum.jp import in_ as my_number_format

from agencies.population import generate_population
from error_codes import IpnsimError
from intermediate_server.db import Person, Replica
from intermediate_server.schemas import (
    PersonRegistration,
    ReplicaBulkRegistration,
    ReplicaRegistration,
)
from intermediate_server.service import AgencyIdentity, IntermediateService
from ipnsim.client import bulk_bodies
from ipnsim.seeding import encode_person, encode_replica, replica_registration
from ipnsim.storage import create_engine, migrate, sessionmaker
from network.db import MIGRATIONS as HUB_MIGRATIONS
from network.db import IssuedPseudonym
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.models import (
    AgencyKind,
    PseudonymBulkRequest,
    ReplicaItem,
)
from network.pseudonyms import person_key, pseudonym_for
from network.registry import AgencyEntry, Registry
from network.service import HubService
from network.settings import HubSettings
from tests.unit.fake_hub import FakeHub, run_with_hub
from tests.unit.raising import expect

SECRET = b"bulk-secret-for-unit-tests-0001"
YAMAGATA = "2006201400000000"
ODAWARA = "2014206900000000"
TAX = "TM00000000000002"
TODAY = dt.date(2026, 6, 15)
AGENCY = AgencyIdentity(code=ODAWARA, name_ja="小田原市")


def resident(n: int) -> str:
    return f"{10_000_000_000 + n:011d}"


def atena(n: int) -> str:
    return f"{n:015d}"


def my_number(n: int) -> str:
    body = f"{n:011d}"
    return body + my_number_format.calc_check_digit(body)


def entry(code: str, name: str) -> AgencyEntry:
    return AgencyEntry(
        code=code,
        name_ja=name,
        name_en=name,
        kind=AgencyKind.MUNICIPALITY,
        base_url=f"http://127.0.0.1:1/{code}",
        credential=f"credential-of-{code}",
    )


AGENCIES = {YAMAGATA: entry(YAMAGATA, "山形市"), ODAWARA: entry(ODAWARA, "小田原市")}


# --- the hub: 符号一括取得 -----------------------------------------------------------------------


def run_hub(tmp_path: Path, scenario: Callable[[HubService], Awaitable[None]]) -> None:
    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        try:
            await migrate(engine, HUB_MIGRATIONS)
            service = HubService(
                sessionmaker(engine),
                Registry(dict(AGENCIES)),
                PermissionTable.load(
                    HubSettings.model_fields["permissions_file"].default, catalogue()
                ),
                catalogue(),
                None,  # type: ignore[arg-type]  # no inquiries here: no router needed
                SECRET,
            )
            await scenario(service)
        finally:
            await engine.dispose()

    asyncio.run(go())


async def issued_rows(service: HubService) -> list[IssuedPseudonym]:
    async with service.sessions() as session:
        return list(await session.scalars(select(IssuedPseudonym)))


def test_bulk_issuance_answers_in_order_and_matches_single_issuance(tmp_path: Path) -> None:
    codes = [resident(n) for n in range(50)]

    async def scenario(service: HubService) -> None:
        caller = AGENCIES[YAMAGATA]
        single = await service.issue_pseudonym(caller, YAMAGATA, codes[7])
        pseudonyms = await service.issue_pseudonyms(caller, YAMAGATA, codes)
        assert len(pseudonyms) == len(codes)
        assert pseudonyms[7] == single
        for code, pseudonym in zip(codes, pseudonyms, strict=True):
            assert pseudonym == pseudonym_for(SECRET, person_key(SECRET, code), YAMAGATA)
        assert len(set(pseudonyms)) == len(codes)
        other = await service.issue_pseudonyms(AGENCIES[ODAWARA], ODAWARA, codes[:5])
        assert not set(other) & set(pseudonyms), "符号 differ between agencies"
        assert len(await issued_rows(service)) == len(codes) + 5

    run_hub(tmp_path, scenario)


def test_bulk_issuance_is_idempotent_and_takes_repeated_people(tmp_path: Path) -> None:
    codes = [resident(n) for n in range(20)]

    async def scenario(service: HubService) -> None:
        caller = AGENCIES[YAMAGATA]
        first = await service.issue_pseudonyms(caller, YAMAGATA, codes[:10])
        rows = {row.pseudonym: row.issued_at for row in await issued_rows(service)}
        again = await service.issue_pseudonyms(caller, YAMAGATA, [*codes, codes[3], codes[15]])
        assert again[:10] == first
        assert again[20] == again[3]
        assert again[21] == again[15]
        after = {row.pseudonym: row.issued_at for row in await issued_rows(service)}
        assert len(after) == 20
        assert all(after[pseudonym] == at for pseudonym, at in rows.items())

    run_hub(tmp_path, scenario)


def test_bulk_issuance_for_another_agency_is_aut002(tmp_path: Path) -> None:
    async def scenario(service: HubService) -> None:
        with pytest.raises(IpnsimError) as caught:
            await service.issue_pseudonyms(AGENCIES[YAMAGATA], ODAWARA, [resident(1)])
        assert caught.value.code == "AUT002"
        assert await issued_rows(service) == []

    run_hub(tmp_path, scenario)


def test_bulk_issuance_neither_stores_nor_logs_resident_codes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    codes = [resident(n) for n in range(10)]

    async def scenario(service: HubService) -> None:
        await service.issue_pseudonyms(AGENCIES[YAMAGATA], YAMAGATA, codes)

    with caplog.at_level(logging.DEBUG):
        run_hub(tmp_path, scenario)
    assert "issued 10 new 符号" in caplog.text
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("hub.sqlite3*"))
    for code in codes:
        assert code not in caplog.text
        assert code.encode() not in stored


def test_bulk_request_model_limits_the_number_of_codes() -> None:
    PseudonymBulkRequest(agency_code=YAMAGATA, resident_codes=[resident(1)] * 10_000)
    for codes in ([], [resident(1)] * 10_001, ["123"]):
        with pytest.raises(ValueError, match="resident_codes"):
            PseudonymBulkRequest(agency_code=YAMAGATA, resident_codes=codes)


# --- the intermediate server: 一括登録 ----------------------------------------------------------


Scenario = Callable[[IntermediateService, FakeHub], Awaitable[None]]


def run_server(tmp_path: Path, scenario: Scenario) -> FakeHub:
    return run_with_hub(tmp_path, AGENCY, FakeHub(SECRET), scenario, today=lambda: TODAY)


def person(n: int, **overrides: Any) -> PersonRegistration:
    values: dict[str, Any] = {"atena_number": atena(n), "resident_code": resident(n)}
    return PersonRegistration(**(values | overrides))


def replica(record_id: str, n: int = 1, **overrides: Any) -> ReplicaRegistration:
    values: dict[str, Any] = {
        "record_id": record_id,
        "atena_number": atena(n),
        "info_type_code": TAX,
        "layout_version": 1,
        "fiscal_year": 2026,
        "publication_start": dt.date(2026, 6, 1),
        "items": [
            ReplicaItem(code=code, value=value)
            for code, value in (
                ("I001", "2026"),
                ("I002", "3500000"),
                ("I003", "2100000"),
                ("I004", "126000"),
                ("I005", "5000"),
                ("I006", "1"),
                ("I007", "0"),
            )
        ],
    }
    return ReplicaRegistration(**(values | overrides))


async def count(service: IntermediateService, model: type[Person] | type[Replica]) -> int:
    async with service.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(model))
    assert total is not None
    return total


def test_bulk_people_are_registered_and_get_their_pseudonyms_in_one_hub_call(
    tmp_path: Path,
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        people = [person(n, my_number=my_number(n)) for n in range(1, 31)]
        result = await service.register_people_bulk(people)
        assert (result.created, result.existing) == (30, 0)
        assert hub.paths() == ["/v1/pseudonyms/bulk"]
        request = hub.calls[0][1]
        assert isinstance(request, PseudonymBulkRequest)
        assert request.agency_code == AGENCY.code
        assert request.resident_codes == [resident(n) for n in range(1, 31)]
        view = await service.person(atena(5))
        assert view.has_my_number
        assert view.pseudonym == pseudonym_for(SECRET, person_key(SECRET, resident(5)), ODAWARA)
        assert view.pseudonym_acquired_at is not None

    run_server(tmp_path, scenario)


def test_bulk_people_twice_changes_nothing_and_calls_the_hub_once(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        people = [person(n) for n in range(1, 11)]
        await service.register_people_bulk(people)
        before = await service.person(atena(3))
        result = await service.register_people_bulk(people)
        assert (result.created, result.existing) == (0, 10)
        assert hub.paths() == ["/v1/pseudonyms/bulk"]
        assert await service.person(atena(3)) == before
        mixed = await service.register_people_bulk([person(1), person(11)])
        assert (mixed.created, mixed.existing) == (1, 1)
        assert await count(service, Person) == 11
        last = hub.calls[-1][1]
        assert isinstance(last, PseudonymBulkRequest)
        assert last.resident_codes == [resident(11)], "only people without 符号 are sent"

    run_server(tmp_path, scenario)


def test_bulk_people_can_be_registered_without_pseudonym_and_obtain_it_later(
    tmp_path: Path,
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        result = await service.register_people_bulk(
            [person(1, acquire_pseudonym=False), person(2, acquire_pseudonym=False)]
        )
        assert (result.created, result.existing) == (2, 0)
        assert hub.calls == []
        assert (await service.person(atena(1))).pseudonym is None
        await service.register_people_bulk([person(1), person(2, acquire_pseudonym=False)])
        assert (await service.person(atena(1))).pseudonym is not None
        assert (await service.person(atena(2))).pseudonym is None

    run_server(tmp_path, scenario)


def test_bulk_people_may_add_a_my_number_to_a_known_person(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        assert not (await service.person(atena(1))).has_my_number
        await service.register_people_bulk([person(1, my_number=my_number(1))])
        assert (await service.person(atena(1))).has_my_number

    run_server(tmp_path, scenario)


def test_same_atena_twice_in_one_request_is_one_person(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        result = await service.register_people_bulk([person(1), person(2), person(1)])
        assert (result.created, result.existing) == (2, 1)
        request = hub.calls[0][1]
        assert isinstance(request, PseudonymBulkRequest)
        assert request.resident_codes == [resident(1), resident(2)]

    run_server(tmp_path, scenario)


def test_another_resident_code_for_a_known_atena_refuses_the_whole_request(
    tmp_path: Path,
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        conflicting = [person(2), person(3), person(1, resident_code=resident(99)), person(4)]
        error = await expect(service.register_people_bulk(conflicting), "IDN005")
        assert error.params["atena_number"] == atena(1)
        assert [detail.field for detail in error.details] == ["people.2"]
        assert await count(service, Person) == 1, "nothing of the request is written"
        assert len(hub.calls) == 1

    run_server(tmp_path, scenario)


def test_another_resident_code_within_one_request_is_idn005(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        people = [person(1), person(2), person(1, resident_code=resident(99))]
        error = await expect(service.register_people_bulk(people), "IDN005")
        assert [detail.field for detail in error.details] == ["people.2"]
        assert "people.0" in error.details[0].problem
        assert await count(service, Person) == 0
        assert hub.calls == []

    run_server(tmp_path, scenario)


def test_people_stay_registered_when_the_hub_fails_and_a_retry_obtains_the_pseudonyms(
    tmp_path: Path,
) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        hub.fail_with = "AVL003"
        await expect(service.register_people_bulk([person(1), person(2)]), "AVL003")
        assert (await service.person(atena(1))).pseudonym is None
        hub.fail_with = None
        result = await service.register_people_bulk([person(1), person(2)])
        assert (result.created, result.existing) == (0, 2)
        assert (await service.person(atena(2))).pseudonym is not None

    run_server(tmp_path, scenario)


def test_bulk_replicas_are_registered_and_skipped_when_present(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1), person(2)])
        replicas = [replica(f"R{n:03d}", n % 2 + 1) for n in range(40)]
        result = await service.register_replicas_bulk(replicas)
        assert (result.created, result.existing) == (40, 0)
        views = await service.replicas(atena(1))
        assert len(views) == 20
        assert views[0].items == replicas[1].items
        assert views[0].fiscal_year == 2026
        again = await service.register_replicas_bulk([*replicas[:5], replica("R100")])
        assert (again.created, again.existing) == (1, 5)
        assert await count(service, Replica) == 41

    run_server(tmp_path, scenario)


def test_bulk_replicas_are_answered_like_single_ones(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        await service.register_replicas_bulk([replica("BULK-1")])
        await service.register_replica(replica("SINGLE-1", fiscal_year=2025))
        by_id = {view.record_id: view for view in await service.replicas(atena(1))}
        bulk, single = by_id["BULK-1"], by_id["SINGLE-1"]
        assert bulk.items == single.items
        assert bulk.registered_at == bulk.updated_at
        assert bulk.publication_start == single.publication_start

    run_server(tmp_path, scenario)


def test_a_deleted_record_id_can_be_registered_again_in_bulk(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        await service.register_replicas_bulk([replica("R1"), replica("R2")])
        await service.delete_replica("R1")
        result = await service.register_replicas_bulk(
            [replica("R1", fiscal_year=2025), replica("R2")]
        )
        assert (result.created, result.existing) == (1, 1)
        by_id = {view.record_id: view for view in await service.replicas(atena(1))}
        assert by_id["R1"].fiscal_year == 2025

    run_server(tmp_path, scenario)


def test_a_layout_error_anywhere_refuses_every_replica_with_rpl004(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        bad_items = [*replica("X").items[:-1], ReplicaItem(code="I007", value="yes!")]
        replicas = [replica("R1"), replica("R2"), replica("R3", items=bad_items)]
        error = await expect(service.register_replicas_bulk(replicas), "RPL004")
        assert error.params["item"] == "I007"
        assert [detail.field for detail in error.details] == ["replicas.2"]
        assert "I007" in error.details[0].problem
        wrong_version = [replica("R1", layout_version=9)]
        error = await expect(service.register_replicas_bulk(wrong_version), "RPL006")
        assert (error.params["given"], error.params["current"]) == ("9", "1")
        assert [detail.field for detail in error.details] == ["replicas.0"]
        assert await count(service, Replica) == 0

    run_server(tmp_path, scenario)


def test_an_unknown_atena_refuses_every_replica_with_idn002(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        replicas = [replica("R1"), replica("R2"), replica("R3"), replica("R4", n=7)]
        error = await expect(service.register_replicas_bulk(replicas), "IDN002")
        assert error.params["atena_number"] == atena(7)
        assert [detail.field for detail in error.details] == ["replicas.3"]
        assert await count(service, Replica) == 0

    run_server(tmp_path, scenario)


def test_a_record_id_twice_in_one_request_is_rpl002(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await service.register_people_bulk([person(1)])
        replicas = [replica("R1"), replica("R2"), replica("R1", fiscal_year=2025)]
        error = await expect(service.register_replicas_bulk(replicas), "RPL002")
        assert error.params["record_id"] == "R1"
        assert [detail.field for detail in error.details] == ["replicas.2"]
        assert "replicas.0" in error.details[0].problem
        assert await count(service, Replica) == 0

    run_server(tmp_path, scenario)


def test_bulk_registration_of_thousands_takes_few_statements(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        people = [person(n) for n in range(1, 6_001)]
        result = await service.register_people_bulk(people)
        assert (result.created, result.existing) == (6_000, 0)
        assert len(hub.calls) == 1
        replicas = [replica(f"R{n}", n) for n in range(1, 6_001)]
        assert (await service.register_replicas_bulk(replicas)).created == 6_000
        assert (await service.register_replicas_bulk(replicas)).existing == 6_000
        async with service.sessions() as session:
            missing = await session.scalar(
                select(func.count()).select_from(Person).where(Person.pseudonym.is_(None))
            )
        assert missing == 0

    run_server(tmp_path, scenario)


# --- the client's chunks ------------------------------------------------------------------------


def test_bulk_bodies_respect_the_item_and_byte_limits() -> None:
    items = [b'{"n":%d}' % n for n in range(25)]
    bodies = list(bulk_bodies("people", items, max_items=10, max_bytes=10_000))
    assert [len(body.split(b"},{")) for body in bodies] == [10, 10, 5]
    assert bodies[0].startswith(b'{"people":[{"n":0}')
    small = list(bulk_bodies("people", items, max_items=100, max_bytes=50))
    assert all(len(body) <= 50 for body in small)
    joined = b",".join(body[len(b'{"people":[') : -2] for body in small)
    assert joined == b",".join(items)
    with pytest.raises(ValueError, match="does not fit"):
        list(bulk_bodies("people", [b"x" * 100], max_bytes=50))


# --- the loader's encoding and the bulk replica model ---------------------------------------


def test_the_loaders_json_is_the_registration_models_json() -> None:
    population = generate_population(seed=5, size=300)
    people = {person.person_key: person for person in population.people}

    for seed in population.replicas:
        assert json.loads(encode_replica(seed)) == json.loads(
            replica_registration(seed).model_dump_json(exclude_none=True)
        )
    for registration in population.registrations:
        person_ = people[registration.person_key]
        expected = PersonRegistration(
            atena_number=registration.atena_number,
            resident_code=person_.resident_code,
            my_number=person_.my_number,
            acquire_pseudonym=registration.acquire_pseudonym,
        )
        encoded = encode_person(registration, person_.resident_code, person_.my_number)
        assert json.loads(encoded) == json.loads(expected.model_dump_json(exclude_none=True))


def bulk_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = json.loads(replica("R1").model_dump_json(exclude_none=True))
    item.update(changes)
    return item


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([{"code": "I001", "value": "1", "reason_of_null": "NotAcceptable"}], "not both"),
        ([{"code": "I001"}], "not neither"),
        ([{"code": "I001", "value": "1"}, {"code": "I001", "value": "2"}], "appears twice"),
        ([{"code": "X001", "value": "1"}], "should match pattern"),
        ([{"code": "I001", "value": "1", "colour": "red"}], "Extra inputs are not permitted"),
        ([], "at least 1 item"),
    ],
)
def test_bulk_replica_items_follow_the_rules_of_single_ones(
    items: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        ReplicaBulkRegistration.model_validate({"replicas": [bulk_item(items=items)]})
    if items:
        with pytest.raises(ValidationError):
            ReplicaRegistration.model_validate(bulk_item(items=items))


def test_a_bulk_replica_equals_its_single_registration() -> None:
    single = replica("R1")
    bulk = ReplicaBulkRegistration.model_validate_json(
        '{"replicas":[' + single.model_dump_json(exclude_none=True) + "]}"
    ).replicas[0]

    assert bulk.item_triples() == single.item_triples()
    assert (bulk.record_id, bulk.publication_start, bulk.fiscal_year) == (
        single.record_id,
        single.publication_start,
        single.fiscal_year,
    )
