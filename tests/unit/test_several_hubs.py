"""What several hubs on one database rely on: group commit of the record log, a log read again
when another process replaced the database, 符号 issued at once by two hubs, one signing key
created once, and the load balancer's configuration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from error_codes import IpnsimError
from ipnsim.launcher import HUB_INSTANCE_ROLE, Launcher, LaunchError, ServiceInfo
from ipnsim.load_balancer import nginx_config
from ipnsim.storage import LoopReads, ReadWouldWait, create_engine, migrate
from network.db import MIGRATIONS
from network.protocol import record_log
from network.protocol.merkle import MerkleTree
from network.protocol.record_log import load_or_create_key, public_key_bytes, verify_head
from network.service import HubService
from tests.unit.test_hub_record_log import hub_service
from tests.unit.test_hub_service import AGENCIES, ODAWARA, YAMAGATA, inquiry, issue


@contextlib.asynccontextmanager
async def two_hubs_on_one_file(tmp_path: Path) -> AsyncIterator[list[HubService]]:
    """Two hubs, each with an engine of its own, on one migrated SQLite file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
    engines = [create_engine(url), create_engine(url)]
    try:
        await migrate(engines[0], MIGRATIONS)
        yield [hub_service(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


def test_records_arriving_together_are_committed_together_as_one_sequence(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            hub = hub_service(engine)
            await issue(hub, ODAWARA)
            pseudonym = await issue(hub, YAMAGATA)
            requests = [inquiry(pseudonym) for _ in range(20)]
            duplicate = inquiry(pseudonym, inquiry_id=requests[0].inquiry_id)
            await hub.inquire(AGENCIES[YAMAGATA], requests[0])
            outcomes = await asyncio.gather(
                *(hub.inquire(AGENCIES[YAMAGATA], r) for r in requests[1:]),
                hub.inquire(AGENCIES[YAMAGATA], duplicate),
                return_exceptions=True,
            )
            refused = [o for o in outcomes if isinstance(o, BaseException)]
            assert [getattr(o, "code", o) for o in refused] == ["REC004"]
            assert isinstance(refused[0], IpnsimError)
            async with hub.sessions() as session:
                stored = await hub.log.entries(session, 0, 100)
            assert [e.leaf_index for e in stored.entries] == list(range(20))
            assert {e.inquiry_id for e in stored.entries} == {r.inquiry_id for r in requests}
            # Fewer signed heads than leaves: the records that waited were appended together.
            sizes = [head.tree_size for head in stored.tree_heads]
            assert sizes[-1] == 20 and len(sizes) < 20
            hashes = [bytes.fromhex(e.leaf_hash or "") for e in stored.entries]
            key = public_key_bytes(hub.log.key)
            for head in stored.tree_heads:
                assert verify_head(head, key)
                assert head.root_hash == MerkleTree(hashes[: head.tree_size]).root().hex()
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_a_log_replaced_underneath_is_read_again(tmp_path: Path) -> None:
    """A process whose tree holds a log another process replaced (a sandbox reset) reads the
    stored log again instead of appending after leaves that are gone."""

    async def go() -> None:
        first = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'first.sqlite3'}")
        second = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'second.sqlite3'}")
        try:
            for engine in (first, second):
                await migrate(engine, MIGRATIONS)
            hubs = [hub_service(first), hub_service(second)]
            for hub in hubs:
                await issue(hub, ODAWARA)
            pseudonym = await issue(hubs[0], YAMAGATA)
            for _ in range(3):
                await hubs[0].inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
            await hubs[1].inquire(AGENCIES[YAMAGATA], inquiry(await issue(hubs[1], YAMAGATA)))
            stale = hubs[0].log
            assert stale.tree.size == 3
            await stale.refresh(hubs[1].sessions)  # the database under it is now another
            assert stale.tree.size == 1
            assert stale.tree.root() == hubs[1].log.tree.root()
            # And an append goes on from there, with no gap.
            hubs[0].sessions = hubs[1].sessions
            await hubs[0].inquire(AGENCIES[YAMAGATA], inquiry(await issue(hubs[1], YAMAGATA)))
            async with hubs[1].sessions() as session:
                stored = await stale.entries(session, 0, 10)
            assert [e.leaf_index for e in stored.entries] == [0, 1]
        finally:
            await first.dispose()
            await second.dispose()

    asyncio.run(go())


def test_a_catch_up_that_would_wait_for_a_lock_reads_through_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appending through a session, a hub reads the leaves another hub stored on the event
    loop's thread; where that read would wait for a lock held elsewhere, it reads them through
    the session instead, and the log goes on with no gap."""

    def would_wait(_reads: LoopReads, _sql: str, _parameters: object) -> list[object]:
        raise ReadWouldWait("database is locked")

    async def go() -> None:
        async with two_hubs_on_one_file(tmp_path) as hubs:
            for hub in hubs:
                await issue(hub, ODAWARA)
            pseudonym = await issue(hubs[0], YAMAGATA)
            for _ in range(3):
                await hubs[0].inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
            monkeypatch.setattr(record_log, "writer_of", lambda _sessions: None)
            monkeypatch.setattr(LoopReads, "driver_rows", would_wait)
            await hubs[1].inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
            async with hubs[1].sessions() as session:
                stored = await hubs[1].log.entries(session, 0, 10)
            assert [e.leaf_index for e in stored.entries] == [0, 1, 2, 3]
            hashes = [bytes.fromhex(e.leaf_hash or "") for e in stored.entries]
            assert hubs[1].log.tree.root() == MerkleTree(hashes).root()
            last_head = stored.tree_heads[-1]  # signed by the hub that appended it
            assert last_head.tree_size == 4
            assert last_head.root_hash == MerkleTree(hashes).root().hex()
            assert verify_head(last_head, public_key_bytes(hubs[1].log.key))

    asyncio.run(go())


def test_two_hubs_issuing_the_same_pseudonym_at_once_agree(tmp_path: Path) -> None:
    async def go() -> None:
        async with two_hubs_on_one_file(tmp_path) as hubs:
            for round_ in range(5):
                resident = f"{round_:011d}"
                issued = await asyncio.gather(
                    *(issue(hub, YAMAGATA, resident) for hub in hubs for _ in range(3))
                )
                assert len(set(issued)) == 1

    asyncio.run(go())


def test_hubs_starting_at_once_create_one_signing_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hub-log-key.pem"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_key(path), range(16)))
    assert len({public_key_bytes(key) for key in keys}) == 1
    assert public_key_bytes(load_or_create_key(path)) == public_key_bytes(keys[0])
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no draft left behind
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_load_balancer_config_names_every_hub(tmp_path: Path) -> None:
    balancer = ServiceInfo(
        name="hub",
        role="hub",
        url="http://127.0.0.1:8700",
        port=8700,
        log_file=str(tmp_path / "logs" / "hub.log"),
        process="nginx",
    )
    config = nginx_config(tmp_path, balancer, [("127.0.0.1", 8708), ("127.0.0.1", 8709)])
    assert "listen 127.0.0.1:8700;" in config
    assert "server 127.0.0.1:8708 max_fails=0;" in config
    assert "server 127.0.0.1:8709 max_fails=0;" in config
    assert f"pid {(tmp_path / 'nginx' / 'nginx.pid').resolve()};" in config
    assert f"error_log {(tmp_path / 'logs' / 'hub.log').resolve()} warn;" in config
    assert "proxy_buffering off;" in config  # the console's server-sent events
    assert "upstream=$upstream_addr" in config  # which hub served each request


def test_the_hubs_take_ports_after_the_registry_and_share_the_hubs_data(tmp_path: Path) -> None:
    launcher = Launcher(data_dir=tmp_path, port=30_000, hubs=3, postgres_url="postgresql://x/y")
    assert launcher.port_count() == len(launcher.agencies) + 2 + 3
    one = Launcher(data_dir=tmp_path, port=30_000)
    assert one.port_count() == len(one.agencies) + 2

    def service(name: str, role: str) -> ServiceInfo:
        return ServiceInfo(name=name, role=role, url="http://127.0.0.1:1", port=1, log_file="x")

    hub, instance = service("hub", "hub"), service("hub-2", HUB_INSTANCE_ROLE)
    assert launcher._database_name(instance) == launcher._database_name(hub)
    assert launcher._log_key(instance) == launcher._log_key(hub)
    with pytest.raises(LaunchError, match="between 1 and 16"):
        Launcher(data_dir=tmp_path, hubs=17, postgres_url="postgresql://x/y").prepare()
