"""One process serving the intermediate servers (中間サーバー) of many agencies.

Each hosted agency is served under ``/agencies/{agency_code}``: the hub is given that URL as the
agency's base URL, so ``POST /agencies/2001100200000000/hub/provisions`` reaches 札幌市's
intermediate server. Every agency keeps its own database (its own SQLite file), record log,
signing key and credential: it is the app of :func:`intermediate_server.app.create_app` with its
own settings, exactly as in a process of its own.

An agency is opened on its first request (its database migrated, its background tasks started)
and, when more than ``max_open`` are open, the one used least recently with no request in flight
is closed again (its tasks stopped, its journal flushed, its engine disposed); the next request
opens it anew from its database. While an agency is closed, its held inquiries (自動応答不可)
are not swept; they expire or are resent once it is open again.

Settings: ``IPNSIM_HOST_AGENCIES_FILE`` (JSON: ``{"agencies": [{"code", "name_ja",
"credential", "database_url", "batch_dir"}]}``), ``IPNSIM_HOST_MAX_OPEN``, and every
``IPNSIM_AGENCY_*`` setting not given per agency (hub URL, timeouts…), shared by all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from error_codes import IpnsimError
from error_codes.http import error_response
from intermediate_server.app import create_app
from intermediate_server.settings import IntermediateServerSettings
from network.protocol.models import AgencyCode

logger = logging.getLogger("ipnsim.agency_host")

AGENCY_PREFIX = "/agencies/"
"""Where a hosted agency's intermediate server is served: ``/agencies/{agency_code}``."""
DEFAULT_MAX_OPEN = 16
"""Agencies a host keeps open at once unless configured otherwise."""


class HostedAgency(BaseModel):
    """One agency a host serves."""

    model_config = ConfigDict(extra="forbid")

    code: AgencyCode
    name_ja: str = Field(min_length=1)
    credential: SecretStr = Field(min_length=16)
    database_url: str = Field(min_length=1)
    batch_dir: Path | None = None


class _HostedAgencies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[HostedAgency] = Field(min_length=1)


class AgencyHostSettings(BaseSettings):
    """How an agency host runs (``IPNSIM_HOST_*``)."""

    model_config = SettingsConfigDict(env_prefix="IPNSIM_HOST_", extra="ignore")

    agencies_file: Path = Field(description="JSON file of the agencies this process serves.")
    max_open: int = Field(
        default=DEFAULT_MAX_OPEN,
        ge=1,
        le=100_000,
        description="Agencies kept open at once; the least recently used idle one is closed "
        "beyond it.",
    )


def load_hosted_agencies(path: Path) -> list[HostedAgency]:
    """The agencies of an agencies file; ValueError naming the file and the problem."""
    try:
        parsed = _HostedAgencies.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc}") from None
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None
    codes = [agency.code for agency in parsed.agencies]
    if len(set(codes)) != len(codes):
        raise ValueError(f"{path}: an agency is listed twice")
    return parsed.agencies


@dataclass(eq=False)
class _Opened:
    app: FastAPI
    lifespan: contextlib.AbstractAsyncContextManager[Any]
    in_flight: int = 0


@dataclass
class AgencyHost:
    """The hosted agencies and the ones open now (least recently used first)."""

    agencies: dict[str, HostedAgency]
    max_open: int = DEFAULT_MAX_OPEN
    opened: OrderedDict[str, _Opened] = field(default_factory=OrderedDict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _closing: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    opens: int = 0
    """How many times an agency was opened (a reopening counts again)."""

    def settings(self, code: str) -> IntermediateServerSettings:
        """The settings of one hosted agency: its own fields, the rest from the environment."""
        agency = self.agencies[code]
        given: dict[str, Any] = {
            "code": agency.code,
            "name_ja": agency.name_ja,
            "credential": agency.credential,
            "database_url": agency.database_url,
        }
        if agency.batch_dir is not None:
            given["batch_dir"] = agency.batch_dir
        return IntermediateServerSettings(**given)

    async def acquire(self, code: str) -> _Opened:
        """The open agency ``code`` (opening it if need be), counted as in use until released."""
        entry = self.opened.get(code)
        if entry is None:
            lock = self._locks.setdefault(code, asyncio.Lock())
            async with lock:
                closing = self._closing.get(code)
                if closing is not None:
                    await asyncio.shield(closing)
                entry = self.opened.get(code)
                if entry is None:
                    entry = await self._open(code)
                    self.opened[code] = entry
        entry.in_flight += 1
        self.opened.move_to_end(code)
        self._evict()
        return entry

    @staticmethod
    def release(entry: _Opened) -> None:
        entry.in_flight -= 1

    async def _open(self, code: str) -> _Opened:
        app = create_app(self.settings(code))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        self.opens += 1
        logger.info("opened agency %s (%d open)", code, len(self.opened) + 1)
        return _Opened(app, lifespan)

    def _evict(self) -> None:
        """Close the least recently used idle agencies beyond ``max_open`` (in the background)."""
        excess = len(self.opened) - self.max_open
        if excess <= 0:
            return
        for code in [c for c, entry in self.opened.items() if entry.in_flight == 0][:excess]:
            entry = self.opened.pop(code)
            self._closing[code] = asyncio.ensure_future(self._close(code, entry))

    async def _close(self, code: str, entry: _Opened) -> None:
        try:
            await entry.lifespan.__aexit__(None, None, None)
            logger.info("closed agency %s", code)
        except Exception:
            logger.exception("closing agency %s failed", code)
        finally:
            self._closing.pop(code, None)

    async def close(self) -> None:
        """Close every open agency (at shutdown)."""
        while self.opened:
            code, entry = self.opened.popitem(last=False)
            await self._close(code, entry)
        await asyncio.gather(*self._closing.values(), return_exceptions=True)


class AgencyHostApp:
    """The ASGI app of an agency host: ``/health`` and ``/agencies/{agency_code}/…``."""

    def __init__(self, host: AgencyHost) -> None:
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/health":
            body = {
                "service": "agency_host",
                "status": "ok",
                "agencies": len(self.host.agencies),
                "open": len(self.host.opened),
            }
            await JSONResponse(body)(scope, receive, send)
            return
        if not path.startswith(AGENCY_PREFIX):
            await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)
            return
        code, slash, rest = path[len(AGENCY_PREFIX) :].partition("/")
        if code not in self.host.agencies:
            await error_response(IpnsimError("AGY001", agency_code=code[:32]))(scope, receive, send)
            return
        prefix = AGENCY_PREFIX + code
        inner = "/" + rest if slash else "/"
        child = dict(scope)
        child["path"] = inner
        child["raw_path"] = inner.encode()
        child["root_path"] = scope.get("root_path", "") + prefix
        entry = await self.host.acquire(code)
        try:
            await entry.app(child, receive, send)
        finally:
            self.host.release(entry)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                logger.info("agency host ready with %d agencies", len(self.host.agencies))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.host.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_host_app(settings: AgencyHostSettings) -> AgencyHostApp:
    """The agency host of ``settings``; ValueError if its agencies file is unusable."""
    agencies = load_hosted_agencies(settings.agencies_file)
    host = AgencyHost({agency.code: agency for agency in agencies}, settings.max_open)
    # What the agencies share (hub URL, timeouts…) is checked now, so that a bad setting stops
    # the start; what is each agency's own was checked with the agencies file.
    host.settings(agencies[0].code)
    return AgencyHostApp(host)


def hosted_agencies_json(agencies: list[HostedAgency]) -> str:
    """An agencies file's contents (the credentials in clear)."""
    return json.dumps(
        {
            "agencies": [
                agency.model_dump(mode="json", exclude_none=True)
                | {"credential": agency.credential.get_secret_value()}
                for agency in agencies
            ]
        },
        ensure_ascii=False,
        indent=1,
    )
