"""Retention (保存期間, 7 years) under the simulated clock, over real processes, on SQLite and
PostgreSQL: the purge removes only expired records — at the hub and at both intermediate
servers, by ``ipnsim records purge`` or by the scheduled purge —, the database refuses any other
removal, and ``ipnsim records verify`` still verifies every log after a purge — and still names
tampering."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import persona_population
from ipnsim.launcher import Launcher
from ipnsim.sandboxes import SANDBOX_HEADER
from network.protocol.record_log import RETENTION_PURGE_ENV
from tests.e2e.conftest import ipnsim_cli, small_network_on

pytestmark = pytest.mark.e2e


@dataclass
class Net:
    launcher: Launcher
    data_dir: Path
    backend: str

    @property
    def hub(self) -> str:
        assert self.launcher.network is not None
        return self.launcher.network.hub.url

    @property
    def operator(self) -> dict[str, str]:
        assert self.launcher.network is not None
        return {"Authorization": f"Bearer {self.launcher.network.admin_token}"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ipnsim_cli(self.data_dir, *args)

    def sql(self, statement: str, tamper: bool = False, service: str = "hub") -> None:
        """Run one statement on a service's database (the hub's, or an intermediate server's
        by its name; as an attacker, triggers dropped, when ``tamper``); a refusal is raised as
        the driver's error."""
        drops = [
            f"DROP TRIGGER IF EXISTS {table}_{what}"
            + (f" ON {table}" if self.backend == "postgres" else "")
            for table in ("provision_records", "addenda", "record_outcomes", "retention_purges")
            for what in ("no_update", "no_delete", "append_only")
        ]
        if self.backend == "sqlite":
            connection = sqlite3.connect(self.data_dir / f"{service}.sqlite3", isolation_level=None)
            try:
                for drop in drops if tamper else []:
                    connection.execute(drop)
                connection.execute(statement)
            finally:
                connection.close()
            return
        server = self.launcher.postgres_url
        assert server is not None
        database = next(name for name in self.launcher.database_names() if name.endswith(service))
        url = make_url(server).set(drivername="postgresql", database=database)

        async def go() -> None:
            connection = await asyncpg.connect(url.render_as_string(hide_password=False))
            try:
                for drop in drops if tamper else []:
                    await connection.execute(drop)
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(go())


@contextmanager
def started(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Net]:
    with small_network_on(request.param, tmp_path / "net", (YAMAGATA, ODAWARA)) as launcher:
        yield Net(launcher, tmp_path / "net", request.param)


@pytest.fixture(params=["sqlite", "postgres"])
def net(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Net]:
    with started(request, tmp_path) as network:
        yield network


@pytest.fixture(params=["sqlite", "postgres"])
def scheduled_net(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Net]:
    """A network whose services purge by themselves every second."""
    monkeypatch.setenv(RETENTION_PURGE_ENV, "1")
    with started(request, tmp_path) as network:
        yield network


def inquire(net: Net, declare: bool = False, sandbox: str | None = None) -> uuid.UUID:
    population = persona_population(seed=0)
    person = population.persona_person("moved_in")
    assert net.launcher.network is not None
    yamagata = net.launcher.network.agency(YAMAGATA).url
    answer = httpx.post(
        yamagata + "/v1/inquiries",
        json={
            "atena_number": population.atena_number(YAMAGATA, person.person_key),
            "affair_code": "JM01000000121000",
            "procedure_code": "JT01010000000214",
            "info_type_code": LOCAL_TAX_INFO,
            "provider_code": agency_by_slug(ODAWARA).code,
            "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
        },
        headers=in_sandbox(sandbox),
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["error"] is None, answer.text
    inquiry = uuid.UUID(answer.json()["inquiry_id"])
    if declare:
        declared = httpx.post(
            yamagata + f"/v1/inquiries/{inquiry}/mistaken",
            json={"reason": "同姓同名の別人", "declared_by_user": "clerk01"},
            headers=in_sandbox(sandbox),
            timeout=30,
        )
        assert declared.status_code == 200, declared.text
    return inquiry


def verify(net: Net) -> tuple[int, dict[str, Any]]:
    done = net.cli("records", "verify", "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def hub_log(report: dict[str, Any]) -> dict[str, Any]:
    return service_log(report, "hub")


def agency_name(net: Net, slug: str) -> str:
    assert net.launcher.network is not None
    return net.launcher.network.agency(slug).name


def service_log(report: dict[str, Any], service: str) -> dict[str, Any]:
    [log] = [log for log in report["logs"] if log["service"] == service]
    return log


def purge(net: Net) -> dict[str, dict[str, Any]]:
    """``ipnsim records purge --json``: what each service purged, by service name."""
    done = net.cli("records", "purge", "--json")
    assert done.returncode == 0, done.stderr
    return {result["service"]: result for result in json.loads(done.stdout)}


def in_sandbox(sandbox: str | None) -> dict[str, str]:
    return {} if sandbox is None else {SANDBOX_HEADER: sandbox}


def copies(net: Net, inquiry: uuid.UUID, sandbox: str | None = None) -> dict[str, bool]:
    """Which services still keep a copy of the inquiry's record (in the sandbox, if given)."""
    assert net.launcher.network is not None
    hub = httpx.get(
        net.hub + f"/v1/records/{inquiry}",
        headers=net.operator | in_sandbox(sandbox),
        timeout=10,
    )
    assert hub.status_code in (200, 404), hub.text
    kept = {"hub": hub.status_code == 200}
    for slug in (YAMAGATA, ODAWARA):
        records = httpx.get(
            net.launcher.network.agency(slug).url + "/v1/records",
            params={"inquiry_id": str(inquiry)},
            headers=in_sandbox(sandbox),
            timeout=10,
        )
        assert records.status_code == 200, records.text
        kept[slug] = bool(records.json())
    return kept


def set_clock(net: Net, when: str) -> None:
    done = net.cli("clock", "set", when, "--json")
    assert done.returncode == 0, done.stderr


def test_the_purge_removes_only_expired_records_and_the_log_still_verifies(net: Net) -> None:
    old = inquire(net, declare=True)  # now (2026): record and addendum
    set_clock(net, "2030-06-01T09:00:00+09:00")
    recent = inquire(net, declare=True)  # inquired in 2030 by the simulated clock
    record = httpx.get(net.hub + f"/v1/records/{recent}", headers=net.operator, timeout=10)
    assert record.json()["requested_at"].startswith("2030-06-01")

    # Nothing is seven years old yet, at any of the three services.
    results = purge(net)
    assert set(results) == {"hub", agency_name(net, YAMAGATA), agency_name(net, ODAWARA)}
    assert all(result["purged_records"] == 0 for result in results.values())

    # The clock survives a restart of the hub.
    net.launcher.stop_service("hub")
    net.launcher.start_service("hub")
    net.launcher.wait_healthy()
    shown = httpx.get(net.hub + "/v1/clock", headers=net.operator, timeout=10).json()
    assert shown["simulated"] and shown["now"].startswith("2030-06-01")

    set_clock(net, "2034-03-01T00:00:00+09:00")  # horizon 2027-03-01: only the first expired
    results = purge(net)
    for result in results.values():  # the hub's copy and the requester's and provider's
        assert result["purged_records"] == 1 and result["purged_leaves"] == 2  # + addendum
        assert result["horizon"].startswith("2027-02-28T15:0")
        assert result["purge"]["purge_number"] == 1
    gone = httpx.get(net.hub + f"/v1/records/{old}", headers=net.operator, timeout=10)
    assert (gone.status_code, gone.json()["code"]) == (404, "REC001")
    assert copies(net, old) == {"hub": False, YAMAGATA: False, ODAWARA: False}
    assert copies(net, recent) == {"hub": True, YAMAGATA: True, ODAWARA: True}
    again = purge(net)
    assert all(
        result["purged_records"] == 0 and result["purge"] is None for result in again.values()
    )
    shown = net.cli("records", "purge")  # the summary, one row per service
    assert shown.returncode == 0, shown.stderr
    for service in ("hub", agency_name(net, YAMAGATA), agency_name(net, ODAWARA)):
        assert service in shown.stdout
    assert "2027-02-28T15:0" in shown.stdout
    # Each intermediate server lists its signed purge like the hub.
    assert net.launcher.network is not None
    listed = httpx.get(
        net.launcher.network.agency(ODAWARA).url + "/v1/log/purges", timeout=10
    ).json()
    assert [entry["purge_number"] for entry in listed] == [1]
    assert listed[0]["log_id"] == agency_by_slug(ODAWARA).code

    status, report = verify(net)
    assert status == 0, report
    assert report["disagreements"] == []
    for log in report["logs"]:
        assert (log["purged_leaves"], log["problem"]) == (2, None), log
        assert log["stored_leaves"] == log["tree_size"]

    # The database still refuses any other change: the recent record, an update, the horizon.
    for statement in (
        f"DELETE FROM provision_records WHERE inquiry_id = '{recent}'",
        "UPDATE provision_records SET requester_code = '0'",
        "DELETE FROM retention_horizon",
        "UPDATE retention_horizon SET horizon = horizon - INTERVAL '10 years'"
        if net.backend == "postgres"
        else "UPDATE retention_horizon SET horizon = '2001-01-01 00:00:00.000000'",
    ):
        with pytest.raises((sqlite3.IntegrityError, asyncpg.RaiseError)):
            net.sql(statement)
    # …and so do the intermediate servers' databases, on the copies and their addenda.
    for service in (agency_name(net, YAMAGATA), agency_name(net, ODAWARA)):
        for statement in (
            f"DELETE FROM provision_records WHERE inquiry_id = '{recent}'",
            "DELETE FROM addenda",
            "UPDATE provision_records SET requester_code = '0'",
            "DELETE FROM retention_horizon",
            "DELETE FROM retention_purges",
        ):
            with pytest.raises((sqlite3.IntegrityError, asyncpg.RaiseError)):
                net.sql(statement, service=service)
    assert copies(net, recent) == {"hub": True, YAMAGATA: True, ODAWARA: True}


def test_tampering_after_a_purge_is_still_named(net: Net) -> None:
    old = inquire(net)
    set_clock(net, "2030-06-01T09:00:00+09:00")
    recent = inquire(net)
    set_clock(net, "2034-03-01T00:00:00+09:00")
    assert all(result["purged_records"] == 1 for result in purge(net).values())
    status, _ = verify(net)
    assert status == 0

    # Someone drops the triggers and deletes a record that had not expired, at the hub and at
    # the provider's intermediate server.
    provider = agency_name(net, ODAWARA)
    net.sql(f"DELETE FROM provision_records WHERE inquiry_id = '{recent}'", tamper=True)
    net.sql(
        f"DELETE FROM provision_records WHERE inquiry_id = '{recent}'",
        tamper=True,
        service=provider,
    )
    status, report = verify(net)
    assert status == 1
    for service in ("hub", provider):
        problem = service_log(report, service)["problem"]
        assert problem["kind"] == "removed" and problem["inquiry_id"] == str(recent), service
    assert service_log(report, agency_name(net, YAMAGATA))["problem"] is None

    # …and forges a purge to cover it: its signature does not verify.
    leaf = httpx.get(
        net.hub + "/v1/log/proof/inclusion",
        params={"inquiry_id": str(recent)},
        timeout=10,
    ).json()["leaf_index"]
    net.sql(
        "INSERT INTO retention_purges (purge_number, horizon, purged_at, tree_size, "
        f"leaf_indexes, signature) VALUES (2, 'x', 'x', 100, '[{leaf}]', 'AAAA')",
        tamper=True,
    )
    status, report = verify(net)
    assert status == 1
    assert hub_log(report)["problem"]["kind"] == "bad_signature"
    assert str(old) not in json.dumps(report["disagreements"])


def test_the_scheduled_purge_removes_expired_records_with_no_call(scheduled_net: Net) -> None:
    net = scheduled_net
    old = inquire(net, declare=True)
    in_box = inquire(net, sandbox="retention")  # a sandbox's world purges by itself too
    set_clock(net, "2030-06-01T09:00:00+09:00")
    recent = inquire(net)
    assert copies(net, in_box, "retention") == {"hub": True, YAMAGATA: True, ODAWARA: True}
    set_clock(net, "2034-03-01T00:00:00+09:00")  # nobody runs 'ipnsim records purge'
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        any(copies(net, old).values()) or any(copies(net, in_box, "retention").values())
    ):
        time.sleep(0.5)
    assert copies(net, old) == {"hub": False, YAMAGATA: False, ODAWARA: False}
    assert copies(net, in_box, "retention") == {"hub": False, YAMAGATA: False, ODAWARA: False}
    assert copies(net, recent) == {"hub": True, YAMAGATA: True, ODAWARA: True}
    status, report = verify(net)
    assert status == 0, report
    for log in report["logs"]:
        assert (log["purged_leaves"], log["problem"]) == (2, None), log
    # The scheduled runs since found nothing more: one purge at each service.
    assert all(result["purge"] is None for result in purge(net).values())
