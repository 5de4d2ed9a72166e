"""The agency catalogue (機関一覧): every agency of the simulation and its agency code (機関コード).

Loaded from ``data/agencies.csv``; a malformed row stops the load with ``file:line``. The agency
codes of local governments are ipnsim's own scheme (see ``data/README.md``); デジタル庁's is real.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from network.protocol.models import AgencyKind

DATA_PATH = Path(__file__).parent / "data" / "agencies.csv"
"""The agency catalogue shipped with ipnsim."""

COLUMNS = ("code", "lg_code", "name_ja", "name_en", "kind", "source", "slug")
"""The header of an agency catalogue file, in order."""

NO_LG_CODE = "-"
"""The ``lg_code`` value of an agency that is not a local government."""

SOURCES = ("real", "simulated")
"""Allowed values of the ``source`` column."""

YAMAGATA = "yamagata"
"""山形市: batch inquiries straight from the business system."""
ODAWARA = "odawara"
"""小田原市: a tool that formats the batch file."""
FUKUOKA = "fukuoka"
"""福岡市: applicant CSV → public-fund account inquiry end to end."""
NAKASHIBETSU = "nakashibetsu"
"""中標津町: inquiries from the business system instead of a dedicated terminal."""
KANAGAWA = "kanagawa"
"""神奈川県: the prefecture of 小田原市, holding 難病 and 身体障害者手帳 information."""
DIGITAL_AGENCY = "digital-agency"
"""デジタル庁: the single provider of public-fund account information (公金受取口座)."""

MUNICIPALITY_SLUGS = (YAMAGATA, ODAWARA, FUKUOKA, NAKASHIBETSU)
"""The slugs of the demo's municipalities (市町村), in catalogue order."""

_AGENCY_CODE = re.compile(r"[0-9]{16}")
_LG_CODE = re.compile(r"[0-9]{6}")
_SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_LOCAL_GOVERNMENT_KINDS = frozenset({AgencyKind.MUNICIPALITY, AgencyKind.PREFECTURE})


class AgencyCatalogueError(ValueError):
    """An agency catalogue file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Agency:
    """An agency (機関): a local government or a national agency such as デジタル庁."""

    code: str
    """Agency code (機関コード), 16 digits."""
    lg_code: str | None
    """全国地方公共団体コード (6 digits with check digit); None for a national agency."""
    name_ja: str
    name_en: str
    kind: AgencyKind
    source: str
    """``real`` if the agency code is seen in public material, ``simulated`` if it is ipnsim's."""
    slug: str
    """Short ASCII name, e.g. ``yamagata`` or ``digital-agency``."""


def lg_code_check_digit(first_five: str) -> str:
    """The check digit of a 全国地方公共団体コード from its first five digits."""
    if len(first_five) != 5 or not first_five.isascii() or not first_five.isdigit():
        raise ValueError(f"expected five digits, got {first_five!r}")
    total = sum(
        weight * int(digit) for weight, digit in zip((6, 5, 4, 3, 2), first_five, strict=True)
    )
    return str((11 - total % 11) % 10)


def is_valid_lg_code(lg_code: str) -> bool:
    """Whether ``lg_code`` is six digits whose last is the 全国地方公共団体コード check digit."""
    return bool(_LG_CODE.fullmatch(lg_code)) and lg_code_check_digit(lg_code[:5]) == lg_code[5]


def local_government_agency_code(lg_code: str) -> str:
    """ipnsim's (simulated) agency code of a local government: ``20`` + lg_code + ``00000000``."""
    if not is_valid_lg_code(lg_code):
        raise ValueError(f"not a valid 全国地方公共団体コード: {lg_code!r}")
    return f"20{lg_code}00000000"


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgencyCatalogueError(f"{path}: cannot be read: {exc}") from exc
    lines = text.splitlines()
    if not lines:
        raise AgencyCatalogueError(f"{path}:1: empty file, expected header {','.join(COLUMNS)}")
    reader = csv.reader(lines)
    header = next(reader)
    if tuple(name.strip() for name in header) != COLUMNS:
        raise AgencyCatalogueError(f"{path}:1: header must be {','.join(COLUMNS)}")
    rows: list[tuple[int, dict[str, str]]] = []
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(COLUMNS):
            raise AgencyCatalogueError(
                f"{path}:{line}: expected {len(COLUMNS)} fields, got {len(fields)}"
            )
        row = {name: value.strip() for name, value in zip(COLUMNS, fields, strict=True)}
        for name in COLUMNS:
            if not row[name]:
                raise AgencyCatalogueError(f"{path}:{line}: empty field {name}")
        rows.append((line, row))
    return rows


def _parse_row(path: Path, line: int, row: dict[str, str]) -> Agency:
    where = f"{path}:{line}"
    code = row["code"]
    if not _AGENCY_CODE.fullmatch(code):
        raise AgencyCatalogueError(f"{where}: agency code must be 16 digits, got {code!r}")
    try:
        kind = AgencyKind(row["kind"])
    except ValueError:
        allowed = ", ".join(member.value for member in AgencyKind)
        raise AgencyCatalogueError(
            f"{where}: kind {row['kind']!r} is not one of {allowed}"
        ) from None
    source = row["source"]
    if source not in SOURCES:
        raise AgencyCatalogueError(f"{where}: source {source!r} is not one of {', '.join(SOURCES)}")
    slug = row["slug"]
    if not _SLUG.fullmatch(slug):
        raise AgencyCatalogueError(
            f"{where}: slug {slug!r} must be lower-case ASCII letters, digits and '-'"
        )
    lg_code: str | None
    if row["lg_code"] == NO_LG_CODE:
        if kind in _LOCAL_GOVERNMENT_KINDS:
            raise AgencyCatalogueError(f"{where}: a {kind.value} needs an lg_code")
        lg_code = None
    else:
        lg_code = row["lg_code"]
        if not _LG_CODE.fullmatch(lg_code):
            raise AgencyCatalogueError(
                f"{where}: lg_code must be 6 digits or {NO_LG_CODE!r}, got {lg_code!r}"
            )
        if not is_valid_lg_code(lg_code):
            raise AgencyCatalogueError(
                f"{where}: lg_code {lg_code} has a wrong check digit"
                f" (expected {lg_code_check_digit(lg_code[:5])})"
            )
        if source == "simulated" and code != local_government_agency_code(lg_code):
            raise AgencyCatalogueError(
                f"{where}: simulated agency code {code} does not follow the scheme;"
                f" expected {local_government_agency_code(lg_code)}"
            )
    return Agency(
        code=code,
        lg_code=lg_code,
        name_ja=row["name_ja"],
        name_en=row["name_en"],
        kind=kind,
        source=source,
        slug=slug,
    )


def load_agencies(path: Path = DATA_PATH) -> tuple[Agency, ...]:
    """Read and validate an agency catalogue file; raise `AgencyCatalogueError` naming file:line."""
    agencies: list[Agency] = []
    first_line_of_code: dict[str, int] = {}
    first_line_of_slug: dict[str, int] = {}
    for line, row in _read_rows(path):
        agency = _parse_row(path, line, row)
        if agency.code in first_line_of_code:
            raise AgencyCatalogueError(
                f"{path}:{line}: duplicate agency code {agency.code}"
                f" (first on line {first_line_of_code[agency.code]})"
            )
        if agency.slug in first_line_of_slug:
            raise AgencyCatalogueError(
                f"{path}:{line}: duplicate slug {agency.slug}"
                f" (first on line {first_line_of_slug[agency.slug]})"
            )
        first_line_of_code[agency.code] = line
        first_line_of_slug[agency.slug] = line
        agencies.append(agency)
    if not agencies:
        raise AgencyCatalogueError(f"{path}: no agencies")
    return tuple(agencies)


@functools.cache
def default_agencies() -> tuple[Agency, ...]:
    """The agency catalogue shipped with ipnsim, loaded once."""
    return load_agencies()


def agency_by_slug(slug: str) -> Agency:
    """The shipped catalogue's agency with this slug; KeyError if there is none."""
    for agency in default_agencies():
        if agency.slug == slug:
            return agency
    raise KeyError(f"no agency with slug {slug!r}")


def agency_by_code(code: str) -> Agency:
    """The shipped catalogue's agency with this agency code (機関コード); KeyError if none."""
    for agency in default_agencies():
        if agency.code == code:
            return agency
    raise KeyError(f"no agency with code {code!r}")
