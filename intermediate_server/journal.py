"""The request journal (受付記録): every request the business system sent, and the verdict.

A vendor integrating a business system needs to see what it actually sent and why a request
was refused. The journal middleware notes every ``/v1`` request (except reading the journal
and the error catalogue): method, path, HTTP status, how long it took, and its verdict:

- ``accepted``: answered normally;
- ``answered``: an inquiry that went through the network and ended with an error code (the
  result carries it; the records were written);
- ``refused``: answered with an error, its code and message kept, and for a validation error
  each field that failed and why (the near miss).

Request and response bodies are never kept, so the journal holds no My Number, resident code or
replica data. Entries are written in blocks by a background task, so journalling adds no
database commit to the request itself; the block still in memory is written at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intermediate_server.db import JournalEntry
from ipnsim.storage import utcnow

logger = logging.getLogger("ipnsim.intermediate.journal")

JOURNAL_PATH = "/v1/journal"
UNJOURNALLED = (JOURNAL_PATH, "/v1/errors")
"""Requests under these paths are reads of the journal or the catalogue: not noted."""
INQUIRY_PATH = "/v1/inquiries"
MAX_CAPTURED_BODY = 64 * 1024
"""Largest answer body read for its error code; a larger one is noted without it."""
FLUSH_EVERY_SECONDS = 0.5
MAX_BUFFERED = 10_000
"""Entries kept in memory at most while the database is behind; the oldest are dropped (and
the drop logged) rather than letting memory grow without bound."""


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    ANSWERED = "answered"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the middleware saw of one request and its answer."""

    method: str
    path: str
    status: int
    body: bytes | None
    duration_ms: float


def verdict_of(exchange: Exchange) -> dict[str, Any]:
    """The journal entry's verdict fields for one exchange: verdict, code, message, details."""
    error: dict[str, Any] | None = None
    if exchange.body is not None:
        with contextlib.suppress(ValueError):
            answer = json.loads(exchange.body)
            if isinstance(answer, dict):
                error = answer if exchange.status >= 400 else answer.get("error")
    if exchange.status >= 400:
        verdict = Verdict.REFUSED
    elif isinstance(error, dict) and error.get("code"):
        verdict = Verdict.ANSWERED
    else:
        verdict = Verdict.ACCEPTED
        error = None
    details = error.get("details") if isinstance(error, dict) else None
    return {
        "verdict": verdict.value,
        "error_code": error.get("code") if isinstance(error, dict) else None,
        "message_en": str(error.get("message_en"))[:800]
        if isinstance(error, dict) and error.get("message_en")
        else None,
        "details": [
            {"field": str(item.get("field", "")), "problem": str(item.get("problem", ""))}
            for item in details
            if isinstance(item, dict)
        ]
        if isinstance(details, list)
        else [],
    }


class RequestJournal:
    """The journal's buffer and store."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._pending: list[dict[str, Any]] = []
        self._dropped = 0

    def note(self, exchange: Exchange) -> None:
        """Keep one exchange for the next write (never blocks the request)."""
        if len(self._pending) >= MAX_BUFFERED:
            self._pending.pop(0)
            self._dropped += 1
        self._pending.append(
            {
                "received_at": utcnow(),
                "method": exchange.method,
                "path": exchange.path[:400],
                "status": exchange.status,
                "duration_ms": round(exchange.duration_ms, 3),
                **verdict_of(exchange),
            }
        )

    async def flush(self) -> int:
        """Write what is buffered in one transaction; how many entries were written."""
        if self._dropped:
            logger.warning(
                "request journal dropped %d entries: the database fell behind", self._dropped
            )
            self._dropped = 0
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        table = cast(Table, JournalEntry.__table__)
        async with self.sessions.begin() as session:
            connection = await session.connection()
            await connection.execute(table.insert(), pending)
        return len(pending)

    async def flush_forever(self, interval: float = FLUSH_EVERY_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("request journal could not be written; retrying")

    async def entries(
        self, limit: int, refused_only: bool, before: int | None = None
    ) -> list[JournalEntry]:
        """The newest entries first (after writing what is buffered)."""
        await self.flush()
        query = select(JournalEntry).order_by(JournalEntry.entry_id.desc()).limit(limit)
        if refused_only:
            query = query.where(JournalEntry.verdict == Verdict.REFUSED.value)
        if before is not None:
            query = query.where(JournalEntry.entry_id < before)
        async with self.sessions() as session:
            return list(await session.scalars(query))


class JournalMiddleware:
    """Pure ASGI middleware noting every business-system request in ``app.state.journal``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path.startswith(UNJOURNALLED):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        state = scope["app"].state
        journal: RequestJournal | None = getattr(state, "journal", None)
        started = time.perf_counter()
        status = 500
        chunks: list[bytes] = []
        capture = False
        size = 0
        noted = False

        def note() -> None:
            nonlocal noted, journal
            current = getattr(state, "current_journal", None)
            if current is not None:
                # The journal of the request's sandbox (X-Ipnsim-Sandbox), opened by now.
                journal = current()
            if journal is None or noted:
                return
            noted = True
            journal.note(
                Exchange(
                    method=method,
                    path=path,
                    status=status,
                    body=b"".join(chunks) if chunks else None,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )

        async def watching_send(message: Message) -> None:
            nonlocal status, capture, size
            if message["type"] == "http.response.start":
                status = message["status"]
                capture = status >= 400 or (method == "POST" and path == INQUIRY_PATH)
            elif message["type"] == "http.response.body":
                body: bytes = message.get("body", b"")
                size += len(body)
                if capture and size <= MAX_CAPTURED_BODY:
                    chunks.append(body)
                elif capture:
                    capture = False
                    chunks.clear()
                if not message.get("more_body", False):
                    # Noted before the client has the answer: a read that follows sees it.
                    note()
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            note()
