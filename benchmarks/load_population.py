"""How long generating and loading a large synthetic population takes.

Starts a fresh network (hub and every catalogue agency, SQLite, as ``ipnsim up`` does) in a
temporary directory and times, in each run:

(a) generating the population of ``--people`` people;
(b) loading all of it through the bulk path (``ipnsim.seeding.seed_network``: bulk requests
    per agency, agencies in parallel);
(c) as the baseline, in a second fresh network, loading a sample of ``--baseline-people``
    people and their replicas through the per-item API: one request per person and per
    replica, eight in flight. Its per-item cost is extrapolated to the full size.

Services are pinned to core 1 and this loader to core 0 with ``taskset`` when it exists and the
machine has two cores or more; ``--no-pin`` (or no taskset, or one core) lets services and
loader share every core, as ``ipnsim up`` runs them, and the table says which. Each run
starts its own networks; the table shows medians of the runs. Every process started is stopped
at the end, whatever happens.

    python benchmarks/load_population.py [--people 100000] [--runs 2] [--baseline-people 1000]
                                         [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agencies.catalogue import default_agencies
from agencies.population import Population, Registration, ReplicaSeed, generate_population
from intermediate_server.schemas import PersonRegistration, ReplicaRegistration
from ipnsim.client import AgencyClient, ServiceError
from ipnsim.launcher import Launcher, NetworkFile, find_free_port_block
from ipnsim.seeding import replica_registration, seed_network

LOADER_CORE = 0
SERVICE_CORE = 1
OLD_CONCURRENCY = 8
"""Requests in flight in the old one-request-per-item seeding."""
WARM_UP_PEOPLE = 20
"""People (and as many replicas) each agency registers, untimed, before a timed load."""


# --- pinning ----------------------------------------------------------------------------------


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin(pid: int, core: int) -> None:
    """Pin every thread of process ``pid`` to one core."""
    subprocess.run(
        ["taskset", "-a", "-c", "-p", str(core), str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# --- the networks -----------------------------------------------------------------------------


def start_network(data_dir: Path, people: int, seed: int, pinned: bool) -> Launcher:
    """A fresh network of every catalogue agency; its services pinned to SERVICE_CORE."""
    agencies = default_agencies()
    launcher = Launcher(
        data_dir=data_dir,
        port=find_free_port_block(len(agencies) + 2),  # and the hub and the resident registry
        agencies=agencies,
        seed=seed,
        population=people,
    )
    try:
        launcher.start()
        if pinned:
            for process in launcher.processes.values():
                pin(process.pid, SERVICE_CORE)
    except BaseException:
        launcher.stop()
        raise
    return launcher


@dataclass
class Sample:
    """Part of a population: some people, their registrations and the replicas about them."""

    registrations: list[tuple[str, PersonRegistration]] = field(default_factory=list)
    replicas: list[tuple[str, ReplicaRegistration]] = field(default_factory=list)

    @property
    def items(self) -> int:
        return len(self.registrations) + len(self.replicas)


def sample_of(population: Population, network: NetworkFile, size: int) -> Sample:
    """The first ``size`` people of ``population``, as the agencies of ``network`` know them."""
    present = {service.name for service in network.agencies}
    chosen = {person.person_key: person for person in population.people[:size]}
    sample = Sample()
    known: set[tuple[str, str]] = set()
    for registration in population.registrations:
        person = chosen.get(registration.person_key)
        if person is None or registration.agency_slug not in present:
            continue
        sample.registrations.append(
            (
                registration.agency_slug,
                person_registration(registration, person.resident_code, person.my_number),
            )
        )
        known.add((registration.agency_slug, registration.atena_number))
    sample.replicas = [
        (replica.agency_slug, replica_registration(replica))
        for replica in population.replicas
        if (replica.agency_slug, replica.atena_number) in known
    ]
    return sample


def person_registration(
    registration: Registration, resident_code: str, my_number: str
) -> PersonRegistration:
    return PersonRegistration(
        atena_number=registration.atena_number,
        resident_code=resident_code,
        my_number=my_number,
        acquire_pseudonym=registration.acquire_pseudonym,
    )


def items_at_agencies(population: Population, network: NetworkFile) -> int:
    present = {service.name for service in network.agencies}
    return sum(1 for r in population.registrations if r.agency_slug in present) + sum(
        1 for r in population.replicas if r.agency_slug in present
    )


def warm_up_sample(population: Population, network: NetworkFile) -> Sample:
    """A few synthetic people and replicas per agency that the population does not contain."""
    used = {person.resident_code for person in population.people}
    first_replica: dict[str, ReplicaSeed] = {}
    for replica in population.replicas:
        first_replica.setdefault(replica.agency_slug, replica)
    sample = Sample()
    number = 0
    for offset, service in enumerate(network.agencies):
        for n in range(WARM_UP_PEOPLE):
            number += 1
            resident_code = f"99{number:09d}"
            while resident_code in used:
                number += 1
                resident_code = f"99{number:09d}"
            atena = f"99{offset:03d}{n:010d}"
            sample.registrations.append(
                (service.name, PersonRegistration(atena_number=atena, resident_code=resident_code))
            )
            template = first_replica.get(service.name)
            if template is not None:
                registration = replica_registration(template)
                sample.replicas.append(
                    (
                        service.name,
                        registration.model_copy(
                            update={"record_id": f"WARM-UP-{n:04d}", "atena_number": atena}
                        ),
                    )
                )
    return sample


# --- the two ways of loading ------------------------------------------------------------------


async def load_one_by_one(network: NetworkFile, sample: Sample) -> None:
    """The per-item API: one request per person, then one per replica."""
    limit = asyncio.Semaphore(OLD_CONCURRENCY)
    clients = {service.name: AgencyClient(service.url) for service in network.agencies}

    async def register_person(slug: str, registration: PersonRegistration) -> None:
        async with limit:
            await clients[slug].register_person(registration)

    async def register_replica(slug: str, registration: ReplicaRegistration) -> None:
        async with limit:
            try:
                await clients[slug].register_replica(registration)
            except ServiceError as error:
                if error.body.code != "RPL002":
                    raise

    try:
        await asyncio.gather(*(register_person(s, r) for s, r in sample.registrations))
        await asyncio.gather(*(register_replica(s, r) for s, r in sample.replicas))
    finally:
        for client in clients.values():
            await client.aclose()


async def load_in_bulk(network: NetworkFile, sample: Sample) -> None:
    """A sample through the bulk endpoints (used here only to warm the services up)."""
    for service in network.agencies:
        people = [r for slug, r in sample.registrations if slug == service.name]
        replicas = [r for slug, r in sample.replicas if slug == service.name]
        async with AgencyClient(service.url) as client:
            if people:
                await client.register_people_bulk(people)
            if replicas:
                await client.register_replicas_bulk(replicas)


async def check_loaded(network: NetworkFile, population: Population) -> None:
    """Spot-check that the last person and replica of every agency arrived."""
    for service in network.agencies:
        registrations = population.registrations_at(service.name)
        replicas = population.replicas_at(service.name)
        async with AgencyClient(service.url) as client:
            if registrations:
                last = registrations[-1]
                person = await client.person(last.atena_number)
                assert person.pseudonym is not None or not last.acquire_pseudonym, last
            if replicas:
                found = await client.replicas(replicas[-1].atena_number)
                assert replicas[-1].record_id in {view.record_id for view in found}


# --- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    generate_s: float
    people: int
    bulk_items: int
    bulk_s: float
    sample_people: int
    sample_items: int
    sample_s: float

    @property
    def bulk_us(self) -> float:
        return self.bulk_s / self.bulk_items * 1e6

    @property
    def sample_us(self) -> float:
        return self.sample_s / self.sample_items * 1e6


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def one_run(number: int, args: argparse.Namespace, root: Path, pinned: bool) -> Run:
    started = time.perf_counter()
    population = generate_population(seed=args.seed, size=args.people)
    generate_s = time.perf_counter() - started
    log(f"run {number}: generated {len(population.people):,} people in {generate_s:.2f}s")

    bulk = start_network(root / f"run{number}-bulk", args.people, args.seed, pinned)
    try:
        assert bulk.network is not None
        network: NetworkFile = bulk.network
        asyncio.run(load_in_bulk(network, warm_up_sample(population, network)))
        bulk_items = items_at_agencies(population, network)
        bulk_s = timed(lambda: asyncio.run(seed_network(network, population)))
        log(f"run {number}: bulk-loaded {bulk_items:,} items in {bulk_s:.2f}s")
        asyncio.run(check_loaded(network, population))
    finally:
        bulk.stop()

    baseline = start_network(root / f"run{number}-baseline", args.people, args.seed, pinned)
    try:
        assert baseline.network is not None
        network = baseline.network
        asyncio.run(load_one_by_one(network, warm_up_sample(population, network)))
        sample = sample_of(population, network, args.baseline_people)
        sample_s = timed(lambda: asyncio.run(load_one_by_one(network, sample)))
        log(
            f"run {number}: loaded a sample of {sample.items:,} items one request at a time "
            f"in {sample_s:.2f}s"
        )
    finally:
        baseline.stop()
    log(f"run {number}: done in {time.perf_counter() - started:.0f}s")
    return Run(
        generate_s=generate_s,
        people=len(population.people),
        bulk_items=bulk_items,
        bulk_s=bulk_s,
        sample_people=args.baseline_people,
        sample_items=sample.items,
        sample_s=sample_s,
    )


# --- report -----------------------------------------------------------------------------------


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def table(runs: Sequence[Run], pinned: bool) -> str:
    def median(values: Sequence[float]) -> float:
        return statistics.median(values)

    first = runs[0]
    generate_s = median([run.generate_s for run in runs])
    bulk_s = median([run.bulk_s for run in runs])
    bulk_us = median([run.bulk_us for run in runs])
    sample_s = median([run.sample_s for run in runs])
    sample_us = median([run.sample_us for run in runs])
    extrapolated_s = sample_us * first.bulk_items / 1e6
    rows = [
        ("(a) generate the population", f"{first.people:,} people", generate_s, None),
        ("(b) load it, bulk path", f"{first.bulk_items:,} items", bulk_s, bulk_us),
        (
            f"(c) baseline: {first.sample_people:,}-person sample, 1 request/item",
            f"{first.sample_items:,} items",
            sample_s,
            sample_us,
        ),
        (
            "(c) baseline extrapolated to the full size",
            f"{first.bulk_items:,} items",
            extrapolated_s,
            sample_us,
        ),
        ("(a)+(b) generate and load, bulk path", "", generate_s + bulk_s, None),
    ]
    lines = [
        f"people {first.people:,}; {len(runs)} run(s), medians; "
        + (
            f"services pinned to core {SERVICE_CORE}, loader to core {LOADER_CORE}"
            if pinned
            else "not pinned: services and loader share every core"
        ),
        "",
        f"| {'step':<52} | {'size':>15} | {'seconds':>9} | {'µs/item':>8} | {'items/s':>8} |",
        f"|{'-' * 54}|{'-' * 17}:|{'-' * 10}:|{'-' * 9}:|{'-' * 9}:|",
    ]
    for name, size, seconds, per_item in rows:
        us = f"{per_item:,.0f}" if per_item else ""
        rate = f"{1e6 / per_item:,.0f}" if per_item else ""
        lines.append(f"| {name:<52} | {size:>15} | {seconds:>9.2f} | {us:>8} | {rate:>8} |")
    lines += [
        "",
        f"bulk path per item: {sample_us / bulk_us:.1f}x faster than one request per item; "
        f"loading {first.bulk_items:,} items takes {bulk_s:.1f}s instead of about "
        f"{extrapolated_s / 60:.1f} min",
        "per run (generate s / bulk s / sample s): "
        + "; ".join(f"{r.generate_s:.2f} / {r.bulk_s:.2f} / {r.sample_s:.2f}" for r in runs),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="population size")
    parser.add_argument("--runs", type=int, default=2, help="runs (medians are shown)")
    parser.add_argument(
        "--baseline-people", type=int, default=1_000, help="people in the baseline's sample"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the population")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin: services and loader share every core, as with 'ipnsim up'",
    )
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pinned = can_pin() and not args.no_pin
    if pinned:
        pin(os.getpid(), LOADER_CORE)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ipnsim-bench-") as directory:
        for number in range(1, args.runs + 1):
            runs.append(one_run(number, args, Path(directory), pinned))
    print(table(runs, pinned))
    return 0


if __name__ == "__main__":
    sys.exit(main())
