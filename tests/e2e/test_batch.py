"""一括照会 over real processes: request files in, one result row per request row out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from agencies.catalogue import FUKUOKA, YAMAGATA
from intermediate_server.schemas import BatchJobView
from ipnsim.batch_commands import BatchClient
from ipnsim.client import ServiceError
from network.protocol.batch_file import (
    FIXED_WIDTH,
    FRESHNESS_COLUMNS,
    JST,
    MAX_ROWS,
    RESULT_COLUMNS,
    RequestLine,
    Variant,
    fixed_result_columns,
    read_result_rows,
    request_row,
)
from tests.e2e.conftest import RunningNetwork, run

pytestmark = pytest.mark.e2e

TAX_PROCEDURE = "JT01010000000214"
TAX_AFFAIR = "JM01000000121000"
LOCAL_TAX = "TM00000000000002"
PUBLIC_FUND_PROCEDURE = "JT01010000000001"
PUBLIC_FUND_AFFAIR = "JM01000000041000"
PUBLIC_FUND = "TM00000000000089"
DIGITAL_AGENCY = "1419900000002200"
UNKNOWN_ATENA = "999999999999999"
NOW = dt.datetime(2026, 11, 28, 10, 0, 0, 500000, tzinfo=JST)


def client(network: RunningNetwork, slug: str) -> BatchClient:
    return BatchClient(network.url(slug), timeout=60.0)


async def submit(
    network: RunningNetwork, slug: str, name: str, data: bytes
) -> tuple[BatchJobView, bytes, bytes]:
    """Send one file as a job, wait for it, and download its result and failed-rows files."""
    async with client(network, slug) as batch:
        job = await batch.create_job()
        await batch.put_file(job.job_id, name, data)
        await batch.start(job.job_id)
        job = await batch.wait(job.job_id, 120)
        return (
            job,
            await batch.download(job.job_id, name),
            await batch.download(job.job_id, name, failed=True),
        )


def tax_line(atena: str, **changes: Any) -> RequestLine:
    values: dict[str, Any] = {
        "atena_number": atena,
        "requested_at": NOW,
        "requester_code": "2006201400000000",
        "affair_code": TAX_AFFAIR,
        "procedure_code": TAX_PROCEDURE,
        "provider_code": "2014206900000000",
        "info_type_code": LOCAL_TAX,
        "department_code": "税務課",
        "user_id": "zeimu01",
        "condition_kind": "1",
        "fiscal_year_kind": "3",
        "period_start": dt.date(2026, 4, 1),
    }
    values.update(changes)
    return RequestLine(**values)


def test_fixed_width_cp932_file_from_yamagata(network: RunningNetwork) -> None:
    atena = {
        persona: network.atena(YAMAGATA, persona)
        for persona in ("moved_in", "registered_without_tax", "lifelong_yamagata", "no_pseudonym")
    }
    rows = [
        request_row(tax_line(atena["moved_in"]), Variant.FIXED, "cp932"),
        request_row(tax_line(atena["registered_without_tax"]), Variant.FIXED, "cp932"),
        request_row(tax_line(atena["lifelong_yamagata"]), Variant.FIXED, "cp932"),
        request_row(tax_line(UNKNOWN_ATENA), Variant.FIXED, "cp932"),
        request_row(tax_line(atena["no_pseudonym"]), Variant.FIXED, "cp932"),
    ]
    name = "P640R110_20261128100000_0001.DAT"

    job, results, failed = run(submit(network, YAMAGATA, name, b"".join(rows)))

    assert job.state == "completed"
    assert (job.rows_total, job.rows_done) == (5, 5)
    assert (job.rows_provided, job.rows_not_provided, job.rows_failed) == (1, 1, 3)
    assert job.files[0].encoding == "cp932"
    assert job.files[0].variant == "fixed"
    lines = results.split(b"\r\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == 5
    for request, result in zip(rows, lines, strict=True):
        assert result.startswith(request[:-2])  # the request fields, byte for byte
    columns = [fixed_result_columns(line, "cp932") for line in lines]
    outcomes = [(c[3], c[24], c[26], c[22]) for c in columns]
    assert outcomes == [
        (atena["moved_in"], "09", "01", ""),
        (atena["registered_without_tax"], "09", "02", "RPL001"),
        (atena["lifelong_yamagata"], "99", "99", "IDN004"),
        (UNKNOWN_ATENA, "99", "99", "IDN002"),
        (atena["no_pseudonym"], "99", "99", "IDN001"),
    ]
    assert columns[0][5] == "税務課"
    assert columns[0][20] == "小田原市"
    assert columns[3][25] == (
        "指定された団体内統合宛名番号「９９９９９９９９９９９９９９９」は登録されていません。"
    )
    assert columns[3][19] and columns[3][23] == "0"
    first_item = FIXED_WIDTH + sum(column.width for column in RESULT_COLUMNS)
    assert lines[0][first_item : first_item + 16].rstrip() == b"2026"  # I001 課税年度

    # The same inquiry path as a single inquiry: the requester's copy of the record exists.
    async def record_of(inquiry_id: str) -> Any:
        async with network.agency(YAMAGATA) as agency:
            return await agency.records(inquiry_id=uuid.UUID(inquiry_id))

    (record,) = run(record_of(columns[0][19]))
    assert record.procedure_code == TAX_PROCEDURE

    # The failed rows, byte for byte, re-submit cleanly and fail the same way.
    assert failed == b"".join(rows[2:])
    again, again_results, again_failed = run(submit(network, YAMAGATA, name, failed))
    assert again.state == "completed"
    assert again.rows_failed == 3
    assert again_failed == failed
    codes = [fixed_result_columns(line, "cp932")[22] for line in again_results.split(b"\r\n")[:-1]]
    assert codes == ["IDN004", "IDN002", "IDN001"]


def quoted_csv_row(values: list[str]) -> bytes:
    """A CSV row as the municipal tool writes it: every value quoted, CRLF."""
    return (",".join(f'"{value}"' for value in values) + "\r\n").encode("utf-8")


def test_csv_utf8_file_from_fukuoka(network: RunningNetwork) -> None:
    def row(atena: str, procedure: str, affair: str, provider: str, info_type: str) -> bytes:
        return quoted_csv_row(
            [
                "01",
                "000000000012345",
                atena,
                "20261128100000000",
                "福祉課",
                "fukushi01",
                "2040130700000000",
                "0",
                affair,
                procedure,
                "",
                "",
                provider,
                info_type,
                "0",
                "0",
                "",
                "",
            ]
        )

    data = b"".join(
        [
            row(
                network.atena(FUKUOKA, "account_holder"),
                PUBLIC_FUND_PROCEDURE,
                PUBLIC_FUND_AFFAIR,
                DIGITAL_AGENCY,
                PUBLIC_FUND,
            ),
            row(
                network.atena(FUKUOKA, "no_account"),
                PUBLIC_FUND_PROCEDURE,
                PUBLIC_FUND_AFFAIR,
                DIGITAL_AGENCY,
                PUBLIC_FUND,
            ),
            # 山形市 by its 5-digit municipal code; the procedure may not obtain the info type.
            row(
                network.atena(FUKUOKA, "not_permitted"),
                TAX_PROCEDURE,
                TAX_AFFAIR,
                "06201",
                "TM00000000000011",
            ),
        ]
    )
    name = "applicants.csv"

    job, results, failed = run(submit(network, FUKUOKA, name, data))

    assert job.state == "completed"
    assert job.files[0].variant == "csv"
    assert job.files[0].encoding == "utf-8"
    parsed = read_result_rows(results, "utf-8")
    assert len(parsed) == 3
    assert [(r[23], r[25], r[21]) for r in parsed] == [
        ("09", "01", ""),
        ("09", "02", "RPL001"),
        ("99", "99", "PRM001"),
    ]
    assert parsed[0][4] == "福祉課"
    assert parsed[0][19] == "デジタル庁"
    assert any(value for value in parsed[0][26:])  # the account's items
    # The replica's freshness trails the items: registered, updated, layout version, fiscal
    # year, stale flag; blank on a row without a replica.
    registered, updated, version, _, stale = parsed[0][-len(FRESHNESS_COLUMNS) :]
    assert len(registered) == 14 and registered.isdigit() and len(updated) == 14
    assert (version, stale) == ("1", "0")
    assert parsed[2][-len(FRESHNESS_COLUMNS) :] == [""] * len(FRESHNESS_COLUMNS)
    assert "許可されていません" in parsed[2][24]
    assert failed == data.split(b"\r\n")[2] + b"\r\n"


def refusal(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def test_bad_files_and_jobs_are_refused_with_their_codes(network: RunningNetwork) -> None:
    base = network.url(YAMAGATA) + "/v1/batch-jobs"
    good = request_row(tax_line(UNKNOWN_ATENA), Variant.CSV, "utf-8")
    bad_field = request_row(tax_line("12345"), Variant.CSV, "utf-8")

    with httpx.Client(timeout=60) as http:
        job = http.post(base).json()["job_id"]

        def put(name: str, data: bytes, job_id: str = job) -> httpx.Response:
            return http.put(f"{base}/{job_id}/files/{name}", content=data)

        empty = put("empty.csv", b"")
        assert (empty.status_code, refusal(empty)["code"]) == (422, "BAT005")

        undecodable = put("bytes.DAT", b"\x81\x20\x81\x7f\r\n")
        assert refusal(undecodable)["code"] == "BAT001"

        layout = put("short.csv", good + b"01,000000000000001\r\n" + bad_field)
        body = refusal(layout)
        assert (layout.status_code, body["code"]) == (422, "BAT003")
        assert [d["field"] for d in body["details"]] == [
            "line 2",
            "line 3, field 3 統合宛名番号",
        ]

        field = put("field.csv", good + bad_field)
        body = refusal(field)
        assert body["code"] == "BAT004"
        assert "「２」行目" in body["message_ja"]
        assert "統合宛名番号" in body["message_ja"]

        too_many = put("many.csv", good * (MAX_ROWS + 1))
        body = refusal(too_many)
        assert body["code"] == "BAT002"
        assert "「１０００１」" in body["message_ja"]

        accepted = put("good.csv", good)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["rows_total"] == 1

        twice = put("good.csv", good)
        assert refusal(twice)["code"] == "BAT008"

        early = http.get(f"{base}/{job}/files/good.csv/results")
        assert (early.status_code, refusal(early)["code"]) == (409, "BAT007")

        unknown_file = http.get(f"{base}/{job}/files/other.csv/results")
        assert (unknown_file.status_code, refusal(unknown_file)["code"]) == (404, "BAT009")

        unknown_job = http.get(f"{base}/{uuid.uuid4()}")
        assert (unknown_job.status_code, refusal(unknown_job)["code"]) == (404, "BAT006")

        empty_job = http.post(base).json()["job_id"]
        nothing = http.post(f"{base}/{empty_job}/start")
        assert (nothing.status_code, refusal(nothing)["code"]) == (409, "BAT008")

        started = http.post(f"{base}/{job}/start")
        assert started.status_code == 200
        late = put("late.csv", good)
        assert refusal(late)["code"] == "BAT008"

        listed = http.get(base).json()
        assert {job, empty_job} <= {entry["job_id"] for entry in listed}


def test_a_job_unknown_to_the_client_is_bat006(network: RunningNetwork) -> None:
    async def ask() -> None:
        async with client(network, YAMAGATA) as batch:
            await batch.job(uuid.uuid4())

    with pytest.raises(ServiceError) as raised:
        run(ask())
    assert raised.value.body.code == "BAT006"
