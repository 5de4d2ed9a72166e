"""The synthetic population: determinism, identifiers, registrations, replicas and personas."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from itertools import pairwise

import pytest
from faker.providers.person.ja_JP import Provider as JapaneseNames
from stdnum.jp import in_ as my_number_format

from agencies.catalogue import (
    DIGITAL_AGENCY,
    FUKUOKA,
    MUNICIPALITY_SLUGS,
    ODAWARA,
    YAMAGATA,
    agency_by_slug,
)
from agencies.population import (
    ACCOUNT_HOLDER,
    LIFELONG_YAMAGATA,
    LOCAL_TAX_INFO,
    MOVED_IN,
    NAMESAKE,
    NO_ACCOUNT,
    NO_PSEUDONYM,
    PERSONA_NAMES,
    PUBLIC_FUND_ACCOUNT_INFO,
    REGISTERED_WITHOUT_TAX,
    Population,
    ReplicaSeed,
    generate_population,
)
from network.protocol.layouts import ValueType, catalogue

SEEDS = [0, 1, 7, 2024]
FISCAL_YEAR = 2026
KATAKANA = re.compile(r"[ァ-ヶー]+")
PREFECTURE_AND_CITY = {
    YAMAGATA: "山形県山形市",
    ODAWARA: "神奈川県小田原市",
    FUKUOKA: "福岡県福岡市",
    "nakashibetsu": "北海道標津郡中標津町",
}


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def population(request: pytest.FixtureRequest) -> Population:
    seed: int = request.param
    return generate_population(seed=seed, fiscal_year=FISCAL_YEAR)


def tax_replicas(population: Population, person_key: str) -> list[ReplicaSeed]:
    return [r for r in population.replicas_of(person_key) if r.info_type_code == LOCAL_TAX_INFO]


def account_replicas(population: Population, person_key: str) -> list[ReplicaSeed]:
    return [
        r
        for r in population.replicas_of(person_key)
        if r.info_type_code == PUBLIC_FUND_ACCOUNT_INFO
    ]


def registered_slugs(population: Population, person_key: str) -> set[str]:
    return {r.agency_slug for r in population.registrations_of(person_key)}


# Determinism


def test_same_seed_gives_identical_population() -> None:
    assert generate_population(seed=3) == generate_population(seed=3)
    assert generate_population() == generate_population(seed=0, fiscal_year=2026)


def test_different_seeds_give_different_people() -> None:
    first, second = generate_population(seed=1), generate_population(seed=2)
    assert first.people != second.people
    assert {p.my_number for p in first.people}.isdisjoint({p.my_number for p in second.people})
    assert first.replicas != second.replicas


def test_fiscal_year_moves_tax_years() -> None:
    population = generate_population(seed=0, fiscal_year=2025)
    assert population.fiscal_year == 2025
    years = {r.fiscal_year for r in population.replicas if r.info_type_code == LOCAL_TAX_INFO}
    assert years == {2024, 2025}


def test_too_early_fiscal_year_is_refused() -> None:
    with pytest.raises(ValueError, match="fiscal_year"):
        generate_population(fiscal_year=2010)


# People


def test_about_forty_people_over_the_four_municipalities(population: Population) -> None:
    assert 35 <= len(population.people) <= 45
    per_municipality = Counter(p.municipality_slug for p in population.people)
    assert set(per_municipality) == set(MUNICIPALITY_SLUGS)
    assert min(per_municipality.values()) >= 5


def test_identifiers_are_valid_and_unique(population: Population) -> None:
    people = population.people
    assert len({p.person_key for p in people}) == len(people)
    for person in people:
        assert len(person.my_number) == 12
        assert my_number_format.is_valid(person.my_number)
        assert re.fullmatch(r"[0-9]{11}", person.resident_code)
        assert person.sex in {"male", "female"}
    assert len({p.my_number for p in people}) == len(people)
    assert len({p.resident_code for p in people}) == len(people)


def test_names_are_matching_kanji_and_katakana_pairs(population: Population) -> None:
    family_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.last_name_pairs}
    male_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_male_pairs}
    female_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_female_pairs}
    for person in population.people:
        assert (person.family_name, person.family_name_kana) in family_pairs
        given_pairs = male_pairs if person.sex == "male" else female_pairs
        assert (person.given_name, person.given_name_kana) in given_pairs
        assert KATAKANA.fullmatch(person.family_name_kana)
        assert KATAKANA.fullmatch(person.given_name_kana)
        assert person.name_kana == f"{person.family_name_kana}\u3000{person.given_name_kana}"


def test_people_are_adults(population: Population) -> None:
    january_first = dt.date(FISCAL_YEAR, 1, 1)
    for person in population.people:
        age = (january_first - person.birth_date).days // 365
        assert 18 <= age <= 90, person


def test_address_is_in_the_municipality_of_current_residence(population: Population) -> None:
    for person in population.people:
        assert person.address.startswith(PREFECTURE_AND_CITY[person.municipality_slug])
        assert re.search(r"[0-9]+丁目[0-9]+番[0-9]+号$", person.address)
        current = [
            r
            for r in population.residences
            if r.person_key == person.person_key and r.until is None
        ]
        assert [r.municipality_slug for r in current] == [person.municipality_slug]


def test_residence_history_is_contiguous(population: Population) -> None:
    for person in population.people:
        history = [r for r in population.residences if r.person_key == person.person_key]
        assert history[0].since is None
        for earlier, later in pairwise(history):
            assert earlier.until is not None
            assert earlier.until == later.since
            assert earlier.municipality_slug != later.municipality_slug


def test_a_handful_of_others_moved(population: Population) -> None:
    persona_keys = {persona.person_key for persona in population.personas.values()}
    moved = {
        r.person_key
        for r in population.residences
        if r.since is not None and r.person_key not in persona_keys
    }
    assert 3 <= len(moved) <= 8


# Registrations


def test_atena_numbers_are_15_digits_and_unique_per_agency(population: Population) -> None:
    for slug in [*MUNICIPALITY_SLUGS, DIGITAL_AGENCY]:
        registrations = population.registrations_at(slug)
        numbers = [r.atena_number for r in registrations]
        assert all(re.fullmatch(r"[0-9]{15}", number) for number in numbers)
        assert len(set(numbers)) == len(numbers)
        people = [r.person_key for r in registrations]
        assert len(set(people)) == len(people)
    assert registered_agencies(population) == {*MUNICIPALITY_SLUGS, DIGITAL_AGENCY}
    for slug in registered_agencies(population):
        assert agency_by_slug(slug).slug == slug


def registered_agencies(population: Population) -> set[str]:
    return {r.agency_slug for r in population.registrations}


def test_registered_wherever_they_lived_since_last_january(population: Population) -> None:
    for person in population.people:
        lived_in = {
            r.municipality_slug for r in population.residences if r.person_key == person.person_key
        }
        municipal = registered_slugs(population, person.person_key) - {DIGITAL_AGENCY}
        assert municipal == lived_in
        assert person.municipality_slug in municipal
        for year in (FISCAL_YEAR - 1, FISCAL_YEAR):
            assert population.residence_on(person.person_key, dt.date(year, 1, 1)) in municipal


def test_registered_at_digital_agency_only_with_an_account_or_as_no_account(
    population: Population,
) -> None:
    no_account_key = population.persona(NO_ACCOUNT).person_key
    for person in population.people:
        at_digital_agency = DIGITAL_AGENCY in registered_slugs(population, person.person_key)
        has_account = bool(account_replicas(population, person.person_key))
        assert at_digital_agency == (has_account or person.person_key == no_account_key)


def test_about_a_third_of_the_others_have_accounts(population: Population) -> None:
    persona_keys = {persona.person_key for persona in population.personas.values()}
    others = [p for p in population.people if p.person_key not in persona_keys]
    with_account = [p for p in others if account_replicas(population, p.person_key)]
    assert 0.25 <= len(with_account) / len(others) <= 0.42


def test_only_the_no_pseudonym_persona_skips_the_pseudonym(population: Population) -> None:
    skipping = {r.person_key for r in population.registrations if not r.acquire_pseudonym}
    assert skipping == {population.persona(NO_PSEUDONYM).person_key}


# Replicas


def test_record_ids_are_unique_per_agency(population: Population) -> None:
    for slug in registered_agencies(population):
        ids = [r.record_id for r in population.replicas_at(slug)]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"[0-9A-Za-z_-]{1,64}", record_id) for record_id in ids)


def test_every_replica_belongs_to_a_registration(population: Population) -> None:
    registered = {(r.agency_slug, r.atena_number) for r in population.registrations}
    for replica in population.replicas:
        assert (replica.agency_slug, replica.atena_number) in registered


def test_replica_items_follow_the_catalogue_layout(population: Population) -> None:
    info_types = catalogue().info_types
    for replica in population.replicas:
        info_type = info_types[replica.info_type_code]
        assert replica.layout_version == info_type.layout_version
        assert [code for code, _ in replica.items] == [item.code for item in info_type.items]
        for code, value in replica.items:
            item = info_type.item(code)
            assert item is not None
            if item.value_type is ValueType.INTEGER:
                assert re.fullmatch(r"[0-9]+", value), (replica.record_id, code, value)


def test_tax_is_held_where_the_person_lived_on_1_january(population: Population) -> None:
    for person in population.people:
        replicas = tax_replicas(population, person.person_key)
        assert sorted(r.fiscal_year or 0 for r in replicas) == [FISCAL_YEAR - 1, FISCAL_YEAR]
        for replica in replicas:
            assert replica.fiscal_year is not None
            january_first = dt.date(replica.fiscal_year, 1, 1)
            holder = population.residence_on(person.person_key, january_first)
            assert replica.agency_slug == holder
            assert replica.atena_number == population.atena_number(holder, person.person_key)
            assert replica.publication_start == dt.date(replica.fiscal_year, 6, 1)
            assert replica.publication_end is None
            assert replica.record_id.startswith(f"TAX-{replica.fiscal_year}-")


def test_tax_amounts_are_plausible(population: Population) -> None:
    exempt_seen = taxed_seen = 0
    for replica in population.replicas:
        if replica.info_type_code != LOCAL_TAX_INFO:
            continue
        assert replica.item("I001") == str(replica.fiscal_year)
        total, taxable = int(replica.item("I002")), int(replica.item("I003"))
        income_based, per_capita = int(replica.item("I004")), int(replica.item("I005"))
        assert 0 <= taxable <= total
        assert 0 <= int(replica.item("I006")) <= 5
        if replica.item("I007") == "1":
            exempt_seen += 1
            assert (income_based, per_capita) == (0, 0)
        else:
            taxed_seen += 1
            assert replica.item("I007") == "0"
            assert per_capita == 5_000
            assert taxable // 10 - 100 < income_based <= taxable // 10
    assert taxed_seen > exempt_seen


def test_account_replicas_are_well_formed(population: Population) -> None:
    for replica in population.replicas_at(DIGITAL_AGENCY):
        assert replica.info_type_code == PUBLIC_FUND_ACCOUNT_INFO
        assert replica.fiscal_year is None
        assert dt.date(2021, 1, 1) <= replica.publication_start <= dt.date(2025, 12, 31)
        assert replica.publication_end is None
        assert re.fullmatch(r"[0-9]{4}", replica.item("I001"))
        assert re.fullmatch(r"[0-9]{3}", replica.item("I002"))
        assert replica.item("I003") in {"1", "2"}
        assert re.fullmatch(r"[0-9]{7}", replica.item("I004"))
        holder = next(
            r.person_key
            for r in population.registrations_at(DIGITAL_AGENCY)
            if r.atena_number == replica.atena_number
        )
        person = population.person(holder)
        assert replica.item("I005") == f"{person.family_name_kana}\u3000{person.given_name_kana}"
        assert re.fullmatch(r"[ァ-ヶー]+\u3000[ァ-ヶー]+", replica.item("I005"))
    assert all(
        r.agency_slug == DIGITAL_AGENCY
        for r in population.replicas
        if r.info_type_code == PUBLIC_FUND_ACCOUNT_INFO
    )


# Personas


def test_every_persona_exists_with_descriptions(population: Population) -> None:
    assert set(population.personas) == set(PERSONA_NAMES)
    keys = [persona.person_key for persona in population.personas.values()]
    assert len(set(keys)) == len(keys)
    for name in PERSONA_NAMES:
        persona = population.persona(name)
        assert persona.name == name
        assert persona.description_en
        assert persona.description_ja
        assert population.person(persona.person_key).person_key == persona.person_key


def test_moved_in(population: Population) -> None:
    person = population.persona_person(MOVED_IN)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, key) == {ODAWARA, YAMAGATA}
    for year in (FISCAL_YEAR - 1, FISCAL_YEAR):
        assert population.residence_on(key, dt.date(year, 1, 1)) == ODAWARA
    moved = next(r.since for r in population.residences if r.person_key == key and r.since)
    assert dt.date(FISCAL_YEAR, 3, 1) <= moved <= dt.date(FISCAL_YEAR, 6, 30)
    odawara = [r for r in tax_replicas(population, key) if r.agency_slug == ODAWARA]
    assert sorted(r.fiscal_year or 0 for r in odawara) == [FISCAL_YEAR - 1, FISCAL_YEAR]
    yamagata_atena = population.atena_number(YAMAGATA, key)
    assert not [r for r in population.replicas_at(YAMAGATA) if r.atena_number == yamagata_atena]


def test_namesake(population: Population) -> None:
    moved_in = population.persona_person(MOVED_IN)
    namesake = population.persona_person(NAMESAKE)
    assert namesake.person_key != moved_in.person_key
    assert namesake.family_name == moved_in.family_name
    assert namesake.family_name_kana == moved_in.family_name_kana
    assert namesake.given_name != moved_in.given_name
    assert namesake.sex == moved_in.sex
    assert abs(namesake.birth_date.year - moved_in.birth_date.year) <= 3
    assert namesake.municipality_slug == YAMAGATA
    assert registered_slugs(population, namesake.person_key) == {ODAWARA, YAMAGATA}
    replicas = tax_replicas(population, namesake.person_key)
    assert {r.agency_slug for r in replicas} == {ODAWARA}


def test_lifelong_yamagata(population: Population) -> None:
    person = population.persona_person(LIFELONG_YAMAGATA)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert registered_slugs(population, key) == {YAMAGATA}
    assert all(r.since is None for r in population.residences if r.person_key == key)
    with pytest.raises(KeyError):
        population.atena_number(ODAWARA, key)
    assert {r.agency_slug for r in tax_replicas(population, key)} == {YAMAGATA}
    assert all(r.acquire_pseudonym for r in population.registrations_of(key))


def test_no_pseudonym(population: Population) -> None:
    key = population.persona(NO_PSEUDONYM).person_key
    registrations = population.registrations_of(key)
    assert [(r.agency_slug, r.acquire_pseudonym) for r in registrations] == [(YAMAGATA, False)]


def test_registered_without_tax(population: Population) -> None:
    person = population.persona_person(REGISTERED_WITHOUT_TAX)
    key = person.person_key
    assert person.municipality_slug == YAMAGATA
    assert {ODAWARA, YAMAGATA} <= registered_slugs(population, key)
    population.atena_number(ODAWARA, key)
    holders = {r.agency_slug for r in tax_replicas(population, key)}
    assert ODAWARA not in holders
    assert YAMAGATA not in holders
    assert holders == {FUKUOKA}
    into_odawara = next(
        r.since
        for r in population.residences
        if r.person_key == key and r.municipality_slug == ODAWARA
    )
    assert into_odawara is not None
    assert into_odawara > dt.date(FISCAL_YEAR, 1, 1)


def test_account_holder(population: Population) -> None:
    person = population.persona_person(ACCOUNT_HOLDER)
    assert person.municipality_slug == FUKUOKA
    assert DIGITAL_AGENCY in registered_slugs(population, person.person_key)
    assert len(account_replicas(population, person.person_key)) == 1


def test_no_account(population: Population) -> None:
    person = population.persona_person(NO_ACCOUNT)
    assert person.municipality_slug == FUKUOKA
    population.atena_number(DIGITAL_AGENCY, person.person_key)
    assert account_replicas(population, person.person_key) == []


# Helpers


def test_lookup_helpers_raise_key_error_for_unknowns(population: Population) -> None:
    with pytest.raises(KeyError):
        population.person("P9999")
    with pytest.raises(KeyError):
        population.persona("nobody")
    with pytest.raises(KeyError):
        population.atena_number("tokyo", population.people[0].person_key)
    with pytest.raises(KeyError):
        population.replicas[0].item("I999")
