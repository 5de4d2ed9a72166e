"""``ipnsim openapi``: the OpenAPI document of every service, for vendors' code generators.

The apps are built in this process with settings that need no running network (an in-memory
SQLite database, an empty agency registry) and never started; only their schemas are read.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

SERVICES = {
    "hub": "the hub (情報提供ネットワークシステム コアシステム)",
    "intermediate-server": "an agency's intermediate server (中間サーバー)",
    "resident-registry": "the mock resident registry (住民基本台帳ネットワークシステム)",
}
"""File stem of each service's document, and what it is."""

_IN_MEMORY = "sqlite+aiosqlite:///:memory:"
_PLACEHOLDER_SECRET = "openapi-export-placeholder"


def openapi_documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI document of every service, by file stem (see :data:`SERVICES`)."""
    from agencies.catalogue import default_agencies
    from agencies.population import persona_population
    from agencies.resident_registry import ResidentRegistrySettings
    from agencies.resident_registry import create_app as create_registry
    from intermediate_server.app import create_app as create_server
    from intermediate_server.settings import IntermediateServerSettings
    from network.app import create_app as create_hub
    from network.settings import HubSettings

    agency = default_agencies()[0]
    with tempfile.TemporaryDirectory(prefix="ipnsim-openapi-") as directory:
        registry_file = Path(directory) / "registry.json"
        registry_file.write_text('{"agencies": []}', encoding="utf-8")
        hub = create_hub(
            HubSettings(
                database_url=_IN_MEMORY,
                registry_file=registry_file,
                secret=_PLACEHOLDER_SECRET,
                admin_token=_PLACEHOLDER_SECRET,
            )
        )
    server = create_server(
        IntermediateServerSettings(
            code=agency.code,
            name_ja=agency.name_ja,
            credential=_PLACEHOLDER_SECRET,
            hub_url="http://127.0.0.1:1",
            database_url=_IN_MEMORY,
        )
    )
    registry = create_registry(ResidentRegistrySettings(), persona_population(seed=0))
    return {
        "hub": hub.openapi(),
        "intermediate-server": server.openapi(),
        "resident-registry": registry.openapi(),
    }


def openapi_command(
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write the JSON documents into.")
    ] = Path("openapi"),
) -> None:
    """Write the OpenAPI document of every service as JSON: hub.json, intermediate-server.json
    and resident-registry.json in OUT. No network needs to be running."""
    console = Console()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        Console(stderr=True).print(f"[bold red]error:[/] cannot create {out}: {error.strerror}")
        raise typer.Exit(2) from None
    for stem, document in openapi_documents().items():
        path = out / f"{stem}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
        console.print(
            f"{path}  [dim]{SERVICES[stem]}, {len(document.get('paths', {}))} paths[/]",
            highlight=False,
        )
