"""Statistics for ministries over real processes: the hub's counts match a count done here."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from network.usage import current_month
from tests.e2e.conftest import RunningNetwork
from tests.e2e.test_cli import ipnsim, json_of
from tests.e2e.test_faults import admin, moved_in_order

pytestmark = pytest.mark.e2e

PROCEDURE = "JT01010000000214"


def usage(network: RunningNetwork, **query: str) -> httpx.Response:
    return httpx.get(
        network.network.hub.url + "/v1/stats/usage",
        params=query,
        headers=admin(network),
        timeout=10,
    )


def yamagata_row(network: RunningNetwork) -> dict[str, Any]:
    month = current_month()
    response = usage(network, since=month, until=month, requester_code=network.code(YAMAGATA))
    assert response.status_code == 200, response.text
    rows = [row for row in response.json()["rows"] if row["procedure_code"] == PROCEDURE]
    return rows[0] if rows else {"inquiries": 0, "cases": None, "utilisation": None}


def test_inquiries_and_reported_cases_give_the_utilisation_rate(network: RunningNetwork) -> None:
    before = yamagata_row(network)["inquiries"]
    order = moved_in_order(network).model_dump(mode="json")
    sent = 0
    for _ in range(3):
        response = httpx.post(network.url(YAMAGATA) + "/v1/inquiries", json=order, timeout=30)
        assert response.status_code == 200, response.text
        sent += 1
    after = yamagata_row(network)
    assert after["inquiries"] == before + sent

    cases = (before + sent) * 4
    reported = httpx.post(
        network.url(YAMAGATA) + "/v1/stats/cases",
        json=[{"procedure_code": PROCEDURE, "month": current_month(), "cases": cases}],
        timeout=10,
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["agency_code"] == network.code(YAMAGATA)
    row = yamagata_row(network)
    assert row["cases"] == cases
    assert row["utilisation"] == pytest.approx(row["inquiries"] / cases, abs=1e-4)

    month = current_month()
    as_csv = usage(network, since=month, until=month, format="csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    [line] = [
        line
        for line in lines
        if line["requester_code"] == network.code(YAMAGATA) and line["procedure_code"] == PROCEDURE
    ]
    assert int(line["inquiries"]) == row["inquiries"]
    assert int(line["cases"]) == cases


def test_usage_is_for_the_operator_and_reports_are_checked(network: RunningNetwork) -> None:
    anonymous = httpx.get(network.network.hub.url + "/v1/stats/usage", timeout=10)
    assert anonymous.json()["code"] == "AUT001"
    bad_month = usage(network, since="2026-13")
    assert (bad_month.status_code, bad_month.json()["code"]) == (422, "VAL001")
    backwards = usage(network, since="2026-07", until="2026-06")
    assert backwards.json()["code"] == "VAL001"
    unknown = httpx.post(
        network.url(YAMAGATA) + "/v1/stats/cases",
        json=[{"procedure_code": "JT99999999999999", "month": "2026-06", "cases": 1}],
        timeout=10,
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "VAL006")
    # At the hub, an agency reports only its own cases.
    other = httpx.post(
        network.network.hub.url + "/v1/stats/cases",
        json={
            "agency_code": network.code(ODAWARA),
            "reports": [{"procedure_code": PROCEDURE, "month": "2026-06", "cases": 1}],
        },
        headers={"Authorization": f"Bearer {network.credential(YAMAGATA)}"},
        timeout=10,
    )
    assert other.json()["code"] == "AUT002"


def test_the_command_line_reports_and_shows_usage(network: RunningNetwork) -> None:
    month = current_month()
    reported = ipnsim(
        "stats",
        "cases",
        "--agency",
        ODAWARA,
        "--procedure",
        PROCEDURE,
        "--month",
        month,
        "--cases",
        "7",
        data_dir=network.data_dir,
    )
    assert reported.returncode == 0, reported.stdout + reported.stderr
    shown = ipnsim("stats", "usage", "--requester", ODAWARA, "--json", data_dir=network.data_dir)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = json_of(shown)["rows"]
    assert {"month": month, "procedure_code": PROCEDURE, "cases": 7}.items() <= next(
        row for row in rows if row["month"] == month and row["procedure_code"] == PROCEDURE
    ).items()
    table = ipnsim("stats", "usage", data_dir=network.data_dir)
    assert table.returncode == 0 and "utilisation" in table.stdout
    as_csv = ipnsim("stats", "usage", "--csv", data_dir=network.data_dir)
    assert as_csv.stdout.startswith(",".join(["month", "requester_code"]))
    wrong = ipnsim(
        "stats",
        "cases",
        "--agency",
        ODAWARA,
        "--procedure",
        PROCEDURE,
        "--month",
        "June",
        "--cases",
        "7",
        data_dir=network.data_dir,
    )
    assert wrong.returncode == 2
    assert "month" in wrong.stderr and "Traceback" not in wrong.stderr
