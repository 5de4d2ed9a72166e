"""The privacy invariant: My Number and resident codes never reach the hub's storage or logs."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from agencies.catalogue import YAMAGATA
from tests.e2e.conftest import RunningNetwork, run
from tests.e2e.test_inquiry_flow import inquire, tax_order

pytestmark = pytest.mark.e2e


def sqlite_bytes(network: RunningNetwork, service: str) -> bytes:
    files = sorted(network.data_dir.glob(f"{service}.sqlite3*"))
    assert files, f"no database files for {service}"
    return b"".join(path.read_bytes() for path in files)


async def postgres_text(server: str, database: str) -> bytes:
    url = make_url(server).set(drivername="postgresql", database=database)
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        assert tables
        dump: list[str] = []
        for table in tables:
            rows = await connection.fetch(f'SELECT row_to_json(t)::text AS row FROM "{table[0]}" t')
            dump.extend(row["row"] for row in rows)
        return "\n".join(dump).encode()
    finally:
        await connection.close()


def stored(network: RunningNetwork, service: str) -> bytes:
    if network.backend == "sqlite":
        return sqlite_bytes(network, service)
    assert network.launcher.postgres_url is not None
    database = next(name for name in network.launcher.database_names() if name.endswith(service))
    return run(postgres_text(network.launcher.postgres_url, database))


def test_the_hub_stores_and_logs_no_my_number_or_resident_code(network: RunningNetwork) -> None:
    # An inquiry of its own, so that the hub holds a record whichever tests ran before.
    result = inquire(network, YAMAGATA, tax_order(network, "moved_in"))
    assert result.error is None
    secrets = [
        value.encode()
        for person in network.population.people
        for value in (person.my_number, person.resident_code)
    ]
    hub_data = stored(network, "hub")
    hub_log = (network.data_dir / "logs" / "hub.log").read_bytes()

    assert b"provision_records" in hub_data or b"inquiry_id" in hub_data
    assert hub_log, "the hub should have logged its work"
    leaked = [value for value in secrets if value in hub_data or value in hub_log]
    assert leaked == []


def test_the_intermediate_server_keeps_the_my_number_it_was_given(
    network: RunningNetwork,
) -> None:
    """The scan above can find a My Number: the municipality's own store holds them."""
    person = network.population.persona_person("moved_in")

    assert person.my_number.encode() in stored(network, YAMAGATA)
