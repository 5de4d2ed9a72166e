"""Load the synthetic population into a running network through the public APIs.

People are registered (and obtain their 符号) at every agency that knows them, then each agency
registers its replicas (副本登録). Seeding twice changes nothing: a known person is accepted
again and a record id already present is left as it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from agencies.population import Population
from intermediate_server.schemas import PersonRegistration, ReplicaRegistration
from ipnsim.client import AgencyClient, ServiceError, ServiceUnreachable
from ipnsim.launcher import NetworkFile
from network.protocol.models import ReplicaItem

Progress = Callable[[int, int], None]
"""Called with (done, total) as seeding advances."""


async def seed_network(
    network: NetworkFile,
    population: Population,
    progress: Progress = lambda done, total: None,
    concurrency: int = 8,
) -> None:
    """Register every person and replica of ``population`` at the agencies of ``network``."""
    present = {service.name for service in network.agencies}
    registrations = [r for r in population.registrations if r.agency_slug in present]
    replicas = [r for r in population.replicas if r.agency_slug in present]
    total = len(registrations) + len(replicas)
    done = 0
    limit = asyncio.Semaphore(concurrency)
    clients = {service.name: AgencyClient(service.url) for service in network.agencies}

    async def step(work: Awaitable[object]) -> None:
        nonlocal done
        async with limit:
            await work
        done += 1
        progress(done, total)

    async def register_replica(client: AgencyClient, registration: ReplicaRegistration) -> None:
        try:
            await client.register_replica(registration)
        except ServiceError as error:
            if error.body.code != "RPL002":
                raise

    try:
        await asyncio.gather(
            *(
                step(
                    clients[r.agency_slug].register_person(
                        PersonRegistration(
                            atena_number=r.atena_number,
                            resident_code=population.person(r.person_key).resident_code,
                            my_number=population.person(r.person_key).my_number,
                            acquire_pseudonym=r.acquire_pseudonym,
                        )
                    )
                )
                for r in registrations
            )
        )
        await asyncio.gather(
            *(
                step(
                    register_replica(
                        clients[r.agency_slug],
                        ReplicaRegistration(
                            record_id=r.record_id,
                            atena_number=r.atena_number,
                            info_type_code=r.info_type_code,
                            layout_version=r.layout_version,
                            fiscal_year=r.fiscal_year,
                            publication_start=r.publication_start,
                            publication_end=r.publication_end,
                            items=[ReplicaItem(code=code, value=value) for code, value in r.items],
                        ),
                    )
                )
                for r in replicas
            )
        )
    finally:
        for client in clients.values():
            await client.aclose()


async def wait_until_healthy(network: NetworkFile, seconds: float) -> None:
    """Wait until every service of ``network`` answers ``/health``; ServiceUnreachable if not."""
    deadline = time.monotonic() + seconds
    for service in network.services:
        async with AgencyClient(service.url, timeout=2.0) as client:
            while True:
                try:
                    await client.health()
                    break
                except (ServiceUnreachable, ServiceError):
                    if time.monotonic() > deadline:
                        raise ServiceUnreachable(
                            f"{service.name} at {service.url} not healthy after {seconds:g}s"
                        ) from None
                    await asyncio.sleep(0.5)
