"""The console's network clock (``/console/api/clock``) over real processes.

Every service here keeps its simulated clock in a file of its own (as separate containers do),
so an agency's clock moves only when the hub asks that agency's intermediate server over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import FUKUOKA, ODAWARA, YAMAGATA, agency_by_slug
from ipnsim.clock import CLOCK_FILE_ENV
from ipnsim.launcher import Launcher, ServiceInfo, find_free_port_block

pytestmark = pytest.mark.e2e

SLUGS = (YAMAGATA, ODAWARA, FUKUOKA)
MAY_25 = dt.datetime(2026, 5, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))


class OwnClocks(Launcher):
    """A launcher that gives every service a clock file of its own."""

    def _environment(self, service: ServiceInfo) -> dict[str, str]:
        env = super()._environment(service)
        if CLOCK_FILE_ENV in env:
            env[CLOCK_FILE_ENV] = str((self.data_dir / f"clock-{service.name}.json").resolve())
        return env


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launcher = OwnClocks(
        data_dir=tmp_path_factory.mktemp("console-clock"),
        port=find_free_port_block(len(SLUGS) + 2),
        agencies=[agency_by_slug(slug) for slug in SLUGS],
        seed=0,
        population=1,
        provider_timeout=2.0,
    )
    try:
        launcher.start()
        yield launcher
    finally:
        launcher.stop()


def hub_url(launcher: Launcher) -> str:
    assert launcher.network is not None
    return launcher.network.hub.url


def own_clocks(launcher: Launcher) -> dict[str, dict[str, Any]]:
    """Each service's clock as the service itself reports it (``/v1/clock``), by name."""
    assert launcher.network is not None
    operator = {"Authorization": f"Bearer {launcher.network.admin_token}"}
    shown = {}
    for service in [launcher.network.hub, *launcher.network.agencies]:
        headers = operator if service.role == "hub" else {}
        answer = httpx.get(service.url + "/v1/clock", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        shown[service.name] = answer.json()
    return shown


def shows(view: dict[str, Any], when: dt.datetime) -> bool:
    """Whether a clock view shows ``when`` (give or take the seconds the test takes)."""
    now = dt.datetime.fromisoformat(view["now"])
    return bool(view["simulated"]) and abs((now - when).total_seconds()) < 60


def test_console_moves_the_clock_of_the_hub_and_of_every_agency_then_resets_it(
    launcher: Launcher,
) -> None:
    url = hub_url(launcher) + "/console/api/clock"
    before = httpx.get(url, timeout=10).json()
    assert before["complete"] is True
    assert not before["hub"]["simulated"]
    assert [a["agency"]["code"] for a in before["agencies"]] == [
        agency_by_slug(slug).code for slug in SLUGS
    ]
    try:
        moved = httpx.put(url, json={"now": MAY_25.isoformat()}, timeout=10)
        assert moved.status_code == 200, moved.text
        answer = moved.json()
        assert answer["complete"] is True
        assert shows(answer["hub"], MAY_25)
        assert all(shows(agency["clock"], MAY_25) for agency in answer["agencies"])
        clocks = own_clocks(launcher)
        assert set(clocks) == {"hub", *SLUGS}
        assert all(shows(view, MAY_25) for view in clocks.values()), clocks
        for name in clocks:
            assert Path(launcher.data_dir, f"clock-{name}.json").exists()

        # Back to an offset, as the console restores a clock that was already simulated.
        offset = -3 * 24 * 3600.0
        again = httpx.put(url, json={"offset_seconds": offset}, timeout=10).json()
        assert again["complete"] is True
        for view in [again["hub"], *(a["clock"] for a in again["agencies"])]:
            assert abs(view["offset_seconds"] - offset) < 60
        assert all(abs(v["offset_seconds"] - offset) < 60 for v in own_clocks(launcher).values())
    finally:
        reset = httpx.delete(url, timeout=10)
    assert reset.status_code == 200, reset.text
    assert reset.json()["complete"] is True
    assert not reset.json()["hub"]["simulated"]
    assert not any(view["simulated"] for view in own_clocks(launcher).values())
    after = httpx.get(url, timeout=10).json()
    assert after["complete"] is True
    assert not any(agency["clock"]["simulated"] for agency in after["agencies"])


def test_console_clock_refuses_bad_settings_with_a_clear_error(launcher: Launcher) -> None:
    url = hub_url(launcher) + "/console/api/clock"
    for body in (
        {"now": "2026-05-25T09:00:00"},  # no UTC offset
        {"now": MAY_25.isoformat(), "offset_seconds": 0},
        {},
        {"offset_seconds": 1e12},
        {"now": "tomorrow"},
        {"now": MAY_25.isoformat(), "token": "x"},
    ):
        refused = httpx.put(url, json=body, timeout=10)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["code"] == "VAL001", body
    assert not any(view["simulated"] for view in own_clocks(launcher).values())
    # The operator's own clock on the hub still wants the admin token.
    bare = httpx.put(hub_url(launcher) + "/v1/clock", json={"now": MAY_25.isoformat()})
    assert bare.status_code == 401
    assert bare.json()["code"] == "AUT001"


def test_an_agency_out_of_reach_is_reported_and_the_others_still_move(
    launcher: Launcher,
) -> None:
    """Runs last: it stops an agency's intermediate server."""
    url = hub_url(launcher) + "/console/api/clock"
    launcher.stop_service(FUKUOKA)
    try:
        answer = httpx.put(url, json={"now": MAY_25.isoformat()}, timeout=30).json()
        assert answer["complete"] is False
        by_code = {agency["agency"]["code"]: agency for agency in answer["agencies"]}
        down = by_code[agency_by_slug(FUKUOKA).code]
        assert down["clock"] is None
        assert down["error"]["code"] == "AVL001"
        for slug in (YAMAGATA, ODAWARA):
            assert shows(by_code[agency_by_slug(slug).code]["clock"], MAY_25)
        assert shows(answer["hub"], MAY_25)
    finally:
        reset = httpx.delete(url, timeout=30).json()
    assert reset["complete"] is False
    assert not reset["hub"]["simulated"]
    assert all(
        agency["clock"] is None or not agency["clock"]["simulated"] for agency in reset["agencies"]
    )
