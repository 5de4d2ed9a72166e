"""The shared catalogue (データ標準レイアウト): shipped data and rejection of malformed files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from network.protocol.layouts import (
    DATA_DIR,
    CatalogueError,
    Source,
    ValueType,
    catalogue,
    load_catalogue,
)

AFFAIRS_HEADER = "code,name_ja,name_en,source"


def test_shipped_catalogue_holds_the_real_codes() -> None:
    shipped = load_catalogue()
    tax = shipped.procedures["JT01010000000214"]
    account = shipped.procedures["JT01010000000001"]
    assert tax.affair_code in shipped.affairs
    assert account.affair_code in shipped.affairs
    assert "JM01000000121000" in shipped.affairs
    assert shipped.info_types["TM00000000000002"].name_ja == "地方税関係情報"
    assert shipped.info_types["TM00000000000089"].name_ja == "公金受取口座情報"
    for code in ("JT01010000000214", "JT01010000000001"):
        assert shipped.procedures[code].source in {Source.REAL, Source.REAL_CODE}


def test_shipped_catalogue_is_consistent() -> None:
    shipped = load_catalogue()
    for code, procedure in shipped.procedures.items():
        assert re.fullmatch(r"JT[0-9]{14}", code)
        assert procedure.affair_code in shipped.affairs
    for code, info_type in shipped.info_types.items():
        assert re.fullmatch(r"TM[0-9]{14}", code)
        assert info_type.layout_version >= 1
        assert info_type.items
        item_codes = [item.code for item in info_type.items]
        assert len(set(item_codes)) == len(item_codes)
        assert all(re.fullmatch(r"I[0-9]{3}", item) for item in item_codes)


def test_info_type_items_and_lookup() -> None:
    tax = load_catalogue().info_types["TM00000000000002"]
    first = tax.item("I001")
    assert first is not None
    assert first.value_type is ValueType.INTEGER
    assert tax.item("I999") is None


def test_catalogue_is_loaded_once() -> None:
    assert catalogue() is catalogue()
    assert catalogue().info_types.keys() == load_catalogue().info_types.keys()


# --- malformed copies -----------------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    shutil.copytree(DATA_DIR, directory)
    return directory


def lines_of(directory: Path, name: str) -> list[str]:
    return (directory / name).read_text(encoding="utf-8").splitlines()


def write(directory: Path, name: str, lines: list[str]) -> None:
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def expect_error(directory: Path, name: str, line: int | None, fragment: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(directory)
    message = str(caught.value)
    where = f"{directory / name}:{line}:" if line is not None else f"{directory / name}"
    assert where in message
    assert fragment in message


def test_copy_of_the_shipped_data_loads(data: Path) -> None:
    assert load_catalogue(data).procedures.keys() == load_catalogue().procedures.keys()


def test_bad_header(data: Path) -> None:
    write(data, "affairs.csv", ["code,name,name_en,source", *lines_of(data, "affairs.csv")[1:]])
    expect_error(data, "affairs.csv", 1, "header must be")


def test_bad_affair_code_shape(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    lines.append("JM0100000099900,誤り,Wrong,simulated")
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", len(lines), "malformed affair code 'JM0100000099900'")


def test_bad_procedure_code_shape(data: Path) -> None:
    lines = lines_of(data, "procedures.csv")
    lines[2] = "JX" + lines[2][2:]
    write(data, "procedures.csv", lines)
    expect_error(data, "procedures.csv", 3, "malformed procedure code")


def test_unknown_affair_in_procedures(data: Path) -> None:
    lines = lines_of(data, "procedures.csv")
    lines.append("JT09990000000001,JM09990000000000,架空,Fictional,なし,nothing,simulated")
    write(data, "procedures.csv", lines)
    expect_error(data, "procedures.csv", len(lines), "unknown affair JM09990000000000")


def test_duplicate_affair(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    lines.append(lines[1])
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", len(lines), "duplicate affair")


def test_duplicate_procedure(data: Path) -> None:
    lines = lines_of(data, "procedures.csv")
    lines.append(lines[1])
    write(data, "procedures.csv", lines)
    expect_error(data, "procedures.csv", len(lines), "duplicate procedure")


def test_duplicate_item(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines.insert(3, lines[1])
    write(data, "items.csv", lines)
    expect_error(data, "items.csv", 4, "duplicate item")


def test_duplicate_info_type(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    lines.append(lines[1])
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", len(lines), "duplicate info type")


def test_bad_value_type(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines[5] = lines[5].replace(",integer,", ",float,")
    assert ",float," in lines[5]
    write(data, "items.csv", lines)
    expect_error(data, "items.csv", 6, "'float' is not one of")


def test_bad_source(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    lines[2] = lines[2].rsplit(",", 1)[0] + ",invented"
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", 3, "'invented' is not one of")


def test_items_of_unknown_info_type(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines.append("TM00000000000999,I001,架空,Fictional,string,simulated")
    write(data, "items.csv", lines)
    expect_error(data, "items.csv", len(lines), "items of unknown info type TM00000000000999")


def test_line_numbers_count_blank_lines(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    lines.insert(2, "")
    lines[3] = "JMbad" + lines[3][lines[3].index(",") :]
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", 4, "malformed affair code 'JMbad'")


def test_info_type_without_items(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    lines.append("TM00000000000999,架空,Fictional,1,simulated")
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", len(lines), "has no items")


def test_layout_version_must_be_a_whole_number(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    lines[1] = lines[1].replace(",1,", ",1.5,")
    assert ",1.5," in lines[1]
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", 2, "layout_version must be a whole number")


def test_wrong_number_of_fields(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    lines[3] = lines[3] + ",extra"
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", 4, "expected 4 fields")


def test_too_few_fields(data: Path) -> None:
    lines = lines_of(data, "procedures.csv")
    lines[1] = lines[1].rsplit(",", 1)[0]
    write(data, "procedures.csv", lines)
    expect_error(data, "procedures.csv", 2, "expected 7 fields")


def test_empty_field(data: Path) -> None:
    lines = lines_of(data, "affairs.csv")
    code, _, name_en, source = lines[1].split(",")
    lines[1] = f"{code}, ,{name_en},{source}"
    write(data, "affairs.csv", lines)
    expect_error(data, "affairs.csv", 2, "empty field name_ja")


def test_missing_file(data: Path) -> None:
    (data / "items.csv").unlink()
    with pytest.raises(CatalogueError, match=r"items\.csv: cannot be read"):
        load_catalogue(data)


def test_file_not_utf8(data: Path) -> None:
    (data / "affairs.csv").write_bytes(
        (AFFAIRS_HEADER + "\nJM01000000121000,国民健康保険,NHI,real\n").encode("shift_jis")
    )
    with pytest.raises(CatalogueError, match=r"affairs\.csv: cannot be read"):
        load_catalogue(data)
