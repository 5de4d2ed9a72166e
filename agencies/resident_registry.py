"""A mock resident-registry network (住民基本台帳ネットワークシステム, 住基ネット).

When an applicant leaves their My Number (個人番号) off an application, staff look the person up
in the resident registry (住基ネット照会) by name, birth date, sex and address, and obtain the
My Number and the resident code (住民票コード). This mock answers such lookups from the synthetic
population (:mod:`agencies.population`):

* exactly one resident matches: the person's identifiers and basic facts (基本4情報);
* nobody matches: ``IDN007``;
* several match (namesakes, 同姓同名): ``IDN008``, naming how many but none of their numbers,
  so that staff add the address.

Names and addresses are compared after normalisation: NFKC (full-width letters and digits,
half-width katakana), no spaces, hiragana written as katakana; in addresses ``丁目``, ``番(地)``
and ``号`` read as hyphens. Lookups are answered from dict indexes, so a registry of 100,000
people answers as fast as one of forty.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agencies.population import MIN_FISCAL_YEAR, Person, Population, generate_population
from error_codes import FieldProblem, IpnsimError
from error_codes.http import install_error_handling
from ipnsim.metrics import install_metrics
from ipnsim.tracing import install_tracing
from network.protocol.models import Health

logger = logging.getLogger("ipnsim.resident_registry")

SERVICE_NAME = "resident_registry"
"""The ``service`` this mock names in its ``GET /health`` answer."""

DEFAULT_POPULATION = 40
"""Size of the population `generate_population` builds when not told otherwise."""

Sex = Literal["male", "female"]

# --- normalisation ------------------------------------------------------------------------------

_HIRAGANA_TO_KATAKANA = str.maketrans(
    {chr(code): chr(code + 0x60) for code in [*range(0x3041, 0x3097), 0x309D, 0x309E]}
)
_SPACES = re.compile(r"\s+")
_NAME_SEPARATORS = re.compile(r"[\s・]+")
_KATAKANA = re.compile(r"[\u30A1-\u30FA\u30FC-\u30FE]+")
_DIGIT_DASH = re.compile(r"(?<=[0-9])[‐‑‒–—―−ー]")
_BLOCK = re.compile(r"([0-9]+)(?:丁目|番地|番|号)")
_PREFECTURE = re.compile(r"^(?:東京都|北海道|京都府|大阪府|[^都道府県]{2,3}県)")
_DISTRICT = re.compile(r"^[^市区町村郡]{1,4}郡")


def _fold(text: str) -> str:
    """NFKC, then hiragana as katakana."""
    return unicodedata.normalize("NFKC", text).translate(_HIRAGANA_TO_KATAKANA)


def normalise_name(text: str) -> str:
    """A name (氏名) or its reading (氏名カナ) in the form lookups compare.

    NFKC (so half-width katakana and full-width letters become ordinary), hiragana as katakana,
    and no spaces or middle dots (・) between family and given name.
    """
    return _NAME_SEPARATORS.sub("", _fold(text))


def normalise_address(text: str) -> str:
    """An address (住所) in the form lookups compare.

    NFKC, hiragana as katakana, no spaces; ``17丁目17番16号``, ``17-17-16`` and ``１７－１７－１６``
    all read ``17-17-16``.
    """
    folded = _DIGIT_DASH.sub("-", _SPACES.sub("", _fold(text)))
    return _BLOCK.sub(r"\1-", folded).rstrip("-")


def _address_forms(address: str) -> tuple[str, ...]:
    """A normalised address as written, without its prefecture, and without its 郡 too."""
    forms = [address]
    without_prefecture = _PREFECTURE.sub("", address, count=1)
    if without_prefecture != address:
        forms.append(without_prefecture)
        without_district = _DISTRICT.sub("", without_prefecture, count=1)
        if without_district != without_prefecture:
            forms.append(without_district)
    return tuple(forms)


def address_matches(registered: str, given: str) -> bool:
    """Whether the registered address begins with the given one, both normalised.

    The given address may leave out the prefecture (and a 郡); a number in it must be whole
    (``長畑1`` does not match ``長畑17丁目``).
    """
    wanted = normalise_address(given)
    if not wanted:
        return True
    for form in _address_forms(normalise_address(registered)):
        if not form.startswith(wanted):
            continue
        rest = form[len(wanted) :]
        if not (wanted[-1].isdigit() and rest[:1].isdigit()):
            return True
    return False


# --- the wire models ----------------------------------------------------------------------------


class LookupQuery(BaseModel):
    """A resident-registry lookup (住基ネット照会): who staff are looking for.

    At least one of ``name`` and ``name_kana`` is needed; when both are given, both must match.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None,
        max_length=100,
        description="氏名 in kanji, family name first, e.g. '近藤 舞'; spaces optional.",
        examples=["近藤 舞"],
    )
    name_kana: str | None = Field(
        default=None,
        max_length=100,
        description="氏名カナ in katakana or hiragana (half-width katakana too), e.g. 'コンドウ マイ'.",
        examples=["コンドウ マイ"],
    )
    birth_date: dt.date = Field(description="生年月日, YYYY-MM-DD.")
    sex: Sex = Field(description="性別: 'male' or 'female'.")
    address: str | None = Field(
        default=None,
        max_length=200,
        description="住所, or its beginning (from the prefecture or the municipality on).",
        examples=["山形県山形市"],
    )

    @field_validator("birth_date", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
        if isinstance(value, dt.date):
            return value
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date in the calendar") from None

    @field_validator("name_kana")
    @classmethod
    def _kana_only(cls, value: str | None) -> str | None:
        kana = normalise_name(value or "")
        if kana and not _KATAKANA.fullmatch(kana):
            raise ValueError("must be written in katakana or hiragana")
        return value


class LookupResult(BaseModel):
    """The one resident a lookup found: identifiers and the basic facts (基本4情報)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["found"] = "found"
    my_number: str = Field(description="個人番号 (12 digits).")
    resident_code: str = Field(description="住民票コード (11 digits).")
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: dt.date
    sex: Sex
    address: str = Field(description="住所 as registered.")

    @classmethod
    def of(cls, person: Person) -> LookupResult:
        return cls.model_validate(
            {
                "my_number": person.my_number,
                "resident_code": person.resident_code,
                "family_name": person.family_name,
                "given_name": person.given_name,
                "family_name_kana": person.family_name_kana,
                "given_name_kana": person.given_name_kana,
                "birth_date": person.birth_date,
                "sex": person.sex,
                "address": person.address,
            }
        )


# --- the registry -------------------------------------------------------------------------------

_Key = tuple[dt.date, str, str]


class ResidentRegistry:
    """The resident registry (住民基本台帳) of a population, indexed for lookups (住基ネット照会).

    Two indexes, by (birth date, sex, normalised kanji name) and by (birth date, sex,
    normalised kana name), make a lookup a dict access whatever the population's size.
    """

    def __init__(self, population: Population | Iterable[Person]) -> None:
        people = population.people if isinstance(population, Population) else tuple(population)
        self._by_name: dict[_Key, list[Person]] = {}
        self._by_kana: dict[_Key, list[Person]] = {}
        self._size = 0
        for person in people:
            self._size += 1
            self._by_name.setdefault(
                (person.birth_date, person.sex, normalise_name(person.name)), []
            ).append(person)
            self._by_kana.setdefault(
                (person.birth_date, person.sex, normalise_name(person.name_kana)), []
            ).append(person)

    def __len__(self) -> int:
        return self._size

    def candidates(self, query: LookupQuery) -> list[Person]:
        """Everyone matching the query; VAL001 if it names neither a name nor a reading."""
        name = normalise_name(query.name or "")
        kana = normalise_name(query.name_kana or "")
        if not name and not kana:
            problem = "give the name (氏名) or its reading (カナ), or both"
            raise IpnsimError(
                "VAL001",
                details=[
                    FieldProblem(field="name", problem=problem),
                    FieldProblem(field="name_kana", problem=problem),
                ],
                field="name",
                problem=problem,
            )
        found: list[Person] | None = None
        if name:
            found = self._by_name.get((query.birth_date, query.sex, name), [])
        if kana:
            by_kana = self._by_kana.get((query.birth_date, query.sex, kana), [])
            found = by_kana if found is None else [p for p in found if p in by_kana]
        assert found is not None
        if query.address is not None:
            address = query.address
            found = [person for person in found if address_matches(person.address, address)]
        return found

    def lookup(self, query: LookupQuery) -> LookupResult:
        """The one resident matching the query.

        IDN007 if nobody matches, IDN008 if several do (naming how many, none of their
        numbers), VAL001 if the query names neither a name nor a reading.
        """
        found = self.candidates(query)
        given = "+".join(
            field
            for field, value in (
                ("name", query.name),
                ("kana", query.name_kana),
                ("address", query.address),
            )
            if value
        )
        if not found:
            logger.info("lookup by %s: not found", given)
            raise IpnsimError("IDN007")
        if len(found) > 1:
            logger.info("lookup by %s: ambiguous, %d candidates", given, len(found))
            raise IpnsimError("IDN008", count=str(len(found)))
        logger.info("lookup by %s: found %s", given, found[0].person_key)
        return LookupResult.of(found[0])


# --- the service --------------------------------------------------------------------------------


class ResidentRegistrySettings(BaseSettings):
    """How the mock resident registry runs (``IPNSIM_REGISTRY_*``): which population it holds."""

    model_config = SettingsConfigDict(env_prefix="IPNSIM_REGISTRY_", extra="ignore")

    seed: int = Field(default=0, description="Seed of the synthetic population.")
    population: int = Field(
        default=DEFAULT_POPULATION,
        ge=1,
        le=100_000,
        description="Number of people in the synthetic population.",
    )
    fiscal_year: int = Field(
        default=2026,
        ge=MIN_FISCAL_YEAR,
        description="Fiscal year (年度) the population is generated for.",
    )


def population_of(settings: ResidentRegistrySettings) -> Population:
    """The synthetic population the settings describe (the same the agencies are seeded with)."""
    return generate_population(settings.seed, settings.fiscal_year, size=settings.population)


def create_app(settings: ResidentRegistrySettings, population: Population | None = None) -> FastAPI:
    """The mock 住基ネット service; ``population`` replaces the generated one (tests)."""
    registry = ResidentRegistry(population if population is not None else population_of(settings))
    logger.info("resident registry ready with %d residents", len(registry))

    app = FastAPI(
        title="ipnsim resident registry: 住民基本台帳ネットワークシステム (mock)",
        description="Looks a resident up by name, birth date, sex and address (住基ネット照会) "
        "and answers their My Number (個人番号) and resident code (住民票コード), or says that "
        "nobody (IDN007) or several people (IDN008) match. Simulated data only.",
        version="0.1.0",
    )
    install_error_handling(app)
    install_metrics(app)
    install_tracing(app, SERVICE_NAME)
    app.state.registry = registry

    @app.get("/health", tags=["operations"])
    async def health() -> Health:
        return Health(service=SERVICE_NAME)

    @app.post(
        "/v1/lookup",
        tags=["lookup"],
        responses={
            404: {"description": "IDN007: nobody matches."},
            409: {"description": "IDN008: several people match; add the address."},
        },
    )
    async def lookup(query: LookupQuery) -> LookupResult:
        """住基ネット照会: find one resident's My Number and resident code."""
        return registry.lookup(query)

    return app
