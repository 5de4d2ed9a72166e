"""An agency host opens agencies on first use and keeps a bounded number open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from intermediate_server.host import (
    AgencyHost,
    AgencyHostSettings,
    HostedAgency,
    create_host_app,
    hosted_agencies_json,
)

CODES = [f"20{number:06d}00000000" for number in (11002, 12025, 16926)]


def hosted(tmp_path: Path) -> list[HostedAgency]:
    return [
        HostedAgency.model_validate(
            {
                "code": code,
                "name_ja": f"機関{index}",
                "credential": f"credential-of-agency-{index}",
                "database_url": f"sqlite+aiosqlite:///{tmp_path / code}.sqlite3",
            }
        )
        for index, code in enumerate(CODES)
    ]


@pytest.fixture(autouse=True)
def hub_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPNSIM_AGENCY_HUB_URL", "http://127.0.0.1:9")


def test_agencies_open_on_first_use_and_the_least_recently_used_idle_one_closes(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        host = AgencyHost({a.code: a for a in hosted(tmp_path)}, max_open=2)
        try:
            first = await host.acquire(CODES[0])
            host.release(first)
            assert list(host.opened) == [CODES[0]]
            assert (tmp_path / f"{CODES[0]}.sqlite3").exists()
            # Used again: no second open.
            host.release(await host.acquire(CODES[0]))
            assert host.opens == 1
            host.release(await host.acquire(CODES[1]))
            host.release(await host.acquire(CODES[2]))
            assert list(host.opened) == [CODES[1], CODES[2]]
            # The closed one opens again from its database.
            host.release(await host.acquire(CODES[0]))
            assert list(host.opened) == [CODES[2], CODES[0]]
            assert host.opens == 4
        finally:
            await host.close()
        assert not host.opened

    asyncio.run(scenario())


def test_an_agency_with_a_request_in_flight_is_never_closed(tmp_path: Path) -> None:
    async def scenario() -> None:
        host = AgencyHost({a.code: a for a in hosted(tmp_path)}, max_open=1)
        try:
            busy = await host.acquire(CODES[0])
            other = await host.acquire(CODES[1])
            assert set(host.opened) == {CODES[0], CODES[1]}
            host.release(other)
            host.release(busy)
            host.release(await host.acquire(CODES[0]))
            assert list(host.opened) == [CODES[0]]
        finally:
            await host.close()

    asyncio.run(scenario())


def test_a_host_checks_the_shared_settings_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "host.json"
    path.write_text(hosted_agencies_json(hosted(tmp_path)), encoding="utf-8")
    app = create_host_app(AgencyHostSettings(agencies_file=path))
    assert set(app.host.agencies) == set(CODES)
    monkeypatch.delenv("IPNSIM_AGENCY_HUB_URL")
    with pytest.raises(ValidationError, match="hub_url"):
        create_host_app(AgencyHostSettings(agencies_file=path))


def test_an_agency_listed_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    agencies = hosted(tmp_path)
    path.write_text(hosted_agencies_json([*agencies, agencies[0]]), encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        create_host_app(AgencyHostSettings(agencies_file=path))
