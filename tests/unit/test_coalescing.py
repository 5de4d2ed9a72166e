"""Calls made while another is in flight go together (ipnsim.coalescing)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest

from ipnsim.coalescing import Coalescer, Outcome

sandbox: contextvars.ContextVar[str] = contextvars.ContextVar("sandbox", default="default")


class Destination:
    """A destination that answers each item with its double and fails an item of 13 (or a
    whole call, on demand). Each call waits until the test lets it go: :meth:`let_go` lets
    the calls made so far go, and :attr:`open` every later call too."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int], str]] = []
        """Each call: "one" or "many", its items, the sandbox it was made in."""
        self.gates: list[asyncio.Event] = []
        self.open = False
        self.fail_whole_call: BaseException | None = None

    async def _wait(self) -> None:
        if not self.open:
            gate = asyncio.Event()
            self.gates.append(gate)
            await gate.wait()

    def let_go(self, everything: bool = False) -> None:
        for gate in self.gates:
            gate.set()
        self.open = everything

    def coalescer(self, max_items: int = 100, max_wait: float = 60) -> Coalescer[int, int]:
        """A coalescer of calls to this destination (by default, waiting for a call back)."""
        return Coalescer(self.one, self.many, max_items=max_items, max_wait=max_wait)

    async def one(self, item: int) -> int:
        self.calls.append(("one", [item], sandbox.get()))
        await self._wait()
        if item == 13:
            raise ValueError("unlucky")
        return item * 2

    async def many(self, items: list[int]) -> Sequence[Outcome[int]]:
        self.calls.append(("many", list(items), sandbox.get()))
        await self._wait()
        if self.fail_whole_call is not None:
            raise self.fail_whole_call
        return [ValueError("unlucky") if item == 13 else item * 2 for item in items]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_lone_call_goes_at_once_and_alone() -> None:
    async def scenario() -> tuple[list[int], list[tuple[str, list[int], str]], int]:
        destination = Destination()
        destination.let_go(everything=True)
        coalescer = destination.coalescer()
        answers = [await coalescer.call("hub", item) for item in (1, 2, 3)]
        return answers, destination.calls, coalescer.busy_destinations

    answers, calls, in_flight = asyncio.run(scenario())

    assert answers == [2, 4, 6]
    assert calls == [("one", [1], "default"), ("one", [2], "default"), ("one", [3], "default")]
    assert in_flight == 0


def test_calls_made_while_one_is_in_flight_go_together_each_with_its_outcome() -> None:
    async def scenario() -> tuple[
        list[object], list[tuple[str, list[int], str]], Coalescer[int, int]
    ]:
        destination = Destination()
        coalescer = destination.coalescer()
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        waiting = [asyncio.create_task(coalescer.call("hub", item)) for item in (2, 13, 4)]
        await settle()
        assert [kind for kind, _, _ in destination.calls] == ["one"]  # the others wait
        destination.let_go(everything=True)
        outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
        return outcomes, destination.calls, coalescer

    outcomes, calls, coalescer = asyncio.run(scenario())

    assert outcomes[0] == 2 and outcomes[1] == 4 and outcomes[3] == 8
    assert isinstance(outcomes[2], ValueError)  # only the item that failed
    assert calls == [("one", [1], "default"), ("many", [2, 13, 4], "default")]
    assert coalescer.busy_destinations == 0


def test_one_call_waiting_goes_alone_and_later_ones_wait_for_the_call_in_flight() -> None:
    async def scenario() -> tuple[list[int], list[tuple[str, list[int], str]]]:
        destination = Destination()
        coalescer = destination.coalescer()
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        second = asyncio.create_task(coalescer.call("hub", 2))
        await settle()
        destination.let_go()  # the first call is back; the second goes, alone, and is held
        await first
        await settle()
        later = [asyncio.create_task(coalescer.call("hub", item)) for item in (3, 4)]
        await settle()
        assert destination.calls[-1] == ("one", [2], "default")
        destination.let_go(everything=True)
        return list(await asyncio.gather(second, *later)), destination.calls

    answers, calls = asyncio.run(scenario())

    assert answers == [4, 6, 8]
    assert calls == [("one", [1], "default"), ("one", [2], "default"), ("many", [3, 4], "default")]


def test_a_waiting_call_that_goes_alone_runs_in_its_own_callers_context() -> None:
    """A call that waited and then goes alone is made in its caller's context (its trace, say),
    not in that of the call whose return let it go."""
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")
    seen: list[tuple[int, str]] = []

    async def scenario() -> list[int]:
        destination = Destination()

        async def one(item: int) -> int:
            seen.append((item, caller.get()))
            return await destination.one(item)

        coalescer: Coalescer[int, int] = Coalescer(
            one, destination.many, max_items=100, max_wait=60
        )

        async def call_as(name: str, item: int) -> int:
            caller.set(name)
            return await coalescer.call("hub", item)

        first = asyncio.create_task(call_as("first", 1))
        await settle()
        second = asyncio.create_task(call_as("second", 2))
        await settle()
        destination.let_go(everything=True)
        return list(await asyncio.gather(first, second))

    assert asyncio.run(scenario()) == [2, 4]
    assert seen == [(1, "first"), (2, "second")]


def test_more_waiting_than_a_call_takes_go_in_several_calls_at_once() -> None:
    """No call of many carries more than ``max_items``: the rest go in further calls, made at
    the same moment, not after; a remainder of one goes as a call of one."""

    async def scenario() -> tuple[list[int], list[tuple[str, list[int], str]], int]:
        destination = Destination()
        coalescer = destination.coalescer(max_items=3)
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        waiting = [asyncio.create_task(coalescer.call("hub", item)) for item in range(2, 9)]
        await settle()
        destination.let_go()  # the first call is back: the seven waiting go
        await first
        await settle()
        calls_at_once = len(destination.calls) - 1  # all made before any of them is back
        destination.let_go(everything=True)
        return list(await asyncio.gather(*waiting)), destination.calls, calls_at_once

    answers, calls, calls_at_once = asyncio.run(scenario())

    assert answers == [item * 2 for item in range(2, 9)]
    assert calls == [
        ("one", [1], "default"),
        ("many", [2, 3, 4], "default"),
        ("many", [5, 6, 7], "default"),
        ("one", [8], "default"),
    ]
    assert calls_at_once == 3


def test_a_call_of_many_takes_at_least_two_items() -> None:
    async def one(item: int) -> int:
        return item

    async def many(items: list[int]) -> list[Outcome[int]]:
        return list(items)

    with pytest.raises(ValueError, match="at least 2"):
        Coalescer(one, many, max_items=1)


def test_destinations_never_share_a_call_and_a_group_runs_in_its_callers_sandbox() -> None:
    async def call_in(coalescer: Coalescer[int, int], where: str, item: int) -> int:
        sandbox.set(where)
        return await coalescer.call(where, item)

    async def scenario() -> tuple[list[int], list[tuple[str, list[int], str]]]:
        destination = Destination()
        coalescer = destination.coalescer()
        tasks = [asyncio.create_task(call_in(coalescer, "a", 1))]
        tasks.append(asyncio.create_task(call_in(coalescer, "b", 10)))
        await settle()
        tasks += [
            asyncio.create_task(call_in(coalescer, where, item))
            for where, item in (
                ("a", 2),
                ("b", 20),
                ("a", 3),
                ("b", 30),
            )
        ]
        await settle()
        destination.let_go(everything=True)
        return list(await asyncio.gather(*tasks)), destination.calls

    answers, calls = asyncio.run(scenario())

    assert answers == [2, 20, 4, 40, 6, 60]
    assert sorted(calls) == [
        ("many", [2, 3], "a"),
        ("many", [20, 30], "b"),
        ("one", [1], "a"),
        ("one", [10], "b"),
    ]


def test_a_failed_group_call_is_every_items_outcome() -> None:
    async def scenario() -> list[object]:
        destination = Destination()
        destination.fail_whole_call = ConnectionError("hub unreachable")
        coalescer = destination.coalescer()
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        waiting = [asyncio.create_task(coalescer.call("hub", item)) for item in (2, 3)]
        await settle()
        destination.let_go(everything=True)
        return list(await asyncio.gather(first, *waiting, return_exceptions=True))

    first, *grouped = asyncio.run(scenario())

    assert first == 2
    assert all(isinstance(outcome, ConnectionError) for outcome in grouped)
    assert len(grouped) == 2


def test_a_caller_that_stops_waiting_is_left_out_of_the_group() -> None:
    async def scenario() -> tuple[list[int], list[tuple[str, list[int], str]]]:
        destination = Destination()
        coalescer = destination.coalescer()
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        gone = asyncio.create_task(coalescer.call("hub", 2))
        kept = [asyncio.create_task(coalescer.call("hub", item)) for item in (3, 4)]
        await settle()
        gone.cancel()
        await settle()
        destination.let_go(everything=True)
        answers = list(await asyncio.gather(first, *kept))
        with pytest.raises(asyncio.CancelledError):
            await gone
        return answers, destination.calls

    answers, calls = asyncio.run(scenario())

    assert answers == [2, 6, 8]
    assert calls == [("one", [1], "default"), ("many", [3, 4], "default")]


def test_a_group_call_giving_too_few_outcomes_fails_every_item() -> None:
    async def short(items: list[int]) -> Sequence[Outcome[int]]:
        return [item * 2 for item in items[:-1]]

    async def scenario() -> list[object]:
        release = asyncio.Event()

        async def one(item: int) -> int:
            await release.wait()
            return item * 2

        coalescer: Coalescer[int, int] = Coalescer(one, short, max_items=100, max_wait=60)
        first = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        waiting = [asyncio.create_task(coalescer.call("hub", item)) for item in (2, 3)]
        await settle()
        release.set()
        return list(await asyncio.gather(first, *waiting, return_exceptions=True))

    first, *grouped = asyncio.run(scenario())

    assert first == 2
    assert all(isinstance(outcome, RuntimeError) for outcome in grouped)


def test_a_call_waits_for_a_slow_one_in_flight_no_longer_than_max_wait() -> None:
    """One slow call does not hold the next ones back: after ``max_wait`` they go, while it is
    still in flight."""

    async def scenario() -> tuple[list[tuple[str, list[int], str]], bool, list[int]]:
        destination = Destination()
        coalescer = destination.coalescer(max_wait=0.05)
        slow = asyncio.create_task(coalescer.call("hub", 1))
        await settle()
        waiting = [asyncio.create_task(coalescer.call("hub", item)) for item in (2, 3)]
        await asyncio.sleep(0.2)
        calls = list(destination.calls)
        slow_still_in_flight = not slow.done()
        destination.let_go(everything=True)
        answers = list(await asyncio.gather(slow, *waiting))
        return calls, slow_still_in_flight, answers

    calls, slow_still_in_flight, answers = asyncio.run(scenario())

    assert slow_still_in_flight
    assert calls == [("one", [1], "default"), ("many", [2, 3], "default")]
    assert answers == [2, 4, 6]
