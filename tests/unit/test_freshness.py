"""Replica freshness: staleness against the update cycle, the registration lag (登録遅延) queue
under the simulated clock, and the freshness report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console
from typer.testing import CliRunner

from intermediate_server.freshness import freshness
from intermediate_server.schemas import (
    AgeBuckets,
    FreshnessReport,
    InfoTypeFreshness,
    LagMode,
    RegistrationLag,
    ReplicaContent,
)
from intermediate_server.service import IntermediateService
from ipnsim.cli import app as cli_app
from ipnsim.clock import clock
from ipnsim.stats_commands import freshness_table, stats_app
from ipnsim.storage import utcnow
from tests.unit.fake_hub import FakeHub
from tests.unit.raising import expect
from tests.unit.test_intermediate_service import (
    provision,
    register,
    replica,
    run,
    tax_items,
)

JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture(autouse=True)
def real_clock_after() -> Iterator[None]:
    yield
    clock.reset()


def test_an_answer_older_than_the_cycle_is_stale() -> None:
    updated = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert freshness(updated, updated + dt.timedelta(days=30), 30) == (30.0, False)
    age, stale = freshness(updated, updated + dt.timedelta(days=30, hours=1), 30)
    assert stale and age == pytest.approx(30.0417, abs=1e-3)
    assert freshness(updated, updated + dt.timedelta(days=999), None)[1] is False


def test_lag_due_times() -> None:
    received = dt.datetime(2026, 6, 15, 10, 0, tzinfo=JST)
    assert RegistrationLag.parse("delay:90").due(received) == received + dt.timedelta(seconds=90)
    nightly = RegistrationLag.parse("nightly:2")
    assert nightly.mode is LagMode.NIGHTLY
    assert nightly.due(received) == dt.datetime(2026, 6, 16, 2, 0, tzinfo=JST)
    early = dt.datetime(2026, 6, 15, 1, 59, tzinfo=JST)
    assert nightly.due(early) == dt.datetime(2026, 6, 15, 2, 0, tzinfo=JST)
    assert RegistrationLag.parse("none").due(received) == received
    with pytest.raises(ValueError, match="not a registration lag"):
        RegistrationLag.parse("weekly:1")
    with pytest.raises(ValidationError, match="needs delay_seconds"):
        RegistrationLag(mode=LagMode.DELAY)
    with pytest.raises(ValidationError, match="belongs to mode 'nightly'"):
        RegistrationLag(mode=LagMode.DELAY, delay_seconds=5, nightly_hour=3)


def test_stale_flag_travels_in_the_answer(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await register(service, acquire_pseudonym=True)
        await service.register_replica(replica("R1"))
        fresh = await service.provide(provision(pseudonym))
        assert fresh.replica is not None
        assert (fresh.replica.update_cycle_days, fresh.replica.stale) == (365, False)
        assert fresh.replica.age_days is not None and fresh.replica.age_days < 1
        clock.set(utcnow() + dt.timedelta(days=400))
        old = await service.provide(provision(pseudonym))
        assert old.error is None and old.items  # a flag, not an error
        assert old.replica is not None and old.replica.stale
        assert old.replica.age_days is not None and old.replica.age_days >= 400
        report = await service.freshness_report()
        [tax] = report.info_types
        assert (tax.replicas, tax.stale, tax.ages.older) == (1, 1, 1)

    run(tmp_path, scenario)


def test_a_lagging_agency_answers_the_old_value_until_the_change_is_due(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        pseudonym = await register(service, acquire_pseudonym=True)
        await service.register_replica(replica("R1"))
        await service.set_registration_lag(RegistrationLag(mode=LagMode.DELAY, delay_seconds=3600))
        assert (await service.registration_lag()).delay_seconds == 3600

        content = ReplicaContent(
            layout_version=1,
            fiscal_year=2026,
            publication_start=dt.date(2026, 6, 1),
            items=tax_items(I001="2026", I002="9900000"),
        )
        before = utcnow()
        view = await service.update_replica("R1", content)
        assert view.pending_until is not None
        assert view.pending_until - before >= dt.timedelta(seconds=3599)
        answer = await service.provide(provision(pseudonym))
        assert {item.code: item.value for item in answer.items}["I002"] == "3500000"
        report = await service.freshness_report()
        assert (report.pending, report.info_types[0].pending) == (1, 1)

        new = await service.register_replica(replica("R2", fiscal_year=2025))
        assert new.pending_until == new.registered_at
        assert [row.record_id for row in await service.replicas(None)] == ["R1"]
        await expect(service.register_replica(replica("R2", fiscal_year=2025)), "RPL002")

        clock.set(utcnow() + dt.timedelta(hours=2))
        answer = await service.provide(provision(pseudonym))
        assert {item.code: item.value for item in answer.items}["I002"] == "9900000"
        assert answer.replica is not None
        assert answer.replica.updated_at == view.pending_until
        assert [row.record_id for row in await service.replicas(None)] == ["R1", "R2"]
        report = await service.freshness_report()
        assert (report.pending, report.replicas) == (0, 2)

    run(tmp_path, scenario)


def test_failed_registrations_are_counted(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: FakeHub) -> None:
        await register(service, acquire_pseudonym=True)
        await service.register_replica(replica("R1"))
        await expect(service.register_replica(replica("R1")), "RPL002")
        await expect(service.register_replica(replica("R3", items=tax_items(I001="x"))), "RPL004")
        await service.set_registration_lag(RegistrationLag(mode=LagMode.NIGHTLY, nightly_hour=3))
        await service.delete_replica("R1")
        await expect(service.delete_replica("R1"), "RPL003")  # already queued for deletion
        # Registered again in the queue after the queued deletion: fine.
        await service.register_replica(replica("R1"))
        report = await service.freshness_report()
        assert report.failed_registrations == 3
        failed = {entry.info_type_code: entry.failed_registrations for entry in report.info_types}
        assert failed == {"TM00000000000002": 2, "(unknown)": 1}
        assert report.pending == 2
        assert report.registration_lag.nightly_hour == 3
        clock.set(utcnow() + dt.timedelta(days=1, hours=1))
        report = await service.freshness_report()
        assert (report.pending, report.replicas, report.failed_registrations) == (0, 1, 3)

    run(tmp_path, scenario)


def test_freshness_commands_without_a_network_exit_2(tmp_path: Path) -> None:
    for app, args in (
        (stats_app, ["freshness"]),
        (cli_app, ["registration-lag", "odawara", "--delay", "60"]),
    ):
        result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 2, result.output
        assert "no network in" in result.stderr
        assert "Traceback" not in result.output
    both = CliRunner().invoke(
        cli_app, ["registration-lag", "odawara", "--delay", "60", "--off", "--data-dir", "x"]
    )
    assert both.exit_code == 2 and "give one of" in both.stderr
    late = CliRunner().invoke(cli_app, ["registration-lag", "odawara", "--nightly", "24"])
    assert late.exit_code == 2 and "less than or equal to 23" in late.stderr


def test_the_freshness_table_shows_each_agency_and_info_type() -> None:
    report = FreshnessReport(
        agency_code="2014206900000000",
        agency_name="小田原市",
        now=dt.datetime(2026, 6, 15, tzinfo=dt.UTC),
        registration_lag=RegistrationLag(mode=LagMode.NIGHTLY, nightly_hour=2),
        replicas=3,
        stale=1,
        pending=2,
        failed_registrations=1,
        info_types=[
            InfoTypeFreshness(
                info_type_code="TM00000000000002",
                name_en="Local-tax information",
                update_cycle_days=365,
                replicas=3,
                stale=1,
                ages=AgeBuckets(under_1_day=2, older=1),
                oldest_update=None,
                newest_update=None,
                pending=2,
                failed_registrations=1,
            )
        ],
    )
    console = Console(width=250, record=True)
    console.print(freshness_table([report]))
    text = console.export_text()
    assert "小田原市 2014206900000000 (nightly at 2:00 JST)" in text
    assert "Local-tax information TM00000000000002" in text
