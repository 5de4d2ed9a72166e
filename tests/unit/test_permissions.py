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
PREF = AgencyKind.PREFECTURE
DIGITAL = AgencyKind.DIGITAL_AGENCY

ORIGINAL = {
    (MUNI, *NHI_TAX, MUNI),
    (MUNI, *CARE_TAX, MUNI),
    (MUNI, *ACCOUNT, DIGITAL),
}
"""The three original rows: tests, the demo and `ipnsim inquire` rely on them."""

INTRACTABLE = ("JM01000000381000", "JT03810000000001")
DISABILITY = ("JM01000000331000", "JT03310000000001")
LOCAL_TAX, RESIDENT, DISABILITY_CERTIFICATE = (
    "TM00000000000002",
    "TM00000000000001",
    "TM00000000000021",
)


def shipped() -> PermissionTable:
    return PermissionTable.load(SHIPPED, catalogue())


def as_tuples(table: PermissionTable) -> set[tuple[AgencyKind, str, str, str, AgencyKind]]:
    return {
        (p.requester_kind, p.affair_code, p.procedure_code, p.info_type_code, p.provider_kind)
        for p in table.rows
    }


def test_shipped_table_keeps_the_three_original_rows() -> None:
    assert ORIGINAL.issubset(as_tuples(shipped()))


@pytest.mark.parametrize("row", sorted(ORIGINAL))
def test_shipped_table_allows_its_rows(
    row: tuple[AgencyKind, str, str, str, AgencyKind],
) -> None:
    assert shipped().allows(*row)


def test_original_procedures_still_obtain_only_their_info_type() -> None:
    """`ipnsim inquire` picks the info type of a procedure that may obtain only one."""
    table = shipped()
    for _, affair, procedure, info_type, _ in ORIGINAL:
        assert {r.info_type_code for r in table.rows if r.procedure_code == procedure} == {
            info_type
        }
        assert {r.affair_code for r in table.rows if r.procedure_code == procedure} == {affair}


def test_shipped_table_covers_every_procedure() -> None:
    covered = {row.procedure_code for row in shipped().rows}
    assert covered == set(catalogue().procedures)


def test_shipped_table_obtains_every_info_type_from_its_holder() -> None:
    shipped_catalogue = catalogue()
    rows = shipped().rows
    # 扶養親族申告情報 names the taxpayer's dependants: no procedure obtains it; its holder only
    # reads it to answer the duplicate-dependant finder (TM00000000000063, claimed or not).
    never_obtained = {"TM00000000000062"}
    assert {row.info_type_code for row in rows} == set(
        shipped_catalogue.info_types
    ) - never_obtained
    for row in rows:
        assert row.provider_kind is shipped_catalogue.info_types[row.info_type_code].holder_kind


def test_intractable_disease_is_asked_by_a_prefecture_of_municipalities() -> None:
    table = shipped()
    assert table.allows(PREF, *INTRACTABLE, LOCAL_TAX, MUNI)
    assert table.allows(PREF, *INTRACTABLE, RESIDENT, MUNI)
    assert not table.allows(MUNI, *INTRACTABLE, LOCAL_TAX, MUNI)
    requesters = {row.requester_kind for row in table.rows if row.affair_code == INTRACTABLE[0]}
    assert requesters == {PREF}


def test_independence_support_asks_the_prefecture_and_municipalities() -> None:
    table = shipped()
    assert table.allows(MUNI, *DISABILITY, DISABILITY_CERTIFICATE, PREF)
    assert table.allows(MUNI, *DISABILITY, LOCAL_TAX, MUNI)
    assert not table.allows(MUNI, *DISABILITY, DISABILITY_CERTIFICATE, MUNI)


def test_other_affairs_are_asked_by_municipalities() -> None:
    for row in shipped().rows:
        if row.affair_code != INTRACTABLE[0]:
            assert row.requester_kind is MUNI, row


def test_shipped_table_refuses_every_other_combination() -> None:
    table = shipped()
    allowed = as_tuples(table)
    shipped_catalogue = catalogue()
    checked = 0
    for requester, provider in itertools.product(AgencyKind, repeat=2):
        for procedure in shipped_catalogue.procedures.values():
            for info_type in shipped_catalogue.info_types:
                row = (requester, procedure.affair_code, procedure.code, info_type, provider)
                assert table.allows(*row) == (row in allowed), row
                checked += 1
    assert checked > len(allowed)


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


def test_provider_kind_must_hold_the_info_type(tmp_path: Path) -> None:
    row = "municipality,JM01000000041000,JT01010000000001,TM00000000000089,municipality"
    expect_error(
        write_table(tmp_path, [GOOD, row]),
        3,
        "provider kind municipality does not hold info type TM00000000000089 "
        "(its holder_kind is digital_agency)",
    )


def test_missing_procedure_of_a_known_affair(tmp_path: Path) -> None:
    row = "prefecture,JM01000000381000,JT03810000000099,TM00000000000002,municipality"
    expect_error(write_table(tmp_path, [GOOD, row]), 3, "unknown procedure JT03810000000099")
