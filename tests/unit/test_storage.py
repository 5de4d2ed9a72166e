"""``insert_many``: rows written through the driver read back exactly as a Core INSERT's."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import QueuePool

from ipnsim import storage
from ipnsim.storage import (
    SQLITE_CACHE_KIB,
    SQLITE_POOL_SIZE,
    ReadWouldWait,
    UtcDateTime,
    WriteLockTaken,
    create_engine,
    insert_into_tables,
    insert_many,
    loop_reads,
    loop_writer,
    reads_of,
    sessionmaker,
    writer_of,
)
from tests.postgres import scratch_database

METADATA = MetaData()
THINGS = Table(
    "things",
    METADATA,
    Column("id", String(10), primary_key=True),
    Column("count", Integer, nullable=True),
    Column("day", Date, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=True),
)
NOW = dt.datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 11, 28, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=9)))


@contextlib.asynccontextmanager
async def things_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of ``url`` with the THINGS table created, disposed at the end."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(METADATA.create_all)
        yield engine
    finally:
        await engine.dispose()


def rows(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}1",
            "count": 1,
            "day": dt.date(2026, 4, 1),
            "at": NOW,
            "payload": [{"a": "和"}],
        },
        {"id": f"{prefix}2", "count": None, "day": None, "at": NOW, "payload": None},
        {
            "id": f"{prefix}3",
            "count": 3,
            "day": dt.date(2025, 1, 1),
            "at": LATER,
            "payload": {"b": None},
        },
        {"id": f"{prefix}4", "count": 3, "day": dt.date(2025, 1, 1), "at": NOW, "payload": []},
    ]


def read_back(tmp_path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async def scenario() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            sessions = sessionmaker(engine)
            async with sessions.begin() as session:
                await insert_many(session, THINGS, rows("fast"))
                await insert_many(session, THINGS, [])
                await session.execute(insert(THINGS), rows("core"))
            async with sessions() as session:
                found = (await session.execute(select(THINGS).order_by(THINGS.c.id))).all()
        fast = [tuple(row)[1:] for row in found if row.id.startswith("fast")]
        core = [tuple(row)[1:] for row in found if row.id.startswith("core")]
        return fast, core

    return asyncio.run(scenario())


def test_rows_read_back_as_those_of_a_core_insert(tmp_path: Path) -> None:
    fast, core = read_back(tmp_path)

    assert fast == core
    assert [row[2] for row in fast] == [NOW, NOW, LATER, NOW]
    assert all(row[2].tzinfo is not None for row in fast)
    assert fast[0][3] == [{"a": "和"}]
    assert fast[1] == (None, None, NOW, None)


def test_a_missing_column_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}"
        async with things_engine(url) as engine, sessionmaker(engine).begin() as session:
            await insert_many(session, THINGS, [{"id": "x", "count": 1}])

    with pytest.raises(KeyError, match="day"):
        asyncio.run(scenario())


def rollbacks_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many rollbacks reach aiosqlite in sessions that read, write, or fail a write."""
    import aiosqlite

    sent = {"rollbacks": 0}
    original = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        sent["rollbacks"] += 1
        await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)

    async def scenario() -> dict[str, int]:
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            sessions = sessionmaker(engine)
            counts: dict[str, int] = {}
            sent["rollbacks"] = 0
            for _ in range(3):
                async with sessions() as session:
                    await session.execute(select(THINGS))
            counts["read"] = sent["rollbacks"]
            sent["rollbacks"] = 0
            async with sessions.begin() as session:
                await session.execute(insert(THINGS), rows("kept"))
            counts["committed"] = sent["rollbacks"]
            sent["rollbacks"] = 0
            async with sessions() as session:
                await session.execute(insert(THINGS), rows("lost"))
                await session.rollback()
            counts["failed"] = sent["rollbacks"]
            async with sessions() as session:
                counts["rows"] = len((await session.execute(select(THINGS))).all())
            async with sessions() as session:
                await session.execute(insert(THINGS), rows("closed"))
            async with sessions() as session:
                counts["rows_after_close"] = len((await session.execute(select(THINGS))).all())
        return counts

    return asyncio.run(scenario())


def test_only_open_transactions_are_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = rollbacks_sent(tmp_path, monkeypatch)

    assert counts["read"] == 0
    assert counts["committed"] == 0
    assert counts["failed"] == 1
    assert counts["rows"] == 4
    assert counts["rows_after_close"] == 4


def connections_opened(tmp_path: Path, sessions_at_once: int, rounds: int) -> list[int]:
    """Connections opened in each round of ``sessions_at_once`` concurrent reading sessions."""

    async def scenario() -> list[int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}")
        opened = {"count": 0}

        def connected(*_: Any) -> None:
            opened["count"] += 1

        event.listen(engine.sync_engine, "connect", connected)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(METADATA.create_all)
            sessions = sessionmaker(engine)
            gate = asyncio.Event()

            async def read() -> None:
                async with sessions() as session:
                    await session.execute(select(THINGS))
                    await gate.wait()

            per_round = []
            for _ in range(rounds):
                opened["count"] = 0
                gate.clear()
                readers = [asyncio.create_task(read()) for _ in range(sessions_at_once)]
                await asyncio.sleep(0.2)
                gate.set()
                await asyncio.gather(*readers)
                per_round.append(opened["count"])
        finally:
            await engine.dispose()
        return per_round

    return asyncio.run(scenario())


def test_sqlite_connections_are_kept_for_the_next_sessions(tmp_path: Path) -> None:
    first, second = connections_opened(tmp_path, sessions_at_once=20, rounds=2)

    assert first <= 20
    assert second == 0


def test_pool_sizes_per_database() -> None:
    async def pools() -> list[AsyncEngine]:
        return [
            create_engine("sqlite+aiosqlite:///./pool-size-check.sqlite3"),
            create_engine("sqlite+aiosqlite:///:memory:"),
            create_engine("postgresql+asyncpg://ipnsim@127.0.0.1/pool_size_check"),
        ]

    file_engine, memory_engine, postgres_engine = asyncio.run(pools())
    assert isinstance(file_engine.pool, QueuePool)
    assert file_engine.pool.size() == SQLITE_POOL_SIZE
    assert not isinstance(memory_engine.pool, QueuePool)
    assert isinstance(postgres_engine.pool, QueuePool)
    assert postgres_engine.pool.size() == 5


def test_sqlite_connections_keep_a_small_page_cache(tmp_path: Path) -> None:
    async def settings() -> list[Any]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cache.sqlite3'}")
        try:
            async with engine.connect() as connection:
                return [
                    (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                    for name in ("cache_size", "journal_mode", "synchronous")
                ]
        finally:
            await engine.dispose()

    assert asyncio.run(settings()) == [-SQLITE_CACHE_KIB, "wal", 2]


def thread_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Calls to aiosqlite's thread made by one query, one write and one failing write, with
    what each statement gave back."""
    import aiosqlite

    calls = {"count": 0}
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        url = f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}"
        async with things_engine(url) as engine, engine.begin() as connection:
            calls["count"] = 0
            await connection.execute(insert(THINGS), rows("a"))
            seen["many"] = calls["count"]
            calls["count"] = 0
            seen["rows"] = (await connection.execute(select(THINGS.c.id))).scalars().all()
            seen["query"] = calls["count"]
            calls["count"] = 0
            updated = await connection.execute(THINGS.update().values(count=7))
            seen["write"] = calls["count"]
            seen["rowcount"] = updated.rowcount
            calls["count"] = 0
            with pytest.raises(IntegrityError):
                await connection.execute(insert(THINGS), rows("a")[:1])
            seen["failed"] = calls["count"]
        return seen

    return asyncio.run(scenario())


def test_each_statement_crosses_to_the_thread_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = thread_calls(tmp_path, monkeypatch)

    assert seen["many"] == 1
    assert seen["rows"] == ["a1", "a2", "a3", "a4"]
    assert seen["query"] == 1
    assert seen["write"] == 1
    assert seen["rowcount"] == 4
    assert seen["failed"] == 1


OTHERS = Table(
    "others",
    METADATA,
    Column("id", String(10), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
)


def into_two_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repeated: bool
) -> dict[str, Any]:
    """Rows inserted into two tables at once: the calls to aiosqlite's thread it took, the rows
    read back, and the error (if ``repeated``, the second table's rows are inserted twice)."""
    import aiosqlite

    calls = {"count": 0}
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    others = [{"id": "o1", "at": NOW}, {"id": "o2", "at": LATER}]

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            sessions = sessionmaker(engine)
            try:
                async with sessions.begin() as session:
                    await session.connection()
                    calls["count"] = 0
                    await insert_into_tables(
                        session,
                        [(THINGS, rows("a")), (OTHERS, others + (others if repeated else []))],
                    )
                    seen["calls"] = calls["count"]
            except IntegrityError as error:
                seen["error"] = error
            async with sessions() as session:
                seen["things"] = (await session.execute(select(THINGS.c.id))).scalars().all()
                seen["others"] = (await session.execute(select(OTHERS))).all()
        return seen

    return asyncio.run(scenario())


def test_rows_for_several_tables_go_to_the_thread_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = into_two_tables(tmp_path, monkeypatch, repeated=False)

    assert seen["calls"] == 1
    assert seen["things"] == ["a1", "a2", "a3", "a4"]
    assert seen["others"] == [("o1", NOW), ("o2", LATER.astimezone(dt.UTC))]


def test_a_duplicate_among_several_tables_is_an_integrity_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = into_two_tables(tmp_path, monkeypatch, repeated=True)

    assert "INSERT INTO others" in str(seen["error"])
    assert seen["things"] == []
    assert seen["others"] == []


# --- LoopReads: reads on the event loop's thread ------------------------------------------


def loop_read_scenario(url: str) -> dict[str, Any]:
    """Write through the async engine, read through its LoopReads; what each read saw."""

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with things_engine(url) as engine:
            reads = loop_reads(engine)
            seen["same_reads"] = reads is loop_reads(engine)
            by_id = select(THINGS).where(THINGS.c.id == bindparam("id"))
            seen["before"] = await reads.first(by_id, {"id": "fast1"})
            sessions = sessionmaker(engine)
            async with sessions.begin() as session:
                await insert_many(session, THINGS, rows("fast"))
            seen["after"] = await reads.first(by_id, {"id": "fast1"})
            seen["in"] = await reads.all(
                select(THINGS.c.id)
                .where(THINGS.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(THINGS.c.id),
                {"ids": ["fast3", "fast1", "nobody"]},
            )
            seen["on_loop_thread"] = reads.on_loop_thread
            async with sessions() as session:
                seen["through_session"] = (
                    await session.execute(select(THINGS).where(THINGS.c.id == "fast1"))
                ).one()
        seen["disposed"] = reads.on_loop_thread and reads.disposed
        return seen

    return asyncio.run(scenario())


def test_a_loop_read_does_not_wait_for_a_lock_held_elsewhere(tmp_path: Path) -> None:
    """A read that would wait for another connection's lock is not made on the event loop's
    thread: it goes through the async engine, which waits on its own thread while the loop
    goes on, and sees what the other connection committed."""
    path = tmp_path / "things.sqlite3"

    async def scenario() -> tuple[list[str], list[str], int]:
        # No WAL here (a plain engine): a writer's exclusive lock keeps every reader waiting.
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        reads = loop_reads(engine)
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(METADATA.create_all)
                await connection.execute(insert(THINGS), rows("old")[:1])
            every_id = select(THINGS.c.id).order_by(THINGS.c.id)
            before = [row.id for row in await reads.all(every_id)]
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("INSERT INTO things (id, at) VALUES ('new1', '2026-11-28 10:00:00')")
            with pytest.raises(ReadWouldWait):
                reads.driver_rows("SELECT id FROM things", ())
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            async def release() -> None:
                await asyncio.sleep(0.3)
                holder.execute("COMMIT")

            ticker = asyncio.create_task(tick())
            releaser = asyncio.create_task(release())
            after = [row.id for row in await reads.all(every_id)]
            await releaser
            ticker.cancel()
            return before, after, ticks
        finally:
            holder.close()
            reads.dispose()
            await engine.dispose()

    before, after, ticks = asyncio.run(scenario())

    assert before == ["old1"]
    assert after == ["new1", "old1"]  # read once the lock was given back
    assert ticks >= 5  # the loop went on while the read waited


def test_loop_reads_see_committed_rows_with_the_engines_types(tmp_path: Path) -> None:
    seen = loop_read_scenario(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}")

    assert seen["same_reads"]
    assert seen["on_loop_thread"]
    assert seen["before"] is None
    assert tuple(seen["after"]) == tuple(seen["through_session"])
    assert seen["after"].at == NOW and seen["after"].at.tzinfo is not None
    assert seen["after"].day == dt.date(2026, 4, 1)
    assert seen["after"].payload == [{"a": "和"}]
    assert [row.id for row in seen["in"]] == ["fast1", "fast3"]
    assert seen["disposed"]


def test_loop_reads_of_sqlite_in_memory_go_through_the_engine() -> None:
    seen = loop_read_scenario("sqlite+aiosqlite://")

    assert not seen["on_loop_thread"]
    assert tuple(seen["after"]) == tuple(seen["through_session"])
    assert [row.id for row in seen["in"]] == ["fast1", "fast3"]


def test_loop_reads_of_postgresql_go_through_the_engine() -> None:
    with scratch_database("ipnsim_unit_reads") as url:
        seen = loop_read_scenario(url)

    assert not seen["on_loop_thread"]
    assert tuple(seen["after"]) == tuple(seen["through_session"])
    assert seen["after"].at == NOW
    assert [row.id for row in seen["in"]] == ["fast1", "fast3"]


def test_loop_reads_cannot_write(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            await loop_reads(engine).all(insert(THINGS).values(id="x", at=NOW))

    with pytest.raises(OperationalError, match="readonly"):
        asyncio.run(scenario())


def test_reads_of_sessions_are_those_of_their_engine(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}")
    try:
        assert reads_of(sessionmaker(engine)) is loop_reads(engine)
        with pytest.raises(TypeError):
            reads_of(async_sessionmaker())
    finally:
        asyncio.run(engine.dispose())


def test_driver_reads_give_sqlites_own_values(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[Any, ...]]:
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            async with sessionmaker(engine).begin() as session:
                await insert_many(session, THINGS, rows("fast"))
            return loop_reads(engine).driver_rows(
                "SELECT id, count FROM things WHERE count >= ? ORDER BY id", (3,)
            )

    assert asyncio.run(scenario()) == [("fast3", 3), ("fast4", 3)]


def test_driver_reads_need_an_sqlite_file() -> None:
    async def scenario() -> None:
        engine = create_engine("sqlite+aiosqlite://")
        try:
            loop_reads(engine).driver_rows("SELECT 1", ())
        finally:
            await engine.dispose()

    with pytest.raises(RuntimeError, match="SQLite file"):
        asyncio.run(scenario())


def test_loop_reads_read_again_after_a_failed_read(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        async with things_engine(f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}") as engine:
            async with sessionmaker(engine).begin() as session:
                await insert_many(session, THINGS, rows("fast"))
            reads = loop_reads(engine)
            with pytest.raises(OperationalError, match="no such table"):
                await reads.all(text("SELECT id FROM missing_table"))
            return [row.id for row in await reads.all(select(THINGS.c.id).order_by(THINGS.c.id))]

    assert asyncio.run(scenario()) == ["fast1", "fast2", "fast3", "fast4"]


# --- the loop writer ------------------------------------------------------------------------------


def things_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'things.sqlite3'}"


async def stored_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.scalars(select(THINGS.c.id).order_by(THINGS.c.id))).all())


def test_loop_writer_commits_rows_as_a_core_insert_stores_them(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None
            async with writer.transaction() as transaction:
                transaction.insert([(THINGS, rows("fast"))])
                assert transaction.rows("SELECT count(*) FROM things", ()) == [(4,)]
            async with engine.begin() as connection:
                await connection.execute(insert(THINGS), rows("core"))
            async with engine.connect() as connection:
                found = (await connection.execute(select(THINGS).order_by(THINGS.c.id))).all()
            fast = [tuple(row)[1:] for row in found if row.id.startswith("fast")]
            core = [tuple(row)[1:] for row in found if row.id.startswith("core")]
            return fast, core, writer.committed

    fast, core, committed = asyncio.run(scenario())

    assert fast == core
    assert committed == 1


def test_loop_writer_rolls_back_a_transaction_that_raises(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], int]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None

            async def give_up() -> None:
                async with writer.transaction() as transaction:
                    transaction.insert([(THINGS, rows("gone"))])
                    raise ValueError("given up")

            with pytest.raises(ValueError, match="given up"):
                await give_up()
            async with writer.transaction() as transaction:
                transaction.insert([(THINGS, rows("kept")[:1])])
            return await stored_ids(engine), writer.committed

    assert asyncio.run(scenario()) == (["kept1"], 1)


def test_loop_writer_reports_a_duplicate_as_an_integrity_error(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None
            async with writer.transaction() as transaction:
                transaction.insert([(THINGS, rows("a")[:1])])
            with pytest.raises(IntegrityError):
                async with writer.transaction() as transaction:
                    transaction.insert([(THINGS, rows("b")[:1]), (THINGS, rows("a")[:1])])
            return await stored_ids(engine)

    assert asyncio.run(scenario()) == ["a1"]


def test_loop_writer_does_not_wait_for_a_write_lock_held_elsewhere(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None
            other = sqlite3.connect(tmp_path / "things.sqlite3", isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                started = time.monotonic()
                with pytest.raises(WriteLockTaken):
                    async with writer.transaction() as transaction:
                        transaction.insert([(THINGS, rows("no")[:1])])
                assert time.monotonic() - started < 1
                other.execute("ROLLBACK")
            finally:
                other.close()
            async with writer.transaction() as transaction:
                transaction.insert([(THINGS, rows("yes")[:1])])
            return await stored_ids(engine)

    assert asyncio.run(scenario()) == ["yes1"]


def test_loop_writer_finishes_a_commit_its_caller_gave_up(tmp_path: Path) -> None:
    """Cancelled while its commit runs on the writer's thread, a transaction is committed whole
    before the cancellation reaches its caller; the next transaction finds the writer free."""

    def committed_elsewhere() -> int:
        other = sqlite3.connect(tmp_path / "things.sqlite3")
        try:
            (count,) = other.execute("SELECT count(*) FROM things").fetchone()
            return int(count)
        finally:
            other.close()

    async def scenario() -> tuple[int, bool, list[str]]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None
            writer.commit_seconds = 1.0  # as on a slow disk: the commit goes to another thread
            inserted = asyncio.Event()

            async def write() -> None:
                async with writer.transaction() as transaction:
                    transaction.insert([(THINGS, rows("cancelled"))])
                    inserted.set()

            task = asyncio.create_task(write())
            await inserted.wait()  # the task has handed its commit to the writer's thread
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            seen_when_cancelled = committed_elsewhere()
            async with writer.transaction() as transaction:
                transaction.insert([(THINGS, rows("next")[:1])])
            return seen_when_cancelled, task.cancelled(), await stored_ids(engine)

    seen_when_cancelled, cancelled, ids = asyncio.run(scenario())

    assert cancelled
    assert seen_when_cancelled == 4
    assert ids == ["cancelled1", "cancelled2", "cancelled3", "cancelled4", "next1"]


def test_run_to_end_passes_on_a_cancellation_that_comes_as_the_work_ends() -> None:
    """A cancellation that reaches the caller after the work has ended, but before the caller
    has seen its outcome, is still raised: the caller goes away as it was asked to."""

    async def scenario() -> tuple[bool, bool]:
        work: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        caller = asyncio.create_task(storage.run_to_end(work))
        await asyncio.sleep(0)  # the caller now waits for the work
        work.set_result(1)  # the caller is told of it only on the loop's next turn
        caller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await caller
        return work.done(), caller.cancelled()

    assert asyncio.run(scenario()) == (True, True)


def test_loop_writer_commits_on_the_loop_while_commits_are_quick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quick commits run on the event loop's thread; after slow ones (a slow disk) commits run
    on the writer's own thread, until quick ones bring the average down again."""
    taking = {"seconds": 0.0001}

    def timed(work: Callable[[], object]) -> float:
        work()
        return taking["seconds"]  # what the commit is taken to have lasted

    monkeypatch.setattr(storage, "_timed", timed)

    async def scenario() -> list[str]:
        async with things_engine(things_url(tmp_path)) as engine:
            writer = loop_writer(engine)
            assert writer is not None
            committed_on: list[str] = []

            def traced(statement: str) -> None:
                if statement == "COMMIT":
                    committed_on.append(threading.current_thread().name)

            writer.trace(traced)
            for index in range(30):
                taking["seconds"] = 0.01 if index in (2, 3) else 0.0001
                async with writer.transaction() as transaction:
                    transaction.insert([(THINGS, rows(f"t{index}")[:1])])
            return committed_on

    committed_on = asyncio.run(scenario())

    loop_thread = threading.current_thread().name
    on_loop = [name == loop_thread for name in committed_on]
    assert on_loop[:3] == [True] * 3  # two quick commits, then the first slow one, on the loop
    back = on_loop.index(True, 3)
    assert back > 5  # from the second slow one, a few commits on the writer's thread
    assert all(name.startswith("sqlite-commit") for name in committed_on[3:back])
    assert all(on_loop[back:])  # back on the loop once the average is low again
    assert len(committed_on) == 30


def test_loop_writers_are_for_sqlite_files_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        in_memory = create_engine("sqlite+aiosqlite://")
        postgres = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
        in_file = create_engine(things_url(tmp_path))
        try:
            assert loop_writer(in_memory) is None
            assert loop_writer(postgres) is None
            writer = loop_writer(in_file)
            assert writer is not None
            assert loop_writer(in_file) is writer
            assert writer_of(sessionmaker(in_file)) is writer
            with pytest.raises(TypeError):
                writer_of(async_sessionmaker())
        finally:
            for engine in (in_memory, postgres, in_file):
                await engine.dispose()
        with pytest.raises(RuntimeError, match="disposed"):
            async with writer.transaction():
                pass

    asyncio.run(scenario())


def test_plain_selects_read_on_the_loop_give_what_the_engine_gives(tmp_path: Path) -> None:
    """Selects run on the driver with the types' own conversions: bound timestamps, IN lists,
    literal values and limits in, timestamps, dates, JSON and None out, rows by column name
    and by position. An empty IN list gives no rows, as through the engine."""
    statements = [
        select(THINGS.c.id, THINGS.c.at)
        .where(
            THINGS.c.id.in_(bindparam("ids", expanding=True)),
            THINGS.c.count.in_([1, 3]),
            THINGS.c.at <= bindparam("now"),
        )
        .order_by(THINGS.c.id),
        select(THINGS)
        .where(THINGS.c.at <= bindparam("now"), THINGS.c.count >= 1)
        .order_by(THINGS.c.id)
        .limit(3),
        select(THINGS.c.id, THINGS.c.payload).where(THINGS.c.day.is_(None)),
        select(THINGS.c.day, func.count()).group_by(THINGS.c.day).order_by(THINGS.c.day),
    ]
    later = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)

    async def scenario() -> list[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        async with things_engine(things_url(tmp_path)) as engine:
            async with sessionmaker(engine).begin() as session:
                await insert_many(session, THINGS, rows("a"))
            reads = loop_reads(engine)
            pairs = []
            for statement in statements:
                for ids in (["a3", "a1", "a2", "nobody"], []):
                    parameters = {"now": later, "ids": ids}
                    async with engine.connect() as connection:
                        through_engine = (await connection.execute(statement, parameters)).all()
                    on_loop = await reads.all(statement, parameters)
                    pairs.append(
                        ([tuple(row) for row in on_loop], [tuple(r) for r in through_engine])
                    )
            first = await reads.first(statements[1], {"now": later})
            assert first is not None
            assert (first.id, first.at, first.payload) == ("a1", NOW, [{"a": "和"}])
            assert first._mapping["day"] == dt.date(2026, 4, 1)
            return pairs

    pairs = asyncio.run(scenario())

    for on_loop, through_engine in pairs:
        assert on_loop == through_engine
    assert pairs[0][0] == [("a1", NOW), ("a3", LATER)]
    assert pairs[1][0] == []
    assert [row[0] for row in pairs[2][0]] == ["a1", "a3", "a4"]
    assert pairs[4][0] == [("a2", None)]
    assert pairs[6][0] == [(None, 1), (dt.date(2025, 1, 1), 2), (dt.date(2026, 4, 1), 1)]
