"""The agency catalogue: shipped data, code schemes and rejection of malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from agencies.catalogue import (
    COLUMNS,
    DIGITAL_AGENCY,
    FUKUOKA,
    KANAGAWA,
    MUNICIPALITY_SLUGS,
    NAKASHIBETSU,
    ODAWARA,
    YAMAGATA,
    AgencyCatalogueError,
    agency_by_code,
    agency_by_slug,
    default_agencies,
    is_valid_lg_code,
    lg_code_check_digit,
    load_agencies,
    local_government_agency_code,
)
from network.protocol.models import AgencyKind, AgencySummary

HEADER = ",".join(COLUMNS)
GOOD_ROWS = [
    "2006201400000000,062014,山形市,Yamagata City,municipality,simulated,yamagata",
    "1419900000002200,-,デジタル庁,Digital Agency,digital_agency,real,digital-agency",
]


def write_catalogue(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "agencies.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_shipped_catalogue_lists_the_demo_agencies() -> None:
    agencies = load_agencies()
    assert [agency.slug for agency in agencies] == [*MUNICIPALITY_SLUGS, DIGITAL_AGENCY, KANAGAWA]
    assert {agency.name_ja for agency in agencies} == {
        "山形市",
        "小田原市",
        "福岡市",
        "中標津町",
        "神奈川県",
        "デジタル庁",
    }
    assert default_agencies() == agencies


@pytest.mark.parametrize(
    ("slug", "lg_code", "code"),
    [
        (YAMAGATA, "062014", "2006201400000000"),
        (ODAWARA, "142069", "2014206900000000"),
        (FUKUOKA, "401307", "2040130700000000"),
        (NAKASHIBETSU, "016926", "2001692600000000"),
    ],
)
def test_municipalities_use_the_simulated_code_scheme(slug: str, lg_code: str, code: str) -> None:
    agency = agency_by_slug(slug)
    assert agency.lg_code == lg_code
    assert agency.code == code
    assert agency.kind is AgencyKind.MUNICIPALITY
    assert agency.source == "simulated"
    assert local_government_agency_code(lg_code) == code


def test_digital_agency_has_its_real_code_and_no_lg_code() -> None:
    agency = agency_by_slug(DIGITAL_AGENCY)
    assert agency.code == "1419900000002200"
    assert agency.lg_code is None
    assert agency.kind is AgencyKind.DIGITAL_AGENCY
    assert agency.source == "real"


def test_every_agency_is_a_valid_wire_summary() -> None:
    for agency in default_agencies():
        summary = AgencySummary(
            code=agency.code, name_ja=agency.name_ja, name_en=agency.name_en, kind=agency.kind
        )
        assert summary.code == agency.code


def test_lookup_by_code_and_slug() -> None:
    assert agency_by_code("2014206900000000").slug == ODAWARA
    assert agency_by_code("1419900000002200").slug == DIGITAL_AGENCY
    with pytest.raises(KeyError):
        agency_by_code("9999999999999999")
    with pytest.raises(KeyError):
        agency_by_slug("tokyo")


@pytest.mark.parametrize("lg_code", ["062014", "142069", "401307", "016926", "131016"])
def test_check_digit_of_real_lg_codes(lg_code: str) -> None:
    assert lg_code_check_digit(lg_code[:5]) == lg_code[5]
    assert is_valid_lg_code(lg_code)


@pytest.mark.parametrize(
    "lg_code", ["062015", "142060", "40130", "4013077", "40130x", "０６２０１４"]
)
def test_invalid_lg_codes(lg_code: str) -> None:
    assert not is_valid_lg_code(lg_code)


def test_check_digit_wraps_ten_and_eleven_to_one_digit() -> None:
    # s = 6*1 = 6 → 11 - 6 = 5; s = 6*1 + 5*1 = 11 → (11 - 0) % 10 = 1; s = 2*1 = 2 → 9
    assert lg_code_check_digit("10000") == "5"
    assert lg_code_check_digit("11000") == "1"
    assert lg_code_check_digit("00001") == "9"
    # s = 6*2 = 12 → 11 - 1 = 10 → 0
    assert lg_code_check_digit("20000") == "0"


def test_local_government_agency_code_rejects_bad_lg_code() -> None:
    with pytest.raises(ValueError, match="062015"):
        local_government_agency_code("062015")


def test_a_good_file_loads(tmp_path: Path) -> None:
    agencies = load_agencies(write_catalogue(tmp_path, GOOD_ROWS))
    assert [agency.slug for agency in agencies] == [YAMAGATA, DIGITAL_AGENCY]
    assert agencies[0].lg_code == "062014"
    assert agencies[1].lg_code is None


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("200620140000000,062014,山形市,Yamagata,municipality,simulated,x", "16 digits"),
        ("2006201400000000,062014,山形市,Yamagata,village,simulated,x", "'village'"),
        ("2006201500000000,062015,山形市,Yamagata,municipality,simulated,x", "check digit"),
        ("2006201400000000,62014,山形市,Yamagata,municipality,simulated,x", "6 digits"),
        ("2006201400000000,-,山形市,Yamagata,municipality,simulated,x", "needs an lg_code"),
        ("2106201400000000,062014,山形市,Yamagata,municipality,simulated,x", "scheme"),
        ("2006201400000000,062014,山形市,Yamagata,municipality,guessed,x", "'guessed'"),
        ("2006201400000000,062014,山形市,Yamagata,municipality,simulated,Yama gata", "slug"),
        ("2006201400000000,062014,,Yamagata,municipality,simulated,x", "empty field name_ja"),
        ("2006201400000000,062014,山形市,Yamagata,municipality,simulated", "expected 7 fields"),
        (
            "2014206900000000,142069,小田原市,Odawara,municipality,simulated,yamagata",
            "duplicate slug",
        ),
        (
            "2006201400000000,062014,山形市,Yamagata,municipality,simulated,x",
            "duplicate agency code",
        ),
    ],
)
def test_a_malformed_row_names_file_and_line(tmp_path: Path, bad_row: str, message: str) -> None:
    path = write_catalogue(tmp_path, [*GOOD_ROWS, bad_row])
    with pytest.raises(AgencyCatalogueError) as caught:
        load_agencies(path)
    assert f"{path}:4:" in str(caught.value)
    assert message in str(caught.value)


def test_a_wrong_header_is_reported_on_line_one(tmp_path: Path) -> None:
    path = write_catalogue(tmp_path, GOOD_ROWS, header="code,lg_code,name_ja,name_en,kind,source")
    with pytest.raises(AgencyCatalogueError, match=r":1: header must be"):
        load_agencies(path)


def test_an_empty_or_missing_file_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(AgencyCatalogueError, match="empty file"):
        load_agencies(empty)
    with pytest.raises(AgencyCatalogueError, match="cannot be read"):
        load_agencies(tmp_path / "missing.csv")
    with pytest.raises(AgencyCatalogueError, match="no agencies"):
        load_agencies(write_catalogue(tmp_path, []))
