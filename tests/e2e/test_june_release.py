"""The June release (6月公開) over real processes: before a fiscal year's release date the
provider answers a local-tax inquiry for that year with RPL010 (and every copy of the record
keeps it); after ``ipnsim clock set`` past the date the same inquiry gives the items."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import CARE_AFFAIR, CARE_TAX_PROCEDURE, LOCAL_TAX_INFO, MOVED_IN
from agencies.population import persona_population
from ipnsim.launcher import Launcher
from tests.e2e.conftest import small_network
from tests.e2e.test_cli import ipnsim

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    with small_network(tmp_path_factory.mktemp("june"), (YAMAGATA, ODAWARA)) as started:
        yield started


def set_clock(launcher: Launcher, when: str) -> None:
    done = ipnsim("clock", "set", when, "--json", data_dir=launcher.data_dir)
    assert done.returncode == 0, done.stdout + done.stderr


def inquire(launcher: Launcher, fiscal_year: int) -> dict[str, Any]:
    assert launcher.network is not None
    population = persona_population(seed=0)
    person = population.persona_person(MOVED_IN)
    answer = httpx.post(
        launcher.network.agency(YAMAGATA).url + "/v1/inquiries",
        json={
            "atena_number": population.atena_number(YAMAGATA, person.person_key),
            "affair_code": CARE_AFFAIR,
            "procedure_code": CARE_TAX_PROCEDURE,
            "info_type_code": LOCAL_TAX_INFO,
            "provider_code": agency_by_slug(ODAWARA).code,
            "condition": {"kind": "fiscal_year", "fiscal_year": fiscal_year},
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_local_tax_is_refused_before_the_release_date_and_provided_after(
    launcher: Launcher,
) -> None:
    assert launcher.network is not None
    try:
        set_clock(launcher, "2026-05-31T23:59:00+09:00")
        early = inquire(launcher, 2026)
        assert (early["status_detail"], early["status_info_type"]) == ("99", "99")
        assert early["error"]["code"] == "RPL010"
        assert early["error"]["retryable"] is True
        assert "2026-06-01" in early["error"]["message_en"]
        assert "２０２６" in early["error"]["message_ja"]
        assert early["items"] == []
        # The previous fiscal year was released a year ago.
        previous = inquire(launcher, 2025)
        assert previous["error"] is None
        assert {i["code"]: i["value"] for i in previous["items"]}["I001"] == "2025"

        # Every copy of the refused inquiry's record keeps the code.
        inquiry = early["inquiry_id"]
        hub = httpx.get(
            launcher.network.hub.url + f"/v1/records/{inquiry}",
            headers={"Authorization": f"Bearer {launcher.network.admin_token}"},
            timeout=10,
        )
        assert hub.status_code == 200, hub.text
        assert hub.json()["error_code"] == "RPL010"
        for slug in (YAMAGATA, ODAWARA):
            records = ipnsim(
                "records",
                "--agency",
                slug,
                "--inquiry",
                inquiry,
                "--json",
                data_dir=launcher.data_dir,
            )
            assert records.returncode == 0, records.stderr
            [record] = json.loads(records.stdout)
            assert record["error_code"] == "RPL010"

        set_clock(launcher, "2026-06-01T00:00:00+09:00")
        released = inquire(launcher, 2026)
        assert released["error"] is None, released["error"]
        assert (released["status_detail"], released["status_info_type"]) == ("09", "01")
        assert {i["code"]: i["value"] for i in released["items"]}["I001"] == "2026"
    finally:
        done = ipnsim("clock", "reset", data_dir=launcher.data_dir)
        assert done.returncode == 0, done.stderr


def test_the_june_scenario_passes_and_puts_the_clock_back(launcher: Launcher) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "june_release.yaml"
    done = ipnsim("scenario", "run", str(scenario), data_dir=launcher.data_dir, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/1 scenarios passed" in done.stdout
    shown = ipnsim("clock", "show", "--json", data_dir=launcher.data_dir)
    assert not any(service["simulated"] for service in json.loads(shown.stdout))
