"""A real network for the end-to-end tests: every service a process on loopback.

The network is started through the same launcher ``ipnsim up`` uses, once per database backend
(SQLite files, and PostgreSQL when a server is available), and seeded with the synthetic
population.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.engine import make_url

from agencies.catalogue import (
    DIGITAL_AGENCY,
    FUKUOKA,
    KANAGAWA,
    ODAWARA,
    YAMAGATA,
    agency_by_slug,
)
from agencies.population import Population, generate_population, persona_population
from ipnsim.client import AgencyClient, HubOperatorClient
from ipnsim.launcher import Launcher, NetworkFile, find_free_port_block
from ipnsim.postgres import drop_databases
from ipnsim.seeding import seed_network

T = TypeVar("T")

PROVIDER_TIMEOUT = 2.0
DEFAULT_POSTGRES_URL = "postgresql://127.0.0.1:5432/test"


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


@dataclass
class RunningNetwork:
    launcher: Launcher
    network: NetworkFile
    population: Population
    backend: str
    data_dir: Path

    def agency(self, slug: str) -> AgencyClient:
        return AgencyClient(self.network.agency(slug).url)

    def hub(self) -> HubOperatorClient:
        return HubOperatorClient(self.network.hub.url, self.network.admin_token)

    def code(self, slug: str) -> str:
        return agency_by_slug(slug).code

    def atena(self, slug: str, persona: str) -> str:
        person = self.population.persona_person(persona)
        return self.population.atena_number(slug, person.person_key)

    def url(self, slug: str) -> str:
        return self.network.agency(slug).url

    def credential(self, slug: str) -> str:
        credential = self.network.agency(slug).credential
        assert credential is not None
        return credential


def small_launcher(data_dir: Path, slugs: Sequence[str], **options: Any) -> Launcher:
    """A launcher of a network of only these agencies (with the hub and the resident registry)
    on free ports; ``options`` are the launcher's other settings."""
    agencies = [agency_by_slug(slug) for slug in slugs]
    launcher = Launcher(data_dir=data_dir, agencies=agencies, **options)
    launcher.port = find_free_port_block(launcher.port_count())
    return launcher


@contextmanager
def small_network(data_dir: Path, slugs: Sequence[str], **options: Any) -> Iterator[Launcher]:
    """A started network of only these agencies, seeded with the personas (one person each),
    stopped on leaving; its ``network`` is set. ``options`` are the launcher's other settings."""
    launcher = small_launcher(data_dir, slugs, seed=0, population=1, **options)
    try:
        started = launcher.start()
        run(seed_network(started, persona_population(seed=0)))
        launcher.mark_seeded()
        yield launcher
    finally:
        launcher.stop()


def started(launcher: Launcher) -> NetworkFile:
    """The ``network.json`` of a started launcher."""
    assert launcher.network is not None
    return launcher.network


def ipnsim_cli(
    data_dir: Path, *args: str, timeout: float = 120, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ipnsim ARGS`` as its own process against the network in ``data_dir``; its output is
    captured as text and its exit status is the caller's to check. ``columns`` sets the width
    Rich draws tables at."""
    env = os.environ | {"IPNSIM_DATA_DIR": str(data_dir)}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "ipnsim", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@contextmanager
def small_network_on(
    backend: str, data_dir: Path, slugs: Sequence[str], **options: Any
) -> Iterator[Launcher]:
    """:func:`small_network` on ``backend`` (``sqlite`` or ``postgres``; skipped when no
    PostgreSQL server answers), its PostgreSQL databases dropped on leaving."""
    server = None
    if backend == "postgres":
        server = postgres_url()
        if server is None:
            pytest.skip("no PostgreSQL server reachable (set IPNSIM_TEST_POSTGRES_URL)")
    with small_network(data_dir, slugs, postgres_url=server, **options) as launcher:
        try:
            yield launcher
        finally:
            if server is not None:
                drop_databases(server, launcher.database_names())


def postgres_url() -> str | None:
    """The PostgreSQL server to test against, or None (skip) when none answers here."""
    url = os.environ.get("IPNSIM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 2):
            return url
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {url} is not reachable, and CI requires it")
        return None


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def network(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningNetwork]:
    backend: str = request.param
    server = None
    if backend == "postgres":
        server = postgres_url()
        if server is None:
            pytest.skip("no PostgreSQL server reachable (set IPNSIM_TEST_POSTGRES_URL)")
    data_dir = tmp_path_factory.mktemp(f"network-{backend}")
    launcher = small_launcher(
        data_dir,
        (YAMAGATA, ODAWARA, FUKUOKA, DIGITAL_AGENCY, KANAGAWA),
        seed=0,
        provider_timeout=PROVIDER_TIMEOUT,
        postgres_url=server,
    )
    population = generate_population(seed=0)
    try:
        started = launcher.start()
        run(seed_network(started, population))
        launcher.mark_seeded()
        yield RunningNetwork(launcher, started, population, backend, data_dir)
    finally:
        launcher.stop()
        if server is not None and launcher.network is not None:
            drop_databases(server, launcher.database_names())


def clear_faults(network: RunningNetwork) -> None:
    """Lift every fault at the hub of ``network``."""
    response = httpx.delete(
        network.network.hub.url + "/v1/faults",
        headers={"Authorization": f"Bearer {network.network.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text


@pytest.fixture
def net(network: RunningNetwork) -> Iterator[RunningNetwork]:
    """The shared network, with every fault cleared before and after the test, so a test that
    sets faults leaves the others a healthy network."""
    clear_faults(network)
    try:
        yield network
    finally:
        clear_faults(network)
