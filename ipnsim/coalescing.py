"""Calls to another service sent together while one is in flight (request coalescing).

Under load most of a hop's cost is the HTTP exchange itself: the client's request and the
server's parsing, routing and middlewares, whatever the body holds. A :class:`Coalescer`
lets the first call to a destination go at once, on its own, exactly as it would alone; the
calls for the same destination made while it is in flight wait, and go together in one call
of the destination's many-at-once route as soon as a call in flight is back, or after
``max_wait`` seconds at most (so that one slow call does not hold the others back); more than
``max_items`` waiting go in several such calls at once, none larger than the route takes. Each caller
gets its own outcome: the answer to its item, or the error its item met (an error of the whole
call reaches every item of it).

With nothing in flight, nothing waits: a lone inquiry, or a run of inquiries one after the
other, is sent exactly as before. The busier the destination, the larger the groups.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeAlias, TypeVar

ItemT = TypeVar("ItemT")
"""An item, as the call of one takes it."""
AnswerT = TypeVar("AnswerT")
"""The answer to one item."""

Outcome: TypeAlias = AnswerT | BaseException
"""What a call of many gives each item: its answer, or the error it met."""

MAX_WAIT_SECONDS = 0.05
"""The longest a call waits for one in flight before it goes anyway (with the others waiting
then): a call held by a slow destination delays the next ones by no more than this."""


@dataclass
class _Waiting(Generic[ItemT, AnswerT]):
    item: ItemT
    future: asyncio.Future[AnswerT]
    context: contextvars.Context
    """A copy of its caller's context, where a call for it (alone or first of a group) runs."""


@dataclass
class _Destination(Generic[ItemT, AnswerT]):
    """The calls in flight to one destination, and those waiting."""

    in_flight: int = 0
    waiting: list[_Waiting[ItemT, AnswerT]] = field(default_factory=list)
    deadline: asyncio.TimerHandle | None = None
    """When the calls waiting go, if no call in flight is back before."""


class Coalescer(Generic[ItemT, AnswerT]):
    """Sends calls for one destination together while one is in flight.

    ``send_one(item)`` makes the call of one item, in its caller's context; ``send_many(items)``
    the call of several, giving one outcome per item in order (an exception it raises is every
    item's outcome). The calls for waiting items run in tasks of their own: a call of one in a
    copy of its caller's context, a call of several in that of its first item's caller (the
    same sandbox, say, as the destination is the same); what the other callers' contexts held
    that the call needs (their traces), their items carry.
    """

    def __init__(
        self,
        send_one: Callable[[ItemT], Awaitable[AnswerT]],
        send_many: Callable[[list[ItemT]], Awaitable[Sequence[Outcome[AnswerT]]]],
        max_items: int,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        if max_items < 2:
            raise ValueError("a call of many takes at least 2 items")
        self._send_one = send_one
        self._send_many = send_many
        self.max_items = max_items
        """The most items one call of ``send_many`` takes."""
        self.max_wait = max_wait
        self._destinations: dict[Hashable, _Destination[ItemT, AnswerT]] = {}
        """Each destination with a call in flight or waiting."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, destination: Hashable, item: ItemT) -> AnswerT:
        """``item``'s outcome: sent at once if nothing is in flight for ``destination``, else
        with the others that wait, once a call in flight is back (``max_wait`` at most)."""
        state = self._destinations.get(destination)
        if state is None:
            state = self._destinations[destination] = _Destination()
        if state.in_flight:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[AnswerT] = loop.create_future()
            state.waiting.append(_Waiting(item, future, contextvars.copy_context()))
            if state.deadline is None:
                state.deadline = loop.call_later(self.max_wait, self._send_waiting, destination)
            return await future
        state.in_flight += 1
        try:
            return await self._send_one(item)
        finally:
            self._back(destination)

    def _back(self, destination: Hashable) -> None:
        """A call for ``destination`` is back: the calls waiting go."""
        self._destinations[destination].in_flight -= 1
        self._send_waiting(destination)

    def _send_waiting(self, destination: Hashable) -> None:
        state = self._destinations.get(destination)
        if state is None:
            return
        if state.deadline is not None:
            state.deadline.cancel()
            state.deadline = None
        waiting = [w for w in state.waiting if not w.future.done()]
        state.waiting = []
        if not waiting:
            if not state.in_flight:
                del self._destinations[destination]
            return
        loop = asyncio.get_running_loop()
        for start in range(0, len(waiting), self.max_items):
            group = waiting[start : start + self.max_items]
            state.in_flight += 1
            if len(group) == 1:
                work = self._one(destination, group[0])
            else:
                work = self._many(destination, group)
            task = loop.create_task(work, context=group[0].context)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, destination: Hashable, waiting: _Waiting[ItemT, AnswerT]) -> None:
        try:
            outcome = await self._send_one(waiting.item)
        except BaseException as error:  # handed to the caller that waits
            _settle(waiting.future, error)
        else:
            _settle(waiting.future, outcome)
        finally:
            self._back(destination)

    async def _many(self, destination: Hashable, waiting: list[_Waiting[ItemT, AnswerT]]) -> None:
        try:
            outcomes: Sequence[Outcome[AnswerT]] = await self._send_many([w.item for w in waiting])
            if len(outcomes) != len(waiting):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(waiting)} items")
        except BaseException as error:  # every item's outcome
            for each in waiting:
                _settle(each.future, error)
        else:
            for each, outcome in zip(waiting, outcomes, strict=True):
                _settle(each.future, outcome)
        finally:
            self._back(destination)

    @property
    def busy_destinations(self) -> int:
        """Destinations with a call in flight or waiting."""
        return len(self._destinations)


def _settle(future: asyncio.Future[AnswerT], outcome: Outcome[AnswerT]) -> None:
    """Give a waiting caller its outcome (unless it stopped waiting)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        if isinstance(outcome, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(outcome)
    else:
        future.set_result(outcome)
