"""The tamper-evident log of provision records (情報提供等の記録), shared by the hub and the
intermediate servers.

Every record event — a copy of a record as first written, each addendum (追記), each later
outcome — is one leaf of an append-only Merkle tree (:mod:`network.protocol.merkle`). A service
keeps three kinds of rows, all refused UPDATE and DELETE by database triggers:

- the **event rows** (its ``provision_records``, ``addenda``, ``record_outcomes``), each with the
  ``leaf_index`` of its leaf; the leaf's bytes are the canonical serialisation of the row
  (:func:`event_fields`, then :func:`~network.protocol.merkle.canonical_bytes`);
- the **leaves** (``record_log``: leaf index, kind, inquiry id, leaf hash);
- the **signed tree heads** (``tree_heads``): one per append, for the size the log reached, so a
  verifier can tell exactly which leaf first disagrees with what the service signed.

Leaf indexes form one gap-free sequence: :meth:`RecordLog.write` serialises appends in the
process (an asyncio lock), across processes on PostgreSQL (a transaction-scoped advisory lock,
``pg_advisory_xact_lock``, taken before reading the log's end), and the primary key on
``leaf_index`` refuses a duplicate whatever happens; a write that loses that race is retried
after reading the leaves the other writer appended. Writes that wait for the log meanwhile are
written together, in one transaction with one durable commit (a group commit). The tree lives
in memory (every complete perfect subtree's hash), so an append hashes O(1) nodes amortised and
a tree head O(log n).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import JSON, Integer, String, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ipnsim.storage import (
    LoopReads,
    LoopWriter,
    ReadWouldWait,
    UtcDateTime,
    WriteLockTaken,
    insert_into_tables,
    reads_of,
    run_to_end,
    writer_of,
)
from network.protocol.merkle import MerkleTree, canonical_bytes, leaf_hash
from network.protocol.models import (
    ConsistencyProof,
    InclusionProof,
    LogEntries,
    LogEntry,
    LogEventKind,
    LogPublicKey,
    RetentionPurge,
    RetentionPurgeResult,
    SignedTreeHead,
)

logger = logging.getLogger("ipnsim.record_log")

HEAD_FORMAT = "ipnsim-tree-head/1"
PURGE_FORMAT = "ipnsim-retention-purge/1"
RETENTION_YEARS = 7
"""How long provision records are kept (保存期間: 7 years from the inquiry)."""
ADVISORY_LOCK_KEY = 0x1A5E_0001
"""The PostgreSQL advisory lock that serialises appends to one database's record log."""
_APPEND_ATTEMPTS = 5
_PURGE_CHUNK = 5_000
"""Most inquiry ids in one ``IN (…)`` list of a purge."""
RETENTION_PURGE_ENV = "IPNSIM_RETENTION_PURGE_SECONDS"
"""How often every service runs the retention purge by itself (seconds; 0: never)."""
DEFAULT_RETENTION_PURGE_SECONDS = 300.0
PURGEABLE_TABLES = ("provision_records", "addenda", "record_outcomes")
"""The record tables the retention purge removes rows from (guarded by the horizon)."""
MAX_ENTRIES = 1000
"""Most leaves one entries request returns."""

T = TypeVar("T")


# --- signed tree heads ---------------------------------------------------------------------------


def head_bytes(log_id: str, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The bytes a tree head's signature covers (canonical JSON, with a format tag)."""
    return canonical_bytes(
        {
            "format": HEAD_FORMAT,
            "log_id": log_id,
            "root_hash": root_hash,
            "timestamp": timestamp,
            "tree_size": tree_size,
        }
    )


def verify_head(head: SignedTreeHead, public_key: bytes) -> bool:
    """Whether ``head`` carries a valid signature by the holder of ``public_key``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(head.signature),
            head_bytes(head.log_id, head.tree_size, head.root_hash, head.timestamp),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def purge_bytes(
    log_id: str,
    purge_number: int,
    horizon: str,
    purged_at: str,
    tree_size: int,
    leaf_indexes: Sequence[int],
) -> bytes:
    """The bytes a retention purge's signature covers (canonical JSON, with a format tag)."""
    return canonical_bytes(
        {
            "format": PURGE_FORMAT,
            "horizon": horizon,
            "leaf_indexes": sorted(leaf_indexes),
            "log_id": log_id,
            "purge_number": purge_number,
            "purged_at": purged_at,
            "tree_size": tree_size,
        }
    )


def verify_purge(purge: RetentionPurge, public_key: bytes) -> bool:
    """Whether ``purge`` carries a valid signature by the holder of ``public_key``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(purge.signature),
            purge_bytes(
                purge.log_id,
                purge.purge_number,
                purge.horizon,
                purge.purged_at,
                purge.tree_size,
                purge.leaf_indexes,
            ),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def retention_horizon(now: dt.datetime) -> dt.datetime:
    """The moment before which a record has been kept its full retention period: the same
    calendar moment :data:`RETENTION_YEARS` years before ``now`` (29 February → 28 February)."""
    year = now.year - RETENTION_YEARS
    try:
        return now.replace(year=year)
    except ValueError:
        return now.replace(year=year, day=28)


def retention_purge_seconds() -> float:
    """How often the scheduled retention purge runs (``IPNSIM_RETENTION_PURGE_SECONDS``; five
    minutes by default, 0 disables it)."""
    value = os.environ.get(RETENTION_PURGE_ENV, "").strip()
    if not value:
        return DEFAULT_RETENTION_PURGE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{RETENTION_PURGE_ENV}={value!r} is not a number of seconds") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"{RETENTION_PURGE_ENV}={value!r} must be 0 (off) or more seconds")
    return seconds


async def purge_forever(purge: Callable[[], Awaitable[object]], interval: float) -> None:
    """Run ``purge`` every ``interval`` seconds (not at all for 0), so that records expire as
    the simulated clock moves without anyone asking; a failed run is logged and retried."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await purge()
        except Exception:
            logger.exception("scheduled retention purge failed; retrying later")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The log's signing key kept at ``path`` (PEM, PKCS #8, mode 600), created on first use.

    Several processes signing one log (hubs sharing a database) may start at once: the key is
    written to a file of its own and linked into place, so exactly one key is created and
    every process, the ones that lost the race included, loads that one, never a partial file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        draft = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process created the key first: load that one
            else:
                logger.info("created the record log's signing key at %s", path)
                return key
        finally:
            draft.unlink(missing_ok=True)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return loaded


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


# --- the rows -----------------------------------------------------------------------------------


class LogLeafColumns:
    """Columns of ``record_log``: one leaf of the log (mixed into each service's model)."""

    leaf_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    inquiry_id: Mapped[str] = mapped_column(String(36), index=True)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class TreeHeadColumns:
    """Columns of ``tree_heads``: the signed head of the log at one size."""

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(100))


class RetentionHorizonColumns:
    """Columns of ``retention_horizon`` (保存期間): records inquired before ``horizon`` may be
    purged, no others. One row; only the purge moves it, and only forward (a trigger refuses a
    step back or a DELETE). The record tables' triggers allow a DELETE only below it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    horizon: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class RetentionPurgeColumns:
    """Columns of ``retention_purges``: one signed purge of expired records (append-only)."""

    purge_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    horizon: Mapped[str] = mapped_column(String(40))
    purged_at: Mapped[str] = mapped_column(String(40))
    tree_size: Mapped[int] = mapped_column(Integer)
    leaf_indexes: Mapped[list[int]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(100))


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return value


OPTIONAL_LEAF_COLUMNS = frozenset({"trace_id"})
"""Columns added after the record log was first kept: in a leaf only when they hold a value, so
the leaves of rows written before them keep their hashes. A record's ``trace_id`` is part of
its leaf: changing it afterwards breaks the log's verification like any other field."""


def event_fields(row: Any, kind: LogEventKind) -> dict[str, object]:
    """The event a row records, as the leaf serialises it: every column but ``leaf_index``
    (timestamps in UTC, ISO 8601) and empty :data:`OPTIONAL_LEAF_COLUMNS`, and the kind."""
    values = {column.key: getattr(row, column.key) for column in row.__table__.columns}
    return table_event(row.__table__, values, kind)


def table_event(table: Any, values: Mapping[str, object], kind: LogEventKind) -> dict[str, object]:
    """:func:`event_fields` of a row given as column name → value (e.g. a Core result row)."""
    fields: dict[str, object] = {"event": kind.value}
    for key, optional in _leaf_columns(table):
        value = values[key]
        if value is None and optional:
            continue
        fields[key] = _json_value(value)
    return fields


@functools.cache
def _leaf_columns(table: Any) -> tuple[tuple[str, bool], ...]:
    """The keys of ``table``'s columns that a leaf holds, each with whether it is one of the
    :data:`OPTIONAL_LEAF_COLUMNS`."""
    return tuple(
        (column.key, column.key in OPTIONAL_LEAF_COLUMNS)
        for column in table.columns
        if column.key != "leaf_index"
    )


def event_leaf_hash(event: Mapping[str, object]) -> bytes:
    return leaf_hash(canonical_bytes(event))


# --- the log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventTable:
    """A table of event rows that are leaves of the log, and the kind of event they record."""

    model: type[Any]
    kind: LogEventKind


class Appender:
    """Appends leaves inside one :meth:`RecordLog.write` transaction.

    Each append signs the head after it, unless ``sign_heads`` is False: then the transaction
    signs one head after its last leaf (a group commit), and a head for a size between is signed
    when asked for."""

    def __init__(self, log: RecordLog, session: AsyncSession, *, sign_heads: bool = True) -> None:
        self._log = log
        self._session = session
        self._sign_heads = sign_heads

    def append(self, row: Any, kind: LogEventKind) -> int:
        """Give ``row`` the next leaf index, add it, its leaf and the signed head after it."""
        log = self._log
        index = log.tree.size
        row.leaf_index = index
        digest = event_leaf_hash(event_fields(row, kind))
        self._session.add(row)
        self._session.add(
            log.leaf_model(
                leaf_index=index, kind=kind.value, inquiry_id=row.inquiry_id, leaf_hash=digest.hex()
            )
        )
        log.tree.append(digest)
        if self._sign_heads:
            log.add_head(self._session)
        return index

    async def append_many(self, rows: Sequence[Any], kind: LogEventKind) -> None:
        """:meth:`append` for many event rows of one table, in order, with one signed head: the
        head after the last leaf (a head for a size between is signed when asked for). The
        rows, their leaves and the head are inserted with one statement per table."""
        if not rows:
            return
        table = rows[0].__table__
        first = self._log.tree.size
        values = [
            {column.key: getattr(row, column.key) for column in table.columns} for row in rows
        ]
        await self.append_rows(table, values, kind)
        for offset, row in enumerate(rows):
            row.leaf_index = first + offset

    async def append_rows(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], kind: LogEventKind
    ) -> None:
        """:meth:`append_many` for rows given as column key → value (every column of ``table``
        but ``leaf_index``, which each row is given here)."""
        if not rows:
            return
        inserts = self._log.leaf_batches(table, rows, kind)
        if self._sign_heads:
            inserts.append((self._log.head_model.__table__, [self._log.signed_head_row()]))
        await insert_into_tables(self._session, inserts)


@dataclass(frozen=True)
class _Rows:
    """Event rows to append as leaves, given as plain values (see :meth:`RecordLog.append`)."""

    table: sa.Table
    rows: Sequence[dict[str, Any]]
    kind: LogEventKind


@dataclass
class _Waiting:
    """A write waiting for its turn, and where its outcome goes."""

    sessions: async_sessionmaker[AsyncSession]
    work: Callable[[AsyncSession, Appender], Awaitable[Any]]
    future: asyncio.Future[Any]
    rows: _Rows | None = None
    """Set when the write only appends these rows: it may go through the loop writer."""

    def __post_init__(self) -> None:
        # An outcome nobody reads (its caller was cancelled) is not reported as lost.
        self.future.add_done_callback(_consume)


def _new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class RecordLog:
    """One service's record log: appends, signed heads, proofs and the stored entries."""

    def __init__(
        self,
        log_id: str,
        key: Ed25519PrivateKey,
        leaf_model: type[Any],
        head_model: type[Any],
        event_tables: Sequence[EventTable],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        purge_model: type[Any] | None = None,
        horizon_model: type[Any] | None = None,
    ) -> None:
        self.log_id = log_id
        self.key = key
        self.leaf_model = leaf_model
        self.head_model = head_model
        self.event_tables = list(event_tables)
        self.clock = clock
        self.purge_model = purge_model
        self.horizon_model = horizon_model
        self.tree = MerkleTree()
        self._lock = asyncio.Lock()
        self._waiting: list[_Waiting] = []

    @functools.cached_property
    def _leaves_since_sql(self) -> str:
        """The catch-up read as plain SQL, for :meth:`LoopReads.driver_rows`."""
        table = self.leaf_model.__table__
        index, digest = table.c.leaf_index.name, table.c.leaf_hash.name
        return f"SELECT {index}, {digest} FROM {table.name} WHERE {index} >= ? ORDER BY {index}"

    def add_head(self, session: AsyncSession) -> None:
        """Add to ``session`` the signed head of the tree as it is now."""
        session.add(self.head_model(**self.signed_head_row()))

    def signed_head_row(self) -> dict[str, Any]:
        """The head table's row of the tree as it is now, signed."""
        head = self.sign(self.tree.size, self.tree.root())
        return {
            "tree_size": head.tree_size,
            "root_hash": head.root_hash,
            "timestamp": head.timestamp,
            "signature": head.signature,
        }

    def leaf_batches(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], kind: LogEventKind
    ) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
        """Give each event row the next leaf index and append its leaf hash to the tree; the
        rows to insert: the events and their leaves."""
        tree = self.tree
        leaves: list[dict[str, Any]] = []
        for values in rows:
            index = tree.size
            values["leaf_index"] = index
            digest = event_leaf_hash(table_event(table, values, kind))
            leaves.append(
                {
                    "leaf_index": index,
                    "kind": kind.value,
                    "inquiry_id": values["inquiry_id"],
                    "leaf_hash": digest.hex(),
                }
            )
            tree.append(digest)
        return [(table, list(rows)), (self.leaf_model.__table__, leaves)]

    def public_key(self) -> LogPublicKey:
        return LogPublicKey(
            log_id=self.log_id,
            public_key=base64.b64encode(public_key_bytes(self.key)).decode(),
        )

    def sign(self, tree_size: int, root: bytes) -> SignedTreeHead:
        timestamp = _timestamp(self.clock())
        root_hash = root.hex()
        signature = self.key.sign(head_bytes(self.log_id, tree_size, root_hash, timestamp))
        return SignedTreeHead(
            log_id=self.log_id,
            tree_size=tree_size,
            root_hash=root_hash,
            timestamp=timestamp,
            signature=base64.b64encode(signature).decode(),
        )

    async def load(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Read every leaf hash into the in-memory tree (at start)."""
        await self.refresh(sessions)
        logger.info("record log %s: %d leaves", self.log_id, self.tree.size)

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Read into the tree the leaves stored since (by this or another process)."""
        async with self._lock, sessions() as session:
            await self._catch_up(session)

    async def _catch_up(self, session: AsyncSession, reads: LoopReads | None = None) -> int:
        """Append to the tree the leaves other writers stored; how many there were. With
        ``reads`` (an SQLite file's, on the event loop's thread) the leaves are read through
        them instead of the session."""
        since = self._catch_up_from
        model = self.leaf_model
        every_leaf = select(model.leaf_index, model.leaf_hash).order_by(model.leaf_index)
        rows: list[Any] | None = None
        if reads is not None:
            with contextlib.suppress(ReadWouldWait):  # a lock held elsewhere: the session waits
                rows = reads.driver_rows(self._leaves_since_sql, (since,))
        if rows is None:
            rows = list(await session.execute(every_leaf.where(model.leaf_index >= since)))
        added = self._take_leaves(rows)
        if added is None:  # the stored log is another one: read it whole
            added = self._take_leaves(list(await session.execute(every_leaf)))
            assert added is not None
        return added

    @property
    def _catch_up_from(self) -> int:
        """The first leaf index a catch-up reads: the tree's last leaf, read again."""
        return max(self.tree.size - 1, 0)

    def _take_leaves(self, rows: Sequence[Any]) -> int | None:
        """Append to the tree the leaves ``rows`` (index and hash, from :attr:`_catch_up_from`
        on) hold beyond it; how many. The tree's last leaf is among them: if the database no
        longer holds it (another process reset a sandbox's database, whose log this process
        still had in memory), the tree is emptied and None returned, for the caller to read
        the whole log again instead of growing past a log that is no longer there."""
        known = self.tree.size
        if known:
            if not rows or (rows[0][0], rows[0][1]) != (known - 1, self.tree.leaf(known - 1).hex()):
                logger.warning(
                    "record log %s: the stored log is not the one in memory; reading it again",
                    self.log_id,
                )
                self.tree = MerkleTree()
                return None
            rows = rows[1:]
        for index, digest in rows:
            if index != self.tree.size:
                logger.warning(
                    "record log %s: leaf %d stored where %d was expected",
                    self.log_id,
                    index,
                    self.tree.size,
                )
            self.tree.append(bytes.fromhex(digest))
        return len(rows)

    async def write(
        self,
        sessions: async_sessionmaker[AsyncSession],
        work: Callable[[AsyncSession, Appender], Awaitable[T]],
    ) -> T:
        """Run ``work`` in one transaction in which it may append leaves; return once that
        transaction is committed.

        Writes that wait for one another are committed together (a group commit): while one
        transaction is being written, the writes that arrive queue up, and the next of them
        to get the log runs all of them, in arrival order, in one transaction with one
        commit. Each still returns only after its leaves are durable. If any of a group's
        writes fails, the group is rolled back and each of its writes is run again in a
        transaction of its own, so that only those that fail by themselves fail.

        An IntegrityError raised because another process took the same leaf index is retried
        (after reading its leaves); any other IntegrityError is the caller's (a duplicate key).
        """
        return cast(T, await self._submit(_Waiting(sessions, work, _new_future())))

    async def append(
        self,
        sessions: async_sessionmaker[AsyncSession],
        model: type[Any],
        rows: Sequence[dict[str, Any]],
        kind: LogEventKind,
    ) -> None:
        """Append event rows of ``model``'s table, given as column key → value (every column but
        ``leaf_index``, which each row is given here), as the next leaves; return once they are
        durable. The same as a :meth:`write` whose work is ``append_rows``, grouped with the
        other writes in the same way, but an SQLite file's log writes such groups through its
        :class:`~ipnsim.storage.LoopWriter`: no session, and no trip to another thread per
        statement (nor for the commit, while commits are quick)."""
        if not rows:
            return
        batch = _Rows(model.__table__, rows, kind)

        async def work(_: AsyncSession, log: Appender) -> None:
            await log.append_rows(batch.table, batch.rows, batch.kind)

        await self._submit(_Waiting(sessions, work, _new_future(), batch))

    async def _submit(self, waiting: _Waiting) -> Any:
        """Queue ``waiting``, write it (with the others waiting) when the log is free; its
        outcome."""
        self._waiting.append(waiting)
        try:
            async with self._lock:
                if not waiting.future.done():
                    await self._write_waiting(waiting)
        except BaseException:
            if not waiting.future.done() and waiting in self._waiting:
                self._waiting.remove(waiting)  # given up before it was written
            raise
        return waiting.future.result()

    async def _write_waiting(self, leader: _Waiting) -> None:
        """Under the lock: write the leader's and every other waiting write of its sessions
        (the leader's own errors are left in its future, like the others')."""
        group = [waiting for waiting in self._waiting if waiting.sessions is leader.sessions]
        self._waiting = [
            waiting for waiting in self._waiting if waiting.sessions is not leader.sessions
        ]
        try:
            writer = writer_of(leader.sessions)
            if (
                writer is not None
                and all(waiting.rows is not None for waiting in group)
                and await run_to_end(self._append_through(writer, group))
            ):
                return
            if len(group) > 1:
                try:
                    results = await self._write_together(leader.sessions, group)
                except Exception:
                    logger.debug(
                        "record log %s: a group of %d writes failed", self.log_id, len(group)
                    )
                else:
                    for waiting, result in zip(group, results, strict=True):
                        waiting.future.set_result(result)
                    return
            for waiting in group:
                try:
                    waiting.future.set_result(await self._write_one(waiting.sessions, waiting.work))
                except Exception as error:
                    waiting.future.set_exception(error)
        finally:
            # Cancelled midway: the writes not done wait again (their callers still wait).
            left = [w for w in group if not w.future.done() and w is not leader]
            self._waiting[:0] = left

    async def _append_through(self, writer: LoopWriter, group: Sequence[_Waiting]) -> bool:
        """Append the group's rows in one transaction of ``writer``, with one signed head after
        the last leaf, and give each its outcome; False, with nothing written and the tree as
        it was, if that could not be done (the write lock is held elsewhere, or a statement
        failed): the session path writes them instead, and reports any error each has alone."""
        size = self.tree.size
        try:
            async with writer.transaction() as transaction:
                added = self._take_leaves(
                    transaction.rows(self._leaves_since_sql, (self._catch_up_from,))
                )
                if added is None:
                    self._take_leaves(transaction.rows(self._leaves_since_sql, (0,)))
                size = self.tree.size
                batches: dict[sa.Table, list[dict[str, Any]]] = {}
                for waiting in group:
                    assert waiting.rows is not None
                    for table, rows in self.leaf_batches(
                        waiting.rows.table, waiting.rows.rows, waiting.rows.kind
                    ):
                        batches.setdefault(table, []).extend(rows)
                batches[self.head_model.__table__] = [self.signed_head_row()]
                transaction.insert(list(batches.items()))
        except WriteLockTaken:
            self.tree.truncate(size)
            return False
        except Exception:
            self.tree.truncate(size)
            logger.debug(
                "record log %s: %d appends failed through the loop writer",
                self.log_id,
                len(group),
                exc_info=True,
            )
            return False
        except BaseException:
            self.tree.truncate(size)
            raise
        for waiting in group:
            waiting.future.set_result(None)
        return True

    async def _write_together(
        self, sessions: async_sessionmaker[AsyncSession], group: Sequence[_Waiting]
    ) -> list[object]:
        """The group's works one after the other in one transaction, with one signed head after
        the group's last leaf."""
        return await self._transaction(sessions, [waiting.work for waiting in group], True)

    async def _write_one(
        self,
        sessions: async_sessionmaker[AsyncSession],
        work: Callable[[AsyncSession, Appender], Awaitable[T]],
    ) -> T:
        """``work`` in a transaction of its own, tried again when another process took the leaf
        index it was given."""
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            try:
                (result,) = await self._transaction(sessions, [work], False)
                return cast(T, result)
            except IntegrityError:
                async with sessions() as session:
                    others = await self._catch_up(session)
                if others == 0 or attempt == _APPEND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _transaction(
        self,
        sessions: async_sessionmaker[AsyncSession],
        works: Sequence[Callable[[AsyncSession, Appender], Awaitable[Any]]],
        one_head: bool,
    ) -> list[object]:
        """``works`` in one transaction that holds the log (across processes too) with the tree
        caught up; each append signs its head, or with ``one_head`` the transaction signs one
        after its last leaf. On any failure the tree is put back as it was."""
        size = self.tree.size
        try:
            async with sessions.begin() as session:
                reads = reads_of(sessions)
                if reads.on_loop_thread:
                    # SQLite takes its lock at the first write: the leaves others stored are
                    # read as they would be here, without a trip to the session's thread.
                    await self._catch_up(session, reads)
                else:
                    await self._lock_log(session)  # PostgreSQL: before reading the log's end
                    await self._catch_up(session)
                size = self.tree.size
                results = [
                    await work(session, Appender(self, session, sign_heads=not one_head))
                    for work in works
                ]
                if one_head and self.tree.size > size:
                    self.add_head(session)
                return results
        except BaseException:
            self.tree.truncate(size)
            raise

    async def _lock_log(self, session: AsyncSession) -> None:
        """Serialise appends across processes (PostgreSQL: a transaction-scoped advisory lock,
        taken before reading the log's end)."""
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )

    # --- retention ----------------------------------------------------------------------------

    async def purge(
        self,
        sessions: async_sessionmaker[AsyncSession],
        horizon: dt.datetime,
        before_delete: Callable[[AsyncSession, list[str]], Awaitable[None]] | None = None,
    ) -> tuple[dt.datetime, int, RetentionPurge | None]:
        """Remove the events of every inquiry made before ``horizon`` (its record, addenda and
        outcomes), keep their leaves, and sign which leaves were purged.

        The horizon stored in the database moves forward to ``horizon`` first (never back: an
        earlier one keeps the stored one), so the append-only triggers let exactly these rows
        go. ``before_delete`` removes rows that refer to the purged inquiries' events and are
        not themselves leaves. Returns the horizon used, how many inquiries were purged, and
        the signed purge (None when nothing had expired).
        """
        if self.purge_model is None or self.horizon_model is None:
            raise RuntimeError(f"record log {self.log_id} keeps no retention tables")
        records = next(
            table.model for table in self.event_tables if table.kind is LogEventKind.RECORD
        )
        others = [
            table.model for table in self.event_tables if table.kind is not LogEventKind.RECORD
        ]
        horizon_model = self.horizon_model
        purge_model = self.purge_model

        async def work(
            session: AsyncSession, _: Appender
        ) -> tuple[dt.datetime, int, RetentionPurge | None]:
            stored = await session.get(horizon_model, 1)
            if stored is None:
                session.add(horizon_model(id=1, horizon=horizon))
                used = horizon
            elif stored.horizon < horizon:
                stored.horizon = horizon
                used = horizon
            else:
                used = stored.horizon
            await session.flush()
            expired = list(
                await session.scalars(
                    select(records.inquiry_id).where(records.requested_at < used).distinct()
                )
            )
            if not expired:
                return used, 0, None
            leaves: list[int] = []
            for start in range(0, len(expired), _PURGE_CHUNK):
                chunk = expired[start : start + _PURGE_CHUNK]
                for model in [*others, records]:
                    leaves.extend(
                        index
                        for index in await session.scalars(
                            select(model.leaf_index).where(model.inquiry_id.in_(chunk))
                        )
                        if index is not None
                    )
                if before_delete is not None:
                    await before_delete(session, chunk)
                for model in [*others, records]:
                    await session.execute(delete(model).where(model.inquiry_id.in_(chunk)))
            number = (
                await session.scalar(
                    select(purge_model.purge_number)
                    .order_by(purge_model.purge_number.desc())
                    .limit(1)
                )
                or 0
            ) + 1
            purge = self.sign_purge(number, used, sorted(leaves))
            session.add(
                purge_model(
                    purge_number=purge.purge_number,
                    horizon=purge.horizon,
                    purged_at=purge.purged_at,
                    tree_size=purge.tree_size,
                    leaf_indexes=purge.leaf_indexes,
                    signature=purge.signature,
                )
            )
            return used, len(expired), purge

        return await self.write(sessions, work)

    async def purge_expired(
        self,
        sessions: async_sessionmaker[AsyncSession],
        before_delete: Callable[[AsyncSession, list[str]], Awaitable[None]] | None = None,
    ) -> RetentionPurgeResult:
        """Purge every inquiry made more than :data:`RETENTION_YEARS` years ago by the log's
        clock (the simulated one): :meth:`purge` at :func:`retention_horizon` of now."""
        horizon, purged, purge = await self.purge(
            sessions, retention_horizon(self.clock()), before_delete
        )
        if purge is not None:
            logger.info(
                "record log %s: retention purge %d: %d inquiries made before %s (%d leaves)",
                self.log_id,
                purge.purge_number,
                purged,
                purge.horizon,
                len(purge.leaf_indexes),
            )
        return RetentionPurgeResult(
            horizon=horizon,
            purged_records=purged,
            purged_leaves=len(purge.leaf_indexes) if purge else 0,
            purge=purge,
        )

    def sign_purge(
        self, purge_number: int, horizon: dt.datetime, leaf_indexes: list[int]
    ) -> RetentionPurge:
        purged_at = _timestamp(self.clock())
        at_horizon = _timestamp(horizon)
        size = self.tree.size
        signature = self.key.sign(
            purge_bytes(self.log_id, purge_number, at_horizon, purged_at, size, leaf_indexes)
        )
        return RetentionPurge(
            log_id=self.log_id,
            purge_number=purge_number,
            horizon=at_horizon,
            purged_at=purged_at,
            tree_size=size,
            leaf_indexes=leaf_indexes,
            signature=base64.b64encode(signature).decode(),
        )

    async def purges(self, session: AsyncSession) -> list[RetentionPurge]:
        """Every signed retention purge of this log, oldest first."""
        if self.purge_model is None:
            return []
        model = self.purge_model
        return [
            RetentionPurge(
                log_id=self.log_id,
                purge_number=row.purge_number,
                horizon=row.horizon,
                purged_at=row.purged_at,
                tree_size=row.tree_size,
                leaf_indexes=list(row.leaf_indexes),
                signature=row.signature,
            )
            for row in await session.scalars(select(model).order_by(model.purge_number))
        ]

    # --- reading ----------------------------------------------------------------------------

    async def latest_head(self, session: AsyncSession) -> SignedTreeHead:
        """The signed head of the largest stored size (signed now for a log without one)."""
        head = await session.scalar(
            select(self.head_model).order_by(self.head_model.tree_size.desc()).limit(1)
        )
        if head is None or head.tree_size < self.tree.size:
            return self.sign(self.tree.size, self.tree.root())
        return _head_view(self.log_id, head)

    async def head_at(self, session: AsyncSession, tree_size: int) -> SignedTreeHead:
        """The signed head stored for ``tree_size`` (signed now if none was stored)."""
        head = await session.get(self.head_model, tree_size)
        if head is not None:
            return _head_view(self.log_id, head)
        return self.sign(tree_size, self.tree.root(tree_size))

    async def inclusion(
        self, session: AsyncSession, leaf_index: int, tree_size: int | None
    ) -> InclusionProof:
        size = self.tree.size if tree_size is None else tree_size
        path = self.tree.inclusion_proof(leaf_index, size)
        row = await session.get(self.leaf_model, leaf_index)
        return InclusionProof(
            leaf_index=leaf_index,
            tree_size=size,
            leaf_hash=self.tree.leaf(leaf_index).hex(),
            inquiry_id=uuid.UUID(row.inquiry_id) if row is not None else None,
            audit_path=[node.hex() for node in path],
            tree_head=await self.head_at(session, size),
        )

    async def leaves_of(self, session: AsyncSession, inquiry_id: str) -> list[int]:
        model = self.leaf_model
        rows = await session.scalars(
            select(model.leaf_index)
            .where(model.inquiry_id == inquiry_id)
            .order_by(model.leaf_index)
        )
        return list(rows)

    async def consistency(self, session: AsyncSession, first: int, second: int) -> ConsistencyProof:
        path = self.tree.consistency_proof(first, second)
        return ConsistencyProof(
            first=first,
            second=second,
            first_root_hash=self.tree.root(first).hex(),
            second_tree_head=await self.head_at(session, second),
            consistency_path=[node.hex() for node in path],
        )

    async def entries(self, session: AsyncSession, start: int, end: int) -> LogEntries:
        """Leaves start ≤ index < end exactly as stored: the leaf rows and the event rows,
        each possibly missing, with the signed heads of those sizes."""
        leaf = self.leaf_model
        leaves = {
            row.leaf_index: row
            for row in await session.scalars(
                select(leaf).where(leaf.leaf_index >= start, leaf.leaf_index < end)
            )
        }
        events: dict[int, tuple[LogEventKind, Any]] = {}
        for table in self.event_tables:
            model = table.model
            for row in await session.scalars(
                select(model).where(model.leaf_index >= start, model.leaf_index < end)
            ):
                events[row.leaf_index] = (table.kind, row)
        entries: list[LogEntry] = []
        for index in sorted(set(leaves) | set(events)):
            stored = leaves.get(index)
            found = events.get(index)
            kind = found[0] if found else LogEventKind(stored.kind) if stored else None
            inquiry = found[1].inquiry_id if found else stored.inquiry_id if stored else None
            entries.append(
                LogEntry(
                    leaf_index=index,
                    kind=kind,
                    inquiry_id=uuid.UUID(inquiry) if inquiry else None,
                    event=event_fields(found[1], found[0]) if found else None,
                    leaf_hash=stored.leaf_hash if stored else None,
                )
            )
        head = self.head_model
        heads = await session.scalars(
            select(head)
            .where(head.tree_size > start, head.tree_size <= end)
            .order_by(head.tree_size)
        )
        return LogEntries(
            log_id=self.log_id,
            start=start,
            end=end,
            entries=entries,
            tree_heads=[_head_view(self.log_id, row) for row in heads],
            latest=await self.latest_head(session),
        )


def _head_view(log_id: str, row: Any) -> SignedTreeHead:
    return SignedTreeHead(
        log_id=log_id,
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=row.timestamp,
        signature=row.signature,
    )


# --- append-only in the database ---------------------------------------------------------------


def append_only_statements(dialect: str, table: str) -> list[str]:
    """DDL of triggers that refuse UPDATE and DELETE on ``table`` (SQLite or PostgreSQL)."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION ipnsim_refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP; END; "
            "$$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ipnsim_refuse_change()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: DELETE refused'); END",
    ]


RETENTION_REFUSAL = "DELETE refused: not past the retention horizon"


def retention_statements(
    dialect: str,
    table: str,
    records: str = "provision_records",
    keys: Sequence[str] = ("inquiry_id",),
) -> list[str]:
    """DDL of triggers that keep ``table`` append-only except for the retention purge: UPDATE
    is refused, and DELETE too unless the row's inquiry (its row in ``records``, matched on
    ``keys``) was made before the stored retention horizon (``retention_horizon``). Replaces
    :func:`append_only_statements` on the record tables."""
    match = " AND ".join(f"r.{key} = OLD.{key}" for key in keys)
    if dialect == "postgresql":
        requested = (
            "requested := OLD.requested_at;"
            if table == records
            else f"SELECT r.requested_at INTO requested FROM {records} r WHERE {match};"
        )
        function = f"ipnsim_retention_{table}"
        return [
            "CREATE OR REPLACE FUNCTION ipnsim_refuse_change() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP; END; "
            "$$ LANGUAGE plpgsql",
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ "
            "DECLARE horizon timestamptz; requested timestamptz; BEGIN "
            "SELECT h.horizon INTO horizon FROM retention_horizon h WHERE h.id = 1; "
            f"{requested} "
            "IF horizon IS NULL OR requested IS NULL OR requested >= horizon THEN "
            f"RAISE EXCEPTION 'append-only table %: {RETENTION_REFUSAL}', TG_TABLE_NAME; "
            "END IF; RETURN OLD; END; $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ipnsim_refuse_change()",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    requested = (
        "OLD.requested_at"
        if table == records
        else f"(SELECT r.requested_at FROM {records} r WHERE {match})"
    )
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: UPDATE refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"WHEN NOT COALESCE({requested} < "
        "(SELECT h.horizon FROM retention_horizon h WHERE h.id = 1), 0) "
        f"BEGIN SELECT RAISE(ABORT, 'append-only table {table}: {RETENTION_REFUSAL}'); END",
    ]


def drop_retention_statements(dialect: str, table: str) -> list[str]:
    """DDL that removes the triggers of :func:`retention_statements`."""
    statements = [
        f"DROP TRIGGER IF EXISTS {table}_no_update"
        + (f" ON {table}" if dialect == "postgresql" else ""),
        f"DROP TRIGGER IF EXISTS {table}_no_delete"
        + (f" ON {table}" if dialect == "postgresql" else ""),
    ]
    if dialect == "postgresql":
        statements.append(f"DROP FUNCTION IF EXISTS ipnsim_retention_{table}()")
    return statements


def horizon_forward_only_statements(dialect: str) -> list[str]:
    """DDL of triggers that let ``retention_horizon`` move only forward and never be deleted."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION ipnsim_horizon_forward() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' OR NEW.horizon < OLD.horizon OR NEW.id <> OLD.id THEN "
            "RAISE EXCEPTION 'retention_horizon: % back or away refused', TG_OP; END IF; "
            "RETURN NEW; END; $$ LANGUAGE plpgsql",
            "CREATE TRIGGER retention_horizon_forward BEFORE UPDATE OR DELETE ON "
            "retention_horizon FOR EACH ROW EXECUTE FUNCTION ipnsim_horizon_forward()",
        ]
    return [
        "CREATE TRIGGER retention_horizon_no_back BEFORE UPDATE ON retention_horizon "
        "WHEN NEW.horizon < OLD.horizon OR NEW.id <> OLD.id "
        "BEGIN SELECT RAISE(ABORT, 'retention_horizon: moving back refused'); END",
        "CREATE TRIGGER retention_horizon_no_delete BEFORE DELETE ON retention_horizon "
        "BEGIN SELECT RAISE(ABORT, 'retention_horizon: DELETE refused'); END",
    ]


def drop_horizon_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS retention_horizon_forward ON retention_horizon",
            "DROP FUNCTION IF EXISTS ipnsim_horizon_forward()",
        ]
    return [
        "DROP TRIGGER IF EXISTS retention_horizon_no_back",
        "DROP TRIGGER IF EXISTS retention_horizon_no_delete",
    ]


def create_retention_tables(operations: Any) -> None:
    """Create ``retention_horizon`` and ``retention_purges`` (``operations``: Alembic's
    ``op``), the tables of :class:`RetentionHorizonColumns` and
    :class:`RetentionPurgeColumns`."""
    operations.create_table(
        "retention_horizon",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("horizon", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    operations.create_table(
        "retention_purges",
        sa.Column("purge_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("horizon", sa.String(length=40), nullable=False),
        sa.Column("purged_at", sa.String(length=40), nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("leaf_indexes", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("purge_number"),
    )


def guard_retention_statements(dialect: str, keys: Sequence[str] = ("inquiry_id",)) -> list[str]:
    """DDL that turns the append-only triggers of :data:`PURGEABLE_TABLES` into the retention
    ones (:func:`retention_statements`, a child row matched to its record on ``keys``), lets the
    horizon move only forward and keeps ``retention_purges`` append-only."""
    statements: list[str] = []
    for table in PURGEABLE_TABLES:
        statements += drop_append_only_statements(dialect, table)
        statements += retention_statements(dialect, table, keys=keys)
    statements += horizon_forward_only_statements(dialect)
    statements += append_only_statements(dialect, "retention_purges")
    return statements


def unguard_retention_statements(dialect: str) -> list[str]:
    """DDL that undoes :func:`guard_retention_statements`: plain append-only triggers again."""
    statements = drop_append_only_statements(dialect, "retention_purges")
    statements += drop_horizon_statements(dialect)
    for table in PURGEABLE_TABLES:
        statements += drop_retention_statements(dialect, table)
        statements += append_only_statements(dialect, table)
    return statements


def drop_append_only_statements(dialect: str, table: str) -> list[str]:
    """DDL that removes the triggers of :func:`append_only_statements`."""
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
    ]


def key_file_beside(database_url: str) -> Path | None:
    """``<name>-log-key.pem`` in the folder of a SQLite database file (None for other URLs)."""
    prefix, _, path = database_url.partition(":///")
    if not prefix.startswith("sqlite") or not path or path.startswith(":memory:"):
        return None
    return Path(path).parent / f"{Path(path).stem}-log-key.pem"
