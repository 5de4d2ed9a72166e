"""docker-compose.yml and deploy/compose/: the same network as ``ipnsim up``, with real commands.

No container engine runs here, so the compose file is checked from the outside: its services
against the agency catalogue and the launcher, its committed configuration files against each
other, and (``e2e``) every ``serve`` service's command and environment by starting it as a real
process on loopback, with only what a container provides (addresses, volumes, mounts) rewritten.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

from agencies.catalogue import Agency, default_agencies
from agencies.population import generate_population
from agencies.resident_registry import SERVICE_NAME as REGISTRY_SERVICE_NAME
from error_codes.recording import RECORD_ENV
from ipnsim.cli import app
from ipnsim.launcher import (
    DEFAULT_PORT,
    PERSONAS_FILE,
    REGISTRY_ROLE,
    REGISTRY_SERVICE,
    Launcher,
    NetworkFile,
    find_free_port_block,
    load_network_file,
)
from network.protocol.models import PersonaCatalogue
from network.registry import Registry

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY_DIR = REPO / "deploy" / "compose"
CONFIG_MOUNT = "/etc/ipnsim"
CONTAINER_PORT = 8000
HUB_URL = f"http://hub:{CONTAINER_PORT}"
SECOND_HUB = "hub-2"
"""A second hub process on the hub's database, as ``ipnsim up --hubs 2`` runs it."""
LOAD_BALANCER = "load-balancer"
"""nginx in front of both hubs: the hub the agencies know."""
AGENCY_HUB_URL = f"http://{LOAD_BALANCER}:{CONTAINER_PORT}"
HEALTH_URL = f"http://127.0.0.1:{CONTAINER_PORT}/health"
HEALTH_TIMEOUT = 30.0
SERVE_ROLES = ("hub", "agency", REGISTRY_ROLE)
POSTGRES = "postgres"
POSTGRES_URL = "postgresql+asyncpg://ipnsim:demo-postgres-password-change-me@postgres:5432/"


def database_name(service_name: str) -> str:
    """The service's database on the compose file's PostgreSQL server."""
    return service_name.replace("-", "_")


# --- reading the compose file ---------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Launcher:
    """The launcher of ``ipnsim up`` with its defaults, prepared (not started) in a temp dir."""
    prepared = Launcher(data_dir=tmp_path_factory.mktemp("launcher"))
    prepared.prepare()
    return prepared


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whichever of the two compose syntaxes it uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(entry.split("=", 1) for entry in raw)
    assert all(isinstance(value, str) for value in raw.values()), (
        "quote every environment value in docker-compose.yml (numbers must stay strings)"
    )
    return {str(key): str(value) for key, value in raw.items()}


def role(service: dict[str, Any]) -> str | None:
    """``hub``, ``agency`` or ``registry`` for a ``serve`` service, None for any other."""
    command = service.get("command")
    if command and command[0] == "serve":
        assert command[1] in SERVE_ROLES
        return str(command[1])
    return None


def serve_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if role(service) is not None}


def launched(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``serve`` services of ``ipnsim up`` with one hub: all but the second hub."""
    return {name: s for name, s in serve_services(services).items() if name != SECOND_HUB}


def option(command: list[str], name: str) -> str:
    """The value following ``name`` in a command; fails if the option is missing."""
    assert name in command, f"{command} lacks {name}"
    return command[command.index(name) + 1]


def with_option(command: list[str], name: str, value: str) -> list[str]:
    option(command, name)
    changed = list(command)
    changed[changed.index(name) + 1] = value
    return changed


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host path of the service's bind mounts (sources relative to the repo)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith((".", "/")):
            mounts[target] = (REPO / source).resolve()
    return mounts


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Container path → volume name of the service's named volumes."""
    volumes: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if not source.startswith((".", "/")):
            volumes[target] = source
    return volumes


def on_host(path: str, mounts: dict[str, Path]) -> Path:
    """Where a container path of a bind mount is on the host."""
    for target, source in mounts.items():
        if path == target or path.startswith(target + "/"):
            return source / path[len(target) :].lstrip("/")
    raise AssertionError(f"{path} is in no bind mount of the service ({sorted(mounts)})")


def published_port(service: dict[str, Any]) -> int:
    """The host port of the service's single publication, which must be on 127.0.0.1."""
    ports = service.get("ports", [])
    assert len(ports) == 1, f"expected one published port, got {ports}"
    host, host_port, container_port = str(ports[0]).split(":")
    assert host == "127.0.0.1", "publish on loopback only"
    assert int(container_port) == CONTAINER_PORT
    return int(host_port)


def health_command(service: dict[str, Any]) -> str:
    """The Python code of the service's healthcheck (the image has no curl)."""
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], f"healthcheck must run python -c: {test}"
    code = str(test[3])
    assert HEALTH_URL in code
    return code


# --- topology, environment, volumes, dependencies -------------------------------------------


def test_one_service_per_agency_plus_hub_registry_and_seed(
    services: dict[str, dict[str, Any]],
) -> None:
    agencies = default_agencies()
    assert set(services) == {
        POSTGRES,
        "hub",
        SECOND_HUB,
        LOAD_BALANCER,
        REGISTRY_SERVICE,
        "seed",
        *(agency.slug for agency in agencies),
    }
    assert role(services["hub"]) == role(services[SECOND_HUB]) == "hub"
    assert role(services[LOAD_BALANCER]) is None
    assert role(services[REGISTRY_SERVICE]) == REGISTRY_ROLE
    assert role(services["seed"]) is None
    for agency in agencies:
        service = services[agency.slug]
        assert role(service) == "agency"
        env = environment(service)
        assert env["IPNSIM_AGENCY_CODE"] == agency.code
        assert env["IPNSIM_AGENCY_NAME_JA"] == agency.name_ja


def test_ports_are_those_of_ipnsim_up(
    services: dict[str, dict[str, Any]], launcher: Launcher
) -> None:
    assert launcher.network is not None
    assert launcher.network.hub.port == DEFAULT_PORT
    assert [info.name for info in launcher.network.services] == list(launched(services))
    for info in launcher.network.services:
        assert published_port(services[info.name]) == info.port, info.name
    registry = next(info for info in launcher.network.services if info.role == REGISTRY_ROLE)
    assert registry.name == REGISTRY_SERVICE
    assert registry.port == DEFAULT_PORT + len(default_agencies()) + 1
    for name in ("seed", SECOND_HUB, LOAD_BALANCER):
        assert "ports" not in services[name], name


def test_environment_is_that_of_the_launcher(
    services: dict[str, dict[str, Any]], launcher: Launcher
) -> None:
    assert launcher.network is not None
    for info in launcher.network.services:
        expected = {
            key: value
            for key, value in launcher._environment(info).items()
            if key.startswith("IPNSIM_") and key != RECORD_ENV
        }
        env = environment(services[info.name])
        # The compose file's secrets are demo values, which the services accept only when told.
        demo = {key for key in env if key.endswith("_ALLOW_DEMO_SECRETS")}
        assert all(env.pop(key) == "true" for key in demo)
        assert len(demo) == (0 if info.role == REGISTRY_ROLE else 1), info.name
        assert set(env) == set(expected), info.name
        if info.role == REGISTRY_ROLE:
            # No database: the population is generated from the network's seed and size.
            same = ["IPNSIM_REGISTRY_SEED", "IPNSIM_REGISTRY_POPULATION"]
            for key in same:
                assert env[key] == expected[key], f"{info.name}: {key}"
            continue
        prefix = "IPNSIM_HUB_" if info.role == "hub" else "IPNSIM_AGENCY_"
        assert env[f"{prefix}DATABASE_URL"] == POSTGRES_URL + database_name(info.name)
        assert env[f"{prefix}LOG_KEY_FILE"] == f"/data/{info.name}-log-key.pem"
        if info.role == "hub":
            assert env["IPNSIM_HUB_REGISTRY_FILE"] == f"{CONFIG_MOUNT}/hub-registry.json"
            assert env["IPNSIM_HUB_PERSONAS_FILE"] == f"{CONFIG_MOUNT}/{PERSONAS_FILE}"
            same = ["IPNSIM_HUB_PROVIDER_TIMEOUT"]
        else:
            # The agencies reach the hubs through the load balancer.
            assert env["IPNSIM_AGENCY_HUB_URL"] == AGENCY_HUB_URL
            same = ["IPNSIM_AGENCY_CODE", "IPNSIM_AGENCY_NAME_JA", "IPNSIM_AGENCY_HUB_TIMEOUT"]
        for key in same:
            assert env[key] == expected[key], f"{info.name}: {key}"
    assert "environment" not in services["seed"]


def test_the_second_hub_is_the_hub_again_behind_nginx(
    services: dict[str, dict[str, Any]],
) -> None:
    """hub-2 runs as the hub does, on its database, signing key, configuration and clock."""
    hub, second = services["hub"], services[SECOND_HUB]
    assert second["command"] == hub["command"]
    assert environment(second) == environment(hub)
    assert second["volumes"] == hub["volumes"]
    assert second["depends_on"] == hub["depends_on"]
    balancer = services[LOAD_BALANCER]
    assert balancer["image"] == "${IPNSIM_NGINX_IMAGE:-nginx:1.27}"
    config = bind_mounts(balancer)["/etc/ipnsim-nginx/nginx.conf"]
    assert config == DEPLOY_DIR / "nginx.conf"
    assert option(balancer["command"], "-c") == "/etc/ipnsim-nginx/nginx.conf"
    text = config.read_text(encoding="utf-8")
    assert f"listen {CONTAINER_PORT};" in text
    servers = [
        line.strip()
        for line in text.splitlines()
        if line.strip().startswith("server ") and line.strip().endswith(";")
    ]
    # Never left out after a refused connection (a hub still starting when nginx first tries it).
    assert servers == [
        f"server hub:{CONTAINER_PORT} max_fails=0;",
        f"server {SECOND_HUB}:{CONTAINER_PORT} max_fails=0;",
    ]
    assert balancer["depends_on"] == {
        "hub": {"condition": "service_healthy"},
        SECOND_HUB: {"condition": "service_healthy"},
    }
    test = balancer["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"] and "/health" in test[3]
    assert balancer.get("restart") == "unless-stopped"


def test_each_service_keeps_its_database_in_its_own_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    used: list[str] = []
    with_database = [
        name for name, service in serve_services(services).items() if role(service) != REGISTRY_ROLE
    ]
    assert with_database == ["hub", SECOND_HUB, *(agency.slug for agency in default_agencies())]
    for name in with_database:
        volume = named_volumes(services[name]).get("/data")
        assert volume is not None, f"{name} has no named volume at /data"
        if name != SECOND_HUB:
            used.append(volume)
    assert len(set(used)) == len(used), "two services share a database volume"
    # The two hubs keep the hub's signing key (and clock) in one volume: they sign one log.
    assert named_volumes(services[SECOND_HUB]) == named_volumes(services["hub"])
    assert set(used) <= declared
    # The resident registry has no database and reads no configuration file: nothing to mount.
    assert not services[REGISTRY_SERVICE].get("volumes"), "the registry needs no volume"
    for name in ("hub", SECOND_HUB, "seed"):
        assert bind_mounts(services[name]).get(CONFIG_MOUNT) == DEPLOY_DIR, name
        mounts = [str(v) for v in services[name]["volumes"] if f":{CONFIG_MOUNT}" in str(v)]
        assert mounts and all(mount.endswith(":ro") for mount in mounts), f"{name}: read-only"


def test_healthchecks_and_start_order(services: dict[str, dict[str, Any]]) -> None:
    agencies = [agency.slug for agency in default_agencies()]
    for service in serve_services(services).values():
        health_command(service)
    for slug in agencies:
        assert services[slug]["depends_on"] == {
            POSTGRES: {"condition": "service_healthy"},
            LOAD_BALANCER: {"condition": "service_healthy"},
        }
    for hub in ("hub", SECOND_HUB):
        assert services[hub]["depends_on"] == {POSTGRES: {"condition": "service_healthy"}}
    assert "depends_on" not in services[REGISTRY_SERVICE], "the registry needs no other service"
    # The seed job waits (--wait) for every service of its network.json, so it depends on each.
    seed = services["seed"]
    seed_network = load_network_file(
        on_host(option(seed["command"], "--data-dir"), bind_mounts(seed))
    )
    seed_needs = seed["depends_on"]
    assert set(seed_needs) == {info.name for info in seed_network.services}
    assert set(seed_needs) == {"hub", REGISTRY_SERVICE, *agencies}
    for name, condition in seed_needs.items():
        assert condition == {"condition": "service_healthy"}, name
    assert seed.get("restart", "no") == "no"
    for name, service in serve_services(services).items():
        assert service.get("restart") == "unless-stopped", name


def test_every_service_runs_the_one_image(services: dict[str, dict[str, Any]]) -> None:
    ours = {
        name: service for name, service in services.items() if name not in {POSTGRES, LOAD_BALANCER}
    }
    images = {service.get("image") for service in ours.values()}
    assert len(images) == 1
    for service in ours.values():
        build = service["build"]
        assert build["context"] == "."
        assert "BASE" in build.get("args", {})


# --- commands -------------------------------------------------------------------------------


def test_every_command_is_an_entry_point_of_the_package(
    services: dict[str, dict[str, Any]],
) -> None:
    commands = typer.main.get_command(app)
    assert isinstance(commands, TyperGroup)
    runner = CliRunner()
    for name, service in services.items():
        if name in {POSTGRES, LOAD_BALANCER}:
            continue
        command = [str(part) for part in service["command"]]
        assert command[0] in commands.commands, f"{name}: no command {command[0]!r}"
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: {command} --help: {result.output}"
    seed = [str(part) for part in services["seed"]["command"]]
    assert seed[0] == "seed"
    assert option(seed, "--data-dir") == CONFIG_MOUNT
    for service in serve_services(services).values():
        assert option(service["command"], "--host") == "0.0.0.0"
        assert int(option(service["command"], "--port")) == CONTAINER_PORT


# --- the committed configuration ------------------------------------------------------------


def agency_by_service(agencies: tuple[Agency, ...]) -> dict[str, Agency]:
    return {agency.slug: agency for agency in agencies}


def test_registry_file_loads_and_points_at_the_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    registry = Registry.load(DEPLOY_DIR / "hub-registry.json")
    agencies = default_agencies()
    assert list(registry.agencies) == [agency.code for agency in agencies]
    for agency in agencies:
        entry = registry.get(agency.code)
        assert (entry.name_ja, entry.name_en, entry.kind) == (
            agency.name_ja,
            agency.name_en,
            agency.kind,
        )
        assert str(entry.base_url).rstrip("/") == f"http://{agency.slug}:{CONTAINER_PORT}"
        assert entry.credential == environment(services[agency.slug])["IPNSIM_AGENCY_CREDENTIAL"]


def check_network_file(
    network: NetworkFile, services: dict[str, dict[str, Any]], url: dict[str, str]
) -> None:
    """``network`` names exactly the compose services, at ``url``, with their credentials."""
    assert [info.name for info in network.services] == list(launched(services))
    hub_env = environment(services["hub"])
    assert network.hub_secret == hub_env["IPNSIM_HUB_SECRET"]
    assert network.admin_token == hub_env["IPNSIM_HUB_ADMIN_TOKEN"]
    assert network.seed == 0
    registry_env = environment(services[REGISTRY_SERVICE])
    assert network.seed == int(registry_env["IPNSIM_REGISTRY_SEED"])
    assert network.population == int(registry_env["IPNSIM_REGISTRY_POPULATION"])
    for info in network.services:
        service = services[info.name]
        assert info.role == role(service)
        assert info.url == url[info.name]
        if info.role == "agency":
            env = environment(service)
            assert info.agency_code == env["IPNSIM_AGENCY_CODE"]
            assert info.name_ja == env["IPNSIM_AGENCY_NAME_JA"]
            assert info.credential == env["IPNSIM_AGENCY_CREDENTIAL"]


def test_seed_network_file_names_the_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    seed = services["seed"]
    data_dir = on_host(option(seed["command"], "--data-dir"), bind_mounts(seed))
    network = load_network_file(data_dir)
    url = {name: f"http://{name}:{CONTAINER_PORT}" for name in launched(services)}
    check_network_file(network, services, url)
    assert network.hub.url == HUB_URL


def test_host_network_file_names_the_published_ports(
    services: dict[str, dict[str, Any]],
) -> None:
    network = load_network_file(DEPLOY_DIR / "host")
    url = {
        name: f"http://127.0.0.1:{published_port(service)}"
        for name, service in launched(services).items()
    }
    check_network_file(network, services, url)
    for info in network.services:
        assert info.port == published_port(services[info.name])


def test_personas_file_is_what_the_launcher_writes(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The hub's persona catalogue is the launcher's for the compose network: never stale."""
    hub = services["hub"]
    personas = on_host(environment(hub)["IPNSIM_HUB_PERSONAS_FILE"], bind_mounts(hub))
    assert personas == DEPLOY_DIR / PERSONAS_FILE
    seed = services["seed"]
    network = load_network_file(on_host(option(seed["command"], "--data-dir"), bind_mounts(seed)))
    Launcher(data_dir=tmp_path, seed=network.seed, population=network.population).prepare()
    written = (tmp_path / PERSONAS_FILE).read_text(encoding="utf-8")
    committed = personas.read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(written), (
        "deploy/compose/personas.json is stale: regenerate it as deploy/compose/README.md says"
    )
    catalogue = PersonaCatalogue.model_validate_json(committed)
    assert (catalogue.seed, catalogue.population) == (network.seed, network.population)
    assert catalogue.personas and catalogue.affair_tour
    assert PERSONAS_FILE in (DEPLOY_DIR / "README.md").read_text(encoding="utf-8")


def test_secrets_are_demo_values(services: dict[str, dict[str, Any]]) -> None:
    secrets = [
        value
        for name, service in services.items()
        if name != SECOND_HUB  # the hub's own, again
        for key, value in environment(service).items()
        if key.endswith(("_CREDENTIAL", "_SECRET", "_TOKEN"))
    ]
    assert len(secrets) == len(default_agencies()) + 2
    assert len(set(secrets)) == len(secrets)
    for secret in secrets:
        assert secret.startswith("demo-") and secret.endswith("-change-me"), secret
        assert len(secret) >= 16
    readme = (DEPLOY_DIR / "README.md").read_text(encoding="utf-8")
    assert "local demos only" in readme


def test_postgresql_holds_one_database_per_service(services: dict[str, dict[str, Any]]) -> None:
    """Official image by default (Debian's package without a registry), one database each."""
    postgres = services[POSTGRES]
    assert postgres["image"] == "${IPNSIM_POSTGRES_IMAGE:-postgres:16}"
    assert "build" not in postgres and "ports" not in postgres, "PostgreSQL stays inside"
    env = environment(postgres)
    assert env["POSTGRES_PASSWORD"].startswith("demo-")
    assert POSTGRES_URL.startswith(
        f"postgresql+asyncpg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/"
    )
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert postgres.get("restart") == "unless-stopped"
    init = bind_mounts(postgres)["/docker-entrypoint-initdb.d"]
    created = {
        line.removeprefix("CREATE DATABASE ").rstrip(";")
        for path in init.glob("*.sql")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("CREATE DATABASE ")
    }
    urls = [
        value
        for name, service in services.items()
        if name != SECOND_HUB  # the hub's database, shared
        for key, value in environment(service).items()
        if key.endswith("_DATABASE_URL")
    ]
    assert len(urls) == 1 + len(default_agencies())
    assert {url.removeprefix(POSTGRES_URL) for url in urls} == created
    assert named_volumes(postgres) == {"/var/lib/postgresql/data": "postgres-data"}


def test_dockerfile_builds_one_offline_image_for_every_role() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in dockerfile.splitlines() if not line.startswith("#")]
    assert "ARG BASE=python:3.11-slim" in lines
    assert all(
        line == "FROM ${BASE}" or line.startswith("FROM ${BASE} AS ")
        for line in lines
        if line.startswith("FROM")
    )
    assert 'ENTRYPOINT ["ipnsim"]' in lines
    assert "--no-index" in dockerfile and "dist/wheels" in dockerfile
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "!dist/wheels" in ignored


# --- the services as real processes ---------------------------------------------------------


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Processes:
    """Service processes of one test; all are stopped by the fixture, whatever happens."""

    directory: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], port: int) -> Started:
        log = self.directory / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(name, process, port, log)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for started in self.started:
            if started.process.poll() is None:
                started.process.terminate()
        for started in self.started:
            try:
                started.process.wait(10)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    group = Processes(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def wait_healthy(started: Started, client: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while True:
        status = started.process.poll()
        if status is not None:
            pytest.fail(f"{started.name} exited with {status}; its log ends:\n{started.tail()}")
        try:
            response = client.get(started.url + "/health")
            if response.status_code == 200:
                answer: dict[str, Any] = response.json()
                return answer
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{started.name} not healthy after {HEALTH_TIMEOUT:g}s:\n{started.tail()}")
        time.sleep(0.2)


def process_environment(
    name: str, service: dict[str, Any], tmp_path: Path, hub_url: str | None
) -> dict[str, str]:
    """The compose environment with what the container provides rewritten for loopback."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IPNSIM_")}
    mounts = bind_mounts(service)
    for key, value in environment(service).items():
        if key.endswith("_DATABASE_URL"):
            # The container's PostgreSQL database becomes an SQLite file of the test.
            assert value == POSTGRES_URL + database_name(name)
            value = f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}"
        elif key.endswith("_LOG_KEY_FILE"):
            assert value == f"/data/{name}-log-key.pem"
            value = str(tmp_path / f"{name}-log-key.pem")
        elif value.startswith(CONFIG_MOUNT + "/"):
            path = on_host(value, mounts)
            assert path.is_file(), f"{name}: {value} is not in the mounted {mounts}"
            value = str(path)
        elif key == "IPNSIM_AGENCY_HUB_URL":
            assert value == AGENCY_HUB_URL
            assert hub_url is not None
            value = hub_url
        env[key] = value
    return env


def run_healthcheck(service: dict[str, Any], port: int) -> int:
    code = health_command(service).replace(HEALTH_URL, f"http://127.0.0.1:{port}/health")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    return done.returncode


@pytest.mark.e2e
def test_compose_services_start_answer_and_seed(
    services: dict[str, dict[str, Any]], processes: Processes, tmp_path: Path
) -> None:
    serving = launched(services)  # one hub: the processes share SQLite files here
    first_port = find_free_port_block(len(serving) + 1)
    ports = {name: first_port + offset for offset, name in enumerate(serving)}
    unused_port = first_port + len(serving)

    def start(name: str, hub_url: str | None) -> Started:
        service = serving[name]
        command = with_option(service["command"], "--host", "127.0.0.1")
        command = with_option(command, "--port", str(ports[name]))
        env = process_environment(name, service, tmp_path, hub_url)
        return processes.start(name, [sys.executable, "-m", "ipnsim", *command], env, ports[name])

    started: dict[str, Started] = {}
    with httpx.Client(timeout=2.0) as client:
        hub = start("hub", None)
        assert wait_healthy(hub, client)["service"] == "hub"
        started["hub"] = hub
        for name in serving:
            if name != "hub":
                started[name] = start(name, hub.url)
        assert REGISTRY_SERVICE in started
        for name, running in started.items():
            answer = wait_healthy(running, client)
            if name == "hub":
                continue
            if role(serving[name]) == REGISTRY_ROLE:
                assert answer["service"] == REGISTRY_SERVICE_NAME
                continue
            assert answer["service"] == "intermediate_server"
            assert answer["agency_code"] == environment(serving[name])["IPNSIM_AGENCY_CODE"]
        listed = client.get(hub.url + "/v1/agencies").json()
        assert [agency["code"] for agency in listed] == [
            agency.code for agency in default_agencies()
        ]
        # The hub serves the mounted persona catalogue.
        personas = client.get(hub.url + "/v1/personas")
        assert personas.status_code == 200, personas.text
        assert personas.json() == json.loads(
            (DEPLOY_DIR / PERSONAS_FILE).read_text(encoding="utf-8")
        )

    # The compose healthcheck itself: passes against a live service, fails with none.
    for name, running in started.items():
        assert run_healthcheck(serving[name], running.port) == 0, name
    assert run_healthcheck(serving["hub"], unused_port) != 0

    # The seed job, on its mounted network.json with the addresses rewritten for loopback:
    # every agency obtains 符号 through the hub, so every credential must match the registry.
    seed = services["seed"]
    mounted = on_host(option(seed["command"], "--data-dir"), bind_mounts(seed))
    network = json.loads((mounted / "network.json").read_text(encoding="utf-8"))
    for info in network["services"]:
        info["url"] = started[info["name"]].url
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    (seed_dir / "network.json").write_text(json.dumps(network), encoding="utf-8")
    command = with_option(seed["command"], "--data-dir", str(seed_dir))
    done = subprocess.run(
        [sys.executable, "-m", "ipnsim", *command],
        env={key: value for key, value in os.environ.items() if not key.startswith("IPNSIM_")},
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output
    population = generate_population(seed=network["seed"], size=network["population"])
    people = {person.person_key: person for person in population.people}
    registry = started[REGISTRY_SERVICE]
    with httpx.Client(timeout=5.0) as client:
        for name, running in started.items():
            if name in {"hub", REGISTRY_SERVICE}:
                continue
            registration = next(
                r for r in population.registrations if r.agency_slug == name and r.acquire_pseudonym
            )
            person = client.get(f"{running.url}/v1/people/{registration.atena_number}")
            assert person.status_code == 200, person.text
            assert person.json()["pseudonym"], f"{name}: no 符号 after seeding"
            # The registry holds the population the agencies were seeded with: a lookup of the
            # registered person answers the My Number the agency was given.
            resident = people[registration.person_key]
            found = client.post(
                f"{registry.url}/v1/lookup",
                json={
                    "name": f"{resident.family_name} {resident.given_name}",
                    "birth_date": resident.birth_date.isoformat(),
                    "sex": resident.sex,
                    "address": resident.address,
                },
            )
            assert found.status_code == 200, f"{name}: {found.text}"
            assert found.json()["my_number"] == resident.my_number, name
