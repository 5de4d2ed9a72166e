"""Sandbox keys, where each sandbox's database lives, and which database a request is given."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from error_codes import IpnsimError
from ipnsim.client import AgencyClient, use_sandbox
from ipnsim.sandboxes import (
    SANDBOX_HEADER,
    Sandboxes,
    SandboxMiddleware,
    SandboxStore,
    current_sandbox,
    sandbox_headers,
    valid_key,
)
from ipnsim.storage import create_engine, migrate, sessionmaker
from network.db import MIGRATIONS, Base, CaseCount


@pytest.mark.parametrize("key", ["a", "ci-1234", "worker-gw0", "0", "a" * 32])
def test_valid_keys_are_accepted(key: str) -> None:
    assert valid_key(key) == key


@pytest.mark.parametrize("key", ["", "-a", "A", "a_b", "a b", "a/b", "a" * 33, "ü", "a\n"])
def test_invalid_keys_are_refused_with_sbx001(key: str) -> None:
    with pytest.raises(IpnsimError) as refused:
        valid_key(key)
    assert refused.value.code == "SBX001"
    assert refused.value.http_status == 422


def test_the_header_is_passed_on_only_inside_a_sandbox() -> None:
    assert sandbox_headers() == {}
    token = current_sandbox.set("ci-1")
    try:
        assert sandbox_headers() == {SANDBOX_HEADER: "ci-1"}
    finally:
        current_sandbox.reset(token)
    assert sandbox_headers() == {}


def test_clients_carry_the_sandbox_given_or_chosen() -> None:
    async def headers(**options: Any) -> dict[str, str]:
        async with AgencyClient("http://127.0.0.1:9", **options) as client:
            return client.headers

    assert SANDBOX_HEADER not in asyncio.run(headers())
    assert asyncio.run(headers(sandbox="mine"))[SANDBOX_HEADER] == "mine"
    use_sandbox("chosen")
    try:
        assert asyncio.run(headers())[SANDBOX_HEADER] == "chosen"
        assert SANDBOX_HEADER not in asyncio.run(headers(sandbox=None))
    finally:
        use_sandbox(None)


async def _cases(engine: AsyncEngine) -> int:
    async with sessionmaker(engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(CaseCount)) or 0)


async def _add_case(engine: AsyncEngine, agency: str) -> None:
    async with sessionmaker(engine).begin() as session:
        session.add(
            CaseCount(
                agency_code=agency,
                procedure_code="JT01010000000214",
                month="2026-01",
                cases=1,
                reported_at=dt.datetime.now(dt.UTC),
            )
        )


def test_sqlite_sandboxes_are_files_copied_from_the_reference(tmp_path: Path) -> None:
    async def scenario() -> None:
        default = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}")
        await migrate(default, MIGRATIONS)
        await _add_case(default, "0" * 16)
        store = SandboxStore(str(default.url), MIGRATIONS, Base.metadata, default, limit=2)
        assert await store.keys() == []
        await store.snapshot_reference()
        await _add_case(default, "1" * 16)  # after the reference: not in sandboxes

        await store.create("ci-1")
        assert await store.keys() == ["ci-1"]
        sandbox = store.engine("ci-1")
        assert sandbox.url.database == str(tmp_path / "hub.sandbox-ci-1.sqlite")
        await migrate(sandbox, MIGRATIONS)
        assert await _cases(sandbox) == 1
        await _add_case(sandbox, "2" * 16)
        assert (await _cases(sandbox), await _cases(default)) == (2, 2)
        await sandbox.dispose()

        await store.create("ci-2")
        with pytest.raises(IpnsimError) as full:
            await store.create("ci-3")
        assert full.value.code == "SBX002"

        await store.drop("ci-1")
        assert await store.keys() == ["ci-2"]
        assert not (tmp_path / "hub.sandbox-ci-1.sqlite").exists()
        await store.drop("ci-1")  # nothing there: nothing happens
        await default.dispose()

    asyncio.run(scenario())


def test_a_postgresql_sandbox_is_a_schema_of_its_own() -> None:
    assert SandboxStore._schema("ci-1") == "sandbox_ci_1"
    default = create_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    store = SandboxStore(str(default.url), MIGRATIONS, Base.metadata, default)
    assert store.postgres and store.file is None
    assert store.engine("ci-1").url == default.url  # same database, another search path


def test_each_sandbox_gets_its_own_world_built_inside_the_sandbox(tmp_path: Path) -> None:
    opened: list[tuple[str, str | None]] = []
    closed: list[str] = []

    async def open_world(key: str, engine: AsyncEngine) -> tuple[str, AsyncEngine]:
        opened.append((key, current_sandbox.get()))
        return key, engine

    async def close_world(world: tuple[str, AsyncEngine]) -> None:
        closed.append(world[0])

    async def scenario() -> None:
        default = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite'}")
        await migrate(default, MIGRATIONS)
        store = SandboxStore(str(default.url), MIGRATIONS, Base.metadata, default)
        sandboxes = Sandboxes(store, open_world, close_world)
        first, again, second = await asyncio.gather(
            sandboxes.world("a"), sandboxes.world("a"), sandboxes.world("b")
        )
        assert first is again and first is not second
        assert first[1] is not second[1]
        await _add_case(first[1], "0" * 16)
        assert await _cases(first[1]) == 1 and await _cases(second[1]) == 0

        await sandboxes.reset("a")
        assert closed == ["a"]
        fresh = await sandboxes.world("a")
        assert fresh is not first and await _cases(fresh[1]) == 0
        assert [s.key for s in await sandboxes.list()] == ["a", "b"]

        await sandboxes.delete("b")
        assert [s.key for s in await sandboxes.list()] == ["a"]
        await sandboxes.close()
        assert sorted(closed) == ["a", "a", "b"]
        await default.dispose()

    asyncio.run(scenario())
    assert sorted(opened) == [("a", "a"), ("a", "a"), ("b", "b")]


def test_the_middleware_sets_the_sandbox_or_refuses_the_key() -> None:
    seen: list[str | None] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_sandbox.get())

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    def scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {"type": "http", "headers": list(headers), "method": "GET", "path": "/"}

    middleware = SandboxMiddleware(app)
    asyncio.run(middleware(scope(), receive, send))
    asyncio.run(middleware(scope((b"x-ipnsim-sandbox", b"ci-9")), receive, send))
    assert seen == [None, "ci-9"]
    assert current_sandbox.get() is None
    asyncio.run(middleware(scope((b"x-ipnsim-sandbox", b"Bad!")), receive, send))
    assert seen == [None, "ci-9"]
    assert sent[0]["status"] == 422
    assert b'"SBX001"' in sent[1]["body"]
