"""Run one service in this process: the entry point of every process ``ipnsim up`` starts.

Settings come from the environment (``IPNSIM_HUB_*``, ``IPNSIM_AGENCY_*`` or
``IPNSIM_REGISTRY_*``), as in a container.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from enum import StrEnum

import uvicorn
from pydantic import ValidationError
from starlette.types import ASGIApp

from ipnsim.logs import LOG_FORMAT_ENV, LogFormat, configure_logging
from ipnsim.sandboxes import SANDBOX_ENV


class Role(StrEnum):
    HUB = "hub"
    AGENCY = "agency"
    REGISTRY = "registry"
    """The mock resident registry (住民基本台帳ネットワークシステム, 住基ネット)."""
    AGENCY_HOST = "agency-host"
    """The intermediate servers of many agencies in one process (``IPNSIM_HOST_*``)."""


def build_app(role: Role) -> ASGIApp:
    """The ASGI app of ``role``, configured from the environment."""
    if role is Role.AGENCY_HOST:
        from intermediate_server.host import AgencyHostSettings, create_host_app

        return create_host_app(AgencyHostSettings())
    if role is Role.HUB:
        from network.app import create_app as create_hub
        from network.settings import HubSettings

        return create_hub(HubSettings())
    if role is Role.REGISTRY:
        from agencies.resident_registry import ResidentRegistrySettings
        from agencies.resident_registry import create_app as create_registry

        return create_registry(ResidentRegistrySettings())
    from intermediate_server.app import create_app as create_server
    from intermediate_server.settings import IntermediateServerSettings

    return create_server(IntermediateServerSettings())


def serve(
    role: Role, host: str, port: int, log_level: str = "info", log_format: LogFormat = "text"
) -> int:
    """Serve until stopped; returns the process exit status."""
    configure_logging(log_level, log_format, role.value)
    try:
        app = build_app(role)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        print(f"ipnsim serve {role.value}: bad settings: {problems}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"ipnsim serve {role.value}: {exc}", file=sys.stderr)
        return 2
    # Everything built so far (modules, the app, catalogues) lives as long as the process: keep
    # it out of the garbage collector's scans, which otherwise cost a quarter of the time of a
    # bulk registration.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


_VALUE_OPTIONS = ("--host", "--port", "--log-level", "--log-format")


def parse_serve_arguments(arguments: Sequence[str]) -> tuple[Role, str, int, str, LogFormat] | None:
    """The role, host, port, log level and log format of ``ipnsim serve`` arguments (those after
    ``serve``), with the command line's defaults; None unless they are well formed (help, an
    unknown option or a bad value) or a sandbox is set, which the full command line handles."""
    if SANDBOX_ENV in os.environ:
        return None
    values: dict[str, str] = {}
    roles: list[str] = []
    tokens = iter(arguments)
    for token in tokens:
        if not token.startswith("-"):
            roles.append(token)
            continue
        name, equals, value = token.partition("=")
        if name not in _VALUE_OPTIONS:
            return None
        if not equals:
            following = next(tokens, None)
            if following is None:
                return None
            value = following
        values[name] = value
    log_format = values.get("--log-format", os.environ.get(LOG_FORMAT_ENV, "text"))
    port = values.get("--port", "8000")
    if (
        len(roles) != 1
        or roles[0] not in {role.value for role in Role}
        or log_format not in ("text", "json")
        or not port.isdecimal()
        or not 1 <= int(port) <= 65535
    ):
        return None
    return (
        Role(roles[0]),
        values.get("--host", "127.0.0.1"),
        int(port),
        values.get("--log-level", "info"),
        "json" if log_format == "json" else "text",
    )
