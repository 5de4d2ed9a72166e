"""`generate_population`: households, moves, incomes and the replicas they imply.

Randomness comes from `random.Random` instances seeded with strings (hashed with SHA-512 by
the standard library, so independent of ``PYTHONHASHSEED``); nothing iterates over a set or
depends on ``hash()``. The personas draw from their own stream and come first, so they are the
same people, with the same numbers, whatever the size of the population.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from faker.providers.person.ja_JP import Provider as JapaneseNames

from agencies.catalogue import (
    DIGITAL_AGENCY,
    FUKUOKA,
    KANAGAWA,
    MUNICIPALITY_SLUGS,
    NAKASHIBETSU,
    ODAWARA,
    YAMAGATA,
)
from agencies.personas import (
    ACCOUNT_HOLDER,
    ARRIVED_FROM_ABROAD,
    CARE_INSURANCE_INFO,
    CARE_INSURED,
    CHILD_ALLOWANCE_INFO,
    DEPENDANT_CLAIM_INFO,
    DEPENDANT_CLAIMED_IN_ONE_OTHER,
    DEPENDANT_CLAIMED_IN_TWO_OTHERS,
    DEPENDANT_CLAIMED_NOWHERE_ELSE,
    DEPENDANT_CLAIMED_TWICE,
    DISABILITY_CERTIFICATE_INFO,
    FINDER_CLAIMANTS,
    INDEPENDENCE_SUPPORT_INFO,
    INTRACTABLE_DISEASE,
    INTRACTABLE_DISEASE_INFO,
    LIFELONG_YAMAGATA,
    LOCAL_TAX_INFO,
    MANUAL_RESPONSE_HOLD,
    MOVED_IN,
    NAMESAKE,
    NO_ACCOUNT,
    NO_PSEUDONYM,
    NOT_PERMITTED,
    PERSONA_NAMES,
    PUBLIC_ASSISTANCE_INFO,
    PUBLIC_FUND_ACCOUNT_INFO,
    REGISTERED_WITHOUT_TAX,
    RESIDENT_INFO,
    STALE_REPLICA,
    make_persona,
)
from agencies.population import places
from agencies.population.model import (
    ABROAD,
    FROM_ABROAD,
    NOT_APPLICABLE,
    Dependency,
    Household,
    Person,
    Population,
    Registration,
    ReplicaSeed,
    Residence,
    cyclic_gc_paused,
)
from network.protocol.layouts import catalogue

PREFECTURE_OF_ODAWARA = KANAGAWA
"""神奈川県: holds 難病関係情報 and 身体障害者手帳関係情報 for residents of 小田原市."""

MIN_FISCAL_YEAR = 2023
"""The earliest fiscal year a population can be generated for (公金受取口座 began in 2022)."""
DEFAULT_SIZE = 40
MAX_SIZE = 100_000

_NETWORK_START = dt.date(2017, 11, 13)
"""情報連携 began in earnest: no replica is published before this day."""
_ACCOUNT_REGISTRATION_START = dt.date(2022, 3, 28)
_ACCOUNT_REGISTRATION_END = dt.date(2025, 12, 31)
_ACCOUNT_SHARE = 1 / 3

# Household types (世帯類型) and their shares: 単独, 夫婦のみ, 夫婦と子, ひとり親と子, 三世代.
_SINGLE, _COUPLE, _FAMILY, _SINGLE_PARENT, _THREE_GENERATIONS = range(5)
_HOUSEHOLD_KINDS = range(5)
_HOUSEHOLD_WEIGHTS = tuple(itertools.accumulate((34, 20, 27, 9, 10)))
"""Cumulative weights of the household types."""
_CHILDREN = (1, 2, 3)
_CHILDREN_WEIGHTS = tuple(itertools.accumulate((35, 45, 20)))
# Municipalities of generic households: a shuffled deck keeps small populations balanced.
_MUNICIPALITY_DECK = (YAMAGATA,) * 3 + (ODAWARA,) * 3 + (FUKUOKA,) * 4 + (NAKASHIBETSU,) * 2
_OTHER_MUNICIPALITIES = {
    slug: tuple(other for other in MUNICIPALITY_SLUGS if other != slug)
    for slug in MUNICIPALITY_SLUGS
}
_MOVED_SHARE = 0.12
"""Households that moved into their municipality since 1 January of the previous fiscal year."""
_FROM_ABROAD_SHARE = 0.2
"""Of those, the share that came from abroad (the others from another demo municipality)."""
_SETTLED_SHARE = 0.5
"""Of the households that did not move lately, the share that came from elsewhere years ago."""

_NATIONWIDE_BANKS = ("0001", "0005", "0009", "0010", "9900")
_REGIONAL_BANKS = {YAMAGATA: "0122", ODAWARA: "0138", FUKUOKA: "0177", NAKASHIBETSU: "0116"}

_PER_CAPITA_TAX = 5_000
_INCOME_TAX_RATE_PERCENT = 10
_BASIC_DEDUCTION = 430_000
_DEPENDANT_DEDUCTION = 330_000
_DEPENDANT_INCOME_LIMIT = 480_000
"""A relative with at most this total income (合計所得金額) can be claimed as a dependant."""

_CARE_LEVELS = ("01", "02", "03", "04", "05", "06", "07")
_CARE_LEVEL_WEIGHTS = (14, 14, 21, 17, 13, 12, 9)
_ASSISTANCE_KINDS = (
    "生活扶助",
    "生活扶助、住宅扶助",
    "生活扶助、住宅扶助、医療扶助",
    "生活扶助、医療扶助",
    "医療扶助",
)
_DISABILITY_KINDS = (
    "視覚障害",
    "聴覚障害",
    "平衡機能障害",
    "音声・言語・そしゃく機能障害",
    "肢体不自由",
    "内部障害",
)

PERSONA_ORDER = {name: position for position, name in enumerate(PERSONA_NAMES)}

_MY_NUMBER_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
"""Weights of the 個人番号 check digit (as python-stdnum's ``stdnum.jp.in_`` computes it: the
check digit is ``-Σ weight × digit mod 11 mod 10``); inlined because it runs 100,000 times."""

_HEAD, _WIFE, _HUSBAND, _CHILD, _FATHER, _MOTHER = "世帯主", "妻", "夫", "子", "父", "母"
_DEPENDANT_RELATIONSHIPS = (_CHILD, _FATHER, _MOTHER)


# --- names ------------------------------------------------------------------------------------


@functools.cache
def _family_names() -> tuple[tuple[tuple[str, str], ...], tuple[float, ...]]:
    """Faker's ja_JP family names (kanji, kana) and their cumulative frequencies."""
    pairs = JapaneseNames.last_name_pairs
    names = tuple((kanji, kana) for kanji, kana, _ in pairs)
    return names, tuple(itertools.accumulate(float(weight) for weight in pairs.values()))


_GIVEN_NAMES = {
    "male": tuple((kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_male_pairs),
    "female": tuple((kanji, kana) for kanji, kana, _ in JapaneseNames.first_name_female_pairs),
}


# --- the plan: households and members before records are made ----------------------------------


@dataclass(eq=False, slots=True)
class _Member:
    rng: random.Random
    """The stream this member's details are drawn from (the personas' or the others')."""
    household: _Household
    relationship: str
    sex: str
    birth_date: dt.date
    family: tuple[str, str]
    given: tuple[str, str]
    key: str
    my_number: str
    resident_code: str
    persona: str | None = None
    incomes: dict[int, int] = field(default_factory=dict)
    """Total income (総所得金額) assessed in each fiscal year, i.e. of the year before."""
    has_account: bool = False
    at_digital_agency: bool = False
    acquire_pseudonym: bool = True
    residences: list[Residence] = field(default_factory=list)
    tax_slugs: dict[int, str | None] = field(default_factory=dict)
    """The municipality assessing the member's local tax in each fiscal year, if any."""
    resident_since: dt.date = dt.date.min
    previous_address: str | None = None
    extras: list[_Pending] = field(default_factory=list)
    """Replicas besides local tax and 住民票, decided before registration."""


@dataclass(eq=False, slots=True)
class _Household:
    key: str
    moves: list[tuple[str, dt.date | None]]
    """(slug or ``abroad``, moving-in day) in order; the first day is None."""
    town: places.Town
    address: str
    previous_address: str | None = None
    """The address before the last move: an address, 国外, or None."""
    settled: dt.date | None = None
    """For a household that did not move lately: when it came, or None if born there."""
    settled_from: str | None = None
    members: list[_Member] = field(default_factory=list)
    claim_free_years: tuple[int, ...] = ()
    """Fiscal years in which the household's own taxpayer claims nobody (personas only)."""
    extra_claims: list[tuple[_Member, _Member, int]] = field(default_factory=list)
    """(taxpayer, dependant, fiscal year) claims made from this household of another's member."""
    stale_address: str | None = None
    """The address an out-of-date 住民票 replica still shows (stale_replica only)."""

    @property
    def slug(self) -> str:
        return self.moves[-1][0]

    @property
    def head(self) -> _Member:
        return self.members[0]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A replica decided for a member, before its agency's atena number and record id exist."""

    agency_slug: str
    info_type_code: str
    prefix: str
    fiscal_year: int | None
    publication_start: dt.date
    values: dict[str, str | None]
    manual_response: bool = False


class _Dates:
    """The days a population for one fiscal year turns on."""

    def __init__(self, fiscal_year: int) -> None:
        self.fiscal_year = fiscal_year
        self.years = (fiscal_year - 1, fiscal_year)
        self.january_first = dt.date(fiscal_year, 1, 1)
        self.window_start = dt.date(fiscal_year - 1, 1, 2)
        """Moves are simulated from this day on (1 January of the previous year is before)."""
        self.spring = (dt.date(fiscal_year, 4, 1), dt.date(fiscal_year, 5, 31))
        self.after_january = (dt.date(fiscal_year, 1, 10), dt.date(fiscal_year, 3, 15))
        self.as_of = dt.date(fiscal_year, 6, 30)
        self.account_latest = min(_ACCOUNT_REGISTRATION_END, dt.date(fiscal_year, 3, 31))
        """The last day a public-fund account can have been registered on."""
        self.adult_born_by = {year: dt.date(year - 18, 1, 1) for year in self.years}
        """Born on or before this day: an adult (18 or over) on 1 January of the year."""


def _day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    if last <= first:
        return first
    return dt.date.fromordinal(first.toordinal() + rng.randrange((last - first).days + 1))


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@functools.cache
def _birth_bounds(as_of: dt.date, youngest: int, oldest: int) -> tuple[int, int]:
    first = _years_later(as_of, -oldest - 1).toordinal() + 1
    last = _years_later(as_of, -youngest).toordinal() - 1
    return first, last - first + 1


def _born(rng: random.Random, as_of: dt.date, youngest: int, oldest: int) -> dt.date:
    """A birth date of someone aged ``youngest``..``oldest`` on ``as_of``."""
    first, days = _birth_bounds(as_of, youngest, oldest)
    return dt.date.fromordinal(first + rng.randrange(days))


def _age(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class _Builder:
    def __init__(self, seed: int, fiscal_year: int) -> None:
        self.seed = seed
        self.dates = _Dates(fiscal_year)
        self.households: list[_Household] = []
        self.members: list[_Member] = []
        self.my_numbers: set[str] = set()
        self.resident_codes: set[str] = set()
        self.numbers: dict[tuple[str, str], set[str]] = {}
        """Numbers issued per (info type, agency): 被保険者番号, 受給者番号, 手帳番号…"""

    # --- identifiers ---------------------------------------------------------------------------

    def _my_number(self, rng: random.Random) -> str:
        """A random, unused 個人番号: 11 digits and the check digit."""
        while True:
            body = str(rng.randrange(10**10, 10**11))
            candidate = (
                f"{body}{-sum(map(operator.mul, _MY_NUMBER_WEIGHTS, map(int, body))) % 11 % 10}"
            )
            if candidate not in self.my_numbers:
                self.my_numbers.add(candidate)
                return candidate

    def _resident_code(self, rng: random.Random) -> str:
        while True:
            candidate = f"{rng.randrange(10**10, 10**11):011d}"
            if candidate not in self.resident_codes:
                self.resident_codes.add(candidate)
                return candidate

    # --- households ----------------------------------------------------------------------------

    def _address(self, rng: random.Random, town: places.Town) -> str:
        block = f"{rng.randint(1, 5)}丁目" if town.has_chome else ""
        return f"{town.prefix}{block}{rng.randint(1, 30)}番{rng.randint(1, 25)}号"

    def _address_in(self, rng: random.Random, slug: str) -> tuple[places.Town, str]:
        town = rng.choice(places.towns_of(slug))
        return town, self._address(rng, town)

    def _address_elsewhere(self, rng: random.Random, slug: str) -> str:
        """An address in another municipality of the same prefecture (a former home)."""
        city_id, _ = rng.choice(places.other_cities(slug))
        return self._address(rng, rng.choice(places.towns_of_city(city_id)))

    def household(
        self,
        rng: random.Random,
        moves: list[tuple[str, dt.date | None]],
        *,
        previous_address: str | None = None,
    ) -> _Household:
        """A new household living in the last municipality of ``moves``.

        Without ``previous_address``, a household that moved gets an address in the municipality
        it came from (or 国外), and one that did not is settled for a random time.
        """
        town, address = self._address_in(rng, moves[-1][0])
        household = _Household(f"H{len(self.households) + 1:06d}", moves, town, address)
        if len(moves) > 1:
            origin = moves[-2][0]
            if previous_address is not None:
                household.previous_address = previous_address
            elif origin == ABROAD:
                household.previous_address = FROM_ABROAD
            else:
                household.previous_address = self._address_in(rng, origin)[1]
        self.households.append(household)
        return household

    def member(
        self,
        rng: random.Random,
        household: _Household,
        relationship: str,
        sex: str,
        birth_date: dt.date,
        family: tuple[str, str] | None = None,
        given: tuple[str, str] | None = None,
        persona: str | None = None,
    ) -> _Member:
        if family is None:
            names, weights = _family_names()
            family = household.head.family if household.members else None
            if family is None:
                family = rng.choices(names, cum_weights=weights)[0]
        member = _Member(
            rng=rng,
            household=household,
            relationship=relationship,
            sex=sex,
            birth_date=birth_date,
            family=family,
            given=given or rng.choice(_GIVEN_NAMES[sex]),
            key=f"P{len(self.members) + 1:06d}",
            my_number=self._my_number(rng),
            resident_code=self._resident_code(rng),
            persona=persona,
        )
        household.members.append(member)
        self.members.append(member)
        return member

    def settle(self, rng: random.Random, household: _Household) -> None:
        """Decide when a household that did not move lately came, and from where."""
        if len(household.moves) > 1 or rng.random() >= _SETTLED_SHARE:
            return
        head = household.head
        earliest = max(_years_later(head.birth_date, 18), dt.date(1975, 4, 1))
        household.settled = _day(rng, earliest, self.dates.window_start - dt.timedelta(days=1))
        household.settled_from = self._address_elsewhere(rng, household.slug)

    def generic_household(self, rng: random.Random, slug: str, room: int) -> None:
        """A household of at most ``room`` people in ``slug``, of a random type."""
        dates = self.dates
        as_of = dates.as_of
        moves: list[tuple[str, dt.date | None]] = [(slug, None)]
        if rng.random() < _MOVED_SHARE:
            if rng.random() < _FROM_ABROAD_SHARE:
                origin = ABROAD
            else:
                origin = rng.choice(_OTHER_MUNICIPALITIES[slug])
            moved = _day(rng, dates.window_start, dates.spring[1])
            if moved == dates.january_first:
                moved += dt.timedelta(days=1)
            moves = [(origin, None), (slug, moved)]
        kind = rng.choices(_HOUSEHOLD_KINDS, cum_weights=_HOUSEHOLD_WEIGHTS)[0]
        specs: list[tuple[str, str, dt.date]] = []
        if kind == _SINGLE:
            specs.append((_HEAD, rng.choice(("male", "female")), _born(rng, as_of, 20, 90)))
        elif kind == _SINGLE_PARENT:
            sex = "female" if rng.random() < 0.85 else "male"
            specs.append((_HEAD, sex, _born(rng, as_of, 25, 55)))
        else:
            youngest, oldest = (24, 88) if kind == _COUPLE else (28, 56)
            head_sex = "male" if rng.random() < 0.85 else "female"
            head_birth = _born(rng, as_of, youngest, oldest)
            spouse_age = min(max(_age(head_birth, as_of) + rng.randint(-6, 4), 20), 95)
            spouse_sex = "female" if head_sex == "male" else "male"
            specs.append((_HEAD, head_sex, head_birth))
            specs.append(
                (
                    _WIFE if spouse_sex == "female" else _HUSBAND,
                    spouse_sex,
                    _born(rng, as_of, spouse_age, spouse_age),
                )
            )
        head_age = _age(specs[0][2], as_of)
        if kind in (_FAMILY, _SINGLE_PARENT, _THREE_GENERATIONS):
            for _ in range(rng.choices(_CHILDREN, cum_weights=_CHILDREN_WEIGHTS)[0]):
                oldest = max(0, min(head_age - 22, 24))
                specs.append((_CHILD, rng.choice(("male", "female")), _born(rng, as_of, 0, oldest)))
        if kind == _THREE_GENERATIONS:
            for relationship, sex in ((_FATHER, "male"), (_MOTHER, "female")):
                if rng.random() < 0.6:
                    age = min(head_age + rng.randint(24, 36), 98)
                    specs.append((relationship, sex, _born(rng, as_of, age, age)))
        household = self.household(rng, moves)
        for relationship, sex, birth_date in specs[:room]:
            self.member(rng, household, relationship, sex, birth_date)
        self.settle(rng, household)
        self.locate(household)

    # --- personas ------------------------------------------------------------------------------

    def personas(self, rng: random.Random) -> dict[str, tuple[_Member, _Member | None]]:
        """The personas' households; for each persona its member and the one its inquiry names
        when that is someone else."""
        dates = self.dates
        as_of = dates.as_of
        found: dict[str, tuple[_Member, _Member | None]] = {}

        def alone(
            persona: str,
            moves: list[tuple[str, dt.date | None]],
            *,
            ages: tuple[int, int] = (20, 85),
            settle: bool = True,
        ) -> _Member:
            household = self.household(rng, moves)
            sex = rng.choice(("male", "female"))
            member = self.member(
                rng, household, _HEAD, sex, _born(rng, as_of, *ages), persona=persona
            )
            if settle:
                self.settle(rng, household)
            found[persona] = (member, None)
            return member

        def spring() -> dt.date:
            return _day(rng, *dates.spring)

        moved_in = alone(MOVED_IN, [(ODAWARA, None), (YAMAGATA, spring())])

        household = self.household(rng, [(ODAWARA, None), (YAMAGATA, spring())])
        year = moved_in.birth_date.year + rng.choice((-2, -1, 1, 2))
        namesake = self.member(
            rng,
            household,
            _HEAD,
            moved_in.sex,
            _day(rng, dt.date(year, 1, 1), dt.date(year, 12, 31)),
            family=moved_in.family,
            given=rng.choice([g for g in _GIVEN_NAMES[moved_in.sex] if g != moved_in.given]),
            persona=NAMESAKE,
        )
        found[NAMESAKE] = (namesake, None)

        alone(LIFELONG_YAMAGATA, [(YAMAGATA, None)], settle=False)
        alone(NO_PSEUDONYM, [(YAMAGATA, None)]).acquire_pseudonym = False
        alone(
            REGISTERED_WITHOUT_TAX,
            [(FUKUOKA, None), (ODAWARA, _day(rng, *dates.after_january)), (YAMAGATA, spring())],
        )
        holder = alone(ACCOUNT_HOLDER, [(FUKUOKA, None)])
        holder.has_account = holder.at_digital_agency = True
        alone(NO_ACCOUNT, [(FUKUOKA, None)]).at_digital_agency = True

        arrival = _day(rng, dt.date(dates.fiscal_year, 1, 10), dt.date(dates.fiscal_year, 3, 20))
        arrived = alone(ARRIVED_FROM_ABROAD, [(ABROAD, None), (ODAWARA, arrival)])
        certified = _day(rng, arrival + dt.timedelta(days=30), dates.spring[1])

        # A child in Fukuoka claimed by the parent there and by the other parent in Yamagata.
        family_home = self.household(rng, [(FUKUOKA, None)])
        mother = self.member(rng, family_home, _HEAD, "female", _born(rng, as_of, 33, 46))
        child = self.member(
            rng,
            family_home,
            _CHILD,
            rng.choice(("male", "female")),
            _born(rng, as_of, 8, 14),
            persona=DEPENDANT_CLAIMED_TWICE,
        )
        self.settle(rng, family_home)
        left = _day(
            rng, dt.date(dates.fiscal_year - 1, 4, 1), dt.date(dates.fiscal_year - 1, 11, 30)
        )
        fathers_home = self.household(
            rng, [(FUKUOKA, None), (YAMAGATA, left)], previous_address=family_home.address
        )
        father = self.member(
            rng, fathers_home, _HEAD, "male", _born(rng, as_of, 35, 48), family=mother.family
        )
        family_home.claim_free_years = (dates.fiscal_year - 1,)
        fathers_home.extra_claims = [(father, child, year) for year in dates.years]
        found[DEPENDANT_CLAIMED_TWICE] = (child, father)

        moved_for_assistance = spring()
        assisted = alone(NOT_PERMITTED, [(FUKUOKA, None), (YAMAGATA, moved_for_assistance)])
        assisted_from = _day(
            rng, moved_for_assistance + dt.timedelta(days=7), dates.spring[1] + dt.timedelta(days=7)
        )
        moved_for_care = spring()
        insured = alone(CARE_INSURED, [(ODAWARA, None), (FUKUOKA, moved_for_care)], ages=(66, 88))
        patient = alone(INTRACTABLE_DISEASE, [(ODAWARA, None)])
        alone(MANUAL_RESPONSE_HOLD, [(FUKUOKA, None), (YAMAGATA, spring())])

        stale = alone(STALE_REPLICA, [(ODAWARA, None)], settle=False)
        home = stale.household
        home.settled = _day(
            rng, dt.date(dates.fiscal_year - 8, 4, 1), dt.date(dates.fiscal_year - 4, 3, 31)
        )
        home.settled_from = self._address_elsewhere(rng, ODAWARA)
        home.stale_address = home.address
        while home.address == home.stale_address:
            home.town, home.address = self._address_in(rng, ODAWARA)

        # The duplicate-dependant finder: a parent in Yamagata claimed by children elsewhere.
        finder_moves: dict[str, list[tuple[str, dt.date | None]]] = {
            DEPENDANT_CLAIMED_NOWHERE_ELSE: [(ODAWARA, None), (YAMAGATA, spring())],
            DEPENDANT_CLAIMED_IN_ONE_OTHER: [(YAMAGATA, None)],
            DEPENDANT_CLAIMED_IN_TWO_OTHERS: [(YAMAGATA, None)],
        }
        for persona, moves in finder_moves.items():
            parent = alone(persona, moves, ages=(70, 88))
            for slug in FINDER_CLAIMANTS[persona] or (YAMAGATA,):
                home = self.household(rng, [(slug, None)])
                child = self.member(
                    rng,
                    home,
                    _HEAD,
                    rng.choice(("male", "female")),
                    _born(rng, as_of, 40, 55),
                    family=parent.family,
                )
                home.extra_claims = [(child, parent, year) for year in dates.years]

        for household in self.households:
            self.locate(household)
        arrived.extras.append(self.intractable(arrived, certified))
        assisted.extras.append(self.assistance(assisted, assisted_from))
        insured.extras.append(self.care(insured, start=moved_for_care))
        patient.extras.append(self.intractable(patient))
        stale.extras.append(self.intractable(stale))
        return found

    def locate(self, household: _Household) -> None:
        """Each member's residence history, 住民となった年月日 and 前住所."""
        window_start = self.dates.window_start
        moves = household.moves
        last_move = moves[-1][1]
        for member in household.members:
            birth = member.birth_date
            member.residences = []
            for position, (slug, since) in enumerate(moves):
                until = moves[position + 1][1] if position + 1 < len(moves) else None
                if until is not None and until <= birth:
                    continue
                start = since
                if not member.residences and birth >= window_start:
                    start = birth if since is None or since < birth else since
                member.residences.append(Residence(member.key, slug, start, until))
            if last_move is not None and birth < last_move:
                member.resident_since = last_move
                member.previous_address = household.previous_address
            elif last_move is None and household.settled is not None and birth < household.settled:
                member.resident_since = household.settled
                member.previous_address = household.settled_from
            else:
                member.resident_since = birth if last_move is None else max(birth, last_move)
                member.previous_address = None
            member.tax_slugs = {year: self._tax_slug(member, year) for year in self.dates.years}

    # --- replicas besides local tax and 住民票 ----------------------------------------------------

    def _number(self, rng: random.Random, kind: str, slug: str, digits: int) -> str:
        used = self.numbers.setdefault((kind, slug), set())
        while True:
            candidate = f"{rng.randrange(10 ** (digits - 1), 10**digits)}"
            if candidate not in used:
                used.add(candidate)
                return candidate

    def _recent_start(self, member: _Member, days: int) -> dt.date:
        """A start day within ``days`` before as_of, not before the person became a resident."""
        as_of = self.dates.as_of
        earliest = max(member.resident_since, as_of - dt.timedelta(days=days))
        return _day(member.rng, earliest, as_of - dt.timedelta(days=1))

    def care(self, member: _Member, start: dt.date | None = None) -> _Pending:
        """介護保険関係情報 at the municipality of residence (the insurer)."""
        rng = member.rng
        slug = member.household.slug
        years = rng.choice((1, 2, 3))
        start = start or self._recent_start(member, 365 * years - 30)
        return _Pending(
            slug,
            CARE_INSURANCE_INFO,
            "LTC",
            None,
            max(start, _NETWORK_START),
            {
                "I001": self._number(rng, CARE_INSURANCE_INFO, slug, 10),
                "I002": rng.choices(_CARE_LEVELS, weights=_CARE_LEVEL_WEIGHTS)[0],
                "I003": start.isoformat(),
                "I004": (_years_later(start, years) - dt.timedelta(days=1)).isoformat(),
                "I005": "",  # the premium stage follows the tax assessment: set in _finish
            },
        )

    def assistance(self, member: _Member, start: dt.date | None = None) -> _Pending:
        """生活保護関係情報 at the municipality of residence."""
        rng = member.rng
        start = start or self._recent_start(member, 3650)
        return _Pending(
            member.household.slug,
            PUBLIC_ASSISTANCE_INFO,
            "WEL",
            None,
            max(start, _NETWORK_START),
            {"I001": "1", "I002": start.isoformat(), "I003": rng.choice(_ASSISTANCE_KINDS)},
        )

    def independence(self, member: _Member) -> _Pending:
        """自立支援給付関係情報 at the municipality of residence."""
        rng = member.rng
        slug = member.household.slug
        start = self._recent_start(member, 364)
        return _Pending(
            slug,
            INDEPENDENCE_SUPPORT_INFO,
            "IND",
            None,
            max(start, _NETWORK_START),
            {
                "I001": self._number(rng, INDEPENDENCE_SUPPORT_INFO, slug, 10),
                "I002": str(rng.randint(1, 6)),
                "I003": start.isoformat(),
                "I004": (_years_later(start, 1) - dt.timedelta(days=1)).isoformat(),
            },
        )

    def intractable(self, member: _Member, start: dt.date | None = None) -> _Pending:
        """難病関係情報 at the prefecture (神奈川県 for residents of 小田原市)."""
        rng = member.rng
        start = start or self._recent_start(member, 364)
        return _Pending(
            PREFECTURE_OF_ODAWARA,
            INTRACTABLE_DISEASE_INFO,
            "NAN",
            None,
            max(start, _NETWORK_START),
            {
                "I001": self._number(rng, INTRACTABLE_DISEASE_INFO, PREFECTURE_OF_ODAWARA, 8),
                "I002": str(rng.randint(1, 341)),
                "I003": start.isoformat(),
                "I004": (_years_later(start, 1) - dt.timedelta(days=1)).isoformat(),
                "I005": "",  # the co-payment ceiling follows the tax assessment: set in _finish
            },
        )

    def disability(self, member: _Member) -> _Pending:
        """身体障害者手帳関係情報 at the prefecture (神奈川県 for residents of 小田原市)."""
        rng = member.rng
        as_of = self.dates.as_of
        earliest = max(
            member.resident_since,
            _years_later(member.birth_date, 1),
            _years_later(as_of, -30),
        )
        issued = _day(rng, earliest, as_of - dt.timedelta(days=1))
        return _Pending(
            PREFECTURE_OF_ODAWARA,
            DISABILITY_CERTIFICATE_INFO,
            "DIS",
            None,
            max(issued, _NETWORK_START),
            {
                "I001": self._number(rng, DISABILITY_CERTIFICATE_INFO, PREFECTURE_OF_ODAWARA, 7),
                "I002": str(rng.choices(range(1, 7), weights=(26, 20, 17, 20, 8, 9))[0]),
                "I003": rng.choice(_DISABILITY_KINDS),
                "I004": issued.isoformat(),
            },
        )

    # --- incomes, dependants and local tax -------------------------------------------------------

    def tax_holder(self, member: _Member, year: int) -> str | None:
        """The municipality that assesses the member's local tax for ``year``, if any: where they
        lived on 1 January, if they were an adult living in Japan then."""
        return member.tax_slugs.get(year)

    def _tax_slug(self, member: _Member, year: int) -> str | None:
        january_first = dt.date(year, 1, 1)
        if member.birth_date > self.dates.adult_born_by[year]:
            return None
        for residence in member.residences:
            if residence.covers(january_first):
                return (
                    None if residence.municipality_slug == ABROAD else residence.municipality_slug
                )
        return None

    def incomes(self, member: _Member) -> None:
        rng = member.rng
        fiscal_year = self.dates.fiscal_year
        age = _age(member.birth_date, dt.date(fiscal_year, 1, 1))
        if age < 18:
            current = 0
        elif member.relationship == _CHILD and age < 23:
            current = 0 if rng.random() < 0.75 else rng.randrange(10, 150) * 10_000
        elif age >= 65:
            current = 0 if rng.random() < 0.3 else rng.randrange(10, 250) * 10_000
        elif member.relationship in (_WIFE, _HUSBAND) and rng.random() < 0.45:
            current = rng.randrange(0, 104) * 10_000
        elif rng.random() < 0.15:
            current = rng.randrange(0, 90) * 10_000
        else:
            current = rng.randrange(120, 900) * 10_000 + rng.randrange(0, 10) * 1_000
        previous = current * rng.randrange(90, 111) // 100 // 1_000 * 1_000
        if _age(member.birth_date, dt.date(fiscal_year - 1, 1, 1)) < 18:
            previous = 0
        member.incomes = {fiscal_year - 1: previous, fiscal_year: current}

    def claims(self) -> list[Dependency]:
        """Who claims whom as a dependant (扶養親族) in each fiscal year."""
        dependencies: list[Dependency] = []
        for household in self.households:
            for year in self.dates.years:
                if year in household.claim_free_years:
                    continue
                taxpayer = self.taxpayer(household, year)
                if taxpayer is None:
                    continue
                slug = self.tax_holder(taxpayer, year)
                assert slug is not None
                last_day = dt.date(year - 1, 12, 31)
                dependencies.extend(
                    Dependency(taxpayer.key, member.key, slug, year)
                    for member in household.members
                    if member.relationship in _DEPENDANT_RELATIONSHIPS
                    and member.birth_date <= last_day
                    and member.incomes[year] <= _DEPENDANT_INCOME_LIMIT
                )
            for taxpayer, dependant, year in household.extra_claims:
                slug = self.tax_holder(taxpayer, year)
                assert slug is not None
                dependencies.append(Dependency(taxpayer.key, dependant.key, slug, year))
        return dependencies

    def taxpayer(self, household: _Household, year: int) -> _Member | None:
        """The household's main earner (生計中心者) assessed for ``year``: head or spouse."""
        candidates = [
            member
            for member in household.members
            if member.relationship in (_HEAD, _WIFE, _HUSBAND)
            and self.tax_holder(member, year) is not None
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda member: member.incomes[year])

    # --- generic extras --------------------------------------------------------------------------

    def extras(self, household: _Household) -> None:
        """Random public-fund accounts, care, assistance and disability data of a household."""
        as_of = self.dates.as_of
        for member in household.members:
            rng = member.rng
            age = _age(member.birth_date, as_of)
            if rng.random() < _ACCOUNT_SHARE and member.birth_date < self.dates.account_latest:
                member.has_account = member.at_digital_agency = True
            if age >= 65 and rng.random() < (0.08 if age < 75 else 0.32):
                member.extras.append(self.care(member))
            if 18 <= age < 65 and rng.random() < 0.012:
                member.extras.append(self.independence(member))
            if household.slug == ODAWARA:
                if rng.random() < 0.012:
                    member.extras.append(self.intractable(member))
                if rng.random() < (0.02 if age < 65 else 0.06):
                    member.extras.append(self.disability(member))
        head = household.head
        fiscal_year = self.dates.fiscal_year
        if head.incomes[fiscal_year] < 1_000_000 and head.rng.random() < 0.25:
            start = self._recent_start(head, 3650)
            for member in household.members:
                member.extras.append(self.assistance(member, max(start, member.resident_since)))

    def child_allowance(self, household: _Household) -> None:
        """児童手当関係情報 of the recipient, if the household has children of eligible age."""
        fiscal_year = self.dates.fiscal_year
        as_of = self.dates.as_of
        eligible_from = dt.date(fiscal_year - 18, 4, 2)
        children = sorted(
            (
                m
                for m in household.members
                if m.relationship == _CHILD and m.birth_date >= eligible_from
            ),
            key=lambda m: (m.birth_date, m.key),
        )
        if not children:
            return
        recipient = self.taxpayer(household, fiscal_year) or household.head
        amount = sum(
            30_000 if order >= 3 else 15_000 if _age(child.birth_date, as_of) < 3 else 10_000
            for order, child in enumerate(children, start=1)
        )
        published = max(
            dt.date(fiscal_year, 6, 1), children[-1].birth_date, recipient.resident_since
        )
        recipient.extras.append(
            _Pending(
                household.slug,
                CHILD_ALLOWANCE_INFO,
                "CHD",
                None,
                published,
                {"I001": "1", "I002": str(len(children)), "I003": str(amount)},
            )
        )


def _exemption_limit(dependants: int) -> int:
    """Simplified 非課税限度額 (1級地): below it neither income-based nor per-capita tax is due."""
    if dependants == 0:
        return 450_000
    return 350_000 * (1 + dependants) + 100_000 + 210_000


def _tax_items(fiscal_year: int, total_income: int, dependants: int) -> dict[str, str | None]:
    exempt = total_income <= _exemption_limit(dependants)
    deductions = _BASIC_DEDUCTION + _DEPENDANT_DEDUCTION * dependants + total_income * 15 // 100
    taxable = max(0, total_income - deductions) // 1_000 * 1_000
    income_based = 0 if exempt else taxable * _INCOME_TAX_RATE_PERCENT // 100 // 100 * 100
    per_capita = 0 if exempt else _PER_CAPITA_TAX
    return {
        "I001": str(fiscal_year),
        "I002": str(total_income),
        "I003": str(taxable),
        "I004": str(income_based),
        "I005": str(per_capita),
        "I006": str(dependants),
        "I007": "1" if exempt else "0",
    }


def _care_stage(tax: dict[str, str | None] | None) -> int:
    """保険料段階 (1–13) from the person's assessment; 5 (the base) when there is none."""
    if tax is None:
        return 5
    income = int(tax["I002"] or 0)
    if tax["I007"] == "1":
        return 1 if income <= 800_000 else 2 if income <= 1_200_000 else 3
    thresholds = (1_200_000, 2_100_000, 3_200_000, 4_200_000, 5_200_000, 6_200_000, 7_200_000)
    return 6 + sum(income >= threshold for threshold in thresholds)


def _intractable_ceiling(taxes: Sequence[dict[str, str | None]], assisted: bool) -> int:
    """自己負担上限月額 (一般) from the household's assessments: 0 under public assistance."""
    if assisted:
        return 0
    if not taxes:
        return 30_000
    income_based = max(int(tax["I004"] or 0) for tax in taxes)
    if all(tax["I007"] == "1" for tax in taxes):
        income = max(int(tax["I002"] or 0) for tax in taxes)
        return 2_500 if income <= 800_000 else 5_000
    if income_based < 71_000:
        return 10_000
    return 20_000 if income_based < 251_000 else 30_000


def _account_values(rng: random.Random, member: _Member) -> dict[str, str | None]:
    regional = _REGIONAL_BANKS[member.household.slug]
    bank = rng.choice((regional, regional, *_NATIONWIDE_BANKS))
    return {
        "I001": bank,
        "I002": f"{rng.randrange(1, 1000):03d}",
        "I003": "2" if rng.random() < 0.05 else "1",
        "I004": f"{rng.randrange(0, 10**7):07d}",
        "I005": f"{member.family[1]}\u3000{member.given[1]}",
    }


class _Layouts:
    """Item codes and layout versions of the catalogue, read once per generation."""

    def __init__(self) -> None:
        info_types = catalogue().info_types
        self.codes = {
            code: tuple(item.code for item in info.items) for code, info in info_types.items()
        }
        self.versions = {code: info.layout_version for code, info in info_types.items()}

    def ordered(self, info_type_code: str, codes: tuple[str, ...]) -> int:
        """The layout version of an info type whose values are built in the order ``codes``;
        ValueError if the catalogue's layout has other items."""
        if self.codes[info_type_code] != codes:
            raise ValueError(
                f"the layout of {info_type_code} is {self.codes[info_type_code]}, expected {codes}"
            )
        return self.versions[info_type_code]

    def items(
        self, info_type_code: str, values: dict[str, str | None]
    ) -> tuple[tuple[tuple[str, str | None], ...], tuple[tuple[str, str], ...]]:
        codes = self.codes[info_type_code]
        try:
            if len(values) != len(codes):
                raise KeyError(info_type_code)
            items = tuple(zip(codes, map(values.__getitem__, codes), strict=True))
        except KeyError:
            raise ValueError(
                f"items {sorted(values)} do not match the layout of {info_type_code}: {codes}"
            ) from None
        if None not in values.values():
            return items, ()
        return items, tuple((code, NOT_APPLICABLE) for code, value in items if value is None)


def generate_population(
    seed: int = 0, fiscal_year: int = 2026, size: int = DEFAULT_SIZE
) -> Population:
    """Generate a population for ``fiscal_year`` (年度); the same arguments give the same one.

    ``size`` people (1 to 100,000) live in households in the four demo municipalities, besides
    the personas of `agencies.personas` and the relatives their stories need, who are always
    there and the same for every size. The population is as of 30 June of ``fiscal_year``.

    Registrations: a person is registered at every municipality they lived in since 1 January of
    the previous fiscal year, at every agency holding a replica about them, and at デジタル庁 if
    they have a public-fund account (or are the ``no_account`` persona), each with its own atena
    number.

    Replicas: 住民票関係情報 at the municipality of residence; local-tax information for
    ``fiscal_year`` and the year before at the municipality of residence on 1 January of that
    year (adults living in Japan then), published from 1 June; public-fund accounts at デジタル庁;
    介護保険, 生活保護, 自立支援給付 and 児童手当 information at the municipality of residence for
    some; 難病 and 身体障害者手帳 information at 神奈川県 for some residents of 小田原市.
    """
    if fiscal_year < MIN_FISCAL_YEAR:
        raise ValueError(f"fiscal_year must be {MIN_FISCAL_YEAR} or later, got {fiscal_year}")
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE}, got {size}")
    with cyclic_gc_paused():
        return _generate(seed, fiscal_year, size)


def _generate(seed: int, fiscal_year: int, size: int) -> Population:
    builder = _Builder(seed, fiscal_year)
    persona_members = builder.personas(random.Random(f"ipnsim:{seed}:personas"))
    fixed = len(builder.households)
    others = random.Random(f"ipnsim:{seed}:others")
    deck: list[str] = []
    remaining = size
    while remaining > 0:
        if not deck:
            deck = list(_MUNICIPALITY_DECK)
            others.shuffle(deck)
        before = len(builder.members)
        builder.generic_household(others, deck.pop(), remaining)
        remaining -= len(builder.members) - before

    for member in builder.members:
        builder.incomes(member)
    dependencies = builder.claims()
    dependants: dict[tuple[str, int], int] = {}
    for dependency in dependencies:
        key = (dependency.taxpayer_person_key, dependency.fiscal_year)
        dependants[key] = dependants.get(key, 0) + 1
    for household in builder.households[fixed:]:
        builder.extras(household)
    for household in builder.households:
        builder.child_allowance(household)
    return _records(builder, persona_members, dependencies, dependants, seed, size)


def _shared(
    shared: dict[tuple[str, str | None], tuple[str, str | None]], pair: tuple[str, str | None]
) -> tuple[str, str | None]:
    return shared.setdefault(pair, pair)


def _register(
    atena: dict[str, str],
    registrations: list[Registration],
    new_number: Callable[[str], str],
    person_key: str,
    acquire_pseudonym: bool,
    agency_slug: str,
) -> str:
    """The person's atena number at the agency, registering them there first if need be."""
    number = atena.get(agency_slug)
    if number is None:
        number = atena[agency_slug] = new_number(agency_slug)
        registrations.append(Registration(agency_slug, number, person_key, acquire_pseudonym))
    return number


_RESIDENT_CODES = ("I001", "I002", "I003", "I004", "I005", "I006", "I007", "I008", "I009")
_TAX_CODES = ("I001", "I002", "I003", "I004", "I005", "I006", "I007")
_NULL_PREVIOUS_ADDRESS = (("I009", NOT_APPLICABLE),)


def _records(
    builder: _Builder,
    persona_members: dict[str, tuple[_Member, _Member | None]],
    dependencies: list[Dependency],
    dependants: dict[tuple[str, int], int],
    seed: int,
    size: int,
) -> Population:
    dates = builder.dates
    layouts = _Layouts()
    resident_version = layouts.ordered(RESIDENT_INFO, _RESIDENT_CODES)
    tax_version = layouts.ordered(LOCAL_TAX_INFO, _TAX_CODES)
    manual_at = {persona_members[MANUAL_RESPONSE_HOLD][0].key: FUKUOKA}
    account_latest = dates.account_latest
    tax_published = {year: dt.date(year, 6, 1) for year in dates.years}
    people: list[Person] = []
    residences: list[Residence] = []
    registrations: list[Registration] = []
    replicas: list[ReplicaSeed] = []
    atena_rngs: dict[str, random.Random] = {}
    atena_used: dict[str, set[str]] = {}
    record_counts: dict[str, int] = {}
    # Items with few distinct values share one (code, value) pair: fewer objects to make and
    # for the garbage collector to scan.
    shared: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    share = functools.partial(_shared, shared)
    null_previous: tuple[str, str | None] = ("I009", None)

    def atena_number(slug: str) -> str:
        rng = atena_rngs.get(slug)
        if rng is None:
            rng = atena_rngs[slug] = random.Random(f"ipnsim:{seed}:atena:{slug}")
        used = atena_used.setdefault(slug, set())
        while True:
            candidate = f"{rng.randrange(10**7, 10**8):015d}"
            if candidate not in used:
                used.add(candidate)
                return candidate

    def record_id(slug: str, prefix: str) -> str:
        count = record_counts[slug] = record_counts.get(slug, 0) + 1
        return f"{prefix}-{count:06d}"

    # A dependant is registered (as 住登外者 if need be) where a taxpayer claims them.
    claimed_at: dict[str, set[str]] = {}
    for claim in dependencies:
        claimed_at.setdefault(claim.dependant_person_key, set()).add(claim.agency_slug)

    for household in builder.households:
        head = household.head
        head_name = f"{head.family[0]}\u3000{head.given[0]}"
        slug = household.slug
        shown_address = household.stale_address or household.address
        for member in household.members:
            key = member.key
            family, family_kana = member.family
            given, given_kana = member.given
            birth_date = member.birth_date
            since = member.resident_since
            previous = member.previous_address
            people.append(
                Person(
                    key,
                    family,
                    given,
                    family_kana,
                    given_kana,
                    birth_date,
                    member.sex,
                    member.my_number,
                    member.resident_code,
                    household.address,
                    slug,
                    household.key,
                    member.relationship,
                    since,
                    previous,
                    household.town.postal_code,
                )
            )
            residences.extend(member.residences)

            atena: dict[str, str] = {}
            register = functools.partial(
                _register, atena, registrations, atena_number, key, member.acquire_pseudonym
            )
            for residence in member.residences:
                if residence.municipality_slug != ABROAD:
                    register(residence.municipality_slug)
            if member.at_digital_agency:
                register(DIGITAL_AGENCY)
            for claim_slug in sorted(claimed_at.get(key, ())):
                register(claim_slug)

            replicas.append(
                ReplicaSeed(
                    slug,
                    register(slug),
                    record_id(slug, "RES"),
                    RESIDENT_INFO,
                    resident_version,
                    None,
                    since if since > _NETWORK_START else _NETWORK_START,
                    None,
                    (
                        ("I001", f"{family}\u3000{given}"),
                        ("I002", f"{family_kana}\u3000{given_kana}"),
                        ("I003", birth_date.isoformat()),
                        share(("I004", "1" if member.sex == "male" else "2")),
                        ("I005", shown_address),
                        ("I006", head_name),
                        share(("I007", member.relationship)),
                        ("I008", since.isoformat()),
                        ("I009", previous) if previous is not None else null_previous,
                    ),
                    () if previous is not None else _NULL_PREVIOUS_ADDRESS,
                )
            )
            taxes: dict[int, dict[str, str | None]] = {}
            for year, tax_slug in member.tax_slugs.items():
                if tax_slug is None:
                    continue
                tax = taxes[year] = _tax_items(
                    year, member.incomes[year], dependants.get((key, year), 0)
                )
                replicas.append(
                    ReplicaSeed(
                        tax_slug,
                        register(tax_slug),
                        record_id(tax_slug, f"TAX-{year}"),
                        LOCAL_TAX_INFO,
                        tax_version,
                        year,
                        tax_published[year],
                        None,
                        (
                            share(("I001", tax["I001"])),
                            ("I002", tax["I002"]),
                            ("I003", tax["I003"]),
                            ("I004", tax["I004"]),
                            share(("I005", tax["I005"])),
                            share(("I006", tax["I006"])),
                            share(("I007", tax["I007"])),
                        ),
                        (),
                        manual_at.get(key) == tax_slug,
                    )
                )
            pending = list(member.extras)
            if member.has_account:
                earliest = max(_ACCOUNT_REGISTRATION_START, birth_date)
                pending.insert(
                    0,
                    _Pending(
                        DIGITAL_AGENCY,
                        PUBLIC_FUND_ACCOUNT_INFO,
                        "ACCT",
                        None,
                        _day(member.rng, earliest, account_latest),
                        _account_values(member.rng, member),
                    ),
                )
            for extra in pending:
                if extra.info_type_code == CARE_INSURANCE_INFO:
                    extra.values["I005"] = str(_care_stage(taxes.get(dates.fiscal_year)))
                elif extra.info_type_code == INTRACTABLE_DISEASE_INFO:
                    assisted = any(
                        p.info_type_code == PUBLIC_ASSISTANCE_INFO for p in member.extras
                    )
                    household_taxes = [
                        assessed
                        for relative in household.members
                        if (assessed := _fiscal_tax(builder, relative, dependants)) is not None
                    ]
                    extra.values["I005"] = str(_intractable_ceiling(household_taxes, assisted))
                items, reasons = layouts.items(extra.info_type_code, extra.values)
                replicas.append(
                    ReplicaSeed(
                        extra.agency_slug,
                        register(extra.agency_slug),
                        record_id(extra.agency_slug, extra.prefix),
                        extra.info_type_code,
                        layouts.versions[extra.info_type_code],
                        extra.fiscal_year,
                        extra.publication_start,
                        None,
                        items,
                        reasons,
                        extra.manual_response,
                    )
                )

    # 扶養親族申告情報: one replica per claim, naming the dependant by the holder's atena number.
    claim_version = layouts.ordered(DEPENDANT_CLAIM_INFO, ("I001", "I002"))
    atena_at = {(r.agency_slug, r.person_key): r.atena_number for r in registrations}
    # Its record id names the two atena numbers, so it does not depend on the population's size.
    for claim in dependencies:
        taxpayer = atena_at[claim.agency_slug, claim.taxpayer_person_key]
        dependant = atena_at[claim.agency_slug, claim.dependant_person_key]
        replicas.append(
            ReplicaSeed(
                claim.agency_slug,
                taxpayer,
                f"DEP-{claim.fiscal_year}-{taxpayer}-{dependant}",
                DEPENDANT_CLAIM_INFO,
                claim_version,
                claim.fiscal_year,
                tax_published[claim.fiscal_year],
                None,
                (("I001", str(claim.fiscal_year)), ("I002", dependant)),
            )
        )

    personas = {
        name: make_persona(
            name,
            member.key,
            dates.fiscal_year,
            inquiry_person_key=subject.key if subject is not None else None,
        )
        for name, (member, subject) in sorted(
            persona_members.items(), key=lambda item: PERSONA_ORDER[item[0]]
        )
    }
    return Population(
        people=tuple(people),
        registrations=tuple(registrations),
        replicas=tuple(replicas),
        personas=personas,
        residences=tuple(residences),
        fiscal_year=dates.fiscal_year,
        dependencies=tuple(dependencies),
        households=tuple(
            Household(
                household_key=household.key,
                municipality_slug=household.slug,
                address=household.address,
                head_person_key=household.head.key,
                member_person_keys=tuple(member.key for member in household.members),
            )
            for household in builder.households
        ),
        as_of=dates.as_of,
        seed=seed,
        size=size,
    )


def _fiscal_tax(
    builder: _Builder, member: _Member, dependants: dict[tuple[str, int], int]
) -> dict[str, str | None] | None:
    year = builder.dates.fiscal_year
    if builder.tax_holder(member, year) is None:
        return None
    return _tax_items(year, member.incomes[year], dependants.get((member.key, year), 0))


def persona_population(seed: int = 0, fiscal_year: int = 2026) -> Population:
    """The smallest population of ``seed``: the personas, their relatives and one household.

    The personas are the same people, with the same atena numbers, in every population of a
    seed whatever its size, so this names them as the full population does, at a fraction of
    the cost (for the persona list, ``--persona`` and the demo).
    """
    return generate_population(seed, fiscal_year, size=1)
