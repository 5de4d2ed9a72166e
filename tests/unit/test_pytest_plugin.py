"""The pytest plugin starts nothing unless a test asks for its fixtures, and says plainly what
is wrong with its options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pytest_in(directory: Path, test: str, *options: str) -> subprocess.CompletedProcess[str]:
    (directory / "test_downstream.py").write_text(test, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ipnsim.pytest_plugin", "-q", *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=directory,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        check=False,
    )


def test_a_suite_that_uses_no_fixture_starts_nothing(tmp_path: Path) -> None:
    result = pytest_in(
        tmp_path,
        "def test_plain() -> None:\n    assert True\n",
        "--ipnsim-population=not-a-number",
        "--ipnsim-agencies=nowhere",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Options the network fixture would refuse did not matter: it never ran.
    assert "1 passed" in result.stdout


def test_a_missing_data_dir_is_named(tmp_path: Path) -> None:
    result = pytest_in(
        tmp_path,
        "def test_uses(ipnsim_network: object) -> None:\n    assert ipnsim_network\n",
        f"--ipnsim-data-dir={tmp_path / 'nowhere'}",
    )
    assert result.returncode != 0
    assert "ipnsim-data-dir:" in result.stdout
    assert "nowhere" in result.stdout


def test_a_bad_population_is_named(tmp_path: Path) -> None:
    result = pytest_in(
        tmp_path,
        "def test_uses(ipnsim_agency: object) -> None:\n    assert ipnsim_agency\n",
        "--ipnsim-population=many",
    )
    assert result.returncode != 0
    assert "ipnsim-population must be a whole number, not 'many'" in result.stdout


def test_options_are_also_ini_keys(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-config\nipnsim_population = 7\n", encoding="utf-8"
    )
    result = pytest_in(
        tmp_path,
        "def test_reads(pytestconfig: object) -> None:\n"
        "    assert pytestconfig.getini('ipnsim_population') == '7'\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
