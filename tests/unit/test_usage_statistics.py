"""Statistics for ministries: inquiries per requester × procedure × month (Japan time), the
case counts agencies report, and the utilisation rate."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from error_codes import IpnsimError
from ipnsim.storage import jst_month
from network.db import HubRecord
from network.protocol.layouts import catalogue
from network.protocol.models import CaseReport, CaseReports
from network.service import HubService
from network.usage import CSV_COLUMNS, UsageService, current_month, months_before, usage_csv
from tests.unit.test_hub_service import (
    AGENCIES,
    NHI_TAX,
    ODAWARA,
    YAMAGATA,
    FakeRouter,
    inquiry,
    issue,
    run,
)

NHI_TAX_PROCEDURE = str(NHI_TAX["procedure_code"])
OTHER_PROCEDURE = "JT01610000000001"


def utc(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def test_months_count_back_across_years() -> None:
    assert months_before("2026-06", 0) == "2026-06"
    assert months_before("2026-06", 5) == "2026-01"
    assert months_before("2026-06", 6) == "2025-12"
    assert months_before("2026-01", 13) == "2024-12"
    assert months_before("2026-12", -1) == "2027-01"


def test_the_current_month_is_japan_time() -> None:
    assert current_month(utc(5, 31, 14, 59)) == "2026-05"
    assert current_month(utc(5, 31, 15, 0)) == "2026-06"


def test_jst_month_renders_per_backend_without_bound_parameters() -> None:
    query = select(jst_month(HubRecord.requested_at))
    on_postgresql = query.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert "AT TIME ZONE 'UTC') + INTERVAL '9 hours', 'YYYY-MM')" in str(on_postgresql)
    assert on_postgresql.params == {}
    on_sqlite = query.compile(dialect=sqlite.dialect())
    assert "strftime('%Y-%m', provision_records.requested_at, '+9 hours')" in str(on_sqlite)
    assert on_sqlite.params == {}


def usage(service: HubService) -> UsageService:
    return UsageService(service.sessions, service.registry, catalogue().procedures.keys())


async def month_boundary_inquiries(service: HubService, router: FakeRouter) -> None:
    """山形市 asks 小田原市 on both sides of midnight, 1 June, Japan time; once again in June."""
    await issue(service, ODAWARA)
    pseudonym = await issue(service, YAMAGATA)
    yamagata = AGENCIES[YAMAGATA]
    for requested_at in (utc(5, 31, 14, 30), utc(5, 31, 15, 30), utc(6, 20, 3)):
        await service.inquire(yamagata, inquiry(pseudonym, requested_at=requested_at))
    # Outside the months asked for: not counted.
    await service.inquire(yamagata, inquiry(pseudonym, requested_at=utc(7, 1, 3)))


def test_inquiries_are_counted_by_month_in_japan_time_with_utilisation(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await month_boundary_inquiries(service, router)
        stats = usage(service)
        yamagata = AGENCIES[YAMAGATA]
        await stats.report_cases(
            yamagata,
            CaseReports(
                agency_code=YAMAGATA,
                reports=[
                    CaseReport(procedure_code=NHI_TAX_PROCEDURE, month="2026-06", cases=8),
                    CaseReport(procedure_code=OTHER_PROCEDURE, month="2026-06", cases=5),
                ],
            ),
        )
        # Reported again: replaced, not added.
        await stats.report_cases(
            yamagata,
            CaseReports(
                agency_code=YAMAGATA,
                reports=[CaseReport(procedure_code=NHI_TAX_PROCEDURE, month="2026-06", cases=4)],
            ),
        )
        result = await stats.statistics("2026-05", "2026-06", None)
        rows = [
            (row.month, row.requester_code, row.procedure_code, row.inquiries, row.cases)
            for row in result.rows
        ]
        assert rows == [
            ("2026-05", YAMAGATA, NHI_TAX_PROCEDURE, 1, None),
            ("2026-06", YAMAGATA, NHI_TAX_PROCEDURE, 2, 4),
            ("2026-06", YAMAGATA, OTHER_PROCEDURE, 0, 5),
        ]
        assert [row.utilisation for row in result.rows] == [None, 0.5, 0.0]
        assert result.total_inquiries == 3
        assert all(row.requester_name == AGENCIES[YAMAGATA].name_ja for row in result.rows)
        only_odawara = await stats.statistics("2026-05", "2026-06", ODAWARA)
        assert only_odawara.rows == []

        table = list(csv.reader(io.StringIO(usage_csv(result))))
        assert tuple(table[0]) == CSV_COLUMNS
        assert table[2][-3:] == ["2", "4", "0.5000"]
        assert table[1][-2:] == ["", ""]
        assert usage_csv(result).count("\r\n") == 4

    run(tmp_path, scenario)


def test_reports_are_checked(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        stats = usage(service)
        report = CaseReport(procedure_code=NHI_TAX_PROCEDURE, month="2026-06", cases=1)
        with pytest.raises(IpnsimError) as other_agency:
            await stats.report_cases(
                AGENCIES[YAMAGATA], CaseReports(agency_code=ODAWARA, reports=[report])
            )
        assert other_agency.value.code == "AUT002"
        unknown = CaseReport(procedure_code="JT99999999999999", month="2026-06", cases=1)
        with pytest.raises(IpnsimError) as undefined:
            await stats.report_cases(
                AGENCIES[YAMAGATA], CaseReports(agency_code=YAMAGATA, reports=[unknown])
            )
        assert undefined.value.code == "VAL006"
        with pytest.raises(IpnsimError) as backwards:
            await stats.statistics("2026-07", "2026-06", None)
        assert backwards.value.code == "VAL001"
        default = await stats.statistics(None, None, None)
        assert default.until == current_month()
        assert default.since == months_before(default.until, 11)

    run(tmp_path, scenario)
