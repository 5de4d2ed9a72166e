"""The records of a synthetic population: people, households, residences, registrations,
replicas (副本), dependants and personas, and the `Population` that indexes them."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from agencies.catalogue import agency_by_slug
from agencies.personas import Persona, PersonaInquiry, affair_tour
from network.protocol.layouts import catalogue
from network.protocol.models import (
    AffairTourStop,
    DetailStatus,
    InfoTypeStatus,
    PersonaCatalogue,
    PersonaOutcome,
)
from network.protocol.models import Persona as WirePersona
from network.protocol.models import PersonaInquiry as PersonaInquiryView

ABROAD = "abroad"
"""The ``municipality_slug`` of a period of residence outside Japan (国外)."""
FROM_ABROAD = "国外"
"""前住所 (I009 of 住民票関係情報) of a person who arrived from abroad."""
K = TypeVar("K")
V = TypeVar("V")

NOT_APPLICABLE = "NotApplicable"
"""未設定事由 of an item that cannot have a value, e.g. 前住所 of someone born there."""


@dataclass(frozen=True, slots=True)
class Person:
    """A resident (住民) as the resident registry (住民基本台帳) knows them."""

    person_key: str
    """Stable key within the population, e.g. ``P000001``; not a real identifier."""
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: dt.date
    sex: str
    """``male`` or ``female``."""
    my_number: str
    """個人番号: 12 digits, the last a check digit."""
    resident_code: str
    """住民票コード: 11 digits."""
    address: str
    """Current address (住所), in the municipality of current residence."""
    municipality_slug: str
    """Slug of the municipality of current residence."""
    household_key: str = ""
    """The household (世帯) the person belongs to, e.g. ``H000001``."""
    relationship: str = "世帯主"
    """続柄 to the head of household: 世帯主, 妻, 夫, 子, 父, 母."""
    resident_since: dt.date | None = None
    """住民となった年月日 in the municipality of current residence."""
    previous_address: str | None = None
    """前住所 before becoming a resident there: an address, ``国外``, or None if born there."""
    postal_code: str = ""
    """郵便番号 of the current address (7 digits)."""

    @property
    def name(self) -> str:
        """Full name in kanji, family name first, separated by a full-width space."""
        return f"{self.family_name}\u3000{self.given_name}"

    @property
    def name_kana(self) -> str:
        """Full name in full-width katakana, separated by a full-width space."""
        return f"{self.family_name_kana}\u3000{self.given_name_kana}"

    def age_on(self, day: dt.date) -> int:
        """Age in whole years on ``day``."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


@dataclass(frozen=True, slots=True)
class Household:
    """A household (世帯) as the resident registry records it."""

    household_key: str
    municipality_slug: str
    address: str
    head_person_key: str
    member_person_keys: tuple[str, ...]
    """Every member, the head first."""


@dataclass(frozen=True, slots=True)
class Residence:
    """One period of residence (住所履歴) in a municipality, or abroad (`ABROAD`)."""

    person_key: str
    municipality_slug: str
    """A municipality's slug, or ``abroad`` for a period outside Japan."""
    since: dt.date | None
    """The day of moving in (転入日) or of birth; None if before the period the simulation looks
    at (1 January of the previous fiscal year)."""
    until: dt.date | None
    """The day of moving out (転出日), exclusive; None while the person still lives there."""

    def covers(self, day: dt.date) -> bool:
        """Whether the person lived here on ``day``."""
        started = self.since is None or self.since <= day
        return started and (self.until is None or day < self.until)


@dataclass(frozen=True, slots=True)
class Registration:
    """A person registered at an agency's intermediate server under its atena number."""

    agency_slug: str
    atena_number: str
    """団体内統合宛名番号 (15 digits); at デジタル庁 its own 15-digit person number."""
    person_key: str
    acquire_pseudonym: bool
    """Whether the intermediate server should obtain a 符号 for the person."""


@dataclass(frozen=True, slots=True)
class ReplicaSeed:
    """A replica (副本) a business system registers at its intermediate server."""

    agency_slug: str
    atena_number: str
    record_id: str
    """レコード識別番号, unique within the agency."""
    info_type_code: str
    layout_version: int
    """版番号 of the info type's layout."""
    fiscal_year: int | None
    """課税年度 for tax data; None for data without a fiscal year."""
    publication_start: dt.date
    publication_end: dt.date | None
    items: tuple[tuple[str, str | None], ...]
    """(item code, value) pairs in layout order; the value is None for an empty item, whose
    reason is in `reasons_of_null`."""
    reasons_of_null: tuple[tuple[str, str], ...] = ()
    """(item code, 未設定事由) of every empty item, e.g. ``("I009", "NotApplicable")``."""
    manual_response: bool = False
    """自動応答不可: the provider's staff must answer inquiries about this replica by hand."""

    def item(self, code: str) -> str | None:
        """The value of one item (None if empty); KeyError if the replica has no such item."""
        for item_code, value in self.items:
            if item_code == code:
                return value
        raise KeyError(f"replica {self.record_id} has no item {code!r}")

    def reason_of_null(self, code: str) -> str | None:
        """未設定事由 of an empty item; None if the item has a value."""
        return next(
            (reason for item_code, reason in self.reasons_of_null if item_code == code), None
        )

    def wire_items(self) -> tuple[tuple[str, str | None, str | None], ...]:
        """(code, value, reason_of_null) of every item, as a registration message carries them."""
        reasons = dict(self.reasons_of_null)
        return tuple((code, value, reasons.get(code)) for code, value in self.items)


@dataclass(frozen=True, slots=True)
class Dependency:
    """A taxpayer claims a dependant (扶養親族) in the local-tax assessment of a fiscal year.

    ``agency_slug`` is the municipality that assesses the taxpayer (residence on 1 January), and
    so holds the taxpayer's local-tax information, whose 扶養親族数 (I006) counts the claim.
    """

    taxpayer_person_key: str
    dependant_person_key: str
    agency_slug: str
    fiscal_year: int


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that form no cycles.

    With 100,000 people the heap holds millions of objects; every full collection would scan
    them all, several times over while the records are built, more than doubling the time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _group(pairs: list[tuple[K, V]]) -> dict[K, tuple[V, ...]]:
    grouped: dict[K, list[V]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {key: tuple(values) for key, values in grouped.items()}


class _Indexes:
    """Dictionaries over a population's records, for fast look-ups."""

    def __init__(self, population: Population) -> None:
        self.people = {p.person_key: p for p in population.people}
        self.households = {h.household_key: h for h in population.households}
        self.atena = {
            (r.agency_slug, r.person_key): r.atena_number for r in population.registrations
        }
        self.registrations_at = _group([(r.agency_slug, r) for r in population.registrations])
        self.registrations_of = _group([(r.person_key, r) for r in population.registrations])
        self.replicas_at = _group([(r.agency_slug, r) for r in population.replicas])
        self.replicas_by_holder = _group(
            [((r.agency_slug, r.atena_number), r) for r in population.replicas]
        )
        self.residences = _group([(r.person_key, r) for r in population.residences])


@dataclass(frozen=True, slots=True)
class Population:
    """Everyone the demo's agencies know, their registrations and the replicas about them.

    Look-ups go through indexes built once, so they stay fast for 100,000 people.
    """

    people: tuple[Person, ...]
    registrations: tuple[Registration, ...]
    replicas: tuple[ReplicaSeed, ...]
    personas: dict[str, Persona]
    residences: tuple[Residence, ...] = ()
    """Residence history of every person, oldest first per person."""
    fiscal_year: int | None = None
    """The fiscal year (年度) the population was generated for."""
    dependencies: tuple[Dependency, ...] = ()
    """Every dependant claimed in the local-tax assessments of the population's fiscal years."""
    households: tuple[Household, ...] = ()
    as_of: dt.date | None = None
    """The day the population describes: residences, ages and replicas are as of this day."""
    seed: int | None = None
    size: int | None = None
    """People besides the personas' (``len(people)`` is this plus `persona_people_count`)."""

    _index: _Indexes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def _indexes(self) -> _Indexes:
        """The look-up indexes, built on first use (generation does not pay for them)."""
        if self._index is None:
            with cyclic_gc_paused():
                object.__setattr__(self, "_index", _Indexes(self))
        assert self._index is not None
        return self._index

    # --- people ---------------------------------------------------------------------------------

    def person(self, key: str) -> Person:
        """The person with this key; KeyError if there is none."""
        try:
            return self._indexes.people[key]
        except KeyError:
            raise KeyError(f"no person {key!r}") from None

    def household(self, key: str) -> Household:
        """The household with this key; KeyError if there is none."""
        try:
            return self._indexes.households[key]
        except KeyError:
            raise KeyError(f"no household {key!r}") from None

    def household_of(self, person_key: str) -> Household:
        """The household the person belongs to."""
        return self.household(self.person(person_key).household_key)

    def residences_of(self, person_key: str) -> tuple[Residence, ...]:
        """The person's residence history, oldest first."""
        return self._indexes.residences.get(person_key, ())

    def residence_on(self, person_key: str, day: dt.date) -> str | None:
        """Slug of the municipality the person lived in on ``day`` (``abroad`` if outside Japan),
        or None if unknown (not born yet)."""
        for residence in self.residences_of(person_key):
            if residence.covers(day):
                return residence.municipality_slug
        return None

    # --- personas -------------------------------------------------------------------------------

    def persona(self, name: str) -> Persona:
        """The persona with this name; KeyError if there is none."""
        try:
            return self.personas[name]
        except KeyError:
            raise KeyError(
                f"no persona {name!r}; personas are {', '.join(self.personas)}"
            ) from None

    def persona_person(self, name: str) -> Person:
        """The person behind a persona."""
        return self.person(self.persona(name).person_key)

    def personas_table(self) -> list[dict[str, object]]:
        """Every persona as JSON-able rows: who, what it demonstrates, the inquiry to send (with
        the person's atena number at the requester and both agency codes) and the outcome."""
        rows: list[dict[str, object]] = []
        for persona in self.personas.values():
            person = self.person(persona.person_key)
            inquiry = persona.inquiry
            rows.append(
                {
                    "name": persona.name,
                    "person_key": persona.person_key,
                    "person_name": person.name,
                    "person_name_kana": person.name_kana,
                    "municipality_slug": person.municipality_slug,
                    "demonstrates_en": persona.demonstrates_en,
                    "demonstrates_ja": persona.demonstrates_ja,
                    "description_en": persona.description_en,
                    "description_ja": persona.description_ja,
                    "feature": persona.feature,
                    "atena_number": None if inquiry is None else self._inquiry_atena(inquiry),
                    "inquiry": None if inquiry is None else self._inquiry_row(inquiry),
                    "expected": None
                    if inquiry is None
                    else {
                        "status_detail": inquiry.expected_status_detail,
                        "status_info_type": inquiry.expected_status_info_type,
                        "error_code": inquiry.expected_error_code,
                    },
                }
            )
        return rows

    def persona_catalogue(self) -> PersonaCatalogue:
        """The personas and the affair tour as the hub serves them (``GET /v1/personas``)."""
        personas = [WirePersona.model_validate(row) for row in self.personas_table()]
        shared = catalogue()
        tour = [
            AffairTourStop(
                affair_code=stop.affair_code,
                affair_name_ja=shared.affairs[stop.affair_code].name_ja,
                affair_name_en=shared.affairs[stop.affair_code].name_en,
                persona=stop.persona_name,
                inquiry=PersonaInquiryView.model_validate(self._inquiry_row(stop.inquiry)),
                expected=PersonaOutcome(
                    status_detail=DetailStatus(stop.inquiry.expected_status_detail),
                    status_info_type=InfoTypeStatus(stop.inquiry.expected_status_info_type),
                    error_code=stop.inquiry.expected_error_code,
                ),
            )
            for stop in affair_tour(self.personas, self._fiscal_year())
        ]
        return PersonaCatalogue(
            seed=self.seed or 0, population=self.size or 0, personas=personas, affair_tour=tour
        )

    def _fiscal_year(self) -> int:
        if self.fiscal_year is None:
            raise ValueError("the population has no fiscal year")
        return self.fiscal_year

    def _inquiry_atena(self, inquiry: PersonaInquiry) -> str:
        return self.atena_number(inquiry.requester_slug, inquiry.person_key)

    def _inquiry_row(self, inquiry: PersonaInquiry) -> dict[str, object]:
        return {
            "person_key": inquiry.person_key,
            "requester_slug": inquiry.requester_slug,
            "requester_code": agency_by_slug(inquiry.requester_slug).code,
            "atena_number": self._inquiry_atena(inquiry),
            "provider_slug": inquiry.provider_slug,
            "provider_code": agency_by_slug(inquiry.provider_slug).code,
            "affair_code": inquiry.affair_code,
            "procedure_code": inquiry.procedure_code,
            "info_type_code": inquiry.info_type_code,
            "fiscal_year": inquiry.fiscal_year,
        }

    # --- registrations and replicas -------------------------------------------------------------

    def atena_number(self, agency_slug: str, person_key: str) -> str:
        """The person's 団体内統合宛名番号 at the agency; KeyError if not registered there."""
        try:
            return self._indexes.atena[agency_slug, person_key]
        except KeyError:
            raise KeyError(f"person {person_key!r} is not registered at {agency_slug!r}") from None

    def registrations_at(self, agency_slug: str) -> tuple[Registration, ...]:
        """Every registration at one agency."""
        return self._indexes.registrations_at.get(agency_slug, ())

    def registrations_of(self, person_key: str) -> tuple[Registration, ...]:
        """Every registration of one person."""
        return self._indexes.registrations_of.get(person_key, ())

    def replicas_at(self, agency_slug: str) -> tuple[ReplicaSeed, ...]:
        """Every replica one agency holds."""
        return self._indexes.replicas_at.get(agency_slug, ())

    def replicas_of(self, person_key: str) -> tuple[ReplicaSeed, ...]:
        """Every replica about one person, at any agency."""
        return tuple(
            replica
            for registration in self.registrations_of(person_key)
            for replica in self._indexes.replicas_by_holder.get(
                (registration.agency_slug, registration.atena_number), ()
            )
        )

    # --- dependants -----------------------------------------------------------------------------

    def dependencies_of(self, person_key: str) -> tuple[Dependency, ...]:
        """Every claim in which the person is the taxpayer or the dependant."""
        return tuple(
            d
            for d in self.dependencies
            if person_key in (d.taxpayer_person_key, d.dependant_person_key)
        )
