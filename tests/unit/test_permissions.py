"""The legal permission table (番号法 別表): shipped rows and rejection of malformed tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from network.permissions import Permission, PermissionTable, PermissionTableError
from network.protocol.layouts import catalogue
from network.protocol.models import AgencyKind
from network.settings import HubSettings

SHIPPED = HubSettings.model_fields["permissions_file"].default
HEADER = "requester_kind,affair_code,procedure_code,info_type_code,provider_kind"

NHI_TAX = ("JM01000000121000", "JT01010000000214", "TM00000000000002")
CARE_TAX = ("JM01000000231000", "JT02310000000214", "TM00000000000002")
ACCOUNT = ("JM01000000041000", "JT01010000000001", "TM00000000000089")

MUNI = AgencyKind.MUNICIPALITY
DIGITAL = AgencyKind.DIGITAL_AGENCY

ALLOWED = {
    (MUNI, *NHI_TAX, MUNI),
    (MUNI, *CARE_TAX, MUNI),
    (MUNI, *ACCOUNT, DIGITAL),
}


def shipped() -> PermissionTable:
    return PermissionTable.load(SHIPPED, catalogue())


def test_shipped_table_has_the_three_rows() -> None:
    table = shipped()
    assert {
        (p.requester_kind, p.affair_code, p.procedure_code, p.info_type_code, p.provider_kind)
        for p in table.rows
    } == ALLOWED


@pytest.mark.parametrize("row", sorted(ALLOWED))
def test_shipped_table_allows_its_rows(
    row: tuple[AgencyKind, str, str, str, AgencyKind],
) -> None:
    assert shipped().allows(*row)


def test_shipped_table_refuses_every_other_combination() -> None:
    table = shipped()
    shipped_catalogue = catalogue()
    checked = 0
    for requester, provider in itertools.product(AgencyKind, repeat=2):
        for procedure in shipped_catalogue.procedures.values():
            for info_type in shipped_catalogue.info_types:
                row = (requester, procedure.affair_code, procedure.code, info_type, provider)
                assert table.allows(*row) == (row in ALLOWED), row
                checked += 1
    assert checked > len(ALLOWED)


def test_tax_information_is_not_obtainable_from_the_digital_agency() -> None:
    table = shipped()
    assert not table.allows(MUNI, *NHI_TAX, DIGITAL)
    assert not table.allows(AgencyKind.PREFECTURE, *NHI_TAX, MUNI)
    assert not table.allows(MUNI, "JM01000000121000", "JT01010000000214", "TM00000000000089", MUNI)
    # Affair and procedure taken from different rows.
    assert not table.allows(MUNI, "JM01000000231000", "JT01010000000214", "TM00000000000002", MUNI)


# --- malformed tables -----------------------------------------------------------------------


def write_table(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "permissions.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


GOOD = "municipality,JM01000000121000,JT01010000000214,TM00000000000002,municipality"


def expect_error(path: Path, line: int, fragment: str) -> None:
    with pytest.raises(PermissionTableError) as caught:
        PermissionTable.load(path, catalogue())
    message = str(caught.value)
    assert f"{path}:{line}:" in message
    assert fragment in message


def test_good_copy_loads(tmp_path: Path) -> None:
    table = PermissionTable.load(write_table(tmp_path, [GOOD]), catalogue())
    assert table.rows == frozenset({Permission(MUNI, *NHI_TAX, MUNI)})


def test_bad_header(tmp_path: Path) -> None:
    path = write_table(tmp_path, [GOOD], header=HEADER.replace("provider_kind", "provider"))
    expect_error(path, 1, "header must be")


def test_unknown_procedure(tmp_path: Path) -> None:
    row = "municipality,JM01000000121000,JT01019999999999,TM00000000000002,municipality"
    expect_error(write_table(tmp_path, [GOOD, row]), 3, "unknown procedure JT01019999999999")


def test_procedure_under_the_wrong_affair(tmp_path: Path) -> None:
    row = "municipality,JM01000000231000,JT01010000000214,TM00000000000002,municipality"
    expect_error(
        write_table(tmp_path, [GOOD, row]),
        3,
        "procedure JT01010000000214 belongs to JM01000000121000",
    )


def test_unknown_affair(tmp_path: Path) -> None:
    row = "municipality,JM09999999999999,JT01010000000214,TM00000000000002,municipality"
    expect_error(write_table(tmp_path, [row]), 2, "unknown affair JM09999999999999")


def test_unknown_info_type(tmp_path: Path) -> None:
    row = "municipality,JM01000000121000,JT01010000000214,TM00000000000999,municipality"
    expect_error(write_table(tmp_path, [GOOD, row]), 3, "unknown info type TM00000000000999")


@pytest.mark.parametrize(
    "row",
    [
        "city,JM01000000121000,JT01010000000214,TM00000000000002,municipality",
        "municipality,JM01000000121000,JT01010000000214,TM00000000000002,Municipality",
    ],
)
def test_bad_kind(tmp_path: Path, row: str) -> None:
    expect_error(write_table(tmp_path, [GOOD, row]), 3, "AgencyKind")


def test_duplicate_row(tmp_path: Path) -> None:
    expect_error(write_table(tmp_path, [GOOD, GOOD]), 3, "duplicate row")


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    expect_error(write_table(tmp_path, [GOOD, GOOD + ",extra"]), 3, "expected 5 fields")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PermissionTableError, match="cannot be read"):
        PermissionTable.load(tmp_path / "missing.csv", catalogue())
