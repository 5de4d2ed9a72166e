"""``ipnsim batch`` against a running network, as a municipal clerk would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agencies.catalogue import FUKUOKA, YAMAGATA
from network.protocol.batch_file import fixed_result_columns, read_result_rows
from tests.e2e.conftest import RunningNetwork
from tests.e2e.test_cli import ipnsim, json_of

pytestmark = pytest.mark.e2e


def test_make_submit_wait_status_and_results(network: RunningNetwork, tmp_path: Path) -> None:
    good = network.atena(YAMAGATA, "moved_in")
    atena_file = tmp_path / "atena.csv"
    atena_file.write_text(f"統合宛名番号\r\n{good}\r\n999999999999999\r\n", encoding="cp932")
    made = ipnsim(
        "batch",
        "make",
        str(atena_file),
        "--procedure",
        "JT01010000000214",
        "--agency",
        "yamagata",
        "--provider",
        "14206",
        "--fiscal-year",
        "2026",
        "-o",
        str(tmp_path),
        "--json",
        data_dir=network.data_dir,
    )
    assert made.returncode == 0, made.stderr
    (request,) = json_of(made)
    request_path = Path(request["path"])

    submitted = ipnsim(
        "batch",
        "submit",
        str(request_path),
        "--agency",
        "yamagata",
        "--wait",
        "--json",
        data_dir=network.data_dir,
    )
    assert submitted.returncode == 0, submitted.stderr
    job = json_of(submitted)
    assert job["state"] == "completed"
    assert (job["rows_total"], job["rows_provided"], job["rows_failed"]) == (2, 1, 1)

    status = ipnsim("batch", "status", job["job_id"], "--json", data_dir=network.data_dir)
    assert status.returncode == 0, status.stderr
    assert json_of(status)["rows_done"] == 2
    shown = ipnsim("batch", "status", job["job_id"], data_dir=network.data_dir)
    assert "2 of 2 rows: 1 provided (09/01)" in shown.stdout

    listed = ipnsim("batch", "list", "--agency", "yamagata", "--json", data_dir=network.data_dir)
    assert job["job_id"] in {entry["job_id"] for entry in json_of(listed)}

    results_path = tmp_path / "results.DAT"
    downloaded = ipnsim(
        "batch", "results", job["job_id"], "-o", str(results_path), data_dir=network.data_dir
    )
    assert downloaded.returncode == 0, downloaded.stderr
    lines = results_path.read_bytes().split(b"\r\n")[:-1]
    statuses = [fixed_result_columns(line, "cp932")[24] for line in lines]
    assert statuses == ["09", "99"]

    failed = ipnsim(
        "batch",
        "results",
        job["job_id"],
        "--failed",
        "-o",
        str(tmp_path),
        "--json",
        data_dir=network.data_dir,
    )
    assert failed.returncode == 0, failed.stderr
    (written,) = json_of(failed)["written"]
    assert written["rows"] == 1
    assert Path(written["path"]).name == request_path.stem + "_failed.DAT"
    assert (
        Path(written["path"]).read_bytes() == request_path.read_bytes().split(b"\r\n")[1] + b"\r\n"
    )

    checked = ipnsim("validate", "batch", written["path"], data_dir=network.data_dir)
    assert checked.returncode == 0, checked.stdout


def test_submit_refuses_a_bad_file_naming_every_problem(
    network: RunningNetwork, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"01,1\r\n02\r\n")
    result = ipnsim("batch", "submit", str(bad), "--agency", "yamagata", data_dir=network.data_dir)
    assert result.returncode == 1
    assert "BAT003" in result.stderr
    assert "line 1" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr

    unknown = ipnsim(
        "batch", "status", "00000000-0000-0000-0000-000000000000", data_dir=network.data_dir
    )
    assert unknown.returncode == 1
    assert "BAT006" in unknown.stderr


def test_public_fund_accounts_end_to_end(network: RunningNetwork, tmp_path: Path) -> None:
    applicants = tmp_path / "applicants.csv"
    applicants.write_text(
        "宛名番号,氏名\r\n"
        f"{network.atena(FUKUOKA, 'account_holder')},申請者一\r\n"
        f"{network.atena(FUKUOKA, 'no_account')},申請者二\r\n"
        "999999999999999,申請者三\r\n",
        encoding="utf-8",
    )
    result = ipnsim(
        "batch",
        "public-fund-accounts",
        str(applicants),
        "--agency",
        "fukuoka",
        "-o",
        str(tmp_path / "out"),
        "--json",
        data_dir=network.data_dir,
    )
    assert result.returncode == 1, result.stderr  # one applicant could not be asked
    summary = json.loads(result.stdout)
    assert (summary["registered"], summary["not_registered"], summary["failed"]) == (1, 1, 1)
    results = next((tmp_path / "out").glob("*_result.csv"))
    rows = read_result_rows(results.read_bytes(), "utf-8")
    assert [row[21] for row in rows] == ["", "RPL001", "IDN002"]

    shown = ipnsim(
        "batch",
        "public-fund-accounts",
        str(applicants),
        "--agency",
        "fukuoka",
        "-o",
        str(tmp_path / "again"),
        data_dir=network.data_dir,
    )
    assert "registered (登録あり, 09/01)" in shown.stdout
    assert "IDN002" in shown.stdout
