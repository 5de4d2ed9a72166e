"""Faults on demand: the hub makes any failure of a provider happen, without editing data.

The operator (or a vendor's test) sets a fault per provider agency in the hub's fault table
(``PUT /v1/faults/{agency_code}``, ``ipnsim fault set``, or the faults file at start-up); a
business system may also ask for one outcome per inquiry with the ``X-Ipnsim-Force-Outcome``
header. Faults apply where the hub routes an inquiry to the provider
(:class:`FaultInjectingRouter` wraps :class:`~network.routing.ProviderRouter`), so every faulted
inquiry is checked and recorded at the hub like any other failed inquiry. Faults live in memory:
they are a test-time setting and vanish when the hub stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import TypeAdapter, ValidationError

from error_codes import IpnsimError
from network.protocol.models import (
    Addendum,
    FaultSettings,
    ProviderFault,
    ProvisionAnswer,
    ProvisionRequest,
    online_window,
)
from network.registry import AgencyEntry, Registry
from network.routing import ProviderRouter

logger = logging.getLogger("ipnsim.hub.faults")

JST = dt.timezone(dt.timedelta(hours=9), "JST")
"""Japan Standard Time, in which online hours (オンライン時間) are given (no daylight saving)."""

_forced_outcome: ContextVar[str | None] = ContextVar("ipnsim_forced_outcome", default=None)


class FaultFileError(ValueError):
    """The faults file is unreadable or invalid; the message names the file and why."""


class InjectedFault(IpnsimError):
    """A failure the hub made happen on demand (a fault in force, or a forced outcome)."""


@contextlib.contextmanager
def forcing(code: str | None) -> Iterator[None]:
    """Within this block, the hub answers inquiries routed to a provider with ``code``.

    ``code`` must already be checked (``network.protocol.models.forced_outcome``); None forces
    nothing.
    """
    token = _forced_outcome.set(code)
    try:
        yield
    finally:
        _forced_outcome.reset(token)


def within_online_hours(online_hours: str, moment: dt.datetime) -> bool:
    """Whether ``moment`` falls within the daily window ``HH:MM-HH:MM`` in JST (may wrap)."""
    start, end = online_window(online_hours)
    local = moment.astimezone(JST)
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


@dataclass(frozen=True)
class Plan:
    """What the hub does instead of (or before) asking the provider for one inquiry."""

    delay: float = 0.0
    """Seconds to wait first."""
    error_code: str | None = None
    """The code to answer after the delay; None asks the provider."""


class _ActiveFault:
    """A fault in force and its random generator, seeded when the fault was set."""

    def __init__(self, fault: ProviderFault) -> None:
        self.fault = fault
        self.random = random.Random(fault.seed)

    def plan(self, timeout: float, moment: dt.datetime) -> Plan:
        fault = self.fault
        if fault.online_hours is not None and not within_online_hours(fault.online_hours, moment):
            return Plan(error_code="AVL006")
        if fault.down:
            return Plan(error_code="AVL001")
        if fault.force_code is not None:
            return Plan(error_code=fault.force_code)
        delay = 0.0
        if fault.latency_ms is not None:
            delay = fault.latency_ms / 1000
        elif fault.latency_range_ms is not None:
            low, high = fault.latency_range_ms
            delay = self.random.randint(low, high) / 1000
        if fault.timeout or delay >= timeout:
            # The provider answers too late: the hub gives up at its timeout.
            return Plan(delay=timeout, error_code="AVL002")
        if fault.error_rate is not None and self.random.random() < fault.error_rate:
            return Plan(delay=delay, error_code=fault.error_code)
        return Plan(delay=delay)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FaultTable:
    """The faults in force at the hub, per provider agency code (in memory)."""

    def __init__(self, registry: Registry, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.registry = registry
        self.clock = clock
        self._faults: dict[str, _ActiveFault] = {}

    def set(self, agency_code: str, settings: FaultSettings) -> ProviderFault:
        """Put ``settings`` in force for the agency (replacing any fault); AGY001 if unknown."""
        agency = self.registry.get(agency_code)
        fault = ProviderFault(agency_code=agency.code, **settings.model_dump())
        self._faults[agency.code] = _ActiveFault(fault)
        logger.warning(
            "fault set for provider %s (%s): %s",
            agency.code,
            agency.name_ja,
            settings.model_dump_json(exclude_defaults=True),
        )
        return fault

    def clear(self, agency_code: str) -> bool:
        """Lift the agency's fault; whether there was one. AGY001 if the agency is unknown."""
        agency = self.registry.get(agency_code)
        cleared = self._faults.pop(agency.code, None) is not None
        if cleared:
            logger.warning("fault cleared for provider %s (%s)", agency.code, agency.name_ja)
        return cleared

    def clear_all(self) -> int:
        """Lift every fault; how many there were."""
        count = len(self._faults)
        self._faults.clear()
        if count:
            logger.warning("all faults cleared (%d)", count)
        return count

    def faults(self) -> list[ProviderFault]:
        """Every fault in force, by agency code."""
        return [self._faults[code].fault for code in sorted(self._faults)]

    def plan(self, provider_code: str, timeout: float) -> Plan:
        """What to do for one inquiry to this provider, drawing from its seeded generator."""
        forced = _forced_outcome.get()
        if forced is not None:
            return Plan(error_code=forced)
        active = self._faults.get(provider_code)
        if active is None:
            return Plan()
        return active.plan(timeout, self.clock())

    def affects(self, provider_code: str) -> bool:
        """Whether inquiries to this provider now meet a fault or a forced outcome."""
        return _forced_outcome.get() is not None or provider_code in self._faults

    def unavailable(self, provider_code: str) -> str | None:
        """The code of a provider that is down or offline now (for addenda); None if it is up."""
        active = self._faults.get(provider_code)
        if active is None:
            return None
        fault = active.fault
        if fault.online_hours is not None and not within_online_hours(
            fault.online_hours, self.clock()
        ):
            return "AVL006"
        return "AVL001" if fault.down else None

    def error(
        self,
        code: str,
        provider: AgencyEntry,
        timeout: float,
        request: ProvisionRequest | None = None,
    ) -> InjectedFault:
        """The injected error ``code`` for an inquiry to ``provider``, its messages filled."""
        active = self._faults.get(provider.code)
        hours = active.fault.online_hours if active and active.fault.online_hours else ""
        about = (
            {
                "inquiry_id": str(request.inquiry_id),
                "claimed": request.requester_code,
                "affair_code": request.affair_code,
                "procedure_code": request.procedure_code,
                "info_type_code": request.info_type_code,
            }
            if request is not None
            else {}
        )
        params = about | {
            "provider_code": provider.code,
            "agency_code": provider.code,
            "timeout": f"{timeout:g}",
            "online_hours": hours,
        }
        return InjectedFault(code, None, **params)


def load_faults_file(path: Path, table: FaultTable) -> list[ProviderFault]:
    """Put in force every fault of the JSON list in ``path``; FaultFileError naming the reason."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        faults = TypeAdapter(list[ProviderFault]).validate_python(raw)
    except OSError as exc:
        raise FaultFileError(f"{path}: cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise FaultFileError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'list'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise FaultFileError(f"{path}: not a list of faults: {problems}") from exc
    codes = [fault.agency_code for fault in faults]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise FaultFileError(f"{path}: agency with two faults: {', '.join(duplicates)}")
    unknown = sorted(code for code in codes if code not in table.registry.agencies)
    if unknown:
        raise FaultFileError(f"{path}: agency not in the hub's registry: {', '.join(unknown)}")
    for fault in faults:
        table.set(fault.agency_code, FaultSettings(**fault.model_dump(exclude={"agency_code"})))
    return faults


FAULTED_CONCURRENCY = 16
"""Requests of one bulk inquiry in flight at once to a provider with a fault in force."""


class FaultInjectingRouter(ProviderRouter):
    """The hub's router with the fault table applied before each provider is asked."""

    def __init__(self, client: httpx.AsyncClient, timeout: float, table: FaultTable) -> None:
        super().__init__(client, timeout)
        self.table = table

    async def provide(self, provider: AgencyEntry, request: ProvisionRequest) -> ProvisionAnswer:
        plan = self.table.plan(provider.code, self.timeout)
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.error_code is not None:
            logger.info(
                "inquiry %s to %s: fault answers %s",
                request.inquiry_id,
                provider.code,
                plan.error_code,
            )
            raise self.table.error(plan.error_code, provider, self.timeout, request)
        return await super().provide(provider, request)

    async def provide_many(
        self, provider: AgencyEntry, requests: list[ProvisionRequest]
    ) -> list[ProvisionAnswer | IpnsimError]:
        """With a fault in force for the provider (or an outcome forced), each request goes
        its own way, as a single inquiry would; else all in one request."""
        if not self.table.affects(provider.code):
            return await super().provide_many(provider, requests)
        limit = asyncio.Semaphore(FAULTED_CONCURRENCY)

        async def one(request: ProvisionRequest) -> ProvisionAnswer | IpnsimError:
            async with limit:
                try:
                    return await self.provide(provider, request)
                except IpnsimError as error:
                    return error

        return list(await asyncio.gather(*(one(request) for request in requests)))

    async def deliver_addendum(self, provider: AgencyEntry, addendum: Addendum) -> None:
        code = self.table.unavailable(provider.code)
        if code is not None:
            raise self.table.error(code, provider, self.timeout)
        await super().deliver_addendum(provider, addendum)
