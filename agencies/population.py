"""A deterministic synthetic population (住民) for the demo's agencies.

`generate_population` builds about forty people living in the four demo municipalities, where
they are registered (団体内統合宛名番号), and the replicas (副本) the business systems register:
local-tax information (地方税関係情報) at the municipality of residence on 1 January (賦課期日)
and public-fund accounts (公金受取口座) at デジタル庁. The same seed always gives the same
population. A few fixed personas (see `PERSONA_NAMES`) carry the stories the demo tells.

Everything here is simulated: names come from Faker, My Numbers (個人番号) are random numbers
with a valid check digit, and tax amounts follow a simplified rule.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from faker import Faker
from stdnum.jp import in_ as my_number_format

from agencies.catalogue import (
    DIGITAL_AGENCY,
    FUKUOKA,
    MUNICIPALITY_SLUGS,
    NAKASHIBETSU,
    ODAWARA,
    YAMAGATA,
    agency_by_slug,
)
from network.protocol.layouts import catalogue

LOCAL_TAX_INFO = "TM00000000000002"
"""特定個人情報名コード of local-tax information (地方税関係情報)."""
PUBLIC_FUND_ACCOUNT_INFO = "TM00000000000089"
"""特定個人情報名コード of public-fund account information (公金受取口座情報)."""

MOVED_IN = "moved_in"
NAMESAKE = "namesake"
LIFELONG_YAMAGATA = "lifelong_yamagata"
NO_PSEUDONYM = "no_pseudonym"
REGISTERED_WITHOUT_TAX = "registered_without_tax"
ACCOUNT_HOLDER = "account_holder"
NO_ACCOUNT = "no_account"
PERSONA_NAMES = (
    MOVED_IN,
    NAMESAKE,
    LIFELONG_YAMAGATA,
    NO_PSEUDONYM,
    REGISTERED_WITHOUT_TAX,
    ACCOUNT_HOLDER,
    NO_ACCOUNT,
)
"""The fixed personas every population has, whatever the seed."""

MIN_FISCAL_YEAR = 2023
"""The earliest fiscal year a population can be generated for (公金受取口座 began in 2022)."""

_OTHERS_PER_MUNICIPALITY = {YAMAGATA: 8, ODAWARA: 9, FUKUOKA: 9, NAKASHIBETSU: 7}
_OTHER_MOVERS = 5
_ACCOUNT_SHARE = 1 / 3

_ADDRESS_PREFIX = {
    YAMAGATA: "山形県",
    ODAWARA: "神奈川県",
    FUKUOKA: "福岡県",
    NAKASHIBETSU: "北海道標津郡",
}
_FUKUOKA_WARDS = ("東区", "博多区", "中央区", "南区", "西区", "城南区", "早良区")

# Bank codes (金融機関コード) to draw from: nationwide banks and one regional bank per area.
_NATIONWIDE_BANKS = ("0001", "0005", "0009", "0010", "9900")
_REGIONAL_BANKS = {YAMAGATA: "0122", ODAWARA: "0138", FUKUOKA: "0177", NAKASHIBETSU: "0116"}

_ACCOUNT_REGISTRATION_START = dt.date(2022, 3, 28)
_ACCOUNT_REGISTRATION_END = dt.date(2025, 12, 31)

_PER_CAPITA_TAX = 5_000
_INCOME_TAX_RATE_PERCENT = 10
_BASIC_DEDUCTION = 430_000
_DEPENDANT_DEDUCTION = 330_000


@dataclass(frozen=True, slots=True)
class Person:
    """A resident (住民) as the resident registry (住民基本台帳) knows them."""

    person_key: str
    """Stable key within the population, e.g. ``P0001``; not a real identifier."""
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

    @property
    def name(self) -> str:
        """Full name in kanji, family name first, separated by a full-width space."""
        return f"{self.family_name}\u3000{self.given_name}"

    @property
    def name_kana(self) -> str:
        """Full name in full-width katakana, separated by a full-width space."""
        return f"{self.family_name_kana}\u3000{self.given_name_kana}"


@dataclass(frozen=True, slots=True)
class Residence:
    """One period of residence (住所履歴) in a municipality."""

    person_key: str
    municipality_slug: str
    since: dt.date | None
    """The day of moving in (転入日); None if before the period the simulation looks at."""
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
    items: tuple[tuple[str, str], ...]
    """(item code, value) pairs in layout order."""

    def item(self, code: str) -> str:
        """The value of one item; KeyError if the replica has no such item."""
        for item_code, value in self.items:
            if item_code == code:
                return value
        raise KeyError(f"replica {self.record_id} has no item {code!r}")


@dataclass(frozen=True, slots=True)
class Persona:
    """A named person with a story the tests and the demo rely on."""

    name: str
    description_en: str
    description_ja: str
    person_key: str


@dataclass(frozen=True, slots=True)
class Population:
    """Everyone the demo's agencies know, their registrations and the replicas about them."""

    people: tuple[Person, ...]
    registrations: tuple[Registration, ...]
    replicas: tuple[ReplicaSeed, ...]
    personas: dict[str, Persona]
    residences: tuple[Residence, ...] = ()
    """Residence history of every person, oldest first per person."""
    fiscal_year: int | None = None
    """The fiscal year (年度) the population was generated for."""

    def person(self, key: str) -> Person:
        """The person with this key; KeyError if there is none."""
        for candidate in self.people:
            if candidate.person_key == key:
                return candidate
        raise KeyError(f"no person {key!r}")

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

    def atena_number(self, agency_slug: str, person_key: str) -> str:
        """The person's 団体内統合宛名番号 at the agency; KeyError if not registered there."""
        for registration in self.registrations:
            if registration.agency_slug == agency_slug and registration.person_key == person_key:
                return registration.atena_number
        raise KeyError(f"person {person_key!r} is not registered at {agency_slug!r}")

    def registrations_at(self, agency_slug: str) -> tuple[Registration, ...]:
        """Every registration at one agency."""
        return tuple(r for r in self.registrations if r.agency_slug == agency_slug)

    def registrations_of(self, person_key: str) -> tuple[Registration, ...]:
        """Every registration of one person."""
        return tuple(r for r in self.registrations if r.person_key == person_key)

    def replicas_at(self, agency_slug: str) -> tuple[ReplicaSeed, ...]:
        """Every replica one agency holds."""
        return tuple(r for r in self.replicas if r.agency_slug == agency_slug)

    def replicas_of(self, person_key: str) -> tuple[ReplicaSeed, ...]:
        """Every replica about one person, at any agency."""
        atena = {(r.agency_slug, r.atena_number) for r in self.registrations_of(person_key)}
        return tuple(r for r in self.replicas if (r.agency_slug, r.atena_number) in atena)

    def residence_on(self, person_key: str, day: dt.date) -> str | None:
        """Slug of the municipality the person lived in on ``day``, or None if unknown."""
        for residence in self.residences:
            if residence.person_key == person_key and residence.covers(day):
                return residence.municipality_slug
        return None


@dataclass
class _Plan:
    """What is decided about a person before their details are drawn."""

    moves: list[tuple[str, dt.date | None]]
    """(municipality slug, moving-in day) in order; the first day is None."""
    has_account: bool = False
    registered_at_digital_agency: bool = False
    acquire_pseudonym: bool = True
    family_name_of: int | None = None
    """Index of an earlier plan whose family name, sex and rough birth year this person shares."""
    persona: str | None = None

    @property
    def current(self) -> str:
        return self.moves[-1][0]


_PERSONA_TEXT: dict[str, tuple[str, str]] = {
    MOVED_IN: (
        "Lived in Odawara on 1 January and before, moved to Yamagata this spring: Odawara holds"
        " the tax information of this and last fiscal year; Yamagata holds none.",
        "1月1日（賦課期日）以前から小田原市に住み、今年の春に山形市へ転入した人。"
        "今年度と前年度の地方税関係情報は小田原市が保有し、山形市には無い。",
    ),
    NAMESAKE: (
        "Another person who moved from Odawara to Yamagata, with the same family name, sex and"
        " a similar birth year as moved_in: the person staff may mistake for them.",
        "moved_in と同じ姓・性別・近い生年で、同じく小田原市から山形市へ転入した別人（誤照会の例）。",
    ),
    LIFELONG_YAMAGATA: (
        "Has always lived in Yamagata; registered only there, so Odawara holds no 符号 for them.",
        "ずっと山形市に住んでいる人。山形市にのみ登録され、小田原市は符号を持たない。",
    ),
    NO_PSEUDONYM: (
        "Registered at Yamagata, whose intermediate server has not obtained a 符号 for them.",
        "山形市に登録されているが、符号を未取得の人。",
    ),
    REGISTERED_WITHOUT_TAX: (
        "Moved from Fukuoka to Odawara after 1 January, then on to Yamagata: registered at"
        " Odawara and Yamagata, but Odawara holds no tax information (Fukuoka does).",
        "1月1日後に福岡市から小田原市へ転入し、さらに山形市へ転出した人。"
        "小田原市に登録はあるが地方税関係情報は無い（福岡市が保有）。",
    ),
    ACCOUNT_HOLDER: (
        "Lives in Fukuoka and has registered a public-fund account with the Digital Agency.",
        "福岡市に住み、デジタル庁に公金受取口座を登録している人。",
    ),
    NO_ACCOUNT: (
        "Lives in Fukuoka, known to the Digital Agency, but has no public-fund account.",
        "福岡市に住み、デジタル庁に登録されているが公金受取口座が無い人。",
    ),
}


def _random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def _unique_number(rng: random.Random, used: set[str], low: int, high: int, width: int) -> str:
    while True:
        candidate = f"{rng.randrange(low, high):0{width}d}"
        if candidate not in used:
            used.add(candidate)
            return candidate


def _plan(rng: random.Random, fiscal_year: int) -> list[_Plan]:
    january_first = dt.date(fiscal_year, 1, 1)
    window_start = dt.date(fiscal_year - 1, 1, 2)
    spring = (dt.date(fiscal_year, 4, 1), dt.date(fiscal_year, 5, 31))
    after_january = (dt.date(fiscal_year, 1, 10), dt.date(fiscal_year, 3, 15))

    plans = [
        _Plan([(ODAWARA, None), (YAMAGATA, _random_day(rng, *spring))], persona=MOVED_IN),
        _Plan(
            [(ODAWARA, None), (YAMAGATA, _random_day(rng, *spring))],
            family_name_of=0,
            persona=NAMESAKE,
        ),
        _Plan([(YAMAGATA, None)], persona=LIFELONG_YAMAGATA),
        _Plan([(YAMAGATA, None)], acquire_pseudonym=False, persona=NO_PSEUDONYM),
        _Plan(
            [
                (FUKUOKA, None),
                (ODAWARA, _random_day(rng, *after_january)),
                (YAMAGATA, _random_day(rng, *spring)),
            ],
            persona=REGISTERED_WITHOUT_TAX,
        ),
        _Plan(
            [(FUKUOKA, None)],
            has_account=True,
            registered_at_digital_agency=True,
            persona=ACCOUNT_HOLDER,
        ),
        _Plan([(FUKUOKA, None)], registered_at_digital_agency=True, persona=NO_ACCOUNT),
    ]

    others = [
        _Plan([(slug, None)])
        for slug, count in _OTHERS_PER_MUNICIPALITY.items()
        for _ in range(count)
    ]
    for index in sorted(rng.sample(range(len(others)), _OTHER_MOVERS)):
        current = others[index].current
        previous = rng.choice([slug for slug in MUNICIPALITY_SLUGS if slug != current])
        moved = _random_day(rng, window_start, spring[1])
        if moved == january_first:
            moved += dt.timedelta(days=1)
        others[index].moves = [(previous, None), (current, moved)]
    for index in sorted(rng.sample(range(len(others)), round(len(others) * _ACCOUNT_SHARE))):
        others[index].has_account = True
        others[index].registered_at_digital_agency = True
    return plans + others


def _my_number(rng: random.Random, used: set[str]) -> str:
    """A random, unused 個人番号: 11 digits and the check digit."""
    while True:
        body = f"{rng.randrange(10**10, 10**11):011d}"
        candidate = body + str(my_number_format.calc_check_digit(body))
        if candidate not in used:
            used.add(candidate)
            return candidate


def _birth_date(rng: random.Random, fiscal_year: int, near: dt.date | None) -> dt.date:
    if near is not None:
        year = near.year + rng.choice((-2, -1, 0, 1, 2))
        return _random_day(rng, dt.date(year, 1, 1), dt.date(year, 12, 31))
    return _random_day(rng, dt.date(fiscal_year - 85, 4, 2), dt.date(fiscal_year - 20, 4, 1))


def _address(fake: Faker, rng: random.Random, slug: str) -> str:
    city = agency_by_slug(slug).name_ja
    ward = rng.choice(_FUKUOKA_WARDS) if slug == FUKUOKA else ""
    street = f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}"
    return f"{_ADDRESS_PREFIX[slug]}{city}{ward}{street}"


def _people(rng: random.Random, fake: Faker, plans: list[_Plan], fiscal_year: int) -> list[Person]:
    people: list[Person] = []
    my_numbers: set[str] = set()
    resident_codes: set[str] = set()
    for index, plan in enumerate(plans):
        sex = rng.choice(("male", "female"))
        if plan.family_name_of is not None:
            relative = people[plan.family_name_of]
            sex = relative.sex
            family_name, family_kana = relative.family_name, relative.family_name_kana
            birth_date = _birth_date(rng, fiscal_year, relative.birth_date)
        else:
            family_name, family_kana, _ = fake.last_name_pair()
            birth_date = _birth_date(rng, fiscal_year, None)
        while True:
            pair = fake.first_name_male_pair() if sex == "male" else fake.first_name_female_pair()
            given_name, given_kana, _ = pair
            taken = any(p.family_name == family_name and p.given_name == given_name for p in people)
            if not taken:
                break
        my_number = _my_number(rng, my_numbers)
        people.append(
            Person(
                person_key=f"P{index + 1:04d}",
                family_name=family_name,
                given_name=given_name,
                family_name_kana=family_kana,
                given_name_kana=given_kana,
                birth_date=birth_date,
                sex=sex,
                my_number=my_number,
                resident_code=_unique_number(rng, resident_codes, 10**10, 10**11, 11),
                address=_address(fake, rng, plan.current),
                municipality_slug=plan.current,
            )
        )
    return people


def _residences(person_key: str, plan: _Plan) -> list[Residence]:
    residences: list[Residence] = []
    for position, (slug, since) in enumerate(plan.moves):
        until = plan.moves[position + 1][1] if position + 1 < len(plan.moves) else None
        residences.append(Residence(person_key, slug, since, until))
    return residences


def _layout_items(info_type_code: str, values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    layout = catalogue().info_types[info_type_code].items
    codes = [item.code for item in layout]
    if set(codes) != set(values):
        raise ValueError(f"items {sorted(values)} do not match the layout of {info_type_code}")
    return tuple((code, values[code]) for code in codes)


def _exemption_limit(dependants: int) -> int:
    """Simplified 非課税限度額 (1級地): below it neither income-based nor per-capita tax is due."""
    if dependants == 0:
        return 450_000
    return 350_000 * (1 + dependants) + 100_000 + 210_000


def _tax_items(fiscal_year: int, total_income: int, dependants: int) -> dict[str, str]:
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


def _incomes(rng: random.Random) -> tuple[int, int]:
    """Total income (総所得金額) for the fiscal year and the year before, in yen."""
    if rng.random() < 0.15:
        current = rng.randrange(0, 90) * 10_000
    else:
        current = rng.randrange(120, 900) * 10_000 + rng.randrange(0, 10) * 1_000
    previous = current * rng.randrange(90, 111) // 100 // 1_000 * 1_000
    return current, previous


def _account_items(rng: random.Random, person: Person) -> dict[str, str]:
    regional = _REGIONAL_BANKS[person.municipality_slug]
    bank = rng.choice((regional, regional, *_NATIONWIDE_BANKS))
    return {
        "I001": bank,
        "I002": f"{rng.randrange(1, 1000):03d}",
        "I003": "2" if rng.random() < 0.05 else "1",
        "I004": f"{rng.randrange(0, 10**7):07d}",
        "I005": person.name_kana,
    }


def generate_population(seed: int = 0, fiscal_year: int = 2026) -> Population:
    """Generate the demo population for ``fiscal_year`` (年度); the same seed gives the same one.

    Registrations: a person is registered at every municipality they lived in from 1 January of
    the previous fiscal year until now (including both 賦課期日 and today's residence), and at
    デジタル庁 if they have a public-fund account (or are the ``no_account`` persona).

    Replicas: local-tax information for ``fiscal_year`` and ``fiscal_year - 1`` at the
    municipality of residence on 1 January of that year, published from 1 June of it; public-fund
    accounts at デジタル庁, published on the day the person registered the account.
    """
    if fiscal_year < MIN_FISCAL_YEAR:
        raise ValueError(f"fiscal_year must be {MIN_FISCAL_YEAR} or later, got {fiscal_year}")
    rng = random.Random(seed)
    fake = Faker("ja_JP")
    fake.seed_instance(seed)

    plans = _plan(rng, fiscal_year)
    people = _people(rng, fake, plans, fiscal_year)
    residences = [
        residence
        for person, plan in zip(people, plans, strict=True)
        for residence in _residences(person.person_key, plan)
    ]

    used_atena: dict[str, set[str]] = {}
    registrations: list[Registration] = []
    atena: dict[tuple[str, str], str] = {}

    def register(slug: str, person_key: str, acquire_pseudonym: bool) -> None:
        if (slug, person_key) in atena:
            return
        number = _unique_number(rng, used_atena.setdefault(slug, set()), 10**7, 10**8, 15)
        atena[slug, person_key] = number
        registrations.append(Registration(slug, number, person_key, acquire_pseudonym))

    for person, plan in zip(people, plans, strict=True):
        for slug, _ in plan.moves:
            register(slug, person.person_key, plan.acquire_pseudonym)
        if plan.registered_at_digital_agency:
            register(DIGITAL_AGENCY, person.person_key, plan.acquire_pseudonym)

    info_types = catalogue().info_types
    record_counts: dict[str, int] = {}

    def record_id(slug: str, prefix: str) -> str:
        record_counts[slug] = record_counts.get(slug, 0) + 1
        return f"{prefix}-{record_counts[slug]:06d}"

    replicas: list[ReplicaSeed] = []
    residences_by_person: dict[str, list[Residence]] = {}
    for residence in residences:
        residences_by_person.setdefault(residence.person_key, []).append(residence)
    for person, plan in zip(people, plans, strict=True):
        dependants = rng.choice((0, 0, 0, 1, 1, 2, 3))
        incomes = dict(zip((fiscal_year, fiscal_year - 1), _incomes(rng), strict=True))
        for year in (fiscal_year - 1, fiscal_year):
            slug = _resident_on(residences_by_person[person.person_key], dt.date(year, 1, 1))
            replicas.append(
                ReplicaSeed(
                    agency_slug=slug,
                    atena_number=atena[slug, person.person_key],
                    record_id=record_id(slug, f"TAX-{year}"),
                    info_type_code=LOCAL_TAX_INFO,
                    layout_version=info_types[LOCAL_TAX_INFO].layout_version,
                    fiscal_year=year,
                    publication_start=dt.date(year, 6, 1),
                    publication_end=None,
                    items=_layout_items(
                        LOCAL_TAX_INFO, _tax_items(year, incomes[year], dependants)
                    ),
                )
            )
        if plan.has_account:
            latest = min(_ACCOUNT_REGISTRATION_END, dt.date(fiscal_year, 3, 31))
            replicas.append(
                ReplicaSeed(
                    agency_slug=DIGITAL_AGENCY,
                    atena_number=atena[DIGITAL_AGENCY, person.person_key],
                    record_id=record_id(DIGITAL_AGENCY, "ACCT"),
                    info_type_code=PUBLIC_FUND_ACCOUNT_INFO,
                    layout_version=info_types[PUBLIC_FUND_ACCOUNT_INFO].layout_version,
                    fiscal_year=None,
                    publication_start=_random_day(rng, _ACCOUNT_REGISTRATION_START, latest),
                    publication_end=None,
                    items=_layout_items(PUBLIC_FUND_ACCOUNT_INFO, _account_items(rng, person)),
                )
            )

    personas = {
        plan.persona: Persona(plan.persona, *_PERSONA_TEXT[plan.persona], person.person_key)
        for person, plan in zip(people, plans, strict=True)
        if plan.persona is not None
    }
    return Population(
        people=tuple(people),
        registrations=tuple(registrations),
        replicas=tuple(replicas),
        personas=personas,
        residences=tuple(residences),
        fiscal_year=fiscal_year,
    )


def _resident_on(residences: Iterable[Residence], day: dt.date) -> str:
    for residence in residences:
        if residence.covers(day):
            return residence.municipality_slug
    raise ValueError(f"no residence on {day}")
