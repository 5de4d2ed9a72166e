"""pytest fixtures for testing a business system (業務システム) against a real ipnsim network.

Installed with ipnsim (entry point ``ipnsim.pytest_plugin`` of group ``pytest11``). Nothing
starts until a test asks for a fixture: ``ipnsim_network`` starts a seeded network as processes
on free loopback ports once per session (or uses a running one), and stops it at the end.
See docs/pytest-plugin.md.

Options (command line, or ini keys of the same name with ``_`` instead of ``-``):

- ``--ipnsim-data-dir``: the data directory of a network already running (``ipnsim up``);
  nothing is started or stopped.
- ``--ipnsim-population``: people in the synthetic population of a network the plugin starts.
- ``--ipnsim-seed``: seed of that population.
- ``--ipnsim-agencies``: comma-separated agency slugs to start (default: every agency).

``ipnsim_sandbox`` gives a test a network view in a sandbox of its own (a fresh copy of the
reference data, deleted after the test), so that tests running in parallel (pytest-xdist
workers, or several pipelines sharing one network) never see each other's data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ipnsim.client import AgencyClient, HubOperatorClient
from ipnsim.launcher import Launcher, LaunchError, NetworkFile, load_network_file
from network.protocol.models import PersonaCatalogue

DEFAULT_POPULATION = 40
"""People in a network the plugin starts, unless told otherwise (small: starts in seconds)."""


@dataclass
class IpnsimNetwork:
    """A running network: its ``network.json`` and data directory, and clients of its services."""

    network: NetworkFile
    data_dir: Path
    started_here: bool
    sandbox: str | None = None
    """The sandbox every client of this view works in (None: the default data)."""

    def agency(self, slug: str) -> AgencyClient:
        """A client of the agency's intermediate server (slug or 16-digit code)."""
        return AgencyClient(self.network.agency(slug).url, sandbox=self.sandbox)

    def hub(self) -> HubOperatorClient:
        """A client of the hub, with the operator's token."""
        return HubOperatorClient(
            self.network.hub.url, self.network.admin_token, sandbox=self.sandbox
        )

    async def delete_sandbox(self) -> None:
        """Delete this view's sandbox on the hub and every intermediate server."""
        if self.sandbox is None:
            return
        async with HubOperatorClient(
            self.network.hub.url, self.network.admin_token, sandbox=None
        ) as hub:
            await hub.delete_sandbox(self.sandbox)
        for service in self.network.agencies:
            async with AgencyClient(service.url, sandbox=None) as client:
                await client.delete_sandbox(self.sandbox)

    def code(self, slug: str) -> str:
        """The 16-digit agency code of a slug."""
        code = self.network.agency(slug).agency_code
        assert code is not None
        return code


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ipnsim", "ipnsim network for business-system tests")
    options = [
        ("ipnsim-data-dir", "data directory of an ipnsim network already running (ipnsim up)"),
        ("ipnsim-population", f"people in the network started (default {DEFAULT_POPULATION})"),
        ("ipnsim-seed", "seed of the population of the network started (default 0)"),
        ("ipnsim-agencies", "comma-separated agency slugs to start (default: every agency)"),
    ]
    for name, help_text in options:
        group.addoption(f"--{name}", dest=name.replace("-", "_"), default=None, help=help_text)
        parser.addini(name.replace("-", "_"), help_text, default=None)


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    return str(value) if value not in (None, "") else None


def _integer(config: pytest.Config, name: str, default: int) -> int:
    value = _setting(config, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(
            f"{name.replace('_', '-')} must be a whole number, not {value!r}"
        ) from None


@pytest.fixture(scope="session")
def ipnsim_network(pytestconfig: pytest.Config) -> Iterator[IpnsimNetwork]:
    """A seeded ipnsim network for the whole session: started on free ports, or the running
    one of ``--ipnsim-data-dir``."""
    data_dir = _setting(pytestconfig, "ipnsim_data_dir")
    if data_dir is not None:
        try:
            running = load_network_file(Path(data_dir))
        except LaunchError as error:
            raise pytest.UsageError(f"ipnsim-data-dir: {error}") from None
        yield IpnsimNetwork(running, Path(data_dir), False)
        return
    from agencies.catalogue import agency_by_slug, default_agencies
    from agencies.population import generate_population
    from ipnsim.launcher import find_free_port_block
    from ipnsim.seeding import seed_network

    size = _integer(pytestconfig, "ipnsim_population", DEFAULT_POPULATION)
    seed = _integer(pytestconfig, "ipnsim_seed", 0)
    slugs = _setting(pytestconfig, "ipnsim_agencies")
    try:
        agencies = (
            [agency_by_slug(slug.strip()) for slug in slugs.split(",") if slug.strip()]
            if slugs
            else list(default_agencies())
        )
    except KeyError as error:
        raise pytest.UsageError(f"ipnsim-agencies: unknown agency {error.args[0]!r}") from None
    with tempfile.TemporaryDirectory(prefix="ipnsim-network-") as directory:
        launcher = Launcher(
            data_dir=Path(directory),
            port=find_free_port_block(len(agencies) + 2),  # the hub and the resident registry
            agencies=agencies,
            seed=seed,
            population=size,
            log_level="warning",
        )
        try:
            started = launcher.start()
            asyncio.run(seed_network(started, generate_population(seed=seed, size=size)))
            launcher.mark_seeded()
            yield IpnsimNetwork(started, Path(directory), True)
        finally:
            launcher.stop()


@pytest.fixture
def ipnsim_sandbox(ipnsim_network: IpnsimNetwork) -> Iterator[IpnsimNetwork]:
    """The network as seen from a sandbox of this test's own: a fresh copy of the reference
    data (the seeded data) on every service, deleted when the test ends. Its ``agency`` and
    ``hub`` clients send the header X-Ipnsim-Sandbox; ``sandbox`` is the key."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main").lower()
    key = f"t-{worker}-{uuid.uuid4().hex[:10]}"[:32]
    view = dataclasses.replace(ipnsim_network, sandbox=key)
    try:
        yield view
    finally:
        asyncio.run(view.delete_sandbox())


@pytest.fixture
def ipnsim_agency(ipnsim_network: IpnsimNetwork) -> Callable[[str], AgencyClient]:
    """Factory: agency slug → a client of its intermediate server (use it with ``async with``)."""
    return ipnsim_network.agency


@pytest.fixture
def ipnsim_hub(ipnsim_network: IpnsimNetwork) -> HubOperatorClient:
    """A client of the hub as its operator (use it with ``async with``)."""
    return ipnsim_network.hub()


@pytest.fixture(scope="session")
def ipnsim_personas(ipnsim_network: IpnsimNetwork) -> PersonaCatalogue:
    """The personas of the network's population: names, atena numbers, their own inquiries."""

    async def fetch() -> PersonaCatalogue:
        async with ipnsim_network.hub() as hub:
            return await hub.personas()

    return asyncio.run(fetch())
