"""PostgreSQL for the tests: the server ``IPNSIM_TEST_POSTGRES_URL`` names, and scratch databases
on it."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from ipnsim.postgres import drop_databases, ensure_databases, service_database_url


def postgres_server() -> str | None:
    """The server's URL, or None where nothing answers at its address."""
    url = os.environ.get("IPNSIM_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 2):
            return url
    except OSError:
        return None


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database named ``<prefix>_<random>``, dropped at the end; the
    test is skipped where no server answers."""
    server = postgres_server()
    if server is None:
        pytest.skip("no PostgreSQL server reachable (set IPNSIM_TEST_POSTGRES_URL)")
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    ensure_databases(server, [database])
    try:
        yield service_database_url(server, database)
    finally:
        drop_databases(server, [database])
