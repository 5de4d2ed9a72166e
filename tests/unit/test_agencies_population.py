"""The synthetic population: determinism, size, identifiers, households, residences,
registrations and replicas. The personas' stories are in test_personas.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from itertools import pairwise

import pytest
from faker.providers.person.ja_JP import Provider as JapaneseNames
from stdnum.jp import in_ as my_number_format

from agencies.catalogue import (
    DIGITAL_AGENCY,
    MUNICIPALITY_SLUGS,
    ODAWARA,
    agency_by_slug,
)
from agencies.personas import (
    CARE_INSURANCE_INFO,
    CHILD_ALLOWANCE_INFO,
    DISABILITY_CERTIFICATE_INFO,
    FINDER_CLAIMANTS,
    INDEPENDENCE_SUPPORT_INFO,
    INTRACTABLE_DISEASE_INFO,
    LOCAL_TAX_INFO,
    MANUAL_RESPONSE_HOLD,
    NO_ACCOUNT,
    NO_PSEUDONYM,
    PUBLIC_ASSISTANCE_INFO,
    PUBLIC_FUND_ACCOUNT_INFO,
    RESIDENT_INFO,
    STALE_REPLICA,
)
from agencies.population import (
    ABROAD,
    FROM_ABROAD,
    MAX_SIZE,
    NOT_APPLICABLE,
    Population,
    ReplicaSeed,
    generate_population,
)
from agencies.population.generate import PREFECTURE_OF_ODAWARA
from agencies.population.places import towns_of
from network.protocol.layouts import ValueType, catalogue

SEEDS = [0, 1, 7, 2024]
FISCAL_YEAR = 2026
KATAKANA = re.compile(r"[ァ-ヶー]+")
PREFECTURE_AND_CITY = {
    "yamagata": "山形県山形市",
    ODAWARA: "神奈川県小田原市",
    "fukuoka": "福岡県福岡市",
    "nakashibetsu": "北海道標津郡中標津町",
}
RELATIONSHIPS = {"世帯主", "妻", "夫", "子", "父", "母"}
MUNICIPAL_INFO_TYPES = {
    RESIDENT_INFO,
    PUBLIC_ASSISTANCE_INFO,
    CARE_INSURANCE_INFO,
    INDEPENDENCE_SUPPORT_INFO,
    CHILD_ALLOWANCE_INFO,
}
INTEGER = re.compile(r"-?[0-9]+")
CODE = re.compile(r"[0-9A-Za-z]+")


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def population(request: pytest.FixtureRequest) -> Population:
    seed: int = request.param
    return generate_population(seed=seed, fiscal_year=FISCAL_YEAR)


@pytest.fixture(scope="module")
def large() -> Population:
    """Large enough that every kind of household and replica occurs."""
    return generate_population(seed=5, fiscal_year=FISCAL_YEAR, size=3_000)


@pytest.fixture(scope="module", params=["seed0", "large"])
def any_population(request: pytest.FixtureRequest, large: Population) -> Population:
    if request.param == "large":
        return large
    return generate_population(seed=0, fiscal_year=FISCAL_YEAR)


def of_type(population: Population, person_key: str, info_type_code: str) -> list[ReplicaSeed]:
    return [r for r in population.replicas_of(person_key) if r.info_type_code == info_type_code]


def registered_slugs(population: Population, person_key: str) -> set[str]:
    return {r.agency_slug for r in population.registrations_of(person_key)}


def value(replica: ReplicaSeed, code: str) -> str:
    found = replica.item(code)
    assert found is not None, (replica.record_id, code)
    return found


def holder_of(population: Population, replica: ReplicaSeed) -> str:
    """The person a replica is about."""
    return next(
        r.person_key
        for r in population.registrations_at(replica.agency_slug)
        if r.atena_number == replica.atena_number
    )


def digest(population: Population) -> str:
    return hashlib.sha256(repr(population).encode()).hexdigest()


# Determinism


def test_same_arguments_give_an_identical_population() -> None:
    first, second = generate_population(seed=3, size=300), generate_population(seed=3, size=300)
    assert first == second
    assert repr(first) == repr(second)
    assert generate_population() == generate_population(seed=0, fiscal_year=2026, size=40)


def test_other_processes_generate_the_same_population_byte_for_byte() -> None:
    script = textwrap.dedent(
        """
        import hashlib
        from agencies.population import generate_population
        population = generate_population(seed=11, fiscal_year=2025, size=400)
        print(hashlib.sha256(repr(population).encode()).hexdigest())
        """
    )
    expected = digest(generate_population(seed=11, fiscal_year=2025, size=400))
    for hash_seed in ("1", "4242"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            timeout=120,
        )
        assert done.stdout.strip() == expected


def test_different_seeds_give_different_people() -> None:
    first, second = generate_population(seed=1), generate_population(seed=2)
    assert first.people != second.people
    assert {p.my_number for p in first.people}.isdisjoint({p.my_number for p in second.people})
    assert first.replicas != second.replicas


def test_the_personas_do_not_depend_on_the_size() -> None:
    small, bigger = generate_population(seed=4, size=1), generate_population(seed=4, size=900)
    assert small.personas == bigger.personas
    for persona in small.personas.values():
        keys = set(small.household_of(persona.person_key).member_person_keys)
        keys |= {d.taxpayer_person_key for d in small.dependencies_of(persona.person_key)}
        for key in sorted(keys):
            assert small.person(key) == bigger.person(key)
            assert small.registrations_of(key) == bigger.registrations_of(key)
            assert small.replicas_of(key) == bigger.replicas_of(key)


def test_fiscal_year_moves_tax_years() -> None:
    population = generate_population(seed=0, fiscal_year=2025)
    assert population.fiscal_year == 2025
    assert population.as_of == dt.date(2025, 6, 30)
    years = {r.fiscal_year for r in population.replicas if r.info_type_code == LOCAL_TAX_INFO}
    assert years == {2024, 2025}


def test_too_early_fiscal_year_is_refused() -> None:
    with pytest.raises(ValueError, match="fiscal_year"):
        generate_population(fiscal_year=2010)


@pytest.mark.parametrize("size", [0, -1, MAX_SIZE + 1])
def test_sizes_outside_1_to_100000_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        generate_population(size=size)


# Size


def test_size_counts_the_people_besides_the_personas() -> None:
    persona_people = len(generate_population(seed=9, size=1).people) - 1
    assert persona_people >= 14
    for size in (1, 40, 777):
        population = generate_population(seed=9, size=size)
        assert population.size == size
        assert len(population.people) == size + persona_people


# People and households


def test_identifiers_are_valid_and_unique(any_population: Population) -> None:
    people = any_population.people
    assert len({p.person_key for p in people}) == len(people)
    for person in people:
        assert len(person.my_number) == 12
        assert my_number_format.is_valid(person.my_number), person.my_number
        assert re.fullmatch(r"[0-9]{11}", person.resident_code)
        assert person.sex in {"male", "female"}
    assert len({p.my_number for p in people}) == len(people)
    assert len({p.resident_code for p in people}) == len(people)


def test_names_are_matching_kanji_and_katakana_pairs(any_population: Population) -> None:
    family_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.last_name_pairs}
    male_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_male_pairs}
    female_pairs = {(kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_female_pairs}
    for person in any_population.people:
        assert (person.family_name, person.family_name_kana) in family_pairs
        given_pairs = male_pairs if person.sex == "male" else female_pairs
        assert (person.given_name, person.given_name_kana) in given_pairs
        assert KATAKANA.fullmatch(person.family_name_kana)
        assert KATAKANA.fullmatch(person.given_name_kana)
        assert person.name_kana == f"{person.family_name_kana}\u3000{person.given_name_kana}"


def test_people_live_in_the_four_municipalities(population: Population) -> None:
    per_municipality = Counter(p.municipality_slug for p in population.people)
    assert set(per_municipality) == set(MUNICIPALITY_SLUGS)
    assert min(per_municipality.values()) >= 3


def test_households_are_consistent(any_population: Population) -> None:
    population = any_population
    seen: list[str] = []
    as_of = population.as_of
    assert as_of is not None
    for household in population.households:
        members = [population.person(key) for key in household.member_person_keys]
        head = members[0]
        assert head.person_key == household.head_person_key
        assert head.relationship == "世帯主"
        assert head.age_on(as_of) >= 20
        assert all(m.relationship != "世帯主" for m in members[1:])
        assert sum(m.relationship in {"妻", "夫"} for m in members) <= 1
        for member in members:
            assert member.relationship in RELATIONSHIPS
            assert member.household_key == household.household_key
            assert member.address == household.address
            assert member.municipality_slug == household.municipality_slug
            assert member.family_name == head.family_name
            assert member.birth_date < as_of
            if member.relationship == "子":
                assert member.birth_date > head.birth_date
            if member.relationship in {"父", "母"}:
                assert member.birth_date < head.birth_date
        seen.extend(household.member_person_keys)
    assert sorted(seen) == sorted(p.person_key for p in population.people)


def test_every_kind_of_household_occurs(large: Population) -> None:
    kinds = Counter(
        tuple(sorted({large.person(k).relationship for k in h.member_person_keys}))
        for h in large.households
    )
    assert kinds[("世帯主",)] > 0
    assert sum(n for kind, n in kinds.items() if "子" in kind) > 0
    assert sum(n for kind, n in kinds.items() if "父" in kind or "母" in kind) > 0
    assert sum(n for kind, n in kinds.items() if "妻" in kind or "夫" in kind) > 0


def test_addresses_are_real_towns_of_the_municipality(any_population: Population) -> None:
    for person in any_population.people:
        slug = person.municipality_slug
        lg_code = agency_by_slug(slug).lg_code
        assert lg_code is not None
        assert person.address.startswith(PREFECTURE_AND_CITY[slug])
        assert re.search(r"[0-9]+番[0-9]+号$", person.address)
        towns = [t for t in towns_of(slug) if person.address.startswith(t.prefix)]
        assert towns, person.address
        town = max(towns, key=lambda t: len(t.prefix))
        assert town.postal_code == person.postal_code
        assert town.lg_code5 == lg_code[:5] or (
            town.lg_code5[:4] == lg_code[:4] and town.city.endswith("区")
        )
        block = person.address[len(town.prefix) :]
        assert re.fullmatch(
            r"[0-9]+丁目[0-9]+番[0-9]+号" if town.has_chome else r"[0-9]+番[0-9]+号", block
        )


def test_residence_history_is_contiguous(any_population: Population) -> None:
    population = any_population
    window_start = dt.date(FISCAL_YEAR - 1, 1, 2)
    for person in population.people:
        history = population.residences_of(person.person_key)
        first = history[0]
        if person.birth_date >= window_start:
            assert first.since == person.birth_date
        else:
            assert first.since is None
        for earlier, later in pairwise(history):
            assert earlier.until is not None
            assert earlier.until == later.since
            assert earlier.municipality_slug != later.municipality_slug
            assert later.municipality_slug != ABROAD
        assert history[-1].until is None
        assert history[-1].municipality_slug == person.municipality_slug
        assert population.residence_on(person.person_key, population.as_of or dt.date.max) == (
            person.municipality_slug
        )


def test_some_households_moved_and_some_came_from_abroad(large: Population) -> None:
    moved = [
        h
        for h in large.households
        if len(large.residences_of(h.head_person_key)) > 1
        and large.person(h.head_person_key).birth_date < dt.date(FISCAL_YEAR - 1, 1, 1)
    ]
    share = len(moved) / len(large.households)
    assert 0.05 <= share <= 0.25
    from_abroad = [
        h for h in moved if large.residences_of(h.head_person_key)[0].municipality_slug == ABROAD
    ]
    assert 0 < len(from_abroad) < len(moved)


# Registrations


def test_atena_numbers_are_15_digits_and_unique_per_agency(any_population: Population) -> None:
    population = any_population
    agencies = {r.agency_slug for r in population.registrations}
    assert agencies == {*MUNICIPALITY_SLUGS, DIGITAL_AGENCY, PREFECTURE_OF_ODAWARA}
    for slug in agencies:
        assert agency_by_slug(slug).slug == slug
        registrations = population.registrations_at(slug)
        numbers = [r.atena_number for r in registrations]
        assert all(re.fullmatch(r"[0-9]{15}", number) for number in numbers)
        assert len(set(numbers)) == len(numbers)
        people = [r.person_key for r in registrations]
        assert len(set(people)) == len(people)


def test_registered_where_they_lived_and_wherever_a_replica_is_held(
    any_population: Population,
) -> None:
    population = any_population
    no_account = population.persona(NO_ACCOUNT).person_key
    for person in population.people:
        key = person.person_key
        lived_in = {
            r.municipality_slug
            for r in population.residences_of(key)
            if r.municipality_slug != ABROAD
        }
        holders = {r.agency_slug for r in population.replicas_of(key)}
        # A dependant is registered (住登外者) where a taxpayer claims them.
        claimed_at = {
            d.agency_slug for d in population.dependencies if d.dependant_person_key == key
        }
        expected = lived_in | holders | claimed_at
        if key == no_account:
            expected.add(DIGITAL_AGENCY)
        assert registered_slugs(population, key) == expected
        assert (DIGITAL_AGENCY in expected) == (
            bool(of_type(population, key, PUBLIC_FUND_ACCOUNT_INFO)) or key == no_account
        )


def test_about_a_third_have_accounts(large: Population) -> None:
    with_account = [
        p for p in large.people if of_type(large, p.person_key, PUBLIC_FUND_ACCOUNT_INFO)
    ]
    assert 0.28 <= len(with_account) / len(large.people) <= 0.39


def test_only_the_no_pseudonym_persona_skips_the_pseudonym(any_population: Population) -> None:
    skipping = {r.person_key for r in any_population.registrations if not r.acquire_pseudonym}
    assert skipping == {any_population.persona(NO_PSEUDONYM).person_key}


# Replicas: shape


def test_record_ids_are_unique_per_agency(any_population: Population) -> None:
    for slug in {r.agency_slug for r in any_population.registrations}:
        ids = [r.record_id for r in any_population.replicas_at(slug)]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"[0-9A-Za-z_-]{1,64}", record_id) for record_id in ids)


def test_every_replica_belongs_to_a_registration(any_population: Population) -> None:
    registered = {(r.agency_slug, r.atena_number) for r in any_population.registrations}
    for replica in any_population.replicas:
        assert (replica.agency_slug, replica.atena_number) in registered


def test_replica_items_follow_the_catalogue_layout(any_population: Population) -> None:
    info_types = catalogue().info_types
    for replica in any_population.replicas:
        info_type = info_types[replica.info_type_code]
        assert replica.layout_version == info_type.layout_version
        assert [code for code, _ in replica.items] == [item.code for item in info_type.items]
        empty = {code for code, item_value in replica.items if item_value is None}
        assert {code for code, _ in replica.reasons_of_null} == empty
        for code, item_value in replica.items:
            item = info_type.item(code)
            assert item is not None
            if item_value is None:
                assert replica.reason_of_null(code) == NOT_APPLICABLE
                continue
            assert replica.reason_of_null(code) is None
            where = (replica.record_id, code, item_value)
            if item.value_type is ValueType.INTEGER:
                assert INTEGER.fullmatch(item_value), where
            elif item.value_type is ValueType.CODE:
                assert CODE.fullmatch(item_value), where
            elif item.value_type is ValueType.DATE:
                assert dt.date.fromisoformat(item_value).isoformat() == item_value, where
            else:
                assert item_value, where
        assert replica.wire_items() == tuple(
            (code, item_value, replica.reason_of_null(code)) for code, item_value in replica.items
        )


def test_replicas_are_held_by_the_kind_of_agency_the_catalogue_names(
    any_population: Population,
) -> None:
    info_types = catalogue().info_types
    for replica in any_population.replicas:
        holder_kind = info_types[replica.info_type_code].holder_kind
        assert agency_by_slug(replica.agency_slug).kind == holder_kind, replica


def test_every_info_type_of_the_catalogue_occurs(large: Population) -> None:
    # 扶養親族重複照会回答 is computed by its holder (claimed or not), never registered.
    answered_only = {"TM00000000000063"}
    assert {r.info_type_code for r in large.replicas} == set(catalogue().info_types) - answered_only


def test_replicas_are_published_by_as_of(any_population: Population) -> None:
    as_of = any_population.as_of
    assert as_of is not None
    for replica in any_population.replicas:
        assert dt.date(2017, 11, 13) <= replica.publication_start <= as_of
        assert replica.publication_end is None


def test_only_the_manual_response_persona_has_held_replicas(any_population: Population) -> None:
    held = {holder_of(any_population, r) for r in any_population.replicas if r.manual_response}
    assert held == {any_population.persona(MANUAL_RESPONSE_HOLD).person_key}


# Replicas: where and what


def test_resident_information_of_every_current_resident(any_population: Population) -> None:
    population = any_population
    for person in population.people:
        [replica] = of_type(population, person.person_key, RESIDENT_INFO)
        household = population.household_of(person.person_key)
        head = population.person(household.head_person_key)
        assert replica.agency_slug == person.municipality_slug
        assert replica.item("I001") == person.name
        assert replica.item("I002") == person.name_kana
        assert replica.item("I003") == person.birth_date.isoformat()
        assert replica.item("I004") == ("1" if person.sex == "male" else "2")
        if person.person_key != population.persona(STALE_REPLICA).person_key:
            assert replica.item("I005") == person.address
        assert replica.item("I006") == head.name
        assert replica.item("I007") == person.relationship
        assert person.resident_since is not None
        assert replica.item("I008") == person.resident_since.isoformat()
        assert replica.item("I009") == person.previous_address
        if person.previous_address is None:
            assert replica.reason_of_null("I009") == NOT_APPLICABLE
            assert person.resident_since == person.birth_date


def test_arrivals_from_abroad_show_the_previous_address_abroad(any_population: Population) -> None:
    population = any_population
    arrivals = 0
    for person in population.people:
        history = population.residences_of(person.person_key)
        [replica] = of_type(population, person.person_key, RESIDENT_INFO)
        came_from_abroad = len(history) > 1 and history[-2].municipality_slug == ABROAD
        assert (replica.item("I009") == FROM_ABROAD) == came_from_abroad
        if came_from_abroad:
            arrivals += 1
            assert replica.item("I008") == str(history[-1].since)
    assert arrivals >= 1


def test_movers_show_the_address_they_came_from(large: Population) -> None:
    for person in large.people:
        history = large.residences_of(person.person_key)
        if len(history) < 2 or history[-2].municipality_slug == ABROAD:
            continue
        assert person.previous_address is not None
        assert person.previous_address.startswith(
            PREFECTURE_AND_CITY[history[-2].municipality_slug]
        )


def test_tax_is_held_where_the_person_lived_on_1_january(any_population: Population) -> None:
    population = any_population
    for person in population.people:
        by_year = {r.fiscal_year: r for r in of_type(population, person.person_key, LOCAL_TAX_INFO)}
        for year in (FISCAL_YEAR - 1, FISCAL_YEAR):
            january_first = dt.date(year, 1, 1)
            holder = population.residence_on(person.person_key, january_first)
            adult = person.age_on(january_first) >= 18
            if not adult or holder in (None, ABROAD):
                assert year not in by_year
                continue
            replica = by_year[year]
            assert replica.agency_slug == holder
            assert replica.atena_number == population.atena_number(holder, person.person_key)
            assert replica.publication_start == dt.date(year, 6, 1)
            assert replica.record_id.startswith(f"TAX-{year}-")
        assert set(by_year) <= {FISCAL_YEAR - 1, FISCAL_YEAR}


def test_tax_amounts_are_plausible(any_population: Population) -> None:
    exempt_seen = taxed_seen = 0
    for replica in any_population.replicas:
        if replica.info_type_code != LOCAL_TAX_INFO:
            continue
        assert value(replica, "I001") == str(replica.fiscal_year)
        total, taxable = int(value(replica, "I002")), int(value(replica, "I003"))
        income_based, per_capita = int(value(replica, "I004")), int(value(replica, "I005"))
        assert 0 <= taxable <= total
        assert 0 <= int(value(replica, "I006")) <= 5
        if value(replica, "I007") == "1":
            exempt_seen += 1
            assert (income_based, per_capita) == (0, 0)
        else:
            taxed_seen += 1
            assert value(replica, "I007") == "0"
            assert per_capita == 5_000
            assert taxable // 10 - 100 < income_based <= taxable // 10
    assert taxed_seen > exempt_seen


def test_dependants_counted_in_i006_are_the_dependency_records(any_population: Population) -> None:
    population = any_population
    claims = Counter(
        (d.taxpayer_person_key, d.fiscal_year, d.agency_slug) for d in population.dependencies
    )
    counted: Counter[tuple[str, int | None, str]] = Counter()
    for replica in population.replicas:
        if replica.info_type_code == LOCAL_TAX_INFO:
            key = (holder_of(population, replica), replica.fiscal_year, replica.agency_slug)
            counted[key] = int(value(replica, "I006"))
    assert +counted == claims
    assert len(set(population.dependencies)) == len(population.dependencies)


def test_dependants_are_relatives_with_little_income(any_population: Population) -> None:
    population = any_population
    for dependency in population.dependencies:
        taxpayer = population.person(dependency.taxpayer_person_key)
        dependant = population.person(dependency.dependant_person_key)
        if dependant.household_key == taxpayer.household_key:
            assert dependant.relationship in {"子", "父", "母"}
        assert taxpayer.relationship in {"世帯主", "妻", "夫"}
        assert dependant.birth_date <= dt.date(dependency.fiscal_year - 1, 12, 31)
        [tax] = [
            r
            for r in of_type(population, taxpayer.person_key, LOCAL_TAX_INFO)
            if r.fiscal_year == dependency.fiscal_year
        ]
        assert tax.agency_slug == dependency.agency_slug
        if dependant.household_key != taxpayer.household_key:
            # Only the persona whose parents live apart, and the parents of the
            # duplicate-dependant finder's personas, are claimed from another household.
            apart = {
                population.persona(name).person_key
                for name in ("dependant_claimed_twice", *FINDER_CLAIMANTS)
            }
            assert dependant.person_key in apart


def test_dependants_occur(large: Population) -> None:
    assert any(d.fiscal_year == FISCAL_YEAR for d in large.dependencies)
    relationships = {large.person(d.dependant_person_key).relationship for d in large.dependencies}
    assert "子" in relationships
    assert relationships & {"父", "母"}


def test_account_replicas_are_well_formed(any_population: Population) -> None:
    population = any_population
    for replica in population.replicas_at(DIGITAL_AGENCY):
        assert replica.info_type_code == PUBLIC_FUND_ACCOUNT_INFO
        assert replica.fiscal_year is None
        assert dt.date(2022, 3, 28) <= replica.publication_start <= dt.date(2025, 12, 31)
        assert re.fullmatch(r"[0-9]{4}", value(replica, "I001"))
        assert re.fullmatch(r"[0-9]{3}", value(replica, "I002"))
        assert replica.item("I003") in {"1", "2"}
        assert re.fullmatch(r"[0-9]{7}", value(replica, "I004"))
        person = population.person(holder_of(population, replica))
        assert replica.item("I005") == person.name_kana


def test_municipal_replicas_are_at_the_municipality_of_residence(
    any_population: Population,
) -> None:
    population = any_population
    for replica in population.replicas:
        if replica.info_type_code in MUNICIPAL_INFO_TYPES:
            person = population.person(holder_of(population, replica))
            assert replica.agency_slug == person.municipality_slug


def test_care_insurance_information(large: Population) -> None:
    as_of = large.as_of
    assert as_of is not None
    replicas = [r for r in large.replicas if r.info_type_code == CARE_INSURANCE_INFO]
    assert replicas
    numbers = Counter((r.agency_slug, r.item("I001")) for r in replicas)
    assert max(numbers.values()) == 1
    for replica in replicas:
        person = large.person(holder_of(large, replica))
        assert person.age_on(as_of) >= 65
        assert re.fullmatch(r"[0-9]{10}", value(replica, "I001"))
        assert replica.item("I002") in {"01", "02", "03", "04", "05", "06", "07"}
        start = dt.date.fromisoformat(value(replica, "I003"))
        end = dt.date.fromisoformat(value(replica, "I004"))
        assert start <= as_of <= end
        assert 1 <= int(value(replica, "I005")) <= 13


def test_public_assistance_information(large: Population) -> None:
    as_of = large.as_of
    assert as_of is not None
    replicas = [r for r in large.replicas if r.info_type_code == PUBLIC_ASSISTANCE_INFO]
    assert replicas
    for replica in replicas:
        person = large.person(holder_of(large, replica))
        assert replica.item("I001") == "1"
        started = dt.date.fromisoformat(value(replica, "I002"))
        assert person.resident_since is not None
        assert person.resident_since <= started <= as_of
        assert value(replica, "I003").endswith("扶助")


def test_independence_support_information(large: Population) -> None:
    as_of = large.as_of
    assert as_of is not None
    replicas = [r for r in large.replicas if r.info_type_code == INDEPENDENCE_SUPPORT_INFO]
    assert replicas
    for replica in replicas:
        assert re.fullmatch(r"[0-9]{10}", value(replica, "I001"))
        assert replica.item("I002") in {"1", "2", "3", "4", "5", "6"}
        start = dt.date.fromisoformat(value(replica, "I003"))
        assert start <= as_of <= dt.date.fromisoformat(value(replica, "I004"))


def test_child_allowance_for_households_with_children(any_population: Population) -> None:
    population = any_population
    eligible_from = dt.date(FISCAL_YEAR - 18, 4, 2)
    allowances = {
        population.person(holder_of(population, r)).household_key: r
        for r in population.replicas
        if r.info_type_code == CHILD_ALLOWANCE_INFO
    }
    assert len(allowances) == sum(
        r.info_type_code == CHILD_ALLOWANCE_INFO for r in population.replicas
    )
    for household in population.households:
        children = [
            population.person(key)
            for key in household.member_person_keys
            if population.person(key).relationship == "子"
            and population.person(key).birth_date >= eligible_from
        ]
        replica = allowances.get(household.household_key)
        assert (replica is not None) == bool(children)
        if replica is not None:
            assert replica.item("I001") == "1"
            assert replica.item("I002") == str(len(children))
            assert 10_000 * len(children) <= int(value(replica, "I003")) <= 30_000 * len(children)


def test_prefecture_data_only_for_residents_of_odawara(large: Population) -> None:
    as_of = large.as_of
    assert as_of is not None
    at_prefecture = large.replicas_at(PREFECTURE_OF_ODAWARA)
    assert {r.info_type_code for r in at_prefecture} == {
        INTRACTABLE_DISEASE_INFO,
        DISABILITY_CERTIFICATE_INFO,
    }
    for replica in at_prefecture:
        person = large.person(holder_of(large, replica))
        assert person.municipality_slug == ODAWARA
        if replica.info_type_code == INTRACTABLE_DISEASE_INFO:
            assert re.fullmatch(r"[0-9]{8}", value(replica, "I001"))
            assert 1 <= int(value(replica, "I002")) <= 341
            start = dt.date.fromisoformat(value(replica, "I003"))
            assert start <= dt.date.fromisoformat(value(replica, "I004"))
            assert int(value(replica, "I005")) in {0, 2_500, 5_000, 10_000, 20_000, 30_000}
        else:
            assert value(replica, "I001").isdigit()
            assert replica.item("I002") in {"1", "2", "3", "4", "5", "6"}
            assert value(replica, "I003")
            assert dt.date.fromisoformat(value(replica, "I004")) <= as_of
    numbers = [(r.info_type_code, r.item("I001")) for r in at_prefecture]
    assert len(set(numbers)) == len(numbers)


# Helpers


def test_lookup_helpers_raise_key_error_for_unknowns(population: Population) -> None:
    with pytest.raises(KeyError):
        population.person("P9999999")
    with pytest.raises(KeyError):
        population.persona("nobody")
    with pytest.raises(KeyError):
        population.household("H9999999")
    with pytest.raises(KeyError):
        population.atena_number("tokyo", population.people[0].person_key)
    with pytest.raises(KeyError):
        population.replicas[0].item("I999")
    assert population.residence_on("P9999999", dt.date(2020, 1, 1)) is None
    assert population.registrations_at("tokyo") == ()
    assert population.replicas_of("P9999999") == ()
