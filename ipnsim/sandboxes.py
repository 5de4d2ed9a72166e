"""Sandboxes (サンドボックス): isolated copies of a service's data for parallel test pipelines.

A request that carries the header ``X-Ipnsim-Sandbox: <key>`` is served from that sandbox's own
database instead of the service's default one; the hub and the intermediate servers pass the
header on to each other, so one inquiry stays inside one sandbox from end to end, with its own
people, replicas, provision records and record log. A sandbox is created on first use as a copy
of the reference data set: the default database as it was when the reference snapshot was taken
(``ipnsim up`` takes it right after seeding; otherwise the first sandbox takes it).

With SQLite each sandbox is a file beside the default one (``hub.sandbox-<key>.sqlite``), the
reference data set ``hub.reference.sqlite``; with PostgreSQL each is a schema of the service's
database (``sandbox_<key>``), the reference data set the schema ``ipnsim_reference``.

A request without the header is served by the default database exactly as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Integer, MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from error_codes import IpnsimError
from error_codes.http import error_response
from ipnsim.storage import create_engine, migrate

logger = logging.getLogger("ipnsim.sandboxes")

SANDBOX_HEADER = "X-Ipnsim-Sandbox"
"""The request header naming the sandbox a request belongs to."""
SANDBOX_ENV = "IPNSIM_SANDBOX"
"""The environment variable the command line and the pytest plugin take the sandbox from."""
KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
"""A sandbox key: 1–32 lower-case letters, digits and '-', not starting with '-'."""
MAX_SANDBOXES = 16
"""How many sandboxes a service keeps at most unless configured otherwise."""
REFERENCE_SCHEMA = "ipnsim_reference"

_KEY = re.compile(KEY_PATTERN)
_HEADER = SANDBOX_HEADER.lower().encode("latin-1")

current_sandbox: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ipnsim_sandbox", default=None
)
"""The sandbox of the request (or background work) being handled; None: the default one."""


def valid_key(key: str) -> str:
    """``key`` if it is a valid sandbox key; SBX001 if not."""
    if not _KEY.fullmatch(key):
        raise IpnsimError("SBX001", key=key[:64])
    return key


def sandbox_headers() -> dict[str, str]:
    """The header passing the current sandbox on to another service (none for the default)."""
    key = current_sandbox.get()
    return {} if key is None else {SANDBOX_HEADER: key}


class SandboxInfo(BaseModel):
    """One sandbox of a service."""

    key: str = Field(description="The sandbox key (X-Ipnsim-Sandbox).")
    open: bool = Field(description="Whether the service has the sandbox's database open now.")


class SandboxMiddleware:
    """Pure ASGI middleware: sets :data:`current_sandbox` from the request's header (refusing an
    invalid key with SBX001); a request without the header costs one scan of its headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given: bytes | None = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                given = value
                break
        if given is None:
            await self.app(scope, receive, send)
            return
        try:
            key = valid_key(given.decode("latin-1"))
        except IpnsimError as error:
            await error_response(error)(scope, receive, send)
            return
        token = current_sandbox.set(key)
        try:
            await self.app(scope, receive, send)
        finally:
            current_sandbox.reset(token)


class SandboxStore:
    """Where a service keeps its sandboxes' databases, and how they are copied and dropped."""

    def __init__(
        self,
        database_url: str,
        migrations: Path,
        metadata: MetaData,
        default_engine: AsyncEngine,
        limit: int = MAX_SANDBOXES,
        on_drop: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``on_drop`` removes whatever else the service keeps for a sandbox being deleted."""
        self.url = make_url(database_url)
        self.on_drop = on_drop
        self.migrations = migrations
        self.metadata = metadata
        self.default_engine = default_engine
        self.limit = limit
        self.postgres = self.url.get_backend_name() == "postgresql"
        database = self.url.database or ""
        in_memory = database in {"", ":memory:"} or self.url.query.get("mode") == "memory"
        self.file: Path | None = None if self.postgres or in_memory else Path(database)

    # --- naming -------------------------------------------------------------------------------

    def _path(self, label: str) -> Path:
        assert self.file is not None
        return self.file.with_name(f"{self.file.stem}.{label}{self.file.suffix}")

    def _sqlite_url(self, path: Path) -> str:
        return self.url.set(database=str(path)).render_as_string(hide_password=False)

    @staticmethod
    def _schema(key: str) -> str:
        return "sandbox_" + key.replace("-", "_")

    async def keys(self) -> list[str]:
        """The keys of the sandboxes stored, sorted."""
        if self.postgres:
            async with self.default_engine.connect() as connection:
                names = await connection.scalars(
                    text("SELECT schema_name FROM information_schema.schemata")
                )
                found = [
                    name.removeprefix("sandbox_").replace("_", "-")
                    for name in names
                    if name.startswith("sandbox_")
                ]
        elif self.file is not None:
            prefix = f"{self.file.stem}.sandbox-"
            found = [
                path.name[len(prefix) : len(path.name) - len(self.file.suffix)]
                for path in self.file.parent.glob(f"{prefix}*{self.file.suffix}")
                if path.name.endswith(self.file.suffix)
                and not path.name.endswith(("-wal", "-shm", "-journal"))
            ]
        else:
            found = []
        return sorted(key for key in found if _KEY.fullmatch(key))

    async def exists(self, key: str) -> bool:
        return key in await self.keys()

    # --- the reference data set ---------------------------------------------------------------

    async def has_reference(self) -> bool:
        if self.postgres:
            async with self.default_engine.connect() as connection:
                found = await connection.scalar(
                    text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
                    {"name": REFERENCE_SCHEMA},
                )
            return found is not None
        return self.file is None or self._path("reference").exists()

    async def snapshot_reference(self) -> None:
        """Take the default database as it is now as the reference data set (replacing any)."""
        if self.postgres:
            await self._copy_schema(await self._default_schema(), REFERENCE_SCHEMA)
        elif self.file is not None:
            target = self._path("reference")
            partial = target.with_name(target.name + ".partial")
            partial.unlink(missing_ok=True)
            async with self.default_engine.connect() as connection:
                await connection.exec_driver_sql("VACUUM INTO ?", (str(partial),))
            partial.replace(target)
        logger.info("reference data set taken from the default database")

    # --- sandboxes ----------------------------------------------------------------------------

    async def create(self, key: str) -> None:
        """Create the sandbox as a copy of the reference data set (taken now if there is none);
        SBX002 when the service already has its limit of sandboxes."""
        if len(await self.keys()) >= self.limit:
            raise IpnsimError("SBX002", key=key, limit=str(self.limit))
        if not await self.has_reference():
            await self.snapshot_reference()
        if self.postgres:
            await self._copy_schema(REFERENCE_SCHEMA, self._schema(key))
        elif self.file is not None:
            target = self._path(f"sandbox-{key}")
            partial = target.with_name(target.name + ".partial")
            await asyncio.to_thread(shutil.copyfile, self._path("reference"), partial)
            partial.replace(target)
        logger.info("sandbox %s created from the reference data set", key)

    def engine(self, key: str) -> AsyncEngine:
        """An engine on the sandbox's database (which must exist)."""
        if self.postgres:
            return create_engine(
                self.url.render_as_string(hide_password=False), schema=self._schema(key)
            )
        if self.file is None:
            return create_engine(self.url.render_as_string(hide_password=False))
        return create_engine(self._sqlite_url(self._path(f"sandbox-{key}")))

    async def drop(self, key: str) -> None:
        """Delete the sandbox's database (nothing happens if there is none)."""
        if self.postgres:
            async with self.default_engine.begin() as connection:
                await connection.execute(
                    text(f'DROP SCHEMA IF EXISTS "{self._schema(key)}" CASCADE')
                )
        elif self.file is not None:
            path = self._path(f"sandbox-{key}")
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        if self.on_drop is not None:
            await self.on_drop(key)
        logger.info("sandbox %s deleted", key)

    # --- PostgreSQL ---------------------------------------------------------------------------

    async def _default_schema(self) -> str:
        async with self.default_engine.connect() as connection:
            schema = await connection.scalar(text("SELECT current_schema()"))
        return str(schema)

    async def _copy_schema(self, source: str, target: str) -> None:
        """Replace the schema ``target`` by a migrated copy of the tables of ``source``."""
        async with self.default_engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))
            await connection.execute(text(f'CREATE SCHEMA "{target}"'))
        engine = create_engine(self.url.render_as_string(hide_password=False), schema=target)
        try:
            await migrate(engine, self.migrations)
        finally:
            await engine.dispose()
        async with self.default_engine.begin() as connection:
            for table in self.metadata.sorted_tables:
                columns = ", ".join(f'"{column.name}"' for column in table.columns)
                await connection.execute(
                    text(
                        f'INSERT INTO "{target}"."{table.name}" ({columns}) '
                        f'SELECT {columns} FROM "{source}"."{table.name}"'
                    )
                )
                for column in table.primary_key.columns:
                    if not isinstance(column.type, Integer):
                        continue
                    sequence = await connection.scalar(
                        text("SELECT pg_get_serial_sequence(:table, :column)"),
                        {"table": f'"{target}"."{table.name}"', "column": column.name},
                    )
                    if sequence is not None:
                        await connection.execute(
                            text(
                                f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 0) + 1,'
                                f' false) FROM "{target}"."{table.name}"'
                            ),
                            {"sequence": sequence},
                        )


W = TypeVar("W")


@dataclass
class _Open(Generic[W]):
    engine: AsyncEngine
    world: W


class Sandboxes(Generic[W]):
    """The sandboxes of one service: for each one open, its engine and its *world* (the
    service's objects built on that engine, with their background tasks).

    ``open_world`` builds a world on a sandbox's migrated engine (run with
    :data:`current_sandbox` set, so that tasks it starts keep the sandbox); ``close_world``
    stops it before its engine is disposed.
    """

    def __init__(
        self,
        store: SandboxStore,
        open_world: Callable[[str, AsyncEngine], Awaitable[W]],
        close_world: Callable[[W], Awaitable[None]],
    ) -> None:
        self.store = store
        self._open_world = open_world
        self._close_world = close_world
        self._open: dict[str, _Open[W]] = {}
        self._lock = asyncio.Lock()

    async def world(self, key: str) -> W:
        """The sandbox's world, opened (and the sandbox created) on first use."""
        found = self._open.get(key)
        if found is not None:
            return found.world
        async with self._lock:
            found = self._open.get(key)
            if found is None:
                found = await self._open_locked(key)
            return found.world

    def opened(self, key: str) -> W | None:
        """The sandbox's world if it is open now."""
        found = self._open.get(key)
        return None if found is None else found.world

    async def _open_locked(self, key: str) -> _Open[W]:
        if not await self.store.exists(key):
            await self.store.create(key)
        engine = self.store.engine(key)
        token = current_sandbox.set(key)
        try:
            await migrate(engine, self.store.migrations)
            opened = _Open(engine, await self._open_world(key, engine))
        except BaseException:
            await engine.dispose()
            raise
        finally:
            current_sandbox.reset(token)
        self._open[key] = opened
        return opened

    async def _close(self, key: str) -> None:
        opened = self._open.pop(key, None)
        if opened is not None:
            try:
                await self._close_world(opened.world)
            finally:
                await opened.engine.dispose()

    async def reset(self, key: str) -> SandboxInfo:
        """Return the sandbox to the reference data set (creating it if it does not exist)."""
        async with self._lock:
            await self._close(key)
            await self.store.drop(key)
            await self._open_locked(key)
        return SandboxInfo(key=key, open=True)

    async def delete(self, key: str) -> None:
        """Delete the sandbox and its data (nothing happens if there is none)."""
        async with self._lock:
            await self._close(key)
            await self.store.drop(key)

    async def list(self) -> list[SandboxInfo]:
        return [SandboxInfo(key=key, open=key in self._open) for key in await self.store.keys()]

    async def close(self) -> None:
        """Stop every open sandbox (the service is stopping)."""
        async with self._lock:
            for key in list(self._open):
                with contextlib.suppress(Exception):
                    await self._close(key)


async def stop_tasks(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel a world's background tasks and wait until each has stopped."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sandbox_router(
    current: Callable[[Request], Sandboxes[Any]], dependencies: Sequence[Any] = ()
) -> APIRouter:
    """The endpoints ``/v1/sandboxes…`` of a service; ``current`` finds the request's
    :class:`Sandboxes` (from the request)."""
    router = APIRouter(prefix="/v1/sandboxes", tags=["sandboxes"], dependencies=dependencies)

    @router.get("")
    async def list_sandboxes(request: Request) -> list[SandboxInfo]:
        """The sandboxes this service keeps (each a copy of the reference data set)."""
        return await current(request).list()

    @router.post("/{key}/reset")
    async def reset_sandbox(key: str, request: Request) -> SandboxInfo:
        """Return the sandbox to the reference data set (created if it does not exist;
        SBX001 for an invalid key, SBX002 beyond the limit of sandboxes)."""
        return await current(request).reset(valid_key(key))

    @router.delete("/{key}", status_code=204)
    async def delete_sandbox(key: str, request: Request) -> Response:
        """Delete the sandbox and all its data (nothing happens if there is none)."""
        await current(request).delete(valid_key(key))
        return Response(status_code=204)

    @router.post("/reference", status_code=204)
    async def take_reference(request: Request) -> Response:
        """Take the default database as it is now as the reference data set that sandboxes
        are created from and reset to (``ipnsim up`` does so once seeding is done)."""
        await current(request).store.snapshot_reference()
        return Response(status_code=204)

    return router
