"""The simulated clock (kept in a file, shared by processes) and the retention rules: the
7-year horizon, and the auditor's reading of signed retention purges."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ipnsim.clock import SimulatedClock
from network.protocol.log_audit import ProblemKind, audit_log, purged_inquiries
from network.protocol.models import LogEntry
from network.protocol.record_log import (
    DEFAULT_RETENTION_PURGE_SECONDS,
    RETENTION_PURGE_ENV,
    RecordLog,
    purge_forever,
    retention_horizon,
    retention_purge_seconds,
)
from tests.unit.test_log_audit import INQUIRIES, honest_log

UTC = dt.UTC


def test_a_set_clock_runs_on_from_the_time_it_was_set(tmp_path: Path) -> None:
    clock = SimulatedClock(tmp_path / "clock.json")
    assert not clock.view().simulated
    target = dt.datetime(2033, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    view = clock.set(target)
    assert view.simulated
    assert abs((clock.now() - target).total_seconds()) < 5
    # Another process reading the same file sees the same time, and so does a restart.
    other = SimulatedClock(tmp_path / "clock.json")
    assert abs((other.now() - target).total_seconds()) < 5
    other.reset()
    assert not clock.view().simulated
    assert abs((clock.now() - dt.datetime.now(UTC)).total_seconds()) < 5


def test_a_clock_needs_a_utc_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        SimulatedClock().set(dt.datetime(2033, 12, 1))


def test_the_horizon_is_seven_years_back_on_the_calendar() -> None:
    now = dt.datetime(2034, 3, 1, 0, 0, tzinfo=UTC)
    assert retention_horizon(now) == dt.datetime(2027, 3, 1, tzinfo=UTC)
    leap = dt.datetime(2032, 2, 29, 12, 0, tzinfo=UTC)
    assert retention_horizon(leap) == dt.datetime(2025, 2, 28, 12, 0, tzinfo=UTC)


def purge_of(log: RecordLog, entries: list[LogEntry], purged: list[int]) -> list[LogEntry]:
    """The entries with the events of ``purged`` removed (their leaf rows kept)."""
    return [
        entry.model_copy(update={"event": None}) if entry.leaf_index in purged else entry
        for entry in entries
    ]


def test_a_signed_purge_explains_missing_events() -> None:
    log = RecordLog("hub", Ed25519PrivateKey.generate(), object, object, [])
    entries, heads = honest_log(log)
    for index in range(5):
        log.tree.append(bytes.fromhex(entries[index].leaf_hash or ""))
    purge = log.sign_purge(1, dt.datetime(2027, 1, 1, tzinfo=UTC), [0, 1])
    key = log.public_key().public_key
    stored = purge_of(log, entries, [0, 1])

    verdict = audit_log("hub", "hub", stored, heads, key, purges=[purge])
    assert verdict.problem is None and verdict.purged_leaves == 2
    assert purged_inquiries(stored, [purge], key) == {INQUIRIES[0], INQUIRIES[1]}

    # Without the purge, the same log has a removed event.
    verdict = audit_log("hub", "hub", stored, heads, key)
    assert verdict.problem is not None and verdict.problem.kind is ProblemKind.REMOVED
    assert verdict.problem.leaf_index == 0

    # A purge whose list was altered (or signed by another key) is named.
    altered = purge.model_copy(update={"leaf_indexes": [0, 1, 2]})
    verdict = audit_log(
        "hub", "hub", purge_of(log, entries, [0, 1, 2]), heads, key, purges=[altered]
    )
    assert verdict.problem is not None and verdict.problem.kind is ProblemKind.BAD_SIGNATURE
    assert purged_inquiries(entries, [altered], key) == set()


def test_a_purge_covers_no_leaf_removed_besides() -> None:
    log = RecordLog("hub", Ed25519PrivateKey.generate(), object, object, [])
    entries, heads = honest_log(log)
    for index in range(5):
        log.tree.append(bytes.fromhex(entries[index].leaf_hash or ""))
    purge = log.sign_purge(1, dt.datetime(2027, 1, 1, tzinfo=UTC), [0])
    stored = purge_of(log, entries, [0, 3])
    verdict = audit_log("hub", "hub", stored, heads, log.public_key().public_key, purges=[purge])
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.leaf_index) == (ProblemKind.REMOVED, 3)


def test_the_scheduled_purge_interval_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(RETENTION_PURGE_ENV, raising=False)
    assert retention_purge_seconds() == DEFAULT_RETENTION_PURGE_SECONDS
    monkeypatch.setenv(RETENTION_PURGE_ENV, "2.5")
    assert retention_purge_seconds() == 2.5
    monkeypatch.setenv(RETENTION_PURGE_ENV, "0")
    assert retention_purge_seconds() == 0
    for wrong in ("soon", "-1", "nan"):
        monkeypatch.setenv(RETENTION_PURGE_ENV, wrong)
        with pytest.raises(ValueError, match=RETENTION_PURGE_ENV):
            retention_purge_seconds()


def test_the_scheduled_purge_runs_again_after_a_failure_and_never_when_off() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        third = asyncio.Event()

        async def purge() -> None:
            calls.append(len(calls))
            if len(calls) == 3:
                third.set()
            if len(calls) == 1:
                raise RuntimeError("the database went away")

        await purge_forever(purge, 0)  # off: returns at once, without a run
        assert calls == []
        task = asyncio.create_task(purge_forever(purge, 0.01))
        await asyncio.wait_for(third.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert calls[:3] == [0, 1, 2]
