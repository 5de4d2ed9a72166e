"""Start the whole network on loopback: the hub and one intermediate server per agency.

Each service is a separate process serving HTTP, with its own SQLite file and log under one data
directory. ``network.json`` in that directory tells clients (``ipnsim inquire`` …) where
everything is and holds the credentials; it is created once and reused on the next start.

With several hubs (``hubs`` ≥ 2, PostgreSQL only) the hub's address is an nginx load balancer
(:mod:`ipnsim.load_balancer`) in front of that many hub processes (``hub-1``, ``hub-2`` …) which
share the hub's database and its record log's signing key; agencies and clients use the load
balancer's address as the hub's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from agencies.catalogue import Agency, default_agencies
from error_codes.recording import RECORD_ENV
from ipnsim.clock import CLOCK_FILE_ENV
from ipnsim.load_balancer import (
    LoadBalancerError,
    find_nginx,
    nginx_command,
    write_nginx_config,
)
from ipnsim.logs import LOG_FORMAT_ENV
from ipnsim.postgres import PostgresError, database_name, ensure_databases, service_database_url
from ipnsim.tracing import TRACE_DIR_ENV
from network.protocol.record_log import RETENTION_PURGE_ENV, load_or_create_key

NETWORK_FILE = "network.json"
DEFAULT_DATA_DIR = Path(".ipnsim")
DEFAULT_PORT = 8700
PERSONAS_FILE = "personas.json"
CLOCK_FILE = "clock.json"
"""The simulated clock every service of the network shares (``IPNSIM_CLOCK_FILE``)."""
"""The personas of the network's population, as the hub serves them."""
REGISTRY_SERVICE = "resident-registry"
"""Name of the mock resident registry (住基ネット) among the network's services."""
REGISTRY_ROLE = "registry"
HOST_ROLE = "agency-host"
"""The role of a process serving the intermediate servers of many agencies."""
HOSTED_DIR = "hosted"
"""Where the hosted agencies' SQLite files live, under the data directory."""
DEFAULT_AGENCIES_PER_PROCESS = 600
"""Hosted agencies per agency host process unless told otherwise (every local government:
three processes)."""
HUB_INSTANCE_ROLE = "hub-instance"
"""One of several hub processes behind the load balancer (the service named ``hub``)."""
LOAD_BALANCER = "nginx"
"""What serves the hub's address when several hubs run (``ServiceInfo.process``)."""
MAX_HUBS = 16


class LaunchError(RuntimeError):
    """The network could not be started; the message says why and where to look."""


class ServiceInfo(BaseModel):
    """Where one running service is, and how to talk to it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    url: str
    port: int
    log_file: str
    agency_code: str | None = None
    name_ja: str | None = None
    credential: str | None = None
    host: str | None = None
    """The agency host process serving this agency (its URL ends in ``/agencies/<code>``);
    None for a service with a process of its own."""
    process: str | None = None
    """What runs at this address when it is not an ipnsim service: ``nginx`` for the hub's
    load balancer in front of several hubs."""


class NetworkFile(BaseModel):
    """The contents of ``network.json``."""

    model_config = ConfigDict(extra="forbid")

    host: str
    hub_secret: str
    admin_token: str
    seed: int
    population: int = 40
    """How many people the synthetic population of this network has (its size)."""
    seeded: bool = False
    postgres_url: str | None = None
    database_prefix: str | None = None
    services: list[ServiceInfo]

    @property
    def hub(self) -> ServiceInfo:
        return next(service for service in self.services if service.role == "hub")

    @property
    def processes(self) -> list[ServiceInfo]:
        """The services with a process of their own (every service but the hosted agencies)."""
        return [service for service in self.services if service.host is None]

    def hosted(self, host: str) -> list[ServiceInfo]:
        """The agencies the agency host ``host`` serves."""
        return [service for service in self.services if service.host == host]

    @property
    def agencies(self) -> list[ServiceInfo]:
        return [service for service in self.services if service.role == "agency"]

    def service(self, name: str) -> ServiceInfo:
        """The service of this name (KeyError if there is none)."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(f"no service {name!r} in this network")

    @property
    def hub_instances(self) -> list[ServiceInfo]:
        """The hub processes behind the load balancer (none when one hub serves alone)."""
        return [service for service in self.services if service.role == HUB_INSTANCE_ROLE]

    def agency(self, name_or_code: str) -> ServiceInfo:
        """An agency's service by slug (``yamagata``) or 16-digit code."""
        for service in self.agencies:
            if name_or_code in {service.name, service.agency_code}:
                return service
        known = ", ".join(service.name for service in self.agencies)
        raise KeyError(f"no agency {name_or_code!r} in this network (known: {known})")


def load_network_file(data_dir: Path) -> NetworkFile:
    """Read ``network.json``; LaunchError if the network was never started there."""
    path = data_dir / NETWORK_FILE
    try:
        return NetworkFile.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LaunchError(
            f"no network in {data_dir}: start one with 'ipnsim up --data-dir {data_dir}'"
        ) from None
    except (OSError, ValidationError) as exc:
        raise LaunchError(f"{path} is unreadable: {exc}") from None


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``port`` (connections closing there do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


LOWEST_TEST_PORT = 20_000


def ephemeral_port_start() -> int:
    """The first port the system hands out to outgoing connections (Linux: from
    ``/proc/sys/net/ipv4/ip_local_port_range``; 32768 where it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def find_free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """A first port such that ``count`` consecutive ports are free (for tests and parallel runs).

    The block lies below the ephemeral range, so no outgoing connection of any process can take
    one of its ports between this check and the services binding them.
    """
    room = max(count, ephemeral_port_start() - LOWEST_TEST_PORT - count)
    for _ in range(200):
        base = secrets.randbelow(room) + LOWEST_TEST_PORT
        if all(port_is_free(host, base + offset) for offset in range(count)):
            return base
    raise LaunchError(f"found no {count} consecutive free ports on {host}")


@dataclass
class Launcher:
    """Starts, watches and stops the network's processes."""

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    agencies: Sequence[Agency] = field(default_factory=default_agencies)
    hosted: Sequence[Agency] = ()
    """Agencies served by agency host processes instead of a process each (SQLite only)."""
    agencies_per_process: int = DEFAULT_AGENCIES_PER_PROCESS
    """Hosted agencies per agency host process."""
    max_open_agencies: int | None = None
    """Hosted agencies an agency host keeps open at once; None keeps the host's default
    (``IPNSIM_HOST_MAX_OPEN``)."""
    seed: int = 0
    population: int = 40
    """Size of the synthetic population (people) this network is seeded with."""
    provider_timeout: float = 5.0
    startup_timeout: float = 60.0
    log_level: str = "info"
    postgres_url: str | None = None
    """A PostgreSQL server for the services' databases; None keeps SQLite files."""
    fresh_databases: bool = False
    manual_response_seconds: float | None = None
    """How long an inquiry held for staff (自動応答不可) waits before it expires; None keeps
    the intermediate servers' default (``IPNSIM_AGENCY_MANUAL_RESPONSE_SECONDS``)."""
    faults_file: Path | None = None
    """JSON list of faults the hub puts in force at start (``IPNSIM_HUB_FAULTS_FILE``)."""
    log_format: str = "text"
    """How the services log: ``text`` or ``json`` (``IPNSIM_LOG_FORMAT``)."""
    trace_dir: Path | None = None
    """Where every service writes its spans, one JSON object a line (``IPNSIM_TRACE_DIR``);
    None writes none."""
    max_inquiries_in_flight: int | None = None
    """Inquiries the hub handles at once before refusing with AVL007; None keeps the hub's
    default (``IPNSIM_HUB_MAX_INQUIRIES_IN_FLIGHT``). Each hub process counts its own."""
    hubs: int = 1
    """Hub processes; two or more share one PostgreSQL database behind an nginx load balancer
    that serves the hub's port."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    network: NetworkFile | None = None

    # --- preparing ----------------------------------------------------------------------------

    def port_count(self) -> int:
        """How many consecutive ports from ``port`` the network's own processes take (the hub
        or its load balancer, the agencies, the resident registry, the hub processes); agency
        hosts take the ports after them."""
        return len(self.agencies) + 2 + (self.hubs if self.hubs > 1 else 0)

    def prepare(self) -> NetworkFile:
        """Create or reuse the data directory and ``network.json``; write the hub's registry."""
        if not 1 <= self.hubs <= MAX_HUBS:
            raise LaunchError(f"--hubs must be between 1 and {MAX_HUBS}, not {self.hubs}")
        if self.hubs > 1 and self.postgres_url is None:
            raise LaunchError(
                f"{self.hubs} hubs share one database, which must be PostgreSQL: give "
                "--postgres URL (SQLite serves a single hub)"
            )
        if self.hubs > 1:
            try:
                find_nginx()
            except LoadBalancerError as error:
                raise LaunchError(str(error)) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        path = self.data_dir / NETWORK_FILE
        previous = load_network_file(self.data_dir) if path.exists() else None
        if previous is not None and previous.seed != self.seed:
            raise LaunchError(
                f"{self.data_dir} holds a network seeded with {previous.seed}, not {self.seed}: "
                "use another --data-dir or --fresh"
            )
        if previous is not None and previous.population != self.population:
            raise LaunchError(
                f"{self.data_dir} holds a network of {previous.population} people, not "
                f"{self.population}: use another --data-dir or --fresh"
            )
        credentials = {
            service.name: service.credential for service in (previous.agencies if previous else [])
        }
        services = [self._service("hub", "hub", self.port)]
        if self.hubs > 1:
            services[0].process = LOAD_BALANCER
        for offset, agency in enumerate(self.agencies, start=1):
            info = self._service(agency.slug, "agency", self.port + offset)
            info.agency_code = agency.code
            info.name_ja = agency.name_ja
            info.credential = credentials.get(agency.slug) or secrets.token_urlsafe(24)
            services.append(info)
        services.append(
            self._service(REGISTRY_SERVICE, REGISTRY_ROLE, self.port + len(self.agencies) + 1)
        )
        if self.hubs > 1:
            first = self.port + len(self.agencies) + 2
            services.extend(
                self._service(f"hub-{number}", HUB_INSTANCE_ROLE, first + number - 1)
                for number in range(1, self.hubs + 1)
            )
        services += self._hosted_services(credentials)
        network = NetworkFile(
            host=self.host,
            hub_secret=previous.hub_secret if previous else secrets.token_urlsafe(32),
            admin_token=previous.admin_token if previous else secrets.token_urlsafe(24),
            seed=self.seed,
            population=self.population,
            seeded=previous.seeded if previous else False,
            postgres_url=self.postgres_url,
            database_prefix=self._database_prefix(),
            services=services,
        )
        if previous is not None and previous.postgres_url != self.postgres_url:
            raise LaunchError(
                f"{self.data_dir} holds a network on "
                f"{'PostgreSQL' if previous.postgres_url else 'SQLite'}: use the same database "
                "option, another --data-dir, or --fresh"
            )
        if self.postgres_url is not None and self.hosted:
            raise LaunchError(
                "hosted agencies (--municipalities) keep SQLite files: leave out --postgres"
            )
        if self.postgres_url is not None:
            try:
                ensure_databases(
                    self.postgres_url,
                    [
                        self._database_name(service)
                        for service in services
                        if service.role not in {REGISTRY_ROLE, HOST_ROLE, HUB_INSTANCE_ROLE}
                    ],
                    recreate=self.fresh_databases or previous is None,
                )
            except PostgresError as error:
                raise LaunchError(str(error)) from None
        self._write(network)
        by_slug = {service.name: service for service in network.agencies}
        registry = {
            "agencies": [
                {
                    "code": agency.code,
                    "name_ja": agency.name_ja,
                    "name_en": agency.name_en,
                    "kind": agency.kind.value,
                    "base_url": by_slug[agency.slug].url,
                    "credential": by_slug[agency.slug].credential,
                }
                for agency in [*self.agencies, *self.hosted]
            ]
        }
        registry_path = self.data_dir / "hub-registry.json"
        registry_path.write_text(json.dumps(registry, ensure_ascii=False, indent=2), "utf-8")
        registry_path.chmod(0o600)
        self._write_personas()
        self._write_host_files(network)
        if self.hubs > 1:
            # Every hub signs the one record log with the same key: create it before any starts.
            load_or_create_key(self._log_key(network.hub))
            try:
                write_nginx_config(
                    self.data_dir,
                    network.hub,
                    [(network.host, service.port) for service in network.hub_instances],
                )
            except LoadBalancerError as error:
                raise LaunchError(str(error)) from None
        self.network = network
        return network

    def _hosted_services(self, credentials: dict[str, str | None]) -> list[ServiceInfo]:
        """The agency host processes and the agencies each serves."""
        if not self.hosted:
            return []
        if self.agencies_per_process < 1:
            raise LaunchError("agencies per process must be at least 1")
        hosted = list(self.hosted)
        taken = {agency.code for agency in self.agencies}
        if any(agency.code in taken for agency in hosted):
            raise LaunchError("an agency cannot both have its own process and be hosted")
        first_port = self.port + self.port_count()
        services: list[ServiceInfo] = []
        agencies: list[ServiceInfo] = []
        for index, start in enumerate(range(0, len(hosted), self.agencies_per_process)):
            host = self._service(f"{HOST_ROLE}-{index + 1}", HOST_ROLE, first_port + index)
            services.append(host)
            for agency in hosted[start : start + self.agencies_per_process]:
                agencies.append(
                    ServiceInfo(
                        name=agency.slug,
                        role="agency",
                        url=f"{host.url}/agencies/{agency.code}",
                        port=host.port,
                        log_file=host.log_file,
                        agency_code=agency.code,
                        name_ja=agency.name_ja,
                        credential=credentials.get(agency.slug) or secrets.token_urlsafe(24),
                        host=host.name,
                    )
                )
        return services + agencies

    def _host_file(self, host: str) -> Path:
        return self.data_dir / "hosts" / f"{host}.json"

    def _write_host_files(self, network: NetworkFile) -> None:
        """Write each agency host's agencies file (with their credentials, mode 600)."""
        from intermediate_server.host import HostedAgency, hosted_agencies_json

        hosts = [service for service in network.services if service.role == HOST_ROLE]
        if not hosts:
            return
        (self.data_dir / "hosts").mkdir(exist_ok=True)
        (self.data_dir / HOSTED_DIR).mkdir(exist_ok=True)
        for host in hosts:
            agencies = [
                HostedAgency.model_validate(
                    {
                        "code": service.agency_code,
                        "name_ja": service.name_ja,
                        "credential": service.credential,
                        "database_url": self._database_url(service),
                    }
                )
                for service in network.hosted(host.name)
            ]
            path = self._host_file(host.name)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(hosted_agencies_json(agencies), encoding="utf-8")
            temporary.chmod(0o600)
            temporary.replace(path)

    def _write_personas(self) -> None:
        """Write the personas of this network's population for the hub (``GET /v1/personas``)."""
        from agencies.population import persona_population

        personas = persona_population(seed=self.seed).persona_catalogue()
        personas = personas.model_copy(update={"population": self.population})
        path = self.data_dir / PERSONAS_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(personas.model_dump_json(indent=2), encoding="utf-8")
        temporary.replace(path)

    def _service(self, name: str, role: str, port: int) -> ServiceInfo:
        return ServiceInfo(
            name=name,
            role=role,
            url=f"http://{self.host}:{port}",
            port=port,
            log_file=str(self.data_dir / "logs" / f"{name}.log"),
        )

    def _database_prefix(self) -> str:
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:8]
        return f"ipnsim_{digest}"

    def database_names(self) -> list[str]:
        """Names of the PostgreSQL databases of this network's services."""
        assert self.network is not None
        return [
            self._database_name(service)
            for service in self.network.processes
            if service.role not in {REGISTRY_ROLE, HOST_ROLE, HUB_INSTANCE_ROLE}
        ]

    @staticmethod
    def _owner(service: ServiceInfo) -> str:
        """Whose data the service keeps: every hub process keeps the hub's."""
        return "hub" if service.role == HUB_INSTANCE_ROLE else service.name

    def _log_key(self, service: ServiceInfo) -> Path:
        return (self.data_dir / f"{self._owner(service)}-log-key.pem").resolve()

    def _database_name(self, service: ServiceInfo) -> str:
        return database_name(self._database_prefix(), self._owner(service))

    def _database_url(self, service: ServiceInfo) -> str:
        if service.host is not None:
            path = self.data_dir / HOSTED_DIR / f"{service.name}.sqlite3"
            return f"sqlite+aiosqlite:///{path.resolve()}"
        if self.postgres_url is not None:
            return service_database_url(self.postgres_url, self._database_name(service))
        path = (self.data_dir / f"{self._owner(service)}.sqlite3").resolve()
        return f"sqlite+aiosqlite:///{path}"

    def _write(self, network: NetworkFile) -> None:
        path = self.data_dir / NETWORK_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(network.model_dump_json(indent=2), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(path)

    def mark_seeded(self) -> None:
        """Note in ``network.json`` that the network is seeded, and have every running service
        take its data as it is now as the reference data set that sandboxes start from."""
        assert self.network is not None
        self.network.seeded = True
        self._write(self.network)
        take_reference(
            self.network, [s.name for s in self.network.services if s.name in self.processes]
        )

    def _environment(self, service: ServiceInfo) -> dict[str, str]:
        assert self.network is not None
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("IPNSIM_") or key in (RECORD_ENV, RETENTION_PURGE_ENV)
        }
        database = self._database_url(service)
        log_key = str(self._log_key(service))
        if service.role in {"hub", HUB_INSTANCE_ROLE, "agency", HOST_ROLE}:
            env[CLOCK_FILE_ENV] = str((self.data_dir / CLOCK_FILE).resolve())
        if self.log_format != "text":
            env[LOG_FORMAT_ENV] = self.log_format
        if self.trace_dir is not None:
            env[TRACE_DIR_ENV] = str(self.trace_dir.resolve())
        if service.role in {"hub", HUB_INSTANCE_ROLE}:
            env |= {
                "IPNSIM_HUB_DATABASE_URL": database,
                "IPNSIM_HUB_REGISTRY_FILE": str((self.data_dir / "hub-registry.json").resolve()),
                "IPNSIM_HUB_SECRET": self.network.hub_secret,
                "IPNSIM_HUB_ADMIN_TOKEN": self.network.admin_token,
                "IPNSIM_HUB_PROVIDER_TIMEOUT": str(self.provider_timeout),
                "IPNSIM_HUB_PERSONAS_FILE": str((self.data_dir / PERSONAS_FILE).resolve()),
                "IPNSIM_HUB_LOG_KEY_FILE": log_key,
            }
            if self.faults_file is not None:
                env["IPNSIM_HUB_FAULTS_FILE"] = str(self.faults_file.resolve())
            if self.max_inquiries_in_flight is not None:
                env["IPNSIM_HUB_MAX_INQUIRIES_IN_FLIGHT"] = str(self.max_inquiries_in_flight)
        elif service.role == REGISTRY_ROLE:
            env |= {
                "IPNSIM_REGISTRY_SEED": str(self.network.seed),
                "IPNSIM_REGISTRY_POPULATION": str(self.network.population),
            }
        elif service.role == HOST_ROLE:
            env |= {
                "IPNSIM_HOST_AGENCIES_FILE": str(self._host_file(service.name).resolve()),
                "IPNSIM_AGENCY_HUB_URL": self.network.hub.url,
                "IPNSIM_AGENCY_HUB_TIMEOUT": str(self.provider_timeout * 2 + 5),
            }
            if self.max_open_agencies is not None:
                env["IPNSIM_HOST_MAX_OPEN"] = str(self.max_open_agencies)
            if self.manual_response_seconds is not None:
                env["IPNSIM_AGENCY_MANUAL_RESPONSE_SECONDS"] = str(self.manual_response_seconds)
        else:
            assert service.agency_code and service.name_ja and service.credential
            env |= {
                "IPNSIM_AGENCY_CODE": service.agency_code,
                "IPNSIM_AGENCY_NAME_JA": service.name_ja,
                "IPNSIM_AGENCY_CREDENTIAL": service.credential,
                "IPNSIM_AGENCY_HUB_URL": self.network.hub.url,
                "IPNSIM_AGENCY_DATABASE_URL": database,
                "IPNSIM_AGENCY_HUB_TIMEOUT": str(self.provider_timeout * 2 + 5),
                "IPNSIM_AGENCY_LOG_KEY_FILE": log_key,
            }
            if self.manual_response_seconds is not None:
                env["IPNSIM_AGENCY_MANUAL_RESPONSE_SECONDS"] = str(self.manual_response_seconds)
            if self.postgres_url is not None:
                # With SQLite the batch files live beside the database file.
                batch_dir = (self.data_dir / f"{service.name}-batch").resolve()
                env["IPNSIM_AGENCY_BATCH_DIR"] = str(batch_dir)
        return env

    # --- running ------------------------------------------------------------------------------

    def start(self, report: Callable[[str], None] = lambda _: None) -> NetworkFile:
        """Start every service and wait until all answer ``/health``; stop all on failure."""
        network = self.prepare()
        busy = [s for s in network.processes if not port_is_free(self.host, s.port)]
        if busy:
            names = ", ".join(f"{s.name} ({s.port})" for s in busy)
            raise LaunchError(f"ports already in use: {names}; choose another --port")
        try:
            # The load balancer starts once the hubs answer, so that it never marks one down
            # for having tried it too early.
            for balanced in (False, True):
                group = [
                    s.name for s in network.processes if (s.process == LOAD_BALANCER) is balanced
                ]
                for name in group:
                    self.start_service(name)
                    report(f"started {name} on {network.service(name).url}")
                self.wait_healthy(report, group)
        except BaseException:
            self.stop()
            raise
        return network

    def start_service(self, name: str) -> None:
        """Start (or restart) one service's process."""
        assert self.network is not None
        service = next(s for s in self.network.processes if s.name == name)
        if service.process == LOAD_BALANCER:
            try:
                argv = nginx_command(self.data_dir)
            except LoadBalancerError as error:
                raise LaunchError(str(error)) from None
            environment = dict(os.environ)
        else:
            role = "hub" if service.role == HUB_INSTANCE_ROLE else service.role
            argv = [
                sys.executable,
                "-m",
                "ipnsim",
                "serve",
                role,
                "--host",
                self.host,
                "--port",
                str(service.port),
                "--log-level",
                self.log_level,
            ]
            environment = self._environment(service)
        log = open(service.log_file, "ab")  # noqa: SIM115 - owned by the child process
        try:
            self.processes[name] = subprocess.Popen(
                argv,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def wait_healthy(
        self,
        report: Callable[[str], None] = lambda _: None,
        names: Collection[str] | None = None,
    ) -> None:
        """Wait until every started service (of ``names``, default all) answers ``/health``."""
        assert self.network is not None
        deadline = time.monotonic() + self.startup_timeout
        pending = {
            s.name: s
            for s in self.network.services
            if s.name in self.processes and (names is None or s.name in names)
        }
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name, service in list(pending.items()):
                    process = self.processes[name]
                    if process.poll() is not None:
                        raise LaunchError(
                            f"{name} exited with status {process.returncode} during start-up; "
                            f"its log {service.log_file} ends:\n{tail(Path(service.log_file))}"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(service.url + "/health").status_code == 200:
                            del pending[name]
                            report(f"{name} is healthy")
                if time.monotonic() > deadline:
                    names = ", ".join(pending)
                    raise LaunchError(f"not healthy after {self.startup_timeout:g}s: {names}")
                if pending:
                    time.sleep(0.1)

    def stop_service(self, name: str, grace: float = 10.0) -> None:
        """Stop one service: SIGTERM, then SIGKILL after ``grace`` seconds."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill_service(self, name: str) -> None:
        """Kill one service at once (SIGKILL), as a crash would."""
        process = self.processes.pop(name)
        process.kill()
        process.wait()

    def stop(self) -> None:
        """Stop every service: all are asked at once, then each is awaited."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for name in list(self.processes):
            self.stop_service(name)

    def exited(self) -> list[tuple[str, int]]:
        """Services whose process has ended, with their exit status."""
        return [
            (name, process.returncode)
            for name, process in self.processes.items()
            if process.poll() is not None
        ]


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def take_reference(network: NetworkFile, names: Sequence[str] | None = None) -> None:
    """Have the hub and every intermediate server (of ``names``, default all) take its
    default database as the reference data set (POST /v1/sandboxes/reference)."""
    with httpx.Client(timeout=120.0) as client:
        for service in network.services:
            if service.role not in {"hub", "agency"} or (
                names is not None and service.name not in names
            ):
                continue
            response = client.post(
                service.url + "/v1/sandboxes/reference",
                headers={"Authorization": f"Bearer {network.admin_token}"},
            )
            if response.status_code != 204:
                raise LaunchError(
                    f"{service.name} did not take the reference data set: "
                    f"{response.status_code} {response.text[:200]}"
                )
