"""Database plumbing shared by the services: engines, UTC timestamps and Alembic migrations.

SQLite (the embedded default) runs in WAL mode with durable commits; PostgreSQL is chosen by
giving a ``postgresql+asyncpg://`` URL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Date, DateTime, Engine, Row, String, Table, event, insert, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from ipnsim.clock import now as clock_now

T = TypeVar("T")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is stored")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=dt.UTC)


class utc_date(FunctionElement[dt.date]):
    """The UTC calendar date of a :class:`UtcDateTime` column, in SQL, on every backend.

    SQLite keeps the UTC time as text (``date()`` cuts the date off it); PostgreSQL converts its
    ``timestamptz`` to UTC first, whatever the session's time zone. The expression renders
    without bound parameters, so it can be selected and grouped by in one query.
    """

    type = Date()
    name = "utc_date"
    inherit_cache = True


@compiles(utc_date)
def _utc_date(element: utc_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element: utc_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_postgresql(element: utc_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


class jst_month(FunctionElement[str]):
    """The calendar month in Japan time (``YYYY-MM``) of a :class:`UtcDateTime` column, in SQL.

    Japan keeps no daylight-saving time, so Japan time is UTC + 9 hours on every date. Like
    :class:`utc_date`, the expression has no bound parameters and can be grouped by.
    """

    type = String()
    name = "jst_month"
    inherit_cache = True


@compiles(jst_month)
def _jst_month(element: jst_month, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(({column} AT TIME ZONE 'UTC') + INTERVAL '9 hours', 'YYYY-MM')"


@compiles(jst_month, "sqlite")
def _jst_month_sqlite(element: jst_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+9 hours')"


def utcnow() -> dt.datetime:
    """Now, in UTC, by the simulated clock (:mod:`ipnsim.clock`; the real time unless set)."""
    return clock_now()


SQLITE_POOL_SIZE = 32
"""SQLite connections a service keeps open (and as many more it may open for a while)."""


def create_engine(url: str, schema: str | None = None) -> AsyncEngine:
    """An async engine; SQLite gets WAL, durable commits, foreign keys and a busy timeout.

    ``schema`` (PostgreSQL only) is the schema the engine's tables live in (its search path).
    """
    options: dict[str, Any] = dict(_pool_settings(url))
    if schema is not None:
        options["connect_args"] = {"server_settings": {"search_path": schema}}
    if make_url(url).get_driver_name() == "aiosqlite":
        options["module"] = _one_trip_aiosqlite()
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    if engine.dialect.driver == "aiosqlite":
        _skip_idle_rollbacks(engine.sync_engine.dialect)
    return engine


def _pool_settings(url: str) -> dict[str, int]:
    """A larger pool for an SQLite file than SQLAlchemy's default of five.

    Beyond the pool's size every session opens a connection of its own and closes it after:
    with aiosqlite that is a new thread, the file opened and the pragmas run each time. A
    service with more than five inquiries in flight did that for most of them. SQLite
    connections are cheap to keep; PostgreSQL keeps the default, as its server limits the
    connections of every service together.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or _in_memory(parsed):
        return {}
    return {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}


def _skip_idle_rollbacks(dialect: Dialect) -> None:
    """Send a ROLLBACK to aiosqlite only when SQLite has a transaction open.

    Every session ends with a rollback, and the pool rolls the connection back again when it
    is returned; a read-only session never opened a transaction at all (the driver begins one
    only before a write). The driver ignores a rollback outside a transaction, but each one
    still crosses to aiosqlite's thread and back: two of the round trips of every session.
    """
    rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        if _sqlite_in_transaction(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def _sqlite_in_transaction(connection: Any) -> bool:
    """Whether SQLite has a transaction open on this (pooled, adapted) aiosqlite connection;
    True when that cannot be told, so that the rollback is sent."""
    adapted = getattr(connection, "dbapi_connection", connection)
    try:
        return bool(adapted._connection.in_transaction)
    except (AttributeError, ValueError):
        return True


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that runs each statement in one call to aiosqlite's thread.

    SQLAlchemy's own adapter makes four calls per query (open a cursor, execute, fetch the
    rows, close) and three per write; each hands the work to the connection's thread and
    waits for the event loop to be woken, a few context switches every time. Here the thread
    opens the cursor, executes, fetches every row and closes it in one go, and the cursor
    keeps what SQLAlchemy reads afterwards (description, row count, last row id). Server-side
    cursors (streamed results) keep SQLAlchemy's own class.
    """

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(_execute_once, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(_execute_many_once, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, function: Any, operation: Any, parameters: Any) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            # aiosqlite's own queue to its thread: one round trip for the whole statement.
            description, rows, rowcount, lastrowid = await connection._execute(
                function, connection._conn, operation, parameters
            )
        self._description = description
        self._rows = collections.deque(rows)
        self._rowcount = rowcount
        self._lastrowid = lastrowid


def _execute_once(connection: Any, operation: Any, parameters: Any) -> tuple[Any, ...]:
    """On aiosqlite's thread: one statement, its rows and what the cursor tells of it."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _execute_many_once(connection: Any, operation: Any, parameters: Any) -> tuple[Any, ...]:
    """On aiosqlite's thread: one statement for many parameter sets."""
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, (), cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, with :class:`OneTripCursor` for its cursors."""

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _OneTripConnection(self, adapted._connection)


def _one_trip_aiosqlite() -> _OneTripDbapi:
    import sqlite3

    import aiosqlite

    return _OneTripDbapi(aiosqlite, sqlite3)


SQLITE_CACHE_KIB = 512
"""Each SQLite connection's page cache, in KiB (SQLite's default is 2,000).

A service keeps up to twice ``SQLITE_POOL_SIZE`` connections, and each one's cache fills as the
database grows: with the default, the five or so connections a 一括照会 job keeps busy held some
12 MiB in each service. The pages a write touches are few and the operating system caches the
file; a quarter of the default made no difference to the job's CPU time."""


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "busy_timeout=10000",
        f"cache_size=-{SQLITE_CACHE_KIB}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


async def insert_many(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT ``rows``, each giving every column of ``table``, in one executemany.

    Where the driver takes ``?`` parameters (SQLite), the rows go to it directly: each value is
    converted by its column type's own bind processor, as a Core INSERT would, and a value
    repeated from the row before (the transaction's timestamp, a None) is converted once. That
    is about half the cost per row of a Core INSERT, which matters when loading hundreds of
    thousands of rows. Other backends get a Core INSERT.
    """
    await insert_into_tables(session, [(table, rows)])


async def insert_into_tables(
    session: AsyncSession, batches: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    """:func:`insert_many` for several tables, one after the other; with aiosqlite the
    statements go to the connection's thread together, in one call, instead of one call each.
    A failing statement raises SQLAlchemy's error for it (an IntegrityError for a duplicate)."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.paramstyle != "qmark":
        for table, rows in batches:
            await connection.execute(insert(table), list(rows))
        return
    statements = [_driver_insert(dialect, table, rows) for table, rows in batches]
    if dialect.driver != "aiosqlite" or len(statements) == 1:
        for statement, parameters in statements:
            await connection.exec_driver_sql(statement, parameters)
        return
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    error_class = dialect.loaded_dbapi.Error
    try:
        await driver._execute(_execute_each, driver._conn, statements)
    except error_class as error:
        failed = getattr(error, "ipnsim_statement", statements[0][0])
        raise DBAPIError.instance(failed, None, error, error_class) from error


def _execute_each(connection: Any, statements: Sequence[tuple[str, list[Any]]]) -> None:
    """On aiosqlite's thread: each statement with its parameter sets, in order."""
    for statement, parameters in statements:
        try:
            connection.executemany(statement, parameters)
        except Exception as error:
            error.ipnsim_statement = statement  # type: ignore[attr-defined]
            raise


def _driver_insert(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[Any]]:
    """An INSERT of every column of ``table`` for the driver (``?`` parameters), and the rows
    converted by the columns' bind processors."""
    statement, keys, processors = _driver_insert_of(dialect, table)
    converted: list[list[Any]] = [[] for _ in keys]
    for position, (key, processor) in enumerate(zip(keys, processors, strict=True)):
        out = converted[position]
        if processor is None:
            out.extend(row[key] for row in rows)
            continue
        previous: Any = _NOTHING
        previous_value: Any = None
        for row in rows:
            value = row[key]
            if value is not previous:
                previous, previous_value = value, processor(value)
            out.append(previous_value)
    return statement, list(zip(*converted, strict=True))


_DriverInsert: TypeAlias = tuple[str, list[str], list[Callable[[Any], Any] | None]]
_DRIVER_INSERTS: weakref.WeakKeyDictionary[Dialect, dict[Table, _DriverInsert]] = (
    weakref.WeakKeyDictionary()
)


def _driver_insert_of(dialect: Dialect, table: Table) -> _DriverInsert:
    """The INSERT statement of ``table`` for the driver, its column keys and their bind
    processors: built once per dialect and table."""
    of_dialect = _DRIVER_INSERTS.setdefault(dialect, {})
    cached = of_dialect.get(table)
    if cached is not None:
        return cached
    columns = list(table.columns)
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(column.name) for column in columns)
    statement = (
        f"INSERT INTO {preparer.format_table(table)} ({names}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    built: _DriverInsert = (
        statement,
        [column.key for column in columns],
        [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns],
    )
    of_dialect[table] = built
    return built


_NOTHING = object()


AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any columns."""


class ReadWouldWait(Exception):
    """Another connection holds a lock that an SQLite read on the event loop's thread would
    have to wait for (a writer outside WAL mode, a checkpoint that truncates the log, a
    connection in exclusive locking mode): the read is not made there, to keep the loop going."""


def _lock_held_elsewhere(error: BaseException) -> bool:
    """Whether ``error`` (the driver's, or SQLAlchemy's around it) says a lock is held
    elsewhere (``SQLITE_BUSY``, ``SQLITE_LOCKED``)."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return isinstance(cause, sqlite3.OperationalError) and cause.sqlite_errorcode in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


class LoopReads:
    """Short reads answered on the event loop's own thread where the database allows it.

    An SQLite file in WAL mode lets a reader run beside the writer without waiting for it, and
    an indexed look-up takes a few microseconds. Through the async engine the same look-up
    costs a session or connection, SQLAlchemy's greenlet, and a round trip to aiosqlite's
    thread: some 200–400 µs of CPU. Here the statement runs on a plain ``sqlite3`` connection
    of a synchronous engine kept for reading (``PRAGMA query_only``), with SQLAlchemy Core, so
    bound parameters and result types are exactly those of the async engine. Each statement
    sees every transaction committed before it. PostgreSQL, and SQLite in memory (which another
    connection cannot see), read through the async engine instead.

    Meant for short, indexed reads on a request's path: a read blocks the event loop while it
    runs. It never waits for a lock there: if another connection holds one that the read would
    wait for, the read goes through the async engine instead, which waits on its own thread
    (:class:`ReadWouldWait` from :meth:`driver_rows`). A select is compiled for the driver once
    per statement object: build statements once (module constants with bound parameters), not
    at each read. Get the one of an engine with :func:`loop_reads`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync: Engine | None = None
        self._connection: Connection | None = None
        """Kept open between reads: a checkout from the pool costs as much as a read."""
        self._disposed = False
        self._plain: weakref.WeakKeyDictionary[Executable, _PlainSelect | None] = (
            weakref.WeakKeyDictionary()
        )
        url = engine.url
        if url.get_backend_name() == "sqlite" and not _in_memory(url):
            self._sync = create_sync_engine(
                url.set(drivername="sqlite+pysqlite"),
                poolclass=StaticPool,  # one connection: reads never overlap on one thread
                connect_args={"check_same_thread": False},  # disposed from any thread
            )
            event.listen(self._sync, "connect", _read_only_pragmas)

    async def all(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[AnyRow]:
        """Every row of ``statement``."""
        if self._sync is None:
            return await self._through_engine(statement, parameters)
        try:
            return self._on_loop_thread(statement, parameters)
        except ReadWouldWait:
            return await self._through_engine(statement, parameters)

    async def _through_engine(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> Sequence[AnyRow]:
        async with self._engine.connect() as through_engine:
            return (await through_engine.execute(statement, parameters)).all()

    def _on_loop_thread(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> Sequence[AnyRow]:
        assert self._sync is not None
        plain = self._plain_select(statement)
        if plain is not None:
            found = plain.rows(self, parameters or EMPTY_DICT)
            if found is not None:
                return found
        connection = self._connection
        if connection is None:
            connection = self._connection = self._sync.connect()
        try:
            rows = connection.execute(statement, parameters).all()
        except BaseException as error:
            self._connection = None
            connection.invalidate()  # opened again by the next read
            if _lock_held_elsewhere(error):
                raise ReadWouldWait(str(error)) from error
            raise
        connection.rollback()  # SQLAlchemy's transaction only: SQLite began none for a read
        return rows

    def _plain_select(self, statement: Executable) -> _PlainSelect | None:
        """``statement`` compiled once for the driver, if it is a select."""
        try:
            return self._plain[statement]
        except KeyError:
            pass
        assert self._sync is not None
        plain = _PlainSelect.of(statement, self._sync.dialect)
        self._plain[statement] = plain
        return plain

    def driver_rows(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of a plain SQL read (``?`` parameters; values as SQLite gives them), run by
        the driver on the event loop's thread: for the reads made most often, where
        SQLAlchemy's own work per statement (cache key, parameters, result rows) costs more
        than SQLite's. Only when :attr:`on_loop_thread`. Raises :class:`ReadWouldWait`
        instead of waiting for a lock held elsewhere."""
        if self._sync is None:
            raise RuntimeError("driver reads need an SQLite file")
        try:
            rows: list[tuple[Any, ...]] = self._driver().execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:
            if _lock_held_elsewhere(error):
                raise ReadWouldWait(str(error)) from error
            raise
        return rows

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with the SQL of each statement the reading connection runs from now
        on, however it was sent (None: stop). Only when :attr:`on_loop_thread`."""
        if self._sync is None:
            raise RuntimeError("only an SQLite file's reads run on a connection of their own")
        self._driver().set_trace_callback(callback)

    def _driver(self) -> sqlite3.Connection:
        assert self._sync is not None
        connection = self._connection
        if connection is None:
            connection = self._connection = self._sync.connect()
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return driver

    async def first(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> AnyRow | None:
        """The first row of ``statement``, or None."""
        rows = await self.all(statement, parameters)
        return rows[0] if rows else None

    @property
    def on_loop_thread(self) -> bool:
        """Whether reads run on the event loop's thread (else through the async engine)."""
        return self._sync is not None

    @property
    def disposed(self) -> bool:
        """Whether the reading connection was closed (the engine was disposed)."""
        return self._disposed

    def dispose(self) -> None:
        """Close the reading connection (the engine's :meth:`AsyncEngine.dispose` does it)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._sync is not None:
            self._sync.dispose()
        self._disposed = True


@dataclass(frozen=True)
class _PlainSelect:
    """A select compiled once for the SQLite driver: its SQL, how to build its ``?``
    parameters (an IN list gets one per value), and how to turn the driver's values into
    those the engine would give.

    SQLAlchemy's own work per execution (cache key, parameter and result objects) costs about
    ten times what SQLite spends on an indexed look-up; here each value is converted by its
    type's own bind or result processor, as the engine converts it, and each row is a named
    tuple (by column name and by position, and by ``_mapping``, as a result row is)."""

    sql: str
    compiled: Any
    names: tuple[str, ...]
    bind_processors: tuple[Callable[[Any], Any] | None, ...]
    result_processors: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[..., tuple[Any, ...]]

    expanding: frozenset[str]
    """The parameters that are IN lists: ``?`` placeholders, one per value given."""

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> _PlainSelect | None:
        if not isinstance(statement, Select):
            return None
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        expanding = frozenset(name for name in names if compiled.binds[name].expanding)
        if any(_postcompiled(name) not in compiled.string for name in expanding):
            return None
        columns = list(statement.selected_columns)
        return cls(
            sql=compiled.string,
            compiled=compiled,
            expanding=expanding,
            names=names,
            bind_processors=tuple(
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            ),
            result_processors=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
            row=_row_class([column.key or "column" for column in columns]),
        )

    def rows(self, reads: LoopReads, parameters: Mapping[str, Any]) -> list[Any] | None:
        """The rows, or None where the driver cannot run it as compiled (an empty IN list)."""
        given = self.compiled.construct_params(parameters)
        sql = self.sql
        values: list[Any] = []
        for name, processor in zip(self.names, self.bind_processors, strict=True):
            value = given[name]
            if name in self.expanding:
                if not value:
                    return None
                sql = sql.replace(_postcompiled(name), ", ".join("?" * len(value)), 1)
                values.extend(value if processor is None else map(processor, value))
            else:
                values.append(value if processor is None else processor(value))
        processors = self.result_processors
        make = self.row
        if not any(processors):
            return [make(*found) for found in reads.driver_rows(sql, values)]
        return [
            make(
                *(
                    value if processor is None else processor(value)
                    for value, processor in zip(found, processors, strict=True)
                )
            )
            for found in reads.driver_rows(sql, values)
        ]


def _row_class(keys: list[str]) -> Callable[..., tuple[Any, ...]]:
    """Named tuples of these columns that also give ``_mapping``, as a result row does."""
    fields = collections.namedtuple("PlainRow", keys, rename=True)  # type: ignore[misc]

    def mapping(row: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(keys, row, strict=True))

    return type("PlainRow", (fields,), {"__slots__": (), "_mapping": property(mapping)})


def _postcompiled(name: str) -> str:
    """Where SQLAlchemy's compiled SQL leaves the placeholders of the IN list ``name``."""
    return f"__[POSTCOMPILE_{name}]"


_LOOP_READS: weakref.WeakKeyDictionary[Engine, LoopReads] = weakref.WeakKeyDictionary()


def loop_reads(engine: AsyncEngine) -> LoopReads:
    """The :class:`LoopReads` of ``engine``: one per engine, closed when it is disposed."""
    reads = _LOOP_READS.get(engine.sync_engine)
    if reads is None:
        reads = _LOOP_READS[engine.sync_engine] = LoopReads(engine)
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: reads.dispose())
    return reads


def reads_of(sessions: async_sessionmaker[AsyncSession]) -> LoopReads:
    """The :class:`LoopReads` of the engine that ``sessions`` are bound to."""
    return loop_reads(_bound_engine(sessions))


def _bound_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the sessions are not bound to one AsyncEngine")
    return bind


def _in_memory(url: Any) -> bool:
    database = url.database or ""
    return database in {"", ":memory:"} or url.query.get("mode") == "memory"


class WriteLockTaken(Exception):
    """Another connection holds the SQLite file's write lock: :class:`LoopWriter` does not wait
    for it (the caller writes through the async engine instead, which does)."""


INLINE_COMMIT_SECONDS = 0.0005
"""A :class:`LoopWriter` commits on the event loop's own thread while its commits take less
than this (here, a durable commit of an SQLite file in WAL mode took 0.27 ms): handing one to
another thread and back costs about 0.1 ms of CPU and two context switches, more than the
loop loses waiting for a commit this short. Slower commits (a slow disk) go to the writer's
thread, and the loop goes on meanwhile."""
_COMMIT_WEIGHT = 0.2
"""The weight of the latest commit in :attr:`LoopWriter.commit_seconds`."""


async def run_to_end(work: Awaitable[T]) -> T:
    """``work``'s outcome, ``work`` run to its end even if the caller is cancelled meanwhile
    (the cancellation is raised after): a commit, or a group of writes, begun when its caller
    goes away is finished before anything else may use what it holds."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True  # even when ``work`` ended meanwhile: the caller still goes away
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


def _timed(work: Callable[[], object]) -> float:
    """Run ``work``; the seconds it took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


class LoopWriter:
    """Short write transactions on an SQLite file, without a trip to another thread per
    statement.

    Through the async engine a transaction of a few INSERTs costs a session, SQLAlchemy's
    greenlet and a round trip to aiosqlite's thread for each statement and for the commit.
    Here the statements run on a plain ``sqlite3`` connection kept for writing, on the event
    loop's thread (an INSERT into SQLite's page cache takes microseconds), and so does the
    commit while the disk answers quickly (:data:`INLINE_COMMIT_SECONDS`); a slower commit,
    which writes the WAL and waits for the disk, runs on a thread of the writer's own while the
    loop goes on. The transaction begins with ``BEGIN IMMEDIATE`` and does not wait for the
    write lock: if another connection holds it, :class:`WriteLockTaken` is raised at once
    (waiting would block the event loop), and the caller writes through the async engine.

    One transaction at a time (:meth:`transaction` queues the others). PostgreSQL, and SQLite
    in memory, have none: :func:`loop_writer` gives None for them.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect
        self._sync = create_sync_engine(
            engine.url.set(drivername="sqlite+pysqlite"),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},  # the commit runs on another thread
        )
        event.listen(self._sync, "connect", _writer_pragmas)
        self._connection: Any = None
        """The pool's checkout of the writing connection, kept for the writer's life (given
        back, the pool would roll back whatever transaction it holds)."""
        self._driver: sqlite3.Connection | None = None
        self._commits: ThreadPoolExecutor | None = None
        self._turn = asyncio.Lock()
        self._disposed = False
        self.committed = 0
        """Transactions committed so far."""
        self.commit_seconds = 0.0
        """How long a commit takes here (a moving average): under
        :data:`INLINE_COMMIT_SECONDS` the commit runs on the event loop's thread."""

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriterTransaction]:
        """A transaction holding the write lock, committed (durably) when the block ends and
        rolled back if it raises. Raises :class:`WriteLockTaken` if the lock is held elsewhere.

        Once the commit has begun it is waited for even if the caller is cancelled: what it
        wrote is then either all durable or not there at all, before the cancellation goes on.
        """
        async with self._turn:
            driver = self._connect()
            try:
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise WriteLockTaken(str(error)) from error
                raise
            try:
                yield WriterTransaction(driver, self.dialect)
            except BaseException:
                driver.rollback()
                raise
            await self._commit(driver)

    async def _commit(self, driver: sqlite3.Connection) -> None:
        if self.commit_seconds < INLINE_COMMIT_SECONDS:
            self._commit_now(driver)
            return
        if self._commits is None:
            self._commits = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        loop = asyncio.get_running_loop()
        await run_to_end(loop.run_in_executor(self._commits, self._commit_now, driver))

    def _commit_now(self, driver: sqlite3.Connection) -> None:
        """Commit, on the thread that calls it, noting how long it took; roll back if it fails."""
        try:
            seconds = _timed(driver.commit)
        except BaseException:
            self._roll_back(driver)
            raise
        self.commit_seconds += (seconds - self.commit_seconds) * _COMMIT_WEIGHT
        self.committed += 1

    @staticmethod
    def _roll_back(driver: sqlite3.Connection) -> None:
        if driver.in_transaction:
            driver.rollback()

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with the SQL of each statement the writing connection runs from now
        on, on the thread that runs it (None: stop)."""
        self._connect().set_trace_callback(callback)

    def _connect(self) -> sqlite3.Connection:
        if self._disposed:
            raise RuntimeError("the engine of this writer was disposed")
        if self._driver is None:
            self._connection = self._sync.raw_connection()
            driver = self._connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.isolation_level = None  # transactions begin where this writer says
            self._driver = driver
        return self._driver

    def dispose(self) -> None:
        """Close the writing connection and the commit thread (the engine's
        :meth:`AsyncEngine.dispose` does it)."""
        self._disposed = True
        self._driver = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._sync.dispose()
        if self._commits is not None:
            self._commits.shutdown(wait=True)
            self._commits = None


class WriterTransaction:
    """The statements of one :meth:`LoopWriter.transaction`, run on the event loop's thread."""

    def __init__(self, driver: sqlite3.Connection, dialect: Dialect) -> None:
        self._driver = driver
        self._dialect = dialect

    def rows(self, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of a plain SQL read (``?`` parameters), inside the transaction."""
        return self._driver.execute(sql, parameters).fetchall()

    def insert(self, batches: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]) -> None:
        """INSERT each batch's rows (each giving every column of its table), as
        :func:`insert_into_tables` would; a failing statement raises SQLAlchemy's error for it
        (an IntegrityError for a duplicate)."""
        for table, rows in batches:
            if not rows:
                continue
            statement, parameters = _driver_insert(self._dialect, table, rows)
            try:
                self._driver.executemany(statement, parameters)
            except sqlite3.Error as error:
                raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error


_LOOP_WRITERS: weakref.WeakKeyDictionary[Engine, LoopWriter] = weakref.WeakKeyDictionary()


def loop_writer(engine: AsyncEngine) -> LoopWriter | None:
    """The :class:`LoopWriter` of an SQLite file's engine (one per engine, closed when it is
    disposed); None for other databases."""
    if engine.dialect.name != "sqlite" or _in_memory(engine.url):
        return None
    writer = _LOOP_WRITERS.get(engine.sync_engine)
    if writer is None:
        writer = _LOOP_WRITERS[engine.sync_engine] = LoopWriter(engine)
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: writer.dispose())
    return writer


def writer_of(sessions: async_sessionmaker[AsyncSession]) -> LoopWriter | None:
    """The :class:`LoopWriter` of the engine that ``sessions`` are bound to, if it has one."""
    return loop_writer(_bound_engine(sessions))


def _writer_pragmas(connection: Any, record: Any) -> None:
    _sqlite_pragmas(connection, record)
    connection.execute("PRAGMA busy_timeout=0")  # never wait on the event loop's thread


def _read_only_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    for pragma in (
        "query_only=ON",
        "foreign_keys=ON",
        "busy_timeout=0",  # never wait on the event loop's thread (LoopReads)
        f"cache_size=-{SQLITE_CACHE_KIB}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK_KEY = 0x1A5E_0002
"""The PostgreSQL advisory lock that serialises the migrations of one database."""


async def migrate(engine: AsyncEngine, migrations: Path) -> None:
    """Bring the schema up to date with the Alembic migrations in the folder ``migrations``."""

    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Processes sharing a database (several hubs) start at once: one migrates, the
            # others wait for its transaction and then find the schema up to date.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        await connection.run_sync(upgrade)
