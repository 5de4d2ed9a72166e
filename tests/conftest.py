"""Suite-wide setup: the tests run in parallel (pytest-xdist), every error code put on the wire is
recorded, and at the end of a whole run every catalogued code must have been produced
(tests/error_codes_on_the_wire.py).

Parallel runs: pyproject's addopts ask for ``-n auto --dist loadgroup``. Each test module is one
unit of work, so a worker starts a module's own small networks once; the tests of the shared
``network`` fixture (tests/e2e/conftest.py) form one unit per database backend instead, so each
backend's network is started by one worker only and its tests never run side by side. ``-n 0``
runs everything in this process, as does the container tier (``pytest -m containers``), which
must bring docker-compose.yml up once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from error_codes import CATALOGUE
from error_codes.recording import RECORD_ENV, recorded
from tests.error_codes_on_the_wire import module_paths, unproduced_codes_report, whole_suite_ran

# The fixtures ipnsim offers downstream test suites (tests/e2e/test_vendor_example.py uses
# them); loaded here too when ipnsim is not installed. They start nothing unless asked for.
pytest_plugins = ["ipnsim.pytest_plugin"]

RECORD_FILE_KEY = pytest.StashKey[Path]()
COLLECTED_KEY = pytest.StashKey[set[Path]]()
REPORT_KEY = pytest.StashKey[str]()
WORKER_RECORD_FILE = "ipnsim_error_codes"
"""Key of the record file in the input xdist hands each worker."""

MAX_WORKERS = 4
"""Most workers ``-n auto`` starts: each one may run a network of several service processes,
and more workers than that only contend for the same cores."""

SHARED_NETWORK = "network"
"""The session fixture of tests/e2e/conftest.py, parametrised over the database backends."""


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if is_worker(config):
        workerinput: dict[str, str] = config.workerinput  # type: ignore[attr-defined]
        if WORKER_RECORD_FILE in workerinput:
            # The controller's file: it reads the codes once every worker has finished.
            os.environ[RECORD_ENV] = workerinput[WORKER_RECORD_FILE]
            return
    handle, name = tempfile.mkstemp(prefix="ipnsim-error-codes-", suffix=".txt")
    os.close(handle)
    record_file = Path(name)
    # Inherited by every service process the launcher starts.
    os.environ[RECORD_ENV] = str(record_file)
    config.stash[RECORD_FILE_KEY] = record_file


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.pop(RECORD_ENV, None)
    record_file = config.stash.get(RECORD_FILE_KEY, None)
    if record_file is not None:
        record_file.unlink(missing_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist, in the controller: every worker records into the controller's file."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    node.workerinput[WORKER_RECORD_FILE] = str(config.stash[RECORD_FILE_KEY])  # type: ignore[attr-defined]


def selects_container_tier(config: pytest.Config) -> bool:
    """Whether the marker expression of this run lets tests marked ``containers`` through."""
    from _pytest.mark.expression import Expression

    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return True
    try:
        return Expression.compile(markexpr).evaluate(lambda name, **_: name == "containers")
    except SyntaxError:
        return True  # pytest itself reports the malformed expression


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: none for the container tier (one compose project per run), else one worker
    per core up to :data:`MAX_WORKERS` (``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides)."""
    if selects_container_tier(config):
        return 0
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own reading of the variable
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, MAX_WORKERS))


def work_unit(item: pytest.Item) -> str:
    """The xdist group of a test: its module, the shared network of its backend, or the whole
    container tier (which brings docker-compose.yml up once per process)."""
    if item.get_closest_marker("containers") is not None:
        return "containers"
    callspec = getattr(item, "callspec", None)
    if callspec is not None and SHARED_NETWORK in callspec.params:
        return f"{SHARED_NETWORK}-{callspec.params[SHARED_NETWORK]}"
    return item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("dist", "no") == "loadgroup":
        for item in items:
            item.add_marker(pytest.mark.xdist_group(work_unit(item)))


def pytest_collection_finish(session: pytest.Session) -> None:
    if not is_worker(session.config):
        session.config.stash[COLLECTED_KEY] = module_paths(
            session.config.rootpath, (item.nodeid for item in session.items)
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """xdist, in the controller: every worker collects the same tests."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    config.stash[COLLECTED_KEY] = module_paths(config.rootpath, ids)


@pytest.hookimpl(trylast=True)  # after the session's fixtures (and their networks) are gone
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Once every test of the run has finished, here or in every worker: fail the run if the
    whole suite ran and some catalogued code was never put on the wire."""
    config = session.config
    if is_worker(config) or exitstatus == pytest.ExitCode.INTERRUPTED:
        return
    if not whole_suite_ran(config, config.stash.get(COLLECTED_KEY, set())):
        return
    report = unproduced_codes_report(recorded(config.stash[RECORD_FILE_KEY]), CATALOGUE)
    config.stash[REPORT_KEY] = report
    if report:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(REPORT_KEY, None)
    if report is None:
        return
    if report:
        terminalreporter.section("every catalogued error code on the wire: FAILED", red=True)
        terminalreporter.line(report, red=True)
    else:
        terminalreporter.write_line(
            f"every catalogued error code was put on the wire ({len(CATALOGUE)} codes)",
            green=True,
        )
