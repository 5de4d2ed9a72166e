"""The hub's live flow of inquiries (照会の流れ), pushed to the console as server-sent events.

The inquiry path publishes one event per hop: received from the requester's intermediate server,
符号 converted, permission checked, forwarded to the provider, answered by the provider, and the
result (with its error code, if any). Events name agencies and 符号, never a My Number nor a
person key. Publishing costs one attribute check when nobody listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

SUBSCRIBER_QUEUE_SIZE = 1000
"""Events a slow subscriber may lag behind; beyond, its oldest pending events are dropped."""


class FlowEvents:
    """In-process publisher of inquiry hops (照会の各段階) to any number of subscribers."""

    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._queue_size = queue_size
        self._ids = itertools.count(1)

    @property
    def listening(self) -> bool:
        return bool(self._subscribers)

    def publish(self, hop: str, inquiry_id: object, started: float, **fields: Any) -> None:
        """Tell every subscriber that ``inquiry_id`` reached ``hop``; ``started`` is the
        ``time.perf_counter()`` of its arrival, for the elapsed milliseconds."""
        if not self._subscribers:
            return
        event: dict[str, Any] = {
            "id": next(self._ids),
            "hop": hop,
            "inquiry_id": str(inquiry_id),
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            **fields,
        }
        for queue in self._subscribers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue receiving every event published while the context is open."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


def sse_message(event: dict[str, Any]) -> str:
    """One server-sent event (``event: hop``) carrying the event as JSON."""
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['id']}\nevent: hop\ndata: {data}\n\n"


async def sse_stream(
    events: FlowEvents, heartbeat: float = 15.0, limit: int | None = None
) -> AsyncIterator[str]:
    """The text/event-stream of ``events``: a comment at once (so the subscription is live when
    the client sees the first bytes), then each event, and a comment every ``heartbeat`` seconds
    of silence. Ends after ``limit`` events if given."""
    with events.subscribe() as queue:
        yield ": subscribed\n\n"
        sent = 0
        while limit is None or sent < limit:
            try:
                event = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            yield sse_message(event)
            sent += 1
