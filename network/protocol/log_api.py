"""The record log's HTTP endpoints (``/v1/log/…``), the same on the hub and on every
intermediate server. (No ``from __future__ import annotations``: FastAPI reads these hints.)"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from error_codes import IpnsimError
from network.protocol.models import (
    ConsistencyProof,
    InclusionProof,
    LogEntries,
    LogPublicKey,
    RetentionPurge,
    SignedTreeHead,
)
from network.protocol.record_log import MAX_ENTRIES, RecordLog

MAX_INDEX = 2**53 - 1
"""Largest leaf index or tree size a request may name (one a JSON number holds exactly); a
larger one is refused as VAL001 rather than overflowing the database's integers."""

Index = Annotated[int, Query(ge=0, le=MAX_INDEX)]
Size = Annotated[int, Query(ge=1, le=MAX_INDEX)]


def _out_of_range(field: str, problem: str) -> IpnsimError:
    return IpnsimError("VAL001", field=field, problem=problem)


def log_router(
    current: Callable[[Request], Awaitable[tuple[RecordLog, async_sessionmaker[AsyncSession]]]],
    entries_dependencies: Sequence[Any] = (),
) -> APIRouter:
    """The record log's endpoints (``/v1/log/…``) of a service; ``current`` finds the log
    and the sessions of the request's app. ``entries_dependencies`` guard the stored entries."""
    router = APIRouter(prefix="/v1/log", tags=["record log"])

    async def ready(request: Request) -> tuple[RecordLog, async_sessionmaker[AsyncSession]]:
        log, sessions = await current(request)
        await log.refresh(sessions)
        return log, sessions

    Log = Annotated[tuple[RecordLog, async_sessionmaker[AsyncSession]], Depends(ready)]

    @router.get("/tree-head")
    async def tree_head(log: Log) -> SignedTreeHead:
        """The signed tree head of the log as it stands (size, root hash, time, signature)."""
        async with log[1]() as session:
            return await log[0].latest_head(session)

    @router.get("/public-key")
    async def public_key(log: Log) -> LogPublicKey:
        """The Ed25519 public key that verifies this log's tree heads."""
        return log[0].public_key()

    @router.get("/proof/inclusion")
    async def inclusion(
        log: Log,
        leaf_index: Index | None = None,
        inquiry_id: uuid.UUID | None = None,
        tree_size: Size | None = None,
    ) -> InclusionProof:
        """Audit path (RFC 9162 §2.1.3) of one leaf, given by ``leaf_index`` or by
        ``inquiry_id`` (its first leaf: the record), in the tree of ``tree_size`` leaves (the
        whole log by default), with the signed head of that size."""
        record_log, sessions = log
        size = record_log.tree.size if tree_size is None else tree_size
        if size > record_log.tree.size or size == 0:
            raise _out_of_range("tree_size", f"the log has {record_log.tree.size} leaves")
        async with sessions() as session:
            if leaf_index is None:
                if inquiry_id is None:
                    raise _out_of_range("leaf_index", "give leaf_index or inquiry_id")
                leaves = await record_log.leaves_of(session, str(inquiry_id))
                if not leaves:
                    raise IpnsimError("REC001", inquiry_id=str(inquiry_id))
                leaf_index = leaves[0]
            if leaf_index >= size:
                raise _out_of_range("leaf_index", f"not below tree_size {size}")
            return await record_log.inclusion(session, leaf_index, size)

    @router.get("/proof/consistency")
    async def consistency(
        log: Log,
        first: Size,
        second: Size | None = None,
    ) -> ConsistencyProof:
        """Consistency proof (RFC 9162 §2.1.4) from the tree of ``first`` leaves to the tree of
        ``second`` leaves (the whole log by default), with the signed head of ``second``."""
        record_log, sessions = log
        size = record_log.tree.size if second is None else second
        if size > record_log.tree.size:
            raise _out_of_range("second", f"the log has {record_log.tree.size} leaves")
        if first > size:
            raise _out_of_range("first", f"not above second ({size})")
        async with sessions() as session:
            return await record_log.consistency(session, first, size)

    @router.get("/entries", dependencies=list(entries_dependencies))
    async def entries(
        log: Log,
        start: Index = 0,
        end: Index | None = None,
    ) -> LogEntries:
        """Leaves start ≤ index < end (at most 1000) exactly as stored, with their events and
        the signed heads of those sizes: what a verifier recomputes the log from."""
        record_log, sessions = log
        stop = start + MAX_ENTRIES if end is None else min(end, start + MAX_ENTRIES)
        if stop < start:
            raise _out_of_range("end", "not below start")
        async with sessions() as session:
            return await record_log.entries(session, start, stop)

    @router.get("/purges", dependencies=list(entries_dependencies))
    async def purges(log: Log) -> list[RetentionPurge]:
        """Every signed retention purge (保存期間経過による削除): the leaves whose events were
        removed because they expired, signed by the log's key, oldest first."""
        async with log[1]() as session:
            return await log[0].purges(session)

    return router
