"""The simulated clock (模擬時計): one notion of "now" for every service of a network.

A network can be moved in time (``ipnsim clock set 2033-12-01T00:00:00+09:00``) to see what a
date does — a retention period running out, a registration lag, a release date. The clock is an
offset from the real time: once set it keeps running from the time it was set to. Every
service reads :func:`now` for the timestamps it writes (through :func:`ipnsim.storage.utcnow`).

The offset is kept in a small JSON file (``IPNSIM_CLOCK_FILE``; the launcher gives every service
of a network the same one), so it survives restarts and every process of a service sees a change
at once (the file is read again whenever it changes). Without the variable the clock is the real
one until it is set, in memory.

Each service serves the operator API from :func:`clock_router`: ``GET /v1/clock`` (what it says),
``PUT /v1/clock`` (set it), ``DELETE /v1/clock`` (back to the real time).
"""

import datetime as dt
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict

CLOCK_FILE_ENV = "IPNSIM_CLOCK_FILE"


class ClockSetting(BaseModel):
    """``PUT /v1/clock``: the time the clock shows from now on (with a UTC offset)."""

    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime


class ClockView(BaseModel):
    """What a service's clock says."""

    model_config = ConfigDict(extra="forbid")

    now: dt.datetime
    """The simulated time (UTC)."""
    real_now: dt.datetime
    """The real time (UTC)."""
    offset_seconds: float
    """How far the simulated time is ahead of the real time (negative: behind)."""
    simulated: bool
    """False while the clock is the real one."""


class SimulatedClock:
    """The real time moved by an offset, kept in ``path`` (or in memory without one)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._offset = dt.timedelta()
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            self._offset, self._stamp = dt.timedelta(), None
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return
        try:
            seconds = float(json.loads(self.path.read_text(encoding="utf-8"))["offset_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # half-written by another process: the next read sees it whole
        self._offset, self._stamp = dt.timedelta(seconds=seconds), stamp

    def offset(self) -> dt.timedelta:
        with self._lock:
            self._reload()
            return self._offset

    def now(self) -> dt.datetime:
        """The simulated time, in UTC."""
        return dt.datetime.now(dt.UTC) + self.offset()

    def set(self, at: dt.datetime) -> ClockView:
        """Make the clock show ``at`` now (then run on from there)."""
        if at.tzinfo is None:
            raise ValueError("the time needs a UTC offset, e.g. 2033-12-01T00:00:00+09:00")
        self._store(at - dt.datetime.now(dt.UTC))
        return self.view()

    def reset(self) -> ClockView:
        """Back to the real time."""
        self._store(dt.timedelta())
        return self.view()

    def _store(self, offset: dt.timedelta) -> None:
        with self._lock:
            self._offset = offset
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(
                json.dumps({"offset_seconds": offset.total_seconds()}) + "\n", encoding="utf-8"
            )
            temporary.replace(self.path)
            self._stamp = None

    def view(self) -> ClockView:
        offset = self.offset()
        real = dt.datetime.now(dt.UTC)
        return ClockView(
            now=real + offset,
            real_now=real,
            offset_seconds=offset.total_seconds(),
            simulated=offset != dt.timedelta(),
        )


def _from_environment() -> SimulatedClock:
    path = os.environ.get(CLOCK_FILE_ENV)
    return SimulatedClock(Path(path) if path else None)


clock = _from_environment()
"""The process's clock (from ``IPNSIM_CLOCK_FILE``)."""


def now() -> dt.datetime:
    """The simulated time, in UTC: the single source of "now" for service timestamps."""
    return clock.now()


def use_clock_file(path: Path | None) -> None:
    """Keep the process's clock in ``path`` from now on (None: in memory)."""
    clock.path = path
    clock._stamp = None
    if path is None:
        clock._offset = dt.timedelta()


def clock_router(dependencies: Sequence[Any] = ()) -> APIRouter:
    """``/v1/clock``: read, set and reset the simulated clock (guarded by ``dependencies``)."""
    router = APIRouter(prefix="/v1/clock", tags=["clock"], dependencies=list(dependencies))

    @router.get("")
    async def show_clock() -> ClockView:
        """What the simulated clock says (and the real time)."""
        return clock.view()

    @router.put("")
    async def set_clock(body: ClockSetting) -> ClockView:
        """Set the simulated clock: it shows ``now`` at once and runs on from there."""
        return clock.set(body.now)

    @router.delete("")
    async def reset_clock() -> ClockView:
        """Back to the real time."""
        return clock.reset()

    return router
