"""PostgreSQL as the services' database: one database per service, created on demand.

Given the URL of a server (any database on it), each service gets its own database named
``<prefix>_<service>``, so that several networks can share one server without seeing each
other's data.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from sqlalchemy.engine import make_url


class PostgresError(RuntimeError):
    """The PostgreSQL server could not be reached or refused to create a database."""


def service_database_url(server_url: str, database: str) -> str:
    """The SQLAlchemy async URL of ``database`` on the server of ``server_url``."""
    url = make_url(server_url)
    if url.get_backend_name() != "postgresql":
        raise PostgresError(f"not a PostgreSQL URL: {url.render_as_string()}")
    url = url.set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def database_name(prefix: str, service: str) -> str:
    name = f"{prefix}_{service}".lower()
    return re.sub(r"[^a-z0-9_]", "_", name)[:63]


def ensure_databases(server_url: str, names: list[str], recreate: bool = False) -> None:
    """Create each database that does not exist yet (dropping it first if ``recreate``)."""
    asyncio.run(_ensure(server_url, names, recreate))


async def _ensure(server_url: str, names: list[str], recreate: bool) -> None:
    url = make_url(server_url).set(drivername="postgresql")
    try:
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    except (OSError, asyncpg.PostgresError) as exc:
        raise PostgresError(f"cannot connect to {url.render_as_string()}: {exc}") from None
    try:
        for name in names:
            if recreate:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as exc:
        raise PostgresError(f"cannot create databases on {url.render_as_string()}: {exc}") from None
    finally:
        await connection.close()


def drop_databases(server_url: str, names: list[str]) -> None:
    """Drop the given databases (those a finished test network or CI run created)."""

    async def drop() -> None:
        url = make_url(server_url).set(drivername="postgresql")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            for name in names:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())
