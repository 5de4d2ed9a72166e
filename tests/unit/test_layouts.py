"""The shared catalogue (データ標準レイアウト): shipped data and rejection of malformed files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from network.protocol.layouts import (
    DATA_DIR,
    CatalogueError,
    Paper,
    Source,
    ValueType,
    catalogue,
    load_catalogue,
)
from network.protocol.models import AgencyKind

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


REAL_CODES = {
    "JM01000000121000",
    "JT01010000000214",
    "JT01010000000001",
    "TM00000000000002",
    "TM00000000000089",
    "TM00000000000082",
}
"""The codes DOMAIN.md shows in public material; every other code must be marked simulated."""

INT, STR, CODE, DATE = ValueType.INTEGER, ValueType.STRING, ValueType.CODE, ValueType.DATE
MUNI, PREF, DIGITAL = AgencyKind.MUNICIPALITY, AgencyKind.PREFECTURE, AgencyKind.DIGITAL_AGENCY

CONTRACT: dict[str, tuple[str, AgencyKind, list[tuple[str, ValueType]]]] = {
    "TM00000000000002": (
        "地方税関係情報",
        MUNI,
        [
            ("課税年度", INT),
            ("総所得金額", INT),
            ("課税標準額", INT),
            ("市町村民税所得割額", INT),
            ("市町村民税均等割額", INT),
            ("扶養親族数", INT),
            ("非課税区分", CODE),
        ],
    ),
    "TM00000000000089": (
        "公金受取口座情報",
        DIGITAL,
        [
            ("金融機関コード", STR),
            ("支店コード", STR),
            ("預金種目", CODE),
            ("口座番号", STR),
            ("口座名義人（カナ）", STR),
        ],
    ),
    "TM00000000000082": (
        "難病関係情報",
        PREF,
        [
            ("受給者番号", STR),
            ("指定難病番号", CODE),
            ("支給認定有効期間開始日", DATE),
            ("支給認定有効期間終了日", DATE),
            ("自己負担上限月額", INT),
        ],
    ),
    "TM00000000000001": (
        "住民票関係情報",
        MUNI,
        [
            ("氏名", STR),
            ("氏名（カナ）", STR),
            ("生年月日", DATE),
            ("性別", CODE),
            ("住所", STR),
            ("世帯主氏名", STR),
            ("続柄", STR),
            ("住民となった年月日", DATE),
            ("前住所", STR),
        ],
    ),
    "TM00000000000011": (
        "生活保護関係情報",
        MUNI,
        [("保護受給状況", CODE), ("保護開始年月日", DATE), ("扶助の種類", STR)],
    ),
    "TM00000000000021": (
        "身体障害者手帳関係情報",
        PREF,
        [("手帳番号", STR), ("障害等級", CODE), ("障害種別", STR), ("交付年月日", DATE)],
    ),
    "TM00000000000031": (
        "介護保険関係情報",
        MUNI,
        [
            ("被保険者番号", STR),
            ("要介護状態区分", CODE),
            ("認定有効期間開始日", DATE),
            ("認定有効期間終了日", DATE),
            ("保険料段階", INT),
        ],
    ),
    "TM00000000000041": (
        "自立支援給付関係情報",
        MUNI,
        [
            ("受給者証番号", STR),
            ("障害支援区分", CODE),
            ("支給決定期間開始日", DATE),
            ("支給決定期間終了日", DATE),
        ],
    ),
    "TM00000000000051": (
        "児童手当関係情報",
        MUNI,
        [("受給状況", CODE), ("支給対象児童数", INT), ("支給月額", INT)],
    ),
    "TM00000000000062": (
        "扶養親族申告情報",
        AgencyKind.MUNICIPALITY,
        [("課税年度", INT), ("扶養親族の団体内統合宛名番号", STR)],
    ),
    "TM00000000000063": (
        "扶養親族重複照会回答",
        AgencyKind.MUNICIPALITY,
        [("課税年度", INT), ("扶養親族としての申告の有無", CODE)],
    ),
}
"""Info types and items exactly as the catalogue fixes them."""

NINE_AFFAIRS = {
    "地方税": "JM01000000161000",
    "国民健康保険": "JM01000000121000",
    "児童扶養手当": "JM01000000051000",
    "児童手当": "JM01000000041000",
    "介護保険": "JM01000000231000",
    "感染症": "JM01000000281000",
    "障害者総合支援": "JM01000000331000",
    "子ども・子育て支援": "JM01000000351000",
    "難病": "JM01000000381000",
}


def test_info_types_and_items_follow_the_contract() -> None:
    shipped = load_catalogue()
    assert set(shipped.info_types) == set(CONTRACT)
    for code, (name_ja, holder, items) in CONTRACT.items():
        info_type = shipped.info_types[code]
        assert info_type.name_ja == name_ja
        assert info_type.holder_kind is holder, code
        assert info_type.layout_version == 1
        expected = [(f"I{n:03d}", name, kind) for n, (name, kind) in enumerate(items, start=1)]
        assert [(i.code, i.name_ja, i.value_type) for i in info_type.items] == expected, code


def test_the_nine_surveyed_affairs_each_have_a_procedure() -> None:
    shipped = load_catalogue()
    assert set(shipped.affairs) == set(NINE_AFFAIRS.values())
    for label, code in NINE_AFFAIRS.items():
        assert label in shipped.affairs[code].name_ja
        assert any(p.affair_code == code for p in shipped.procedures.values()), label


def test_existing_codes_keep_their_meaning() -> None:
    shipped = load_catalogue()
    assert shipped.procedures["JT01010000000214"].affair_code == "JM01000000121000"
    assert shipped.procedures["JT02310000000214"].affair_code == "JM01000000231000"
    assert shipped.procedures["JT01010000000001"].affair_code == "JM01000000041000"
    assert "国民健康保険" in shipped.affairs["JM01000000121000"].name_ja
    assert "介護保険" in shipped.affairs["JM01000000231000"].name_ja
    assert "児童手当" in shipped.affairs["JM01000000041000"].name_ja
    assert shipped.info_types["TM00000000000082"].name_ja == "難病関係情報"
    assert shipped.info_types["TM00000000000082"].source is Source.REAL_CODE


def test_only_the_codes_seen_in_public_material_are_not_simulated() -> None:
    shipped = load_catalogue()
    rows: list[tuple[str, Source]] = [
        *((a.code, a.source) for a in shipped.affairs.values()),
        *((p.code, p.source) for p in shipped.procedures.values()),
        *((i.code, i.source) for i in shipped.info_types.values()),
    ]
    for code, source in rows:
        expected = {Source.REAL, Source.REAL_CODE} if code in REAL_CODES else {Source.SIMULATED}
        assert source in expected, code
    for info_type in shipped.info_types.values():
        assert all(item.source is Source.SIMULATED for item in info_type.items)


def test_every_procedure_names_the_papers_it_replaces() -> None:
    shipped = load_catalogue()
    for procedure in shipped.procedures.values():
        assert procedure.papers, procedure.code
    tax = shipped.procedures["JT01010000000214"]
    assert tax.papers == (Paper("課税証明書", "certificate of taxation"),)
    papers = {paper.name_ja for p in shipped.procedures.values() for paper in p.papers}
    assert {"課税証明書", "預金通帳の写し", "生活保護受給証明書", "身体障害者手帳の写し"} <= papers


def test_dataset_numbers() -> None:
    shipped = load_catalogue()
    owner: dict[str, str] = {}
    for code, info_type in shipped.info_types.items():
        for item in info_type.items:
            assert re.fullmatch(r"D[0-9]{3}", item.dataset_number)
            assert owner.setdefault(item.dataset_number, code) == code
    assert shipped.info_types["TM00000000000002"].dataset_numbers == ("D021",)
    assert shipped.info_types["TM00000000000001"].dataset_numbers == ("D011", "D012")


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
    lines.append("TM00000000000999,I001,架空,Fictional,string,D999,simulated")
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
    lines.append("TM00000000000999,架空,Fictional,1,municipality,30,simulated")
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


def test_bad_dataset_number(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines[3] = lines[3].replace(",D021,", ",21,")
    assert ",21," in lines[3]
    write(data, "items.csv", lines)
    expect_error(data, "items.csv", 4, "malformed dataset number '21'")


def test_dataset_shared_by_two_info_types(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines.append("TM00000000000051,I004,架空,Fictional,string,D021,simulated")
    write(data, "items.csv", lines)
    expect_error(
        data, "items.csv", len(lines), "dataset D021 already belongs to info type TM00000000000002"
    )


def test_bad_holder_kind(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    lines[2] = lines[2].replace(",digital_agency,", ",ministry,")
    assert ",ministry," in lines[2]
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", 3, "'ministry' is not one of municipality")


def test_update_cycle_must_be_a_whole_number_of_days(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    cells = lines[1].split(",")
    cells[5] = "0"
    lines[1] = ",".join(cells)
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", 2, "update_cycle_days must be a whole number")


def test_every_info_type_has_an_update_cycle() -> None:
    shipped = load_catalogue()
    assert shipped.info_types["TM00000000000001"].update_cycle_days == 1
    assert shipped.info_types["TM00000000000002"].update_cycle_days == 365


def test_layout_version_must_be_at_least_one(data: Path) -> None:
    lines = lines_of(data, "info_types.csv")
    lines[1] = lines[1].replace(",1,", ",0,")
    write(data, "info_types.csv", lines)
    expect_error(data, "info_types.csv", 2, "layout_version must be a whole number of at least 1")


def test_papers_in_both_languages_must_agree(data: Path) -> None:
    lines = lines_of(data, "procedures.csv")
    lines.append(
        "JT09990000000001,JM01000000121000,架空,Fictional,課税証明書、住民票の写し,"
        "certificate of taxation,simulated"
    )
    write(data, "procedures.csv", lines)
    expect_error(data, "procedures.csv", len(lines), "replaces_ja names 2 papers")


def test_unknown_info_type_code_in_items_is_refused_with_its_line(data: Path) -> None:
    lines = lines_of(data, "items.csv")
    lines.insert(5, "TM0000000000000X,I001,架空,Fictional,string,D999,simulated")
    write(data, "items.csv", lines)
    expect_error(data, "items.csv", 6, "malformed info type code 'TM0000000000000X'")
