"""Inquiries a second at the hub: one hub on PostgreSQL, beside two hubs on it behind nginx.

Starts two networks with the launcher in a temporary directory, both on the PostgreSQL server of
``--postgres`` (databases of their own, dropped at the end): the **baseline**, one hub
(``ipnsim up --postgres``), and the **candidate**, two hub processes sharing the hub's database
behind the nginx load balancer (``ipnsim up --postgres --hubs 2``). Each has 山形市, 小田原市,
福岡市 and デジタル庁 and the small synthetic population, seeded through the bulk path. The server's
connections are shared by every service's pool (and by whatever else uses the server), so the
networks run one at a time, baseline then candidate, each started afresh for every repeat.

The load is what intermediate servers send the hub: ``POST /v1/inquiries`` with the
requester's credential and 符号, at the hub's address (the load balancer's for the candidate),
for three personas in turn whose inquiries succeed with three different requester → provider
pairs (山形市→小田原市, 山形市→福岡市, 福岡市→デジタル庁), each with a new
inquiry id. So every request is checked, converted, routed to a real provider's intermediate
server, answered from its replica, and recorded: the hub appends one leaf and one signed head to
its record log, the provider writes its copy. The requester's intermediate server is left out:
the hub tier is what is measured.

This process drives the load (aiohttp, ``--concurrency`` requests in flight, ``--duration``
seconds a point) after ``--warm-up`` seconds of untimed load on each network; each point is
measured ``--repeat`` times, baseline and candidate alternately, and the table shows medians, the
candidate/baseline ratio, and the CPU time per inquiry of each part (the hub processes, nginx,
the providers' intermediate servers, the PostgreSQL backends serving the network, this load
generator), from /proc. Nothing is pinned: the point is to use more than one core. Every
process started is stopped and every database dropped at the end, also on Ctrl-C, SIGTERM or
an error.

    python benchmarks/several_hubs.py [--postgres URL] [--duration 10] [--concurrency 16,64]
                                      [--repeat 2] [--warm-up 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import os
import resource
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inquiry_throughput import (
    concurrency_list,
    cpu_seconds,
    keep_in_flight,
    percentile,
    positive,
    positive_int,
    stopped_on_sigterm,
)

from agencies.catalogue import agency_by_slug
from agencies.population import Population, generate_population
from ipnsim.launcher import Launcher, find_free_port_block
from ipnsim.postgres import drop_databases
from ipnsim.seeding import seed_network

AGENCIES = ("yamagata", "odawara", "fukuoka", "digital-agency")
PERSONAS = ("moved_in", "dependant_claimed_in_two_others", "account_holder")
"""Personas whose inquiries succeed (09/01), each a different requester → provider pair."""
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGETS = {"one": "one hub", "two": "two hubs + nginx"}


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Inquiry:
    """One persona's inquiry as the requester's intermediate server sends it to the hub."""

    authorization: str
    body: dict[str, object]


@dataclass
class Network:
    """One started network and what drives it."""

    name: str
    launcher: Launcher
    url: str
    inquiries: list[Inquiry]
    parts: dict[str, list[int]] = field(default_factory=dict)
    """Process ids by part (hub, nginx, providers, postgres), for their CPU time."""


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (nginx's workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(child) for child in task.read_text().split())
        except (OSError, ValueError):
            continue
    return found


async def postgres_backends(server: str, databases: Sequence[str]) -> list[int]:
    """The PostgreSQL backends connected to these databases now (the services' pools)."""
    url = make_url(server).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(databases)
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def start_network(name: str, root: Path, server: str, hubs: int, population: Population) -> Network:
    agencies = [agency_by_slug(slug) for slug in AGENCIES]
    launcher = Launcher(
        data_dir=root / name, agencies=agencies, seed=0, postgres_url=server, hubs=hubs
    )
    launcher.port = find_free_port_block(launcher.port_count())
    try:
        network = launcher.start()
        asyncio.run(seed_network(network, population))
        launcher.mark_seeded()
        inquiries = []
        with httpx.Client(base_url=network.hub.url, timeout=30) as client:
            personas = client.get("/v1/personas").json()["personas"]
            for persona in PERSONAS:
                inquiry = next(p for p in personas if p["name"] == persona)["inquiry"]
                credential = network.agency(inquiry["requester_slug"]).credential
                authorization = f"Bearer {credential}"
                person = population.persona_person(persona)
                issued = client.post(
                    "/v1/pseudonyms",
                    json={
                        "agency_code": inquiry["requester_code"],
                        "resident_code": person.resident_code,
                    },
                    headers={"Authorization": authorization},
                )
                issued.raise_for_status()
                condition: dict[str, object] = {"kind": "latest"}
                if inquiry["fiscal_year"] is not None:
                    condition = {"kind": "fiscal_year", "fiscal_year": inquiry["fiscal_year"]}
                inquiries.append(
                    Inquiry(
                        authorization,
                        {
                            "requester_code": inquiry["requester_code"],
                            "requester_pseudonym": issued.json()["pseudonym"],
                            "affair_code": inquiry["affair_code"],
                            "procedure_code": inquiry["procedure_code"],
                            "info_type_code": inquiry["info_type_code"],
                            "provider_code": inquiry["provider_code"],
                            "condition": condition,
                        },
                    )
                )
        hub_names = {"hub"} if hubs == 1 else {s.name for s in network.hub_instances}
        parts = {
            "hub": [launcher.processes[n].pid for n in hub_names],
            "providers": [launcher.processes[s.name].pid for s in network.agencies],
        }
        if hubs > 1:
            master = launcher.processes["hub"].pid
            parts["nginx"] = [master, *children(master)]
        result = Network(name, launcher, network.hub.url, inquiries, parts)
        for inquiry in inquiries:
            answer = httpx.post(
                result.url + "/v1/inquiries",
                content=encode(inquiry),
                headers=headers(inquiry),
                timeout=30,
            )
            if answer.status_code != 200 or not succeeded(answer.content):
                raise RuntimeError(f"{name}: an inquiry did not succeed: {answer.text[:300]}")
        return result
    except BaseException:
        stop(launcher, server)
        raise


def stop(launcher: Launcher, server: str) -> None:
    launcher.stop()
    if launcher.network is not None:
        drop_databases(server, launcher.database_names())


def encode(inquiry: Inquiry) -> bytes:
    body = inquiry.body | {
        "inquiry_id": str(uuid.uuid4()),
        "requested_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    return json.dumps(body).encode()


def headers(inquiry: Inquiry) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": inquiry.authorization}


def succeeded(content: bytes) -> bool:
    try:
        result = json.loads(content)
    except ValueError:
        return False
    return (
        isinstance(result, dict)
        and result.get("error") is None
        and (result.get("status_detail"), result.get("status_info_type")) == ("09", "01")
    )


@dataclass
class Point:
    target: str
    concurrency: int
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]
    """CPU seconds of each part meanwhile (NaN where unknown)."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def cpu_ms(self, part: str) -> float:
        value = self.cpu.get(part, math.nan)
        return value / self.requests * 1000 if self.requests else math.nan


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def part_cpu(network: Network) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process of each part, by process id (this one as 0)."""
    found: dict[str, dict[int, float]] = {"load generator": {0: own_cpu()}}
    for part, pids in network.parts.items():
        seconds = {pid: cpu_seconds([pid]) for pid in pids}
        found[part] = {pid: value for pid, value in seconds.items() if value is not None}
    return found


def spent(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds of each part between two readings, over the processes in both (a pooled
    database connection may be replaced meanwhile)."""
    return {
        part: sum(
            after[part][pid] - before[part][pid] for pid in after[part] if pid in before[part]
        )
        if after[part]
        else math.nan
        for part in after
    }


async def drive(network: Network, concurrency: int, duration: float) -> Point:
    def request_for(turn: int) -> tuple[bytes, dict[str, str]]:
        inquiry = network.inquiries[turn % len(network.inquiries)]
        return encode(inquiry), headers(inquiry)

    before = part_cpu(network)
    load = await keep_in_flight(
        network.url + "/v1/inquiries",
        concurrency,
        duration,
        request_for,
        succeeded,
        request_timeout=60,
    )
    after = part_cpu(network)
    return Point(
        target=network.name,
        concurrency=concurrency,
        requests=len(load.latencies),
        failures=load.failures,
        seconds=load.seconds,
        p50_ms=percentile(load.latencies, 0.50) * 1000,
        p99_ms=percentile(load.latencies, 0.99) * 1000,
        cpu=spent(before, after),
    )


PARTS = ("hub", "nginx", "providers", "postgres", "load generator")


def table(points: Sequence[Point], concurrencies: Sequence[int]) -> str:
    def median_of(name: str, concurrency: int, value: str) -> float:
        values = [
            point.rate
            if value == "rate"
            else point.p50_ms
            if value == "p50"
            else point.p99_ms
            if value == "p99"
            else point.cpu_ms(value)
            for point in points
            if point.target == name and point.concurrency == concurrency
        ]
        known = [v for v in values if not math.isnan(v)]
        return statistics.median(known) if known else math.nan

    def shown(value: float) -> str:
        return f"{'-':>6}" if math.isnan(value) else f"{value:>6.2f}"

    repeats = sum(1 for p in points if p.target == "one" and p.concurrency == concurrencies[0])
    lines = [
        f"{repeats} repeat(s) per point, medians; nothing pinned; CPU ms per inquiry by part",
        "",
        "| target           |   c |  req/s | p50 ms | p99 ms |    hub |  nginx | providers | postgres | load gen | failures |",
        "|------------------|----:|-------:|-------:|-------:|-------:|-------:|----------:|---------:|---------:|---------:|",
    ]
    for concurrency in concurrencies:
        for name in TARGETS:
            failures = sum(
                p.failures for p in points if p.target == name and p.concurrency == concurrency
            )
            cpu = [shown(median_of(name, concurrency, part)) for part in PARTS]
            lines.append(
                f"| {TARGETS[name]:<16} | {concurrency:>3} "
                f"| {median_of(name, concurrency, 'rate'):>6,.0f} "
                f"| {median_of(name, concurrency, 'p50'):>6.1f} "
                f"| {median_of(name, concurrency, 'p99'):>6.1f} "
                f"| {cpu[0]} | {cpu[1]} | {cpu[2]:>9} | {cpu[3]:>8} | {cpu[4]:>8} "
                f"| {failures:>8} |"
            )
    lines.append("")
    for concurrency in concurrencies:
        one = median_of("one", concurrency, "rate")
        two = median_of("two", concurrency, "rate")
        lines.append(f"c={concurrency}: two hubs / one hub = {two / one:.2f}x")
    lines.append(
        "per run (req/s): "
        + "; ".join(f"{p.target} c={p.concurrency} {p.rate:,.0f}" for p in points)
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("IPNSIM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="PostgreSQL server URL (default: IPNSIM_TEST_POSTGRES_URL, else the local one)",
    )
    parser.add_argument("--duration", type=positive, default=10.0, help="seconds a point (10)")
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=[16, 64],
        help="requests in flight, comma-separated (16,64)",
    )
    parser.add_argument("--repeat", type=positive_int, default=2, help="measurements a point")
    parser.add_argument("--warm-up", type=positive, default=3.0, help="untimed seconds first")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    points: list[Point] = []
    population = generate_population(seed=0, size=40)
    with stopped_on_sigterm(), tempfile.TemporaryDirectory(prefix="ipnsim-hubs-") as directory:
        root = Path(directory)
        # One network at a time: the PostgreSQL server's connections are shared (every service
        # keeps a pool), so the two networks alternate, each started afresh for every repeat.
        for repeat in range(1, args.repeat + 1):
            for name, hubs in (("one", 1), ("two", 2)):
                log(f"run {repeat}: starting {TARGETS[name]} on PostgreSQL")
                network = start_network(
                    name, root / f"run{repeat}", args.postgres, hubs, population
                )
                try:
                    log(f"run {repeat}: warming up {TARGETS[name]} for {args.warm_up:g}s")
                    asyncio.run(drive(network, max(args.concurrency), args.warm_up))
                    network.parts["postgres"] = asyncio.run(
                        postgres_backends(args.postgres, network.launcher.database_names())
                    )
                    for concurrency in args.concurrency:
                        point = asyncio.run(drive(network, concurrency, args.duration))
                        points.append(point)
                        log(
                            f"run {repeat}: {TARGETS[name]:<16} c={concurrency:<3} "
                            f"{point.rate:>6,.0f} req/s  p50 {point.p50_ms:6.1f} ms  "
                            f"p99 {point.p99_ms:6.1f} ms  hub CPU {point.cpu_ms('hub'):5.2f} "
                            f"ms/inq  failures {point.failures}"
                        )
                finally:
                    stop(network.launcher, args.postgres)
    print(table(points, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
