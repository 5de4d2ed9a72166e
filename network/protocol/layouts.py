"""The shared catalogue (データ標準レイアウト): affairs, procedures, info types and their items.

Loaded from the CSV files in ``data/``; a malformed row stops the load with the file and line.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from error_codes import IpnsimError
from network.protocol.models import AgencyKind

DATA_DIR = Path(__file__).parent / "data"

E = TypeVar("E", bound=StrEnum)


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names the file and line."""


class Source(StrEnum):
    """Where a catalogue row comes from."""

    REAL = "real"
    REAL_CODE = "real-code"
    SIMULATED = "simulated"


class ValueType(StrEnum):
    """The type of an item's value."""

    INTEGER = "integer"
    STRING = "string"
    CODE = "code"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Affair:
    """事務: an affair under the My Number Act."""

    code: str
    name_ja: str
    name_en: str
    source: Source


PAPER_SEPARATOR_JA = "、"
"""Separates the papers of ``replaces_ja`` when a procedure's inquiries replace several."""
PAPER_SEPARATOR_EN = "; "
"""Separates the papers of ``replaces_en``, in the same order as ``replaces_ja``."""


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper (添付書類) that an applicant no longer has to bring."""

    name_ja: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Procedure:
    """事務手続: a procedure of an affair, and the paper(s) its inquiries replace."""

    code: str
    affair_code: str
    name_ja: str
    name_en: str
    replaces_ja: str
    """The papers replaced, in Japanese, separated by ``、``."""
    replaces_en: str
    """The same papers in English, separated by ``; ``."""
    source: Source

    @property
    def papers(self) -> tuple[Paper, ...]:
        """Each paper the procedure's inquiries replace (the loader checks both lists agree)."""
        return tuple(
            Paper(name_ja.strip(), name_en.strip())
            for name_ja, name_en in zip(
                self.replaces_ja.split(PAPER_SEPARATOR_JA),
                self.replaces_en.split(PAPER_SEPARATOR_EN),
                strict=True,
            )
        )


@dataclass(frozen=True, slots=True)
class Item:
    """One item (項目) of an info type's layout."""

    code: str
    name_ja: str
    name_en: str
    value_type: ValueType
    dataset_number: str
    """データセット番号 of the data set the item belongs to (ours: ``D`` + 3 digits)."""
    source: Source


@dataclass(frozen=True, slots=True)
class InfoType:
    """特定個人情報名: a set of items, with its current layout version (版番号)."""

    code: str
    name_ja: str
    name_en: str
    layout_version: int
    holder_kind: AgencyKind
    """The kind of agency holding the replicas: the provider kind in the permission table."""
    source: Source
    items: tuple[Item, ...]
    update_cycle_days: int = 365
    """更新周期: how often the holder is expected to update a replica of this info type, in
    days; an answer from a replica not updated for longer is flagged stale (鮮度超過)."""

    def item(self, code: str) -> Item | None:
        return next((item for item in self.items if item.code == code), None)

    @property
    def dataset_numbers(self) -> tuple[str, ...]:
        """The data sets of the layout, in item order."""
        return tuple(dict.fromkeys(item.dataset_number for item in self.items))


@dataclass(frozen=True, slots=True)
class Catalogue:
    affairs: dict[str, Affair]
    procedures: dict[str, Procedure]
    info_types: dict[str, InfoType]

    def require_info_type(self, code: str) -> InfoType:
        """The info type with ``code``; ``VAL006`` if the catalogue has none."""
        info_type = self.info_types.get(code)
        if info_type is None:
            raise IpnsimError(
                "VAL006", kind_ja="特定個人情報名コード", kind_en="info type", code=code
            )
        return info_type

    def check_inquiry_codes(
        self, affair_code: str, procedure_code: str, info_type_code: str
    ) -> Procedure:
        """Check an inquiry's codes: each defined (``VAL006``), the procedure under the affair
        (``PRM002``)."""
        if affair_code not in self.affairs:
            raise IpnsimError("VAL006", kind_ja="事務コード", kind_en="affair", code=affair_code)
        procedure = self.procedures.get(procedure_code)
        if procedure is None:
            raise IpnsimError(
                "VAL006", kind_ja="事務手続コード", kind_en="procedure", code=procedure_code
            )
        self.require_info_type(info_type_code)
        if procedure.affair_code != affair_code:
            raise IpnsimError("PRM002", procedure_code=procedure_code, affair_code=affair_code)
        return procedure


_CODE_SHAPES = {
    "affair": re.compile(r"JM[0-9]{14}"),
    "procedure": re.compile(r"JT[0-9]{14}"),
    "info type": re.compile(r"TM[0-9]{14}"),
    "item": re.compile(r"I[0-9]{3}"),
    "dataset": re.compile(r"D[0-9]{3}"),
}


def _rows(path: Path, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot be read: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames != columns:
        raise CatalogueError(f"{path}:1: header must be {','.join(columns)}")
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        line_number = reader.line_num
        if None in row or any(value is None for value in row.values()):
            raise CatalogueError(f"{path}:{line_number}: expected {len(columns)} fields")
        empty = [name for name in columns if not row[name].strip()]
        if empty:
            raise CatalogueError(f"{path}:{line_number}: empty field {empty[0]}")
        rows.append((line_number, {key: value.strip() for key, value in row.items()}))
    return rows


def _code(path: Path, line: int, kind: str, value: str) -> str:
    if not _CODE_SHAPES[kind].fullmatch(value):
        raise CatalogueError(f"{path}:{line}: malformed {kind} code {value!r}")
    return value


def _enum(path: Path, line: int, enum: type[E], value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise CatalogueError(f"{path}:{line}: {value!r} is not one of {allowed}") from None


def load_catalogue(directory: Path = DATA_DIR) -> Catalogue:
    """Read and cross-check the catalogue files in ``directory``."""
    affairs: dict[str, Affair] = {}
    path = directory / "affairs.csv"
    for line, row in _rows(path, ["code", "name_ja", "name_en", "source"]):
        code = _code(path, line, "affair", row["code"])
        if code in affairs:
            raise CatalogueError(f"{path}:{line}: duplicate affair {code}")
        affairs[code] = Affair(
            code, row["name_ja"], row["name_en"], _enum(path, line, Source, row["source"])
        )

    procedures: dict[str, Procedure] = {}
    path = directory / "procedures.csv"
    columns = ["code", "affair_code", "name_ja", "name_en", "replaces_ja", "replaces_en", "source"]
    for line, row in _rows(path, columns):
        code = _code(path, line, "procedure", row["code"])
        affair_code = _code(path, line, "affair", row["affair_code"])
        if affair_code not in affairs:
            raise CatalogueError(f"{path}:{line}: unknown affair {affair_code}")
        if code in procedures:
            raise CatalogueError(f"{path}:{line}: duplicate procedure {code}")
        papers_ja = row["replaces_ja"].split(PAPER_SEPARATOR_JA)
        papers_en = row["replaces_en"].split(PAPER_SEPARATOR_EN)
        if len(papers_ja) != len(papers_en):
            raise CatalogueError(
                f"{path}:{line}: replaces_ja names {len(papers_ja)} papers (separated by "
                f"'{PAPER_SEPARATOR_JA}') but replaces_en {len(papers_en)} (separated by "
                f"'{PAPER_SEPARATOR_EN}')"
            )
        if not all(paper.strip() for paper in [*papers_ja, *papers_en]):
            raise CatalogueError(f"{path}:{line}: empty paper name in replaces_ja/replaces_en")
        procedures[code] = Procedure(
            code,
            affair_code,
            row["name_ja"],
            row["name_en"],
            row["replaces_ja"],
            row["replaces_en"],
            _enum(path, line, Source, row["source"]),
        )

    items: dict[str, list[Item]] = {}
    first_line: dict[str, int] = {}
    path = directory / "items.csv"
    dataset_owner: dict[str, str] = {}
    columns = [
        "info_type_code",
        "item_code",
        "name_ja",
        "name_en",
        "value_type",
        "dataset_number",
        "source",
    ]
    for line, row in _rows(path, columns):
        info_type_code = _code(path, line, "info type", row["info_type_code"])
        item_code = _code(path, line, "item", row["item_code"])
        layout = items.setdefault(info_type_code, [])
        first_line.setdefault(info_type_code, line)
        if any(item.code == item_code for item in layout):
            raise CatalogueError(f"{path}:{line}: duplicate item {info_type_code}/{item_code}")
        dataset = row["dataset_number"]
        if not _CODE_SHAPES["dataset"].fullmatch(dataset):
            raise CatalogueError(
                f"{path}:{line}: malformed dataset number {dataset!r} (expected D + 3 digits)"
            )
        owner = dataset_owner.setdefault(dataset, info_type_code)
        if owner != info_type_code:
            raise CatalogueError(
                f"{path}:{line}: dataset {dataset} already belongs to info type {owner}"
            )
        layout.append(
            Item(
                item_code,
                row["name_ja"],
                row["name_en"],
                _enum(path, line, ValueType, row["value_type"]),
                dataset,
                _enum(path, line, Source, row["source"]),
            )
        )

    info_types: dict[str, InfoType] = {}
    path = directory / "info_types.csv"
    columns = [
        "code",
        "name_ja",
        "name_en",
        "layout_version",
        "holder_kind",
        "update_cycle_days",
        "source",
    ]
    for line, row in _rows(path, columns):
        code = _code(path, line, "info type", row["code"])
        if code in info_types:
            raise CatalogueError(f"{path}:{line}: duplicate info type {code}")
        version = row["layout_version"]
        if not (version.isascii() and version.isdigit()) or int(version) < 1:
            raise CatalogueError(
                f"{path}:{line}: layout_version must be a whole number of at least 1"
            )
        cycle = row["update_cycle_days"]
        if not (cycle.isascii() and cycle.isdigit()) or int(cycle) < 1:
            raise CatalogueError(
                f"{path}:{line}: update_cycle_days must be a whole number of at least 1"
            )
        if code not in items:
            raise CatalogueError(f"{path}:{line}: info type {code} has no items in items.csv")
        info_types[code] = InfoType(
            code,
            row["name_ja"],
            row["name_en"],
            int(version),
            _enum(path, line, AgencyKind, row["holder_kind"]),
            _enum(path, line, Source, row["source"]),
            tuple(items.pop(code)),
            int(cycle),
        )
    if items:
        orphan = next(iter(items))
        raise CatalogueError(
            f"{directory / 'items.csv'}:{first_line[orphan]}: items of unknown info type {orphan}"
        )
    return Catalogue(affairs, procedures, info_types)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with ipnsim, loaded once."""
    return load_catalogue()
