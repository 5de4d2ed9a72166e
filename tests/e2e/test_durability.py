"""Durability: the hub is killed (SIGKILL) mid-load and started again, twice; every inquiry that
was answered before the kill has its record at all three copies, and every log still verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.population import generate_population
from ipnsim.launcher import Launcher, NetworkFile, find_free_port_block
from ipnsim.seeding import seed_network
from tests.e2e.test_cli import ipnsim
from tests.e2e.test_personas import order_for

pytestmark = pytest.mark.e2e

WORKERS = 6
ANSWERS_BEFORE_KILL = 3
"""Inquiries answered before the hub is killed: the load is under way."""
ANSWERS_WAIT_SECONDS = 60.0
LOAD_SECONDS_BEFORE_KILL = 0.5
"""Load after those answers, so that the kill finds inquiries in flight."""


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Launcher, NetworkFile]]:
    launcher = Launcher(
        data_dir=tmp_path,
        port=find_free_port_block(4),
        agencies=[agency_by_slug(YAMAGATA), agency_by_slug(ODAWARA)],
        seed=0,
        provider_timeout=2.0,
    )
    try:
        started = launcher.start()
        asyncio.run(seed_network(started, generate_population(seed=0)))
        launcher.mark_seeded()
        yield launcher, started
    finally:
        launcher.stop()


async def load_until(
    url: str, order: dict[str, object], stop: asyncio.Event, running: asyncio.Event
) -> list[str]:
    """Send inquiries from WORKERS clients until ``stop``; the ids of those answered 09/01.
    ``running`` is set once ANSWERS_BEFORE_KILL are answered."""
    answered: list[str] = []

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while not stop.is_set():
                try:
                    response = await client.post(url + "/v1/inquiries", json=order)
                except httpx.HTTPError:
                    continue
                if response.status_code == 200 and response.json()["error"] is None:
                    answered.append(response.json()["inquiry_id"])
                    if len(answered) >= ANSWERS_BEFORE_KILL:
                        running.set()

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return answered


async def kill_mid_load(
    launcher: Launcher, network: NetworkFile, order: dict[str, object]
) -> list[str]:
    stop = asyncio.Event()
    running = asyncio.Event()
    load = asyncio.create_task(load_until(network.agency(YAMAGATA).url, order, stop, running))
    # Kill once the load runs (some inquiries answered, others in flight), however slow the
    # machine is to answer the first ones.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(running.wait(), ANSWERS_WAIT_SECONDS)
    await asyncio.sleep(LOAD_SECONDS_BEFORE_KILL)
    launcher.kill_service("hub")
    await asyncio.sleep(0.5)
    stop.set()
    return await load


def test_acknowledged_inquiries_survive_a_killed_hub(small: tuple[Launcher, NetworkFile]) -> None:
    launcher, network = small

    population = generate_population(seed=0)
    persona = next(p for p in population.persona_catalogue().personas if p.name == "moved_in")
    assert persona.inquiry is not None
    order = order_for(persona.inquiry).model_dump(mode="json")
    acknowledged: list[str] = []
    for _ in range(2):
        answered = asyncio.run(kill_mid_load(launcher, network, order))
        assert answered, "no inquiry was answered before the kill"
        acknowledged += answered
        launcher.start_service("hub")
        launcher.wait_healthy()

    admin = {"Authorization": f"Bearer {network.admin_token}"}
    with httpx.Client(timeout=10) as client:
        for inquiry_id in acknowledged:
            at_hub = client.get(f"{network.hub.url}/v1/records/{inquiry_id}", headers=admin)
            assert at_hub.status_code == 200, (inquiry_id, at_hub.text)
            for slug in (YAMAGATA, ODAWARA):
                copies = client.get(
                    network.agency(slug).url + "/v1/records", params={"inquiry_id": inquiry_id}
                ).json()
                assert len(copies) == 1, (slug, inquiry_id)
        after = client.post(network.agency(YAMAGATA).url + "/v1/inquiries", json=order)
        assert after.status_code == 200 and after.json()["error"] is None, after.text

    verified = ipnsim("records", "verify", "--json", data_dir=launcher.data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)


def test_json_logs_hold_no_my_number_or_resident_code(tmp_path: Path) -> None:
    """A network started with --log-format json logs JSON lines only, with neither the My
    Number nor the resident code of a person registered and inquired about."""
    launcher = Launcher(
        data_dir=tmp_path,
        port=find_free_port_block(4),
        agencies=[agency_by_slug(YAMAGATA), agency_by_slug(ODAWARA)],
        seed=0,
        log_format="json",
    )
    population = generate_population(seed=0)
    person = population.persona_person("moved_in")
    try:
        network = launcher.start()
        asyncio.run(seed_network(network, population))
        launcher.mark_seeded()
        persona = next(p for p in population.persona_catalogue().personas if p.name == "moved_in")
        assert persona.inquiry is not None
        order = order_for(persona.inquiry).model_dump(mode="json")
        with httpx.Client(timeout=30) as client:
            answered = client.post(network.agency(YAMAGATA).url + "/v1/inquiries", json=order)
            assert answered.status_code == 200, answered.text
            refused = client.post(
                network.agency(YAMAGATA).url + "/v1/people",
                json={
                    "atena_number": "99",
                    "resident_code": person.resident_code,
                    "my_number": person.my_number,
                },
            )
            assert refused.status_code == 422
    finally:
        launcher.stop()
    lines = [
        line
        for log in (tmp_path / "logs").glob("*.log")
        for line in log.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(lines) > 10
    parsed = [json.loads(line) for line in lines]
    assert {entry["service"] for entry in parsed} >= {"hub", "agency", "registry"}
    text = "\n".join(lines)
    assert person.resident_code not in text
    if person.my_number:
        assert person.my_number not in text
