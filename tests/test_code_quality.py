"""The code base stays lint-clean and type-checked: the suite fails when it does not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["network", "intermediate_server", "agencies", "error_codes", "ipnsim"]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = subprocess.run(
        [tool("ruff"), "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = subprocess.run(
        [tool("mypy"), "--no-incremental", *PACKAGES], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_hub_imports_no_intermediate_server_or_agency_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in (ROOT / "network").rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from "))
        and any(
            line.split()[1].split(".")[0] == package
            for package in ("intermediate_server", "agencies")
        )
    ]
    assert offenders == []


def test_services_import_only_the_protocol_error_codes_and_shared_plumbing() -> None:
    allowed_network = ("network.protocol",)
    offenders = []
    for package in ("intermediate_server", "agencies"):
        for path in (ROOT / package).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if len(words) < 2 or words[0] not in {"import", "from"}:
                    continue
                module = words[1]
                if module.startswith("network") and not module.startswith(allowed_network):
                    offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
                if module.startswith("ipnsim") and module not in {
                    "ipnsim.storage",
                    "ipnsim.http",
                    "ipnsim.coalescing",
                    "ipnsim.clock",
                    "ipnsim.metrics",
                    "ipnsim.plain_endpoints",
                    "ipnsim.tracing",
                    "ipnsim.sandboxes",
                }:
                    offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []
