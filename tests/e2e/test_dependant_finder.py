"""The duplicate-dependant finder (扶養重複照会) over real processes: for each of the three
finder personas 山形市 learns exactly the municipalities seeded as claiming them, never a
taxpayer; every exchange leaves its three records; the permission table refuses an agency
that may not ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agencies.catalogue import FUKUOKA, KANAGAWA, ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import FINDER_CLAIMANTS, INTRACTABLE_DISEASE
from agencies.population import Population, persona_population
from ipnsim.launcher import Launcher
from tests.e2e.conftest import small_network
from tests.e2e.test_cli import ipnsim

pytestmark = pytest.mark.e2e

FISCAL_YEAR = 2026


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    slugs = (YAMAGATA, ODAWARA, FUKUOKA, KANAGAWA)
    with small_network(tmp_path_factory.mktemp("finder"), slugs) as started:
        yield started


@pytest.fixture(scope="module")
def population() -> Population:
    return persona_population(seed=0)


def find(launcher: Launcher, persona: str, agency: str = YAMAGATA) -> Any:
    done = ipnsim(
        "dependants", "find", "--agency", agency, "--persona", persona,
        "--year", str(FISCAL_YEAR), "--json",
        data_dir=launcher.data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("persona", list(FINDER_CLAIMANTS))
def test_the_finder_returns_exactly_the_seeded_municipalities(
    launcher: Launcher, population: Population, persona: str
) -> None:
    answer = find(launcher, persona)

    expected = sorted(agency_by_slug(slug).code for slug in FINDER_CLAIMANTS[persona])
    assert [m["code"] for m in answer["claimed_by"]] == expected
    assert answer["unanswered"] == []
    assert answer["fiscal_year"] == FISCAL_YEAR
    # The seed agrees: the claims of the persona outside Yamagata, for the fiscal year.
    person = population.persona_person(persona).person_key
    seeded = {
        d.agency_slug
        for d in population.dependencies
        if d.dependant_person_key == person
        and d.fiscal_year == FISCAL_YEAR
        and d.agency_slug != YAMAGATA
    }
    assert sorted(agency_by_slug(slug).code for slug in seeded) == expected
    # Never the requester itself, nor the prefecture (not a holder of local tax).
    asked = {m["code"] for m in answer["claimed_by"] + answer["not_claimed_by"]}
    assert agency_by_slug(YAMAGATA).code not in asked
    assert agency_by_slug(KANAGAWA).code not in asked


def test_no_other_claim_still_asks_the_municipality_that_knows_the_person(
    launcher: Launcher,
) -> None:
    answer = find(launcher, "dependant_claimed_nowhere_else")
    assert answer["claimed_by"] == []
    assert [m["code"] for m in answer["not_claimed_by"]] == [agency_by_slug(ODAWARA).code]


def test_every_exchange_leaves_three_records_and_no_taxpayer(
    launcher: Launcher, population: Population
) -> None:
    assert launcher.network is not None
    answer = find(launcher, "dependant_claimed_in_two_others")
    hub_headers = {"Authorization": f"Bearer {launcher.network.admin_token}"}
    taxpayers = {
        population.atena_number(d.agency_slug, d.taxpayer_person_key)
        for d in population.dependencies
    }
    for municipality in answer["claimed_by"]:
        inquiry = municipality["inquiry_id"]
        provider = next(
            a.name for a in launcher.network.agencies if a.agency_code == municipality["code"]
        )
        hub = httpx.get(
            launcher.network.hub.url + f"/v1/records/{inquiry}", headers=hub_headers, timeout=10
        )
        assert hub.status_code == 200, hub.text
        assert hub.json()["info_type_code"] == "TM00000000000063"
        assert hub.json()["procedure_code"] == "JT01610000000003"
        for slug, side in ((YAMAGATA, "requester"), (provider, "provider")):
            done = ipnsim(
                "records", "--agency", slug, "--inquiry", inquiry, "--json",
                data_dir=launcher.data_dir,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            [record] = json.loads(done.stdout)
            assert record["side"] == side
            assert record["status_detail"] == "09" and record["error_code"] is None
            assert record["item_codes"] == ["I001", "I002"]
    # What Yamagata's business system receives names no taxpayer and no replica.
    shown = json.dumps(answer)
    assert not any(atena in shown for atena in taxpayers)
    assert "record_id" not in shown


def test_an_agency_the_permission_table_does_not_allow_is_refused(launcher: Launcher) -> None:
    done = ipnsim(
        "dependants", "find", "--agency", KANAGAWA, "--persona", INTRACTABLE_DISEASE,
        "--year", str(FISCAL_YEAR),
        data_dir=launcher.data_dir,
    )  # fmt: skip
    assert done.returncode == 1
    assert "PRM001" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
