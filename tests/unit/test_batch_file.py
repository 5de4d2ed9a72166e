"""The 一括照会 request file: both variants, both encodings, every problem found, results."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from network.protocol.batch_file import (
    FIELDS,
    FIXED_WIDTH,
    FRESHNESS_COLUMNS,
    JST,
    MAX_ROWS,
    FailedRowsWriter,
    ProblemKind,
    RequestFileReader,
    RequestLine,
    ResultWriter,
    RowOutcome,
    Variant,
    detect_encoding,
    fixed_result_columns,
    municipal_agency_code,
    read_result_rows,
    request_row,
)
from network.protocol.layouts import catalogue
from network.protocol.models import ConditionKind, ReplicaItem, ReplicaMetadata

YAMAGATA = "2006201400000000"
ODAWARA = "2014206900000000"
TAX_PROCEDURE = "JT01010000000214"
TAX_AFFAIR = "JM01000000121000"
LOCAL_TAX = "TM00000000000002"
AT = dt.datetime(2026, 6, 15, 9, 30, 0, 123000, tzinfo=JST)


def line(**changes: object) -> RequestLine:
    values: dict[str, object] = {
        "atena_number": "000000014689427",
        "requested_at": AT,
        "requester_code": YAMAGATA,
        "affair_code": catalogue().procedures[TAX_PROCEDURE].affair_code,
        "procedure_code": TAX_PROCEDURE,
        "provider_code": ODAWARA,
        "info_type_code": LOCAL_TAX,
    }
    values.update(changes)
    return RequestLine(**values)  # type: ignore[arg-type]


def reader(data: bytes, **options: object) -> RequestFileReader:
    return RequestFileReader(io.BytesIO(data), "P640R110.DAT", catalogue(), **options)  # type: ignore[arg-type]


def test_the_fixed_width_row_is_the_sum_of_the_field_widths() -> None:
    assert len(FIELDS) == 18
    assert FIXED_WIDTH == 220
    row = request_row(line(), Variant.FIXED, "cp932")
    assert len(row) == FIXED_WIDTH + 2
    assert row.endswith(b"\r\n")
    assert row.startswith(b"01" + b" " * 15 + b"000000014689427" + b"20260615093000123")


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_rows_round_trip_in_every_variant_and_encoding(variant: Variant, encoding: str) -> None:
    rows = [
        line(department_code="税務課", user_id="tanaka"),
        line(atena_number="000000000000001", condition_kind="1", fiscal_year_kind="1"),
        line(
            condition_kind="2",
            period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 3, 31),
            non_disclosure=True,
        ),
    ]
    data = b"".join(request_row(row, variant, encoding) for row in rows)
    read = reader(data)

    assert read.check() == []
    parsed = list(read.rows())
    assert read.variant is variant
    assert read.encoding == encoding
    assert [row.line for row in parsed] == [1, 2, 3]
    assert parsed[0].user_id == "tanaka"
    assert parsed[0].condition.kind is ConditionKind.LATEST
    assert parsed[1].condition.fiscal_year == 2026
    assert parsed[2].condition.kind is ConditionKind.DATE_RANGE
    assert parsed[2].non_disclosure
    assert parsed[0].requested_at == AT


def test_cp932_department_text_takes_two_bytes_a_character() -> None:
    row = request_row(line(department_code="税務課"), Variant.FIXED, "cp932")
    assert len(row) == FIXED_WIDTH + 2
    assert "税務課".encode("cp932") in row
    # The same row read as UTF-8 would not decode: detection falls back to CP932.
    assert detect_encoding(io.BytesIO(row)) == "cp932"
    assert detect_encoding(io.BytesIO("税".encode())) == "utf-8"
    assert detect_encoding(io.BytesIO(b"01,000000000000001\r\n")) == "cp932"  # plain ASCII
    assert detect_encoding(io.BytesIO(b"\x81\x20")) is None


def test_a_five_digit_municipal_provider_code_is_resolved() -> None:
    assert municipal_agency_code("14206") == ODAWARA
    assert municipal_agency_code("06201") == YAMAGATA
    data = request_row(line(provider_code="14206"), Variant.CSV, "utf-8")
    (row,) = reader(data).rows()
    assert row.provider_code == ODAWARA


def test_every_problem_is_found_with_line_and_field() -> None:
    good = request_row(line(), Variant.CSV, "utf-8")
    bad_fields = request_row(
        line(
            atena_number="12345",
            requester_code="1",
            procedure_code="JT99999999999999",
            provider_code="abc",
        ),
        Variant.CSV,
        "utf-8",
    )
    short = b"01,000000000000001\r\n"
    bare_lf = good[:-2] + b"\n"
    data = good + bad_fields + short + bare_lf + b"\r\n"

    problems = reader(data, requester_code=YAMAGATA).check()

    where = [(p.line, p.field.number if p.field else None, p.kind) for p in problems]
    assert where == [
        (2, 3, ProblemKind.FIELD),
        (2, 7, ProblemKind.FIELD),
        (2, 10, ProblemKind.FIELD),
        (2, 13, ProblemKind.FIELD),
        (3, None, ProblemKind.LAYOUT),
        (4, None, ProblemKind.LAYOUT),
        (5, None, ProblemKind.LAYOUT),
    ]
    assert "15 digits" in problems[0].problem
    assert str(problems[1]).startswith("P640R110.DAT line 2 field 7 情報照会者機関コード:")
    assert "18" in problems[4].problem
    assert "CRLF" in problems[5].problem
    assert "empty" in problems[6].problem


def test_fixed_width_rows_of_the_wrong_width_and_bad_bytes() -> None:
    good = request_row(line(), Variant.FIXED, "cp932")
    long_row = good[:-2] + b"X\r\n"
    # A two-byte character cut by the end of the department field.
    broken = bytearray(good)
    start = sum(spec.width for spec in FIELDS[:4])
    broken[start + 19] = 0x90  # first byte of a CP932 pair, its second byte outside the field
    problems = reader(good + long_row + bytes(broken), encoding="cp932").check()
    assert [(p.line, p.kind) for p in problems] == [
        (2, ProblemKind.LAYOUT),
        (3, ProblemKind.ENCODING),
    ]
    assert problems[1].field is not None and problems[1].field.number == 5


def test_conditions_are_checked_together() -> None:
    rows = [
        line(condition_kind="2", period_start=dt.date(2026, 3, 1), period_end=dt.date(2026, 1, 1)),
        line(condition_kind="1", fiscal_year_kind="0"),
        line(condition_kind="0", period_start=dt.date(2026, 3, 1)),
        line(condition_kind="9"),
        line(condition_kind="1", fiscal_year_kind="3", period_start=dt.date(2025, 2, 1)),
        line(condition_kind="1", fiscal_year_kind="2"),
    ]
    data = b"".join(request_row(row, Variant.FIXED, "utf-8") for row in rows)
    read = reader(data)
    problems = read.check()
    assert [(p.line, p.field.number if p.field else None) for p in problems] == [
        (1, 18),
        (2, 16),
        (3, 17),
        (4, 15),
    ]


def test_an_empty_file_and_a_file_of_too_many_rows() -> None:
    assert [p.kind for p in reader(b"").check()] == [ProblemKind.EMPTY]
    row = request_row(line(), Variant.CSV, "utf-8")
    problems = reader(row * (MAX_ROWS + 1)).check()
    assert [p.kind for p in problems] == [ProblemKind.TOO_MANY_ROWS]
    assert str(MAX_ROWS + 1) in problems[0].problem


def test_undecodable_file_is_one_problem() -> None:
    problems = reader(b"\x81\x20\x81\x7f\r\n").check()
    assert [p.kind for p in problems] == [ProblemKind.ENCODING]


@pytest.mark.parametrize("variant", list(Variant))
def test_result_and_failed_rows_files(variant: Variant) -> None:
    encoding = "cp932"
    rows_written = [
        request_row(line(department_code="税務課"), variant, encoding),
        request_row(line(atena_number="999999999999999"), variant, encoding),
    ]
    ok, failed = list(reader(b"".join(rows_written)).rows())
    results, failures = io.BytesIO(), io.BytesIO()
    writer = ResultWriter(results, variant, encoding, catalogue().info_types.get)
    failed_writer = FailedRowsWriter(failures)
    items = [ReplicaItem(code="I001", value="2026"), ReplicaItem(code="I002", value="3500000")]
    replica = ReplicaMetadata(
        record_id="R1",
        layout_version=1,
        fiscal_year=2026,
        publication_start=dt.date(2026, 6, 1),
        publication_end=None,
        registered_at=dt.datetime(2026, 6, 1, 0, 30, tzinfo=dt.UTC),
        updated_at=dt.datetime(2026, 6, 2, 15, 0, tzinfo=dt.UTC),
        update_cycle_days=365,
        age_days=13.0,
        stale=True,
    )
    writer.write(
        ok,
        RowOutcome(
            "09",
            "01",
            inquiry_id="x" * 36,
            provider_name="小田原市",
            completed_at=AT,
            items=items,
            replica=replica,
        ),
    )
    freshness = ["20260601093000", "20260603000000", "1", "2026", "1"]
    outcome = RowOutcome(
        "99", "99", error_code="IDN002", retryable=False, message_ja="登録されていません。"
    )
    writer.write(failed, outcome)
    assert outcome.failed
    failed_writer.write(failed)

    assert failures.getvalue() == rows_written[1]
    lines = results.getvalue().split(b"\r\n")
    assert lines[-1] == b""
    if variant is Variant.CSV:
        parsed = read_result_rows(results.getvalue(), encoding)
        assert parsed[0][:18] == [cell for cell in parsed[0][:18]]
        assert parsed[0][4] == "税務課"
        assert parsed[0][19] == "小田原市"
        assert parsed[0][20] == "20260615093000123"
        assert (parsed[0][23], parsed[0][25]) == ("09", "01")
        assert parsed[0][26:28] == ["2026", "3500000"]
        width = 26 + len(catalogue().info_types[LOCAL_TAX].items) + len(FRESHNESS_COLUMNS)
        assert len(parsed[0]) == width
        assert parsed[0][-len(FRESHNESS_COLUMNS) :] == freshness
        assert (parsed[1][21], parsed[1][22], parsed[1][23]) == ("IDN002", "0", "99")
        assert parsed[1][-len(FRESHNESS_COLUMNS) :] == [""] * len(FRESHNESS_COLUMNS)
    else:
        assert lines[0].startswith(rows_written[0][:-2])
        columns = fixed_result_columns(lines[0], encoding)
        assert columns[20] == "小田原市"
        assert (columns[24], columns[26]) == ("09", "01")
        tail = sum(column.width for column in FRESHNESS_COLUMNS)
        cells, start = [], len(lines[0]) - tail
        for column in FRESHNESS_COLUMNS:
            cells.append(lines[0][start : start + column.width].decode(encoding).rstrip(" "))
            start += column.width
        assert cells == freshness
        second = fixed_result_columns(lines[1], encoding)
        assert (second[22], second[24], second[25]) == ("IDN002", "99", "登録されていません。")
