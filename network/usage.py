"""Statistics for ministries (利用状況): how much each agency uses the network, and how often.

Inquiries are counted from the hub's own provision records, by requester, procedure and month
in Japan time. Agencies report how many cases of each procedure they handled in a month; the
utilisation rate is inquiries ÷ cases. A procedure with cases but no inquiries shows 0 %, so a
municipality that does not use the network for it stands out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from ipnsim.storage import jst_month, utcnow
from network.db import CaseCount, HubRecord
from network.protocol.models import CaseReports, UsageRow, UsageStatistics
from network.registry import AgencyEntry, Registry

JST = dt.timezone(dt.timedelta(hours=9), "JST")

CSV_COLUMNS = (
    "month",
    "requester_code",
    "requester_name",
    "procedure_code",
    "inquiries",
    "cases",
    "utilisation",
)
"""Columns of the usage statistics as CSV, in order."""


def current_month(now: dt.datetime | None = None) -> str:
    """This month in Japan time, ``YYYY-MM``."""
    return (now or utcnow()).astimezone(JST).strftime("%Y-%m")


def months_before(month: str, count: int) -> str:
    """The month ``count`` months before ``month`` (both ``YYYY-MM``)."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_start(month: str) -> dt.datetime:
    """The first instant of a month in Japan time, in UTC."""
    year, number = (int(part) for part in month.split("-"))
    return dt.datetime(year, number, 1, tzinfo=JST).astimezone(dt.UTC)


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def inquiry_counts(
        self, since: str, until: str, requester_code: str | None
    ) -> dict[tuple[str, str, str], tuple[str, int]]:
        """(requester, procedure, month) → (requester name, inquiries), from the records."""
        month = jst_month(HubRecord.requested_at)
        query = (
            select(
                HubRecord.requester_code,
                HubRecord.procedure_code,
                month,
                func.max(HubRecord.requester_name),
                func.count(),
            )
            .where(
                HubRecord.requested_at >= _month_start(since),
                HubRecord.requested_at < _month_start(months_before(until, -1)),
            )
            .group_by(HubRecord.requester_code, HubRecord.procedure_code, month)
        )
        if requester_code is not None:
            query = query.where(HubRecord.requester_code == requester_code)
        rows = await self.session.execute(query)
        return {
            (requester, procedure, on): (name, count)
            for requester, procedure, on, name, count in rows
        }

    async def case_counts(
        self, since: str, until: str, requester_code: str | None
    ) -> dict[tuple[str, str, str], int]:
        """(agency, procedure, month) → cases, as reported."""
        query = select(CaseCount).where(CaseCount.month >= since, CaseCount.month <= until)
        if requester_code is not None:
            query = query.where(CaseCount.agency_code == requester_code)
        return {
            (row.agency_code, row.procedure_code, row.month): row.cases
            for row in await self.session.scalars(query)
        }

    async def replace_case_counts(self, rows: list[CaseCount]) -> None:
        """Store reports, replacing any earlier report of the same agency, procedure and month."""
        keys = [(row.agency_code, row.procedure_code, row.month) for row in rows]
        await self.session.execute(
            delete(CaseCount).where(
                tuple_(CaseCount.agency_code, CaseCount.procedure_code, CaseCount.month).in_(keys)
            )
        )
        self.session.add_all(rows)


class UsageService:
    """Case reports in, usage statistics out. Each method owns its own short transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: Registry,
        known_procedures: Iterable[str],
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.known_procedures = frozenset(known_procedures)

    async def report_cases(self, caller: AgencyEntry, reports: CaseReports) -> CaseReports:
        """件数報告: an agency reports its own case counts (AUT002 for another agency's)."""
        if reports.agency_code != caller.code:
            raise IpnsimError("AUT002", claimed=reports.agency_code)
        latest: dict[tuple[str, str], int] = {}
        for report in reports.reports:
            if report.procedure_code not in self.known_procedures:
                raise IpnsimError(
                    "VAL006",
                    kind_ja="事務手続コード",
                    kind_en="procedure code",
                    code=report.procedure_code,
                )
            latest[(report.procedure_code, report.month)] = report.cases
        now = utcnow()
        async with self.sessions.begin() as session:
            await UsageRepository(session).replace_case_counts(
                [
                    CaseCount(
                        agency_code=caller.code,
                        procedure_code=procedure,
                        month=month,
                        cases=cases,
                        reported_at=now,
                    )
                    for (procedure, month), cases in latest.items()
                ]
            )
        return reports

    async def statistics(
        self, since: str | None, until: str | None, requester_code: str | None
    ) -> UsageStatistics:
        """Inquiries per requester × procedure × month, with cases and utilisation; by default
        the twelve months up to this one."""
        until = until or current_month()
        since = since or months_before(until, 11)
        if since > until:
            raise IpnsimError("VAL001", field="since", problem="must not be after 'until'")
        async with self.sessions() as session:
            repository = UsageRepository(session)
            inquiries = await repository.inquiry_counts(since, until, requester_code)
            cases = await repository.case_counts(since, until, requester_code)
        rows = []
        for key in sorted(set(inquiries) | set(cases), key=lambda key: (key[2], key[0], key[1])):
            requester, procedure, month = key
            name, count = inquiries.get(key, (self._name(requester), 0))
            reported = cases.get(key)
            rows.append(
                UsageRow(
                    requester_code=requester,
                    requester_name=name,
                    procedure_code=procedure,
                    month=month,
                    inquiries=count,
                    cases=reported,
                    utilisation=round(count / reported, 4) if reported else None,
                )
            )
        return UsageStatistics(
            since=since,
            until=until,
            total_inquiries=sum(row.inquiries for row in rows),
            rows=rows,
        )

    def _name(self, agency_code: str) -> str:
        entry = self.registry.agencies.get(agency_code)
        return entry.name_ja if entry else ""


def usage_csv(statistics: UsageStatistics) -> str:
    """The statistics as CSV (UTF-8, header row, CRLF), one line per requester × procedure ×
    month; empty cells where no cases were reported."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in statistics.rows:
        writer.writerow(
            [
                row.month,
                row.requester_code,
                row.requester_name,
                row.procedure_code,
                row.inquiries,
                "" if row.cases is None else row.cases,
                "" if row.utilisation is None else f"{row.utilisation:.4f}",
            ]
        )
    return out.getvalue()
