"""Suite-wide setup: record every error code put on the wire, and check the last thing that
every catalogued code was produced (tests/test_every_error_code_is_produced.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from error_codes.recording import RECORD_ENV

# The fixtures ipnsim offers downstream test suites (tests/e2e/test_vendor_example.py uses
# them); loaded here too when ipnsim is not installed. They start nothing unless asked for.
pytest_plugins = ["ipnsim.pytest_plugin"]

RECORD_FILE_KEY = pytest.StashKey[Path]()
LAST = "after_everything"
"""Marker of tests that must run after every other test of the session."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{LAST}: runs after every other test of the session")
    handle, name = tempfile.mkstemp(prefix="ipnsim-error-codes-", suffix=".txt")
    os.close(handle)
    record_file = Path(name)
    os.environ[RECORD_ENV] = str(record_file)
    config.stash[RECORD_FILE_KEY] = record_file


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.pop(RECORD_ENV, None)
    config.stash[RECORD_FILE_KEY].unlink(missing_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker(LAST) is not None)
