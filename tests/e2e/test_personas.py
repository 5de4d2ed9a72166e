"""Personas, the affair tour and the resident-registry lookup over a running network."""

from __future__ import annotations

import json

import httpx
import pytest

from agencies.personas import NINE_AFFAIRS, PERSONA_NAMES
from intermediate_server.schemas import InquiryOrder
from network.protocol.models import (
    ConditionKind,
    InquiryCondition,
    PersonaCatalogue,
    PersonaInquiry,
    PersonaOutcome,
)
from tests.e2e.conftest import RunningNetwork, run
from tests.e2e.test_cli import ipnsim, json_of

pytestmark = pytest.mark.e2e


def order_for(inquiry: PersonaInquiry) -> InquiryOrder:
    condition = (
        InquiryCondition()
        if inquiry.fiscal_year is None
        else InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=inquiry.fiscal_year)
    )
    return InquiryOrder(
        atena_number=inquiry.atena_number,
        affair_code=inquiry.affair_code,
        procedure_code=inquiry.procedure_code,
        info_type_code=inquiry.info_type_code,
        provider_code=inquiry.provider_code,
        condition=condition,
        user_id="persona-test",
    )


def outcome_of(network: RunningNetwork, inquiry: PersonaInquiry) -> PersonaOutcome:
    async def send() -> PersonaOutcome:
        async with network.agency(inquiry.requester_slug) as client:
            result = await client.inquire(order_for(inquiry))
        return PersonaOutcome(
            status_detail=result.status_detail,
            status_info_type=result.status_info_type,
            error_code=None if result.error is None else result.error.code,
        )

    return run(send())


def personas_of(network: RunningNetwork) -> PersonaCatalogue:
    async def fetch() -> PersonaCatalogue:
        async with network.hub() as hub:
            return await hub.personas()

    return run(fetch())


def test_hub_lists_the_personas_of_the_running_population(network: RunningNetwork) -> None:
    served = personas_of(network)

    assert [persona.name for persona in served.personas] == list(PERSONA_NAMES)
    assert served == network.population.persona_catalogue()
    assert [stop.affair_code for stop in served.affair_tour] == list(NINE_AFFAIRS)


@pytest.mark.parametrize("name", PERSONA_NAMES)
def test_each_personas_inquiry_gives_the_outcome_it_guarantees(
    network: RunningNetwork, name: str
) -> None:
    persona = next(p for p in personas_of(network).personas if p.name == name)
    assert persona.inquiry is not None
    assert persona.expected is not None

    assert outcome_of(network, persona.inquiry) == persona.expected


@pytest.mark.parametrize("affair_code", NINE_AFFAIRS)
def test_every_affair_of_the_catalogue_is_inquired_end_to_end(
    network: RunningNetwork, affair_code: str
) -> None:
    stop = next(s for s in personas_of(network).affair_tour if s.affair_code == affair_code)

    outcome = outcome_of(network, stop.inquiry)

    assert outcome == stop.expected
    assert outcome.error_code is None
    assert (outcome.status_detail.value, outcome.status_info_type.value) == ("09", "01")


def test_an_unknown_persona_is_val006(network: RunningNetwork) -> None:
    response = httpx.get(network.network.hub.url + "/v1/personas/nobody", timeout=10)

    assert response.status_code == 422
    assert response.json()["code"] == "VAL006"
    assert "nobody" in response.json()["message_en"]


def test_personas_command_prints_the_catalogue_as_json(network: RunningNetwork) -> None:
    listed = ipnsim("personas", "--json", data_dir=network.data_dir)

    assert listed.returncode == 0, listed.stderr
    assert PersonaCatalogue.model_validate(json_of(listed)) == personas_of(network)
    table = ipnsim("personas", "--tour", data_dir=network.data_dir)
    assert table.returncode == 0, table.stderr
    assert "not_permitted" in table.stdout
    assert "JM01000000281000" in table.stdout
    assert table.stderr == ""


def test_inquire_with_a_persona_sends_the_personas_own_inquiry(network: RunningNetwork) -> None:
    result = ipnsim(
        "inquire",
        "--from",
        "fukuoka",
        "--to",
        "yamagata",
        "--persona",
        "not_permitted",
        "--procedure",
        "JT01010000000214",
        "--info-type",
        "TM00000000000011",
        "--json",
        data_dir=network.data_dir,
    )

    assert result.returncode == 1, result.stderr
    assert json_of(result)["error"]["code"] == "PRM001"


def test_lookup_finds_a_persona_by_name_birth_date_and_sex(network: RunningNetwork) -> None:
    person = network.population.persona_person("moved_in")

    result = ipnsim(
        "lookup",
        "--name",
        f"{person.family_name} {person.given_name}",
        "--birth-date",
        person.birth_date.isoformat(),
        "--sex",
        person.sex,
        "--json",
        data_dir=network.data_dir,
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["my_number"] == person.my_number
    assert found["resident_code"] == person.resident_code


def test_lookup_of_nobody_exits_1_with_idn007(network: RunningNetwork) -> None:
    result = ipnsim(
        "lookup",
        "--kana",
        "ダレモイナイ",
        "--birth-date",
        "1901-01-01",
        "--sex",
        "male",
        data_dir=network.data_dir,
    )

    assert result.returncode == 1
    assert "IDN007" in result.stderr
    assert "Traceback" not in result.stderr
