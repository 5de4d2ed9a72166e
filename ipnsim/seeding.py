"""Load the synthetic population into a running network through the public APIs.

Each agency registers its people (and obtains their 符号) and then its replicas (副本登録)
through the bulk endpoints, in chunks that fit the services' body limit; agencies load in
parallel. Seeding twice changes nothing: a known person is accepted again and a record id
already present is left as it is.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from agencies.population import Population, Registration, ReplicaSeed
from intermediate_server.schemas import ReplicaRegistration
from ipnsim.client import AgencyClient, ServiceError, ServiceUnreachable
from ipnsim.launcher import NetworkFile
from network.protocol.models import ReplicaItem

Progress = Callable[[int, int], None]
"""Called with (done, total) as seeding advances, both counted in people and replicas."""

PEOPLE_PER_REQUEST = 2_000
"""People per bulk request (about 150 bytes each)."""
REPLICAS_PER_REQUEST = 1_000
"""Replicas per bulk request at most; the client sends fewer if they would not fit 1 MiB."""


async def seed_network(
    network: NetworkFile,
    population: Population,
    progress: Progress = lambda done, total: None,
    concurrency: int = 8,
) -> None:
    """Register every person and replica of ``population`` at the agencies of ``network``.

    ``concurrency`` bounds the bulk requests in flight over all agencies; each agency sends
    one at a time, its people before its replicas.
    """
    # Only the agencies the population lives at: the others (every other local government, say)
    # start empty and are left alone.
    held = {r.agency_slug for r in population.registrations} | {
        r.agency_slug for r in population.replicas
    }
    urls = {service.name: service.url for service in network.agencies if service.name in held}
    slugs = list(urls)
    people = {person.person_key: person for person in population.people}
    registrations: dict[str, list[Registration]] = {slug: [] for slug in slugs}
    for registration in population.registrations:
        if registration.agency_slug in registrations:
            registrations[registration.agency_slug].append(registration)
    replicas: dict[str, list[ReplicaSeed]] = {slug: [] for slug in slugs}
    for replica in population.replicas:
        if replica.agency_slug in replicas:
            replicas[replica.agency_slug].append(replica)
    total = sum(map(len, registrations.values())) + sum(map(len, replicas.values()))
    done = 0
    limit = asyncio.Semaphore(concurrency)
    # Seeding fills the default database, whatever sandbox the command line chose.
    clients = {slug: AgencyClient(url, sandbox=None) for slug, url in urls.items()}

    def person_json(registration: Registration) -> bytes:
        person = people[registration.person_key]
        return encode_person(registration, person.resident_code, person.my_number)

    async def load(slug: str) -> None:
        # Each chunk is built just before it is sent, so that building overlaps the services'
        # work on the chunks of other agencies.
        nonlocal done
        client = clients[slug]
        mine = registrations[slug]
        for start in range(0, len(mine), PEOPLE_PER_REQUEST):
            chunk = [person_json(r) for r in mine[start : start + PEOPLE_PER_REQUEST]]
            async with limit:
                await client.register_encoded_bulk("people", chunk, PEOPLE_PER_REQUEST)
            done += len(chunk)
            progress(done, total)
        held = replicas[slug]
        for start in range(0, len(held), REPLICAS_PER_REQUEST):
            batch = [encode_replica(r) for r in held[start : start + REPLICAS_PER_REQUEST]]
            async with limit:
                await client.register_encoded_bulk("replicas", batch, REPLICAS_PER_REQUEST)
            done += len(batch)
            progress(done, total)

    progress(done, total)
    tasks = [asyncio.ensure_future(load(slug)) for slug in slugs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients.values():
            await client.aclose()


def encode_person(registration: Registration, resident_code: str, my_number: str | None) -> bytes:
    """The JSON of one person of a bulk registration, built directly (the loader's hot path);
    the same object as ``PersonRegistration.model_dump_json(exclude_none=True)``."""
    fields: dict[str, object] = {
        "atena_number": registration.atena_number,
        "resident_code": resident_code,
    }
    if my_number is not None:
        fields["my_number"] = my_number
    fields["acquire_pseudonym"] = registration.acquire_pseudonym
    return _dumps(fields).encode()


def encode_replica(replica: ReplicaSeed) -> bytes:
    """The JSON of one replica of a bulk registration, built directly (the loader's hot path);
    the same object as ``replica_registration(replica).model_dump_json(exclude_none=True)``."""
    fields: dict[str, object] = {"layout_version": replica.layout_version}
    if replica.fiscal_year is not None:
        fields["fiscal_year"] = replica.fiscal_year
    fields["publication_start"] = replica.publication_start.isoformat()
    if replica.publication_end is not None:
        fields["publication_end"] = replica.publication_end.isoformat()
    fields["items"] = [
        {"code": code, "value": value}
        if reason is None
        else {"code": code, "reason_of_null": reason}
        if value is None
        else {"code": code, "value": value, "reason_of_null": reason}
        for code, value, reason in replica.wire_items()
    ]
    fields["record_id"] = replica.record_id
    fields["atena_number"] = replica.atena_number
    fields["info_type_code"] = replica.info_type_code
    fields["manual_response"] = replica.manual_response
    fields["non_disclosure"] = False
    return _dumps(fields).encode()


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def replica_registration(replica: ReplicaSeed) -> ReplicaRegistration:
    """The registration (副本登録) a business system sends for one replica of the population."""
    return ReplicaRegistration(
        record_id=replica.record_id,
        atena_number=replica.atena_number,
        info_type_code=replica.info_type_code,
        layout_version=replica.layout_version,
        fiscal_year=replica.fiscal_year,
        publication_start=replica.publication_start,
        publication_end=replica.publication_end,
        manual_response=replica.manual_response,
        items=[
            ReplicaItem(code=code, value=value, reason_of_null=reason)
            for code, value, reason in replica.wire_items()
        ],
    )


async def wait_until_healthy(network: NetworkFile, seconds: float) -> None:
    """Wait until every process of ``network`` answers ``/health`` (an agency host for all the
    agencies it serves); ServiceUnreachable if not."""
    deadline = time.monotonic() + seconds
    for service in network.processes:
        async with AgencyClient(service.url, timeout=2.0, sandbox=None) as client:
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
