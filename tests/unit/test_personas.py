"""The persona catalogue: every persona exists, says what it shows, names an inquiry whose codes
the catalogue and the permission table know, and satisfies the premise of its outcome."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import network
from agencies.catalogue import (
    DIGITAL_AGENCY,
    FUKUOKA,
    ODAWARA,
    YAMAGATA,
    agency_by_slug,
)
from agencies.personas import (
    ACCOUNT_HOLDER,
    ARRIVED_FROM_ABROAD,
    CARE_INSURANCE_INFO,
    CARE_INSURED,
    DEPENDANT_CLAIMED_TWICE,
    INTRACTABLE_DISEASE,
    INTRACTABLE_DISEASE_INFO,
    LIFELONG_YAMAGATA,
    LOCAL_TAX_INFO,
    MANUAL_RESPONSE_HOLD,
    MOVED_IN,
    NAMESAKE,
    NINE_AFFAIRS,
    NO_ACCOUNT,
    NO_PSEUDONYM,
    NOT_PERMITTED,
    PERSONA_NAMES,
    PUBLIC_ASSISTANCE_INFO,
    PUBLIC_FUND_ACCOUNT_INFO,
    REGISTERED_WITHOUT_TAX,
    REPLICA_FRESHNESS_FEATURE,
    RESIDENT_INFO,
    STALE_REPLICA,
    PersonaInquiry,
    affair_tour,
)
from agencies.population import (
    ABROAD,
    FROM_ABROAD,
    NOT_APPLICABLE,
    Population,
    ReplicaSeed,
    generate_population,
    persona_population,
)
from agencies.population.generate import PREFECTURE_OF_ODAWARA
from ipnsim.persona_docs import render_personas_markdown, shipped_personas
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.models import PersonaCatalogue

SEEDS = [0, 1, 7, 2024]
FISCAL_YEAR = 2026
PERMISSIONS_PATH = Path(network.__file__).parent / "data" / "permissions.csv"
NEW_PERSONAS = {
    ARRIVED_FROM_ABROAD,
    DEPENDANT_CLAIMED_TWICE,
    NOT_PERMITTED,
    CARE_INSURED,
    INTRACTABLE_DISEASE,
    MANUAL_RESPONSE_HOLD,
    STALE_REPLICA,
}


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def population(request: pytest.FixtureRequest) -> Population:
    seed: int = request.param
    return generate_population(seed=seed, fiscal_year=FISCAL_YEAR)


@pytest.fixture(scope="module")
def permissions() -> PermissionTable:
    return PermissionTable.load(PERMISSIONS_PATH, catalogue())


def inquiry_of(population: Population, name: str) -> PersonaInquiry:
    inquiry = population.persona(name).inquiry
    assert inquiry is not None
    return inquiry


def of_type(population: Population, person_key: str, info_type_code: str) -> list[ReplicaSeed]:
    return [r for r in population.replicas_of(person_key) if r.info_type_code == info_type_code]


def registered_slugs(population: Population, person_key: str) -> set[str]:
    return {r.agency_slug for r in population.registrations_of(person_key)}


def has_pseudonym(population: Population, slug: str, person_key: str) -> bool | None:
    """Whether the person has a 符号 at the agency; None if not registered there."""
    for registration in population.registrations_of(person_key):
        if registration.agency_slug == slug:
            return registration.acquire_pseudonym
    return None


def simulated_outcome(
    population: Population, inquiry: PersonaInquiry, permissions: PermissionTable
) -> tuple[str, str, str | None]:
    """The outcome the network gives, decided from the population as the services decide it:
    the requester's 符号 (IDN001), the permission table (PRM001), the provider's 符号 (IDN004),
    then the provider's replicas (RPL001; the finder's answer is always given), and the 自動応答不可 flag of the one chosen (MAN001)."""
    person = inquiry.person_key
    if not has_pseudonym(population, inquiry.requester_slug, person):
        return ("99", "99", "IDN001")
    allowed = permissions.allows(
        agency_by_slug(inquiry.requester_slug).kind,
        inquiry.affair_code,
        inquiry.procedure_code,
        inquiry.info_type_code,
        agency_by_slug(inquiry.provider_slug).kind,
    )
    if not allowed:
        return ("99", "99", "PRM001")
    if not has_pseudonym(population, inquiry.provider_slug, person):
        return ("99", "99", "IDN004")
    if inquiry.info_type_code == "TM00000000000063":
        # The duplicate-dependant finder's answer is computed, claimed or not: always 09/01.
        return ("09", "01", None)
    held = [
        r
        for r in of_type(population, person, inquiry.info_type_code)
        if r.agency_slug == inquiry.provider_slug
        and (inquiry.fiscal_year is None or r.fiscal_year == inquiry.fiscal_year)
    ]
    if not held:
        return ("09", "02", "RPL001")
    chosen = max(held, key=lambda r: (r.publication_start, r.fiscal_year or 0))
    # A replica flagged 自動応答不可 waits for the provider's staff.
    return ("05", "05", "MAN001") if chosen.manual_response else ("09", "01", None)


# The catalogue


def test_every_persona_exists_with_its_texts(population: Population) -> None:
    assert list(population.personas) == list(PERSONA_NAMES)
    assert set(PERSONA_NAMES) >= NEW_PERSONAS | {
        MOVED_IN,
        NAMESAKE,
        LIFELONG_YAMAGATA,
        NO_PSEUDONYM,
        REGISTERED_WITHOUT_TAX,
        ACCOUNT_HOLDER,
        NO_ACCOUNT,
    }
    keys = [persona.person_key for persona in population.personas.values()]
    assert len(set(keys)) == len(keys)
    for name in PERSONA_NAMES:
        persona = population.persona(name)
        assert persona.name == name
        for text in (
            persona.description_en,
            persona.description_ja,
            persona.demonstrates_en,
            persona.demonstrates_ja,
        ):
            assert text.strip()
        assert population.person(persona.person_key).person_key == persona.person_key


def test_only_the_personas_of_features_not_simulated_yet_carry_one(population: Population) -> None:
    features = {name: p.feature for name, p in population.personas.items() if p.feature}
    assert features == {STALE_REPLICA: REPLICA_FRESHNESS_FEATURE}
    assert REPLICA_FRESHNESS_FEATURE == "replica-freshness"


def test_every_inquiry_names_codes_the_catalogue_defines(population: Population) -> None:
    known = catalogue()
    for persona in population.personas.values():
        inquiry = persona.inquiry
        assert inquiry is not None, persona.name
        procedure = known.procedures[inquiry.procedure_code]
        assert procedure.affair_code == inquiry.affair_code
        assert inquiry.affair_code in known.affairs
        assert inquiry.info_type_code in known.info_types
        agency_by_slug(inquiry.requester_slug)
        agency_by_slug(inquiry.provider_slug)
        assert inquiry.fiscal_year in {None, FISCAL_YEAR}
        if inquiry.info_type_code == LOCAL_TAX_INFO:
            assert inquiry.fiscal_year == FISCAL_YEAR
        expected = (
            inquiry.expected_status_detail,
            inquiry.expected_status_info_type,
            inquiry.expected_error_code,
        )
        assert expected in {
            ("09", "01", None),
            ("09", "02", "RPL001"),
            ("99", "99", "IDN001"),
            ("99", "99", "IDN004"),
            ("99", "99", "PRM001"),
            ("05", "05", "MAN001"),
        }


def test_the_permission_table_allows_every_inquiry_but_not_permitted(
    population: Population, permissions: PermissionTable
) -> None:
    for persona in population.personas.values():
        inquiry = inquiry_of(population, persona.name)
        allowed = permissions.allows(
            agency_by_slug(inquiry.requester_slug).kind,
            inquiry.affair_code,
            inquiry.procedure_code,
            inquiry.info_type_code,
            agency_by_slug(inquiry.provider_slug).kind,
        )
        assert allowed == (inquiry.expected_error_code != "PRM001"), persona.name


def test_every_persona_satisfies_the_premise_of_its_outcome(
    population: Population, permissions: PermissionTable
) -> None:
    for persona in population.personas.values():
        inquiry = inquiry_of(population, persona.name)
        expected = (
            inquiry.expected_status_detail,
            inquiry.expected_status_info_type,
            inquiry.expected_error_code,
        )
        assert simulated_outcome(population, inquiry, permissions) == expected, persona.name


def test_the_expected_outcomes_of_the_seven_original_personas(population: Population) -> None:
    outcomes = {
        name: (
            inquiry_of(population, name).requester_slug,
            inquiry_of(population, name).provider_slug,
            inquiry_of(population, name).expected_status_detail,
            inquiry_of(population, name).expected_status_info_type,
            inquiry_of(population, name).expected_error_code,
        )
        for name in PERSONA_NAMES
    }
    assert outcomes[MOVED_IN] == (YAMAGATA, ODAWARA, "09", "01", None)
    assert outcomes[NAMESAKE] == (YAMAGATA, ODAWARA, "09", "01", None)
    assert outcomes[LIFELONG_YAMAGATA] == (YAMAGATA, ODAWARA, "99", "99", "IDN004")
    assert outcomes[NO_PSEUDONYM] == (YAMAGATA, ODAWARA, "99", "99", "IDN001")
    assert outcomes[REGISTERED_WITHOUT_TAX] == (YAMAGATA, ODAWARA, "09", "02", "RPL001")
    assert outcomes[ACCOUNT_HOLDER] == (FUKUOKA, DIGITAL_AGENCY, "09", "01", None)
    assert outcomes[NO_ACCOUNT] == (FUKUOKA, DIGITAL_AGENCY, "09", "02", "RPL001")
    assert outcomes[NOT_PERMITTED][2:] == ("99", "99", "PRM001")
    assert outcomes[ARRIVED_FROM_ABROAD][2:] == ("09", "02", "RPL001")
    moved_in = inquiry_of(population, MOVED_IN)
    assert (moved_in.affair_code, moved_in.procedure_code, moved_in.info_type_code) == (
        "JM01000000121000",
        "JT01010000000214",
        "TM00000000000002",
    )
    assert moved_in.fiscal_year == FISCAL_YEAR


def test_personas_table_is_json_and_names_the_atena_at_the_requester(
    population: Population,
) -> None:
    table = population.personas_table()
    assert json.loads(json.dumps(table, ensure_ascii=False)) == table
    assert [row["name"] for row in table] == list(PERSONA_NAMES)
    for row in table:
        persona = population.persona(str(row["name"]))
        inquiry = persona.inquiry
        assert inquiry is not None
        atena = population.atena_number(inquiry.requester_slug, inquiry.person_key)
        assert row["atena_number"] == atena
        assert row["demonstrates_en"] == persona.demonstrates_en
        assert row["demonstrates_ja"] == persona.demonstrates_ja
        assert row["feature"] == persona.feature
        assert row["inquiry"] == {
            "person_key": inquiry.person_key,
            "requester_slug": inquiry.requester_slug,
            "requester_code": agency_by_slug(inquiry.requester_slug).code,
            "atena_number": atena,
            "provider_slug": inquiry.provider_slug,
            "provider_code": agency_by_slug(inquiry.provider_slug).code,
            "affair_code": inquiry.affair_code,
            "procedure_code": inquiry.procedure_code,
            "info_type_code": inquiry.info_type_code,
            "fiscal_year": inquiry.fiscal_year,
        }
        assert row["expected"] == {
            "status_detail": inquiry.expected_status_detail,
            "status_info_type": inquiry.expected_status_info_type,
            "error_code": inquiry.expected_error_code,
        }


def test_inquiries_name_the_persona_except_the_twice_claimed_dependant(
    population: Population,
) -> None:
    for persona in population.personas.values():
        inquiry = inquiry_of(population, persona.name)
        if persona.name == DEPENDANT_CLAIMED_TWICE:
            assert inquiry.person_key != persona.person_key
        else:
            assert inquiry.person_key == persona.person_key


# The seven original personas


def test_moved_in(population: Population) -> None:
    person = population.persona_person(MOVED_IN)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, key) == {ODAWARA, YAMAGATA}
    for year in (FISCAL_YEAR - 1, FISCAL_YEAR):
        assert population.residence_on(key, dt.date(year, 1, 1)) == ODAWARA
    moved = population.residences_of(key)[-1].since
    assert moved is not None
    assert dt.date(FISCAL_YEAR, 3, 1) <= moved <= dt.date(FISCAL_YEAR, 6, 30)
    taxes = of_type(population, key, LOCAL_TAX_INFO)
    assert sorted((r.agency_slug, r.fiscal_year) for r in taxes) == [
        (ODAWARA, FISCAL_YEAR - 1),
        (ODAWARA, FISCAL_YEAR),
    ]
    [resident] = of_type(population, key, RESIDENT_INFO)
    assert resident.agency_slug == YAMAGATA
    assert (resident.item("I009") or "").startswith("神奈川県小田原市")


def test_namesake(population: Population) -> None:
    moved_in = population.persona_person(MOVED_IN)
    namesake = population.persona_person(NAMESAKE)
    assert namesake.person_key != moved_in.person_key
    assert namesake.family_name == moved_in.family_name
    assert namesake.family_name_kana == moved_in.family_name_kana
    assert namesake.given_name != moved_in.given_name
    assert namesake.sex == moved_in.sex
    assert 1 <= abs(namesake.birth_date.year - moved_in.birth_date.year) <= 3
    assert namesake.municipality_slug == YAMAGATA
    assert registered_slugs(population, namesake.person_key) == {ODAWARA, YAMAGATA}
    assert {r.agency_slug for r in of_type(population, namesake.person_key, LOCAL_TAX_INFO)} == {
        ODAWARA
    }


def test_lifelong_yamagata(population: Population) -> None:
    person = population.persona_person(LIFELONG_YAMAGATA)
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, person.person_key) == {YAMAGATA}
    [residence] = population.residences_of(person.person_key)
    assert (residence.municipality_slug, residence.since, residence.until) == (YAMAGATA, None, None)
    assert person.resident_since == person.birth_date
    [resident] = of_type(population, person.person_key, RESIDENT_INFO)
    assert resident.item("I009") is None
    assert resident.reason_of_null("I009") == NOT_APPLICABLE


def test_no_pseudonym(population: Population) -> None:
    person = population.persona_person(NO_PSEUDONYM)
    [registration] = population.registrations_of(person.person_key)
    assert registration.agency_slug == YAMAGATA
    assert not registration.acquire_pseudonym


def test_registered_without_tax(population: Population) -> None:
    person = population.persona_person(REGISTERED_WITHOUT_TAX)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, key) == {FUKUOKA, ODAWARA, YAMAGATA}
    for year in (FISCAL_YEAR - 1, FISCAL_YEAR):
        assert population.residence_on(key, dt.date(year, 1, 1)) == FUKUOKA
    assert {r.agency_slug for r in of_type(population, key, LOCAL_TAX_INFO)} == {FUKUOKA}
    assert not population.replicas_of(key) or all(
        r.agency_slug != ODAWARA for r in population.replicas_of(key)
    )


def test_account_holder(population: Population) -> None:
    person = population.persona_person(ACCOUNT_HOLDER)
    assert person.municipality_slug == FUKUOKA
    [account] = of_type(population, person.person_key, PUBLIC_FUND_ACCOUNT_INFO)
    assert account.agency_slug == DIGITAL_AGENCY
    assert account.atena_number == population.atena_number(DIGITAL_AGENCY, person.person_key)


def test_no_account(population: Population) -> None:
    person = population.persona_person(NO_ACCOUNT)
    assert person.municipality_slug == FUKUOKA
    population.atena_number(DIGITAL_AGENCY, person.person_key)
    assert of_type(population, person.person_key, PUBLIC_FUND_ACCOUNT_INFO) == []


# The new personas


def test_arrived_from_abroad(population: Population) -> None:
    person = population.persona_person(ARRIVED_FROM_ABROAD)
    key = person.person_key
    abroad, odawara = population.residences_of(key)
    assert (abroad.municipality_slug, abroad.since) == (ABROAD, None)
    assert odawara.municipality_slug == ODAWARA == person.municipality_slug
    assert odawara.since is not None
    # Arrived during fiscal year FISCAL_YEAR - 1, after 1 January: no municipality assessed them.
    assert dt.date(FISCAL_YEAR, 1, 2) <= odawara.since <= dt.date(FISCAL_YEAR, 3, 31)
    assert population.residence_on(key, dt.date(FISCAL_YEAR, 1, 1)) == ABROAD
    assert of_type(population, key, LOCAL_TAX_INFO) == []
    [resident] = of_type(population, key, RESIDENT_INFO)
    assert resident.agency_slug == ODAWARA
    assert resident.item("I009") == FROM_ABROAD
    assert resident.item("I008") == odawara.since.isoformat()
    assert person.previous_address == FROM_ABROAD
    [disease] = of_type(population, key, INTRACTABLE_DISEASE_INFO)
    assert disease.agency_slug == PREFECTURE_OF_ODAWARA
    assert registered_slugs(population, key) == {ODAWARA, PREFECTURE_OF_ODAWARA}


def test_dependant_claimed_twice(population: Population) -> None:
    persona = population.persona(DEPENDANT_CLAIMED_TWICE)
    child = population.person(persona.person_key)
    assert child.relationship == "子"
    assert child.municipality_slug == FUKUOKA
    claims = [
        d
        for d in population.dependencies_of(child.person_key)
        if d.dependant_person_key == child.person_key and d.fiscal_year == FISCAL_YEAR
    ]
    assert sorted(d.agency_slug for d in claims) == [FUKUOKA, YAMAGATA]
    taxpayers = {d.agency_slug: population.person(d.taxpayer_person_key) for d in claims}
    assert taxpayers[FUKUOKA].person_key != taxpayers[YAMAGATA].person_key
    assert taxpayers[FUKUOKA].household_key == child.household_key
    assert taxpayers[YAMAGATA].municipality_slug == YAMAGATA
    for slug, taxpayer in taxpayers.items():
        [tax] = [
            r
            for r in of_type(population, taxpayer.person_key, LOCAL_TAX_INFO)
            if r.fiscal_year == FISCAL_YEAR
        ]
        assert tax.agency_slug == slug
        assert int(tax.item("I006") or 0) >= 1
    # Last year only one parent claimed the child.
    last_year = [
        d
        for d in population.dependencies_of(child.person_key)
        if d.dependant_person_key == child.person_key and d.fiscal_year == FISCAL_YEAR - 1
    ]
    assert len(last_year) == 1
    inquiry = inquiry_of(population, DEPENDANT_CLAIMED_TWICE)
    assert inquiry.person_key == taxpayers[YAMAGATA].person_key
    assert (inquiry.requester_slug, inquiry.provider_slug) == (FUKUOKA, YAMAGATA)


def test_not_permitted(population: Population, permissions: PermissionTable) -> None:
    person = population.persona_person(NOT_PERMITTED)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, key) == {FUKUOKA, YAMAGATA}
    [assistance] = of_type(population, key, PUBLIC_ASSISTANCE_INFO)
    assert assistance.agency_slug == YAMAGATA
    assert assistance.item("I001") == "1"
    inquiry = inquiry_of(population, NOT_PERMITTED)
    assert inquiry.info_type_code == PUBLIC_ASSISTANCE_INFO
    assert inquiry.provider_slug == YAMAGATA
    municipality = agency_by_slug(YAMAGATA).kind
    assert not permissions.allows(
        municipality,
        inquiry.affair_code,
        inquiry.procedure_code,
        PUBLIC_ASSISTANCE_INFO,
        municipality,
    )
    # Another procedure may obtain it: the refusal is about the procedure, not the data.
    assert permissions.allows(
        municipality, "JM01000000231000", "JT02310000000003", PUBLIC_ASSISTANCE_INFO, municipality
    )


def test_care_insured(population: Population) -> None:
    person = population.persona_person(CARE_INSURED)
    key = person.person_key
    assert population.as_of is not None
    assert person.age_on(population.as_of) >= 65
    assert person.municipality_slug == FUKUOKA
    assert population.residence_on(key, dt.date(FISCAL_YEAR, 1, 1)) == ODAWARA
    [care] = of_type(population, key, CARE_INSURANCE_INFO)
    assert care.agency_slug == FUKUOKA
    assert care.item("I003") == str(population.residences_of(key)[-1].since)
    taxes = {r.fiscal_year: r for r in of_type(population, key, LOCAL_TAX_INFO)}
    assert taxes[FISCAL_YEAR].agency_slug == ODAWARA


def test_intractable_disease(population: Population) -> None:
    person = population.persona_person(INTRACTABLE_DISEASE)
    assert person.municipality_slug == ODAWARA
    [disease] = of_type(population, person.person_key, INTRACTABLE_DISEASE_INFO)
    assert disease.agency_slug == PREFECTURE_OF_ODAWARA
    assert registered_slugs(population, person.person_key) == {ODAWARA, PREFECTURE_OF_ODAWARA}


def test_manual_response_hold(population: Population) -> None:
    person = population.persona_person(MANUAL_RESPONSE_HOLD)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    at_fukuoka = [r for r in population.replicas_of(key) if r.agency_slug == FUKUOKA]
    assert at_fukuoka
    assert all(r.manual_response for r in at_fukuoka)
    assert not any(r.manual_response for r in population.replicas_of(key) if r not in at_fukuoka)
    inquiry = inquiry_of(population, MANUAL_RESPONSE_HOLD)
    assert inquiry.provider_slug == FUKUOKA
    assert population.persona(MANUAL_RESPONSE_HOLD).feature is None
    assert (
        inquiry.expected_status_detail,
        inquiry.expected_status_info_type,
        inquiry.expected_error_code,
    ) == ("05", "05", "MAN001")


def test_stale_replica(population: Population) -> None:
    person = population.persona_person(STALE_REPLICA)
    key = person.person_key
    as_of = population.as_of
    assert as_of is not None
    assert person.municipality_slug == ODAWARA
    [resident] = of_type(population, key, RESIDENT_INFO)
    assert resident.agency_slug == ODAWARA
    assert resident.item("I005") != person.address
    assert (resident.item("I005") or "").startswith("神奈川県小田原市")
    assert resident.publication_start <= as_of.replace(year=as_of.year - 3)
    inquiry = inquiry_of(population, STALE_REPLICA)
    assert (inquiry.provider_slug, inquiry.info_type_code) == (ODAWARA, RESIDENT_INFO)
    assert population.persona(STALE_REPLICA).feature == "replica-freshness"
    assert registered_slugs(population, key) == {ODAWARA, PREFECTURE_OF_ODAWARA}


# --- the affair tour and the catalogue the hub serves ---------------------------------------


def test_the_affair_tour_inquires_each_of_the_nine_affairs_successfully(
    population: Population, permissions: PermissionTable
) -> None:
    assert population.fiscal_year is not None
    stops = affair_tour(population.personas, population.fiscal_year)

    assert [stop.affair_code for stop in stops] == list(NINE_AFFAIRS)
    assert set(NINE_AFFAIRS) <= set(catalogue().affairs)
    for stop in stops:
        assert stop.inquiry.affair_code == stop.affair_code
        outcome = simulated_outcome(population, stop.inquiry, permissions)
        assert outcome == ("09", "01", None), stop.affair_code
        assert stop.persona_name in population.personas


def test_the_persona_catalogue_is_the_same_for_every_population_size() -> None:
    small = persona_population(seed=7).persona_catalogue()
    large = generate_population(seed=7, size=300).persona_catalogue()

    assert small.personas == large.personas
    assert small.affair_tour == large.affair_tour
    assert (small.population, large.population) == (1, 300)
    assert PersonaCatalogue.model_validate_json(large.model_dump_json()) == large


def test_the_persona_catalogue_names_the_atena_at_the_requester(population: Population) -> None:
    served = population.persona_catalogue()

    assert [persona.name for persona in served.personas] == list(PERSONA_NAMES)
    for persona in served.personas:
        assert persona.inquiry is not None
        assert persona.inquiry.atena_number == population.atena_number(
            persona.inquiry.requester_slug, persona.inquiry.person_key
        )
        assert persona.inquiry.requester_code == agency_by_slug(persona.inquiry.requester_slug).code
    for stop in served.affair_tour:
        assert stop.affair_name_ja == catalogue().affairs[stop.affair_code].name_ja


def test_importing_the_population_leaves_the_root_logger_alone() -> None:
    code = (
        "import logging, agencies.population; "
        "root = logging.getLogger(); print(len(root.handlers), root.level)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert done.stdout.split() == ["0", str(logging.WARNING)]


def test_docs_personas_is_up_to_date() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "personas.md"

    assert docs.read_text(encoding="utf-8") == render_personas_markdown(shipped_personas()), (
        "docs/personas.md is stale: python -m ipnsim.persona_docs > docs/personas.md"
    )
