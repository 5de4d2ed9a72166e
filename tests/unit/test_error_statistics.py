"""Where errors cluster: the hub's counts of failed inquiries by provider, code and UTC day."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from ipnsim.stats_commands import by_provider, errors_table, stats_app
from ipnsim.storage import migrate, sessionmaker, utc_date
from network.db import MIGRATIONS, HubRecord
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.models import ErrorCount, ErrorStatistics
from network.registry import Registry
from network.service import HubService
from network.settings import HubSettings
from tests.postgres import scratch_database
from tests.unit.test_hub_service import (
    AGENCIES,
    DIGITAL,
    FUKUOKA,
    ODAWARA,
    SECRET,
    YAMAGATA,
    FakeRouter,
    inquiry,
    issue,
    run,
)

TODAY = dt.date(2026, 6, 15)
JST = dt.timezone(dt.timedelta(hours=9))


def at(day: int, hour: int = 3, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, tzinfo=tz)


async def failing_network(service: HubService, router: FakeRouter) -> None:
    """Inquiries from 山形市 over three weeks of June: 福岡市 holds no 符号 (IDN004), デジタル庁
    may not be asked (PRM001), 小田原市 holds no replica once (RPL001) and answers once."""
    await issue(service, ODAWARA)
    await issue(service, DIGITAL)
    pseudonym = await issue(service, YAMAGATA)
    yamagata = AGENCIES[YAMAGATA]
    for requested_at in (at(15, 1), at(15, 9), at(14), at(1)):
        await service.inquire(yamagata, inquiry(pseudonym, FUKUOKA, requested_at=requested_at))
    await service.inquire(yamagata, inquiry(pseudonym, DIGITAL, requested_at=at(13)))
    await service.inquire(yamagata, inquiry(pseudonym, ODAWARA, requested_at=at(15)))
    router.answer_error = "RPL001"
    # 08:30 in Japan on the 16th is still the 15th in UTC.
    await service.inquire(
        yamagata, inquiry(pseudonym, ODAWARA, requested_at=at(16, 8, JST).replace(minute=30))
    )


def count(provider: str, code: str, day: int, counted: int) -> ErrorCount:
    return ErrorCount(
        provider_code=provider,
        provider_name=AGENCIES[provider].name_ja,
        error_code=code,
        day=dt.date(2026, 6, day),
        count=counted,
    )


async def check_counts(service: HubService, router: FakeRouter) -> None:
    await failing_network(service, router)
    week = await service.error_statistics(7, today=TODAY)
    assert (week.days, week.since, week.until) == (7, dt.date(2026, 6, 9), TODAY)
    assert week.counts == [
        count(FUKUOKA, "IDN004", 15, 2),
        # then by provider code (1419… デジタル庁, 2014… 小田原市, 2040… 福岡市)
        count(DIGITAL, "PRM001", 13, 1),
        count(ODAWARA, "RPL001", 15, 1),
        count(FUKUOKA, "IDN004", 14, 1),
    ]
    assert week.total == 5

    month = await service.error_statistics(31, today=TODAY)
    assert count(FUKUOKA, "IDN004", 1, 1) in month.counts
    assert month.total == 6

    today_only = await service.error_statistics(1, today=TODAY)
    assert today_only.since == TODAY
    assert today_only.counts == [
        count(FUKUOKA, "IDN004", 15, 2),
        count(ODAWARA, "RPL001", 15, 1),
    ]

    later = await service.error_statistics(7, today=dt.date(2026, 7, 31))
    assert (later.counts, later.total) == ([], 0)


def test_failed_inquiries_counted_by_provider_code_and_utc_day(tmp_path: Path) -> None:
    run(tmp_path, check_counts)


def test_utc_date_renders_per_backend_without_bound_parameters() -> None:
    query = select(utc_date(HubRecord.requested_at)).group_by(utc_date(HubRecord.requested_at))
    on_postgresql = query.compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert "CAST((provision_records.requested_at AT TIME ZONE 'UTC') AS DATE)" in str(on_postgresql)
    assert on_postgresql.params == {}
    on_sqlite = query.compile(dialect=sqlite.dialect())
    assert "date(provision_records.requested_at)" in str(on_sqlite)
    assert on_sqlite.params == {}


def test_postgresql_counts_by_utc_day_whatever_the_session_time_zone() -> None:
    """On PostgreSQL the day is the UTC date even when the session is in Japan time."""
    router = FakeRouter()

    async def go(url: str) -> None:
        engine = create_async_engine(
            url,
            connect_args={"server_settings": {"timezone": "Asia/Tokyo"}},
        )
        try:
            await migrate(engine, MIGRATIONS)
            service = HubService(
                sessionmaker(engine),
                Registry(dict(AGENCIES)),
                PermissionTable.load(
                    HubSettings.model_fields["permissions_file"].default, catalogue()
                ),
                catalogue(),
                router,  # type: ignore[arg-type]
                SECRET,
            )
            await check_counts(service, router)
        finally:
            await engine.dispose()

    with scratch_database("ipnsim_unit_stats") as url:
        asyncio.run(go(url))


def test_successful_inquiries_are_not_counted(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        result = await service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym, requested_at=at(15)))
        assert result.error is None
        statistics = await service.error_statistics(7, today=TODAY)
        assert (statistics.counts, statistics.total) == ([], 0)

    run(tmp_path, scenario)


@pytest.mark.parametrize("days", [1, 7, 366])
def test_default_today_is_the_current_utc_date(tmp_path: Path, days: int) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        pseudonym = await issue(service, YAMAGATA)
        now = dt.datetime.now(dt.UTC)
        await service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym, FUKUOKA, requested_at=now))
        statistics = await service.error_statistics(days)
        assert statistics.until == now.date()
        assert statistics.since == now.date() - dt.timedelta(days=days - 1)
        assert [(c.error_code, c.day, c.count) for c in statistics.counts] == [
            ("IDN004", now.date(), 1)
        ]

    run(tmp_path, scenario)


# --- ipnsim stats errors: the table ------------------------------------------------------


def statistics_of(*counts: ErrorCount) -> ErrorStatistics:
    return ErrorStatistics(
        days=7,
        since=dt.date(2026, 6, 9),
        until=TODAY,
        total=sum(count.count for count in counts),
        counts=list(counts),
    )


def test_providers_sorted_by_failures_with_their_codes_and_days() -> None:
    statistics = statistics_of(
        count(DIGITAL, "PRM001", 13, 3),
        count(FUKUOKA, "IDN004", 15, 2),
        count(FUKUOKA, "AVL001", 15, 1),
        count(FUKUOKA, "IDN004", 14, 2),
        count(ODAWARA, "RPL001", 15, 1),
    )
    providers = by_provider(statistics)
    assert [(p.code, p.total) for p in providers] == [(FUKUOKA, 5), (DIGITAL, 3), (ODAWARA, 1)]
    assert dict(providers[0].by_code) == {"IDN004": 4, "AVL001": 1}
    assert [c.day.day for c in providers[0].by_code_and_day["IDN004"]] == [15, 14]

    console = Console(width=200, record=True)
    console.print(errors_table(statistics))
    lines = console.export_text().splitlines()
    fukuoka = next(i for i, line in enumerate(lines) if "福岡市" in line)
    digital = next(i for i, line in enumerate(lines) if "デジタル庁" in line)
    odawara = next(i for i, line in enumerate(lines) if "小田原市" in line)
    assert fukuoka < digital < odawara
    assert "most failures" in lines[fukuoka] and "56%" in lines[fukuoka]
    assert not any("most failures" in line for line in lines[fukuoka + 1 :])
    idn004 = next(line for line in lines if "IDN004" in line)
    assert "06-15 ×2, 06-14 ×2" in idn004
    assert f"The provider '{FUKUOKA}' holds no pseudonym" in idn004


def test_no_provider_stands_out_on_a_tie() -> None:
    statistics = statistics_of(count(DIGITAL, "PRM001", 13, 2), count(FUKUOKA, "IDN004", 15, 2))
    console = Console(width=200, record=True)
    console.print(errors_table(statistics))
    assert "most failures" not in console.export_text()


def test_command_without_a_network_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(stats_app, ["errors", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no network in" in result.stderr
    assert "Traceback" not in result.output


def test_command_refuses_a_bad_number_of_days(tmp_path: Path) -> None:
    for days in ("0", "367", "many"):
        result = CliRunner().invoke(
            stats_app, ["errors", "--days", days, "--data-dir", str(tmp_path)]
        )
        assert result.exit_code == 2, result.output
        assert "--days" in result.stderr
