"""Replica freshness over real processes: the freshness block of an answer, a lagging provider
(登録遅延) that answers the old value until the simulated clock passes the due time, and the
freshness report over HTTP and ``ipnsim stats freshness``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import persona_population
from ipnsim.launcher import Launcher
from tests.e2e.conftest import ipnsim_cli, small_network_on

pytestmark = pytest.mark.e2e

JST = dt.timezone(dt.timedelta(hours=9))


@dataclass
class Net:
    launcher: Launcher
    data_dir: Path

    def url(self, slug: str) -> str:
        assert self.launcher.network is not None
        return self.launcher.network.agency(slug).url

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ipnsim_cli(self.data_dir, *args, columns=200)

    def clock_now(self) -> dt.datetime:
        shown = httpx.get(self.url(ODAWARA) + "/v1/clock", timeout=10).json()
        return dt.datetime.fromisoformat(shown["now"])

    def set_clock(self, at: dt.datetime) -> None:
        done = self.cli("clock", "set", at.astimezone(JST).isoformat(), "--json")
        assert done.returncode == 0, done.stderr


@pytest.fixture(params=["sqlite", "postgres"])
def net(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Net]:
    with small_network_on(request.param, tmp_path / "net", (YAMAGATA, ODAWARA)) as launcher:
        yield Net(launcher, tmp_path / "net")


def inquire(net: Net) -> dict[str, Any]:
    population = persona_population(seed=0)
    person = population.persona_person("moved_in")
    answer = httpx.post(
        net.url(YAMAGATA) + "/v1/inquiries",
        json={
            "atena_number": population.atena_number(YAMAGATA, person.person_key),
            "affair_code": "JM01000000121000",
            "procedure_code": "JT01010000000214",
            "info_type_code": LOCAL_TAX_INFO,
            "provider_code": agency_by_slug(ODAWARA).code,
            "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
        },
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["error"] is None, answer.text
    result: dict[str, Any] = answer.json()
    return result


def items(result: dict[str, Any]) -> dict[str, str | None]:
    return {item["code"]: item["value"] for item in result["items"]}


def report(net: Net) -> dict[str, Any]:
    done = net.cli("stats", "freshness", "--agency", ODAWARA, "--json")
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)
    assert isinstance(answer, dict)
    return answer


def test_a_lagging_provider_answers_the_old_value_until_its_replica_catches_up(net: Net) -> None:
    first = inquire(net)
    replica = first["replica"]
    assert replica["update_cycle_days"] == 365
    assert replica["stale"] is False and replica["age_days"] < 1
    assert replica["layout_version"] == 1 and replica["fiscal_year"] == 2026
    assert replica["registered_at"] and replica["updated_at"]
    old_income = items(first)["I002"]

    lagged = net.cli("registration-lag", ODAWARA, "--delay", "3600")
    assert lagged.returncode == 0, lagged.stderr
    assert "3600 seconds" in lagged.stdout

    record_id = replica["record_id"]
    odawara = net.url(ODAWARA)
    [current] = [
        r
        for r in httpx.get(odawara + "/v1/replicas", timeout=10).json()
        if r["record_id"] == record_id
    ]
    new_items = [
        {**item, "value": "9876543"} if item["code"] == "I002" else item
        for item in current["items"]
    ]
    content = {
        key: current[key]
        for key in ("layout_version", "fiscal_year", "publication_start", "publication_end")
    } | {"items": new_items}
    updated = httpx.put(odawara + f"/v1/replicas/{record_id}", json=content, timeout=10)
    assert updated.status_code == 200, updated.text
    due = dt.datetime.fromisoformat(updated.json()["pending_until"])

    # In between, the inquiry gets the old value, exactly as in life.
    assert items(inquire(net))["I002"] == old_income != "9876543"
    waiting = report(net)
    assert waiting["pending"] == 1
    assert waiting["registration_lag"]["mode"] == "delay"

    net.set_clock(due + dt.timedelta(minutes=1))
    caught_up = inquire(net)
    assert items(caught_up)["I002"] == "9876543"
    assert dt.datetime.fromisoformat(caught_up["replica"]["updated_at"]) == due
    assert report(net)["pending"] == 0

    # A year and more later, the answer is past the info type's cycle: flagged, not refused.
    net.set_clock(due + dt.timedelta(days=400))
    stale = inquire(net)
    assert stale["replica"]["stale"] is True and items(stale)["I002"] == "9876543"
    shown = net.cli(
        "inquire",
        *("--from", YAMAGATA, "--to", ODAWARA, "--procedure", "JT01010000000214"),
        *("--persona", "moved_in", "--fiscal-year", "2026"),
    )
    assert shown.returncode == 0, shown.stderr
    assert "stale:" in shown.stdout and "update cycle of 365 days" in shown.stdout
    later = report(net)
    [tax] = [entry for entry in later["info_types"] if entry["info_type_code"] == LOCAL_TAX_INFO]
    assert tax["stale"] == tax["replicas"] >= 1
    assert later["stale"] == sum(entry["stale"] for entry in later["info_types"])

    # A refused registration is counted; the table names the agency.
    refused = httpx.put(odawara + "/v1/replicas/NO-SUCH-RECORD", json=content, timeout=10)
    assert refused.status_code == 404, refused.text
    assert report(net)["failed_registrations"] == 1
    table = net.cli("stats", "freshness")
    assert table.returncode == 0, table.stderr
    assert "小田原市" in table.stdout and "1 failed registrations" in table.stdout
