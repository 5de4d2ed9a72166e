"""Every catalogued error code is put on the wire by some test of the suite.

The check itself runs once the whole suite has finished, in the process that runs the session
(tests/conftest.py: the xdist controller once every worker is done, or the only process with
``-n 0``), and fails the run naming every code no test produced through the public APIs. These
tests pin down what it decides: that a code never produced, or one outside the catalogue, fails
it, and that a narrower run is not checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from error_codes import CATALOGUE
from error_codes.recording import RECORD_ENV
from tests.conftest import RECORD_FILE_KEY, WORKER_RECORD_FILE
from tests.error_codes_on_the_wire import (
    TESTS,
    default_modules,
    module_paths,
    unproduced_codes_report,
    whole_suite_ran,
)


def test_every_catalogued_code_produced_passes() -> None:
    assert unproduced_codes_report(set(CATALOGUE), CATALOGUE) == ""


def test_a_code_never_produced_fails_the_check_by_name() -> None:
    never, *produced = sorted(CATALOGUE)

    report = unproduced_codes_report(set(produced), CATALOGUE)

    assert report == f"no test puts these 1 catalogued codes on the wire: {never}"


def test_nothing_produced_names_every_code() -> None:
    report = unproduced_codes_report(set(), CATALOGUE)

    assert all(code in report for code in CATALOGUE)
    assert f"these {len(CATALOGUE)} catalogued codes" in report


def test_an_uncatalogued_code_on_the_wire_fails_the_check() -> None:
    report = unproduced_codes_report(set(CATALOGUE) | {"X999"}, CATALOGUE)

    assert report == "uncatalogued codes on the wire: X999"


def test_this_process_records_into_the_file_of_the_whole_run(
    request: pytest.FixtureRequest,
) -> None:
    """In an xdist worker or not, the codes go to the one file the session's process reads."""
    shared = os.environ[RECORD_ENV]
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None:
        assert shared == str(request.config.stash[RECORD_FILE_KEY])
    else:
        assert shared == workerinput[WORKER_RECORD_FILE]
        assert RECORD_FILE_KEY not in request.config.stash
    assert Path(shared).exists()


def test_the_default_modules_leave_out_the_container_tier() -> None:
    modules = default_modules()

    assert Path(__file__).resolve() in modules
    assert TESTS / "e2e" / "test_inquiry_flow.py" in modules
    assert not any("containers" in module.relative_to(TESTS).parts for module in modules)


def test_node_ids_name_their_modules_with_or_without_an_xdist_group(tmp_path: Path) -> None:
    ids = [
        "tests/unit/test_a.py::test_one",
        "tests/unit/test_a.py::Case::test_two[sqlite]@network-sqlite",
        "tests/e2e/test_b.py::test_three@tests/e2e/test_b.py",
    ]

    assert module_paths(tmp_path, ids) == {
        tmp_path / "tests" / "unit" / "test_a.py",
        tmp_path / "tests" / "e2e" / "test_b.py",
    }


def test_a_run_of_some_modules_is_not_checked(pytestconfig: pytest.Config) -> None:
    some = {Path(__file__).resolve()}

    assert not whole_suite_ran(pytestconfig, some)


def test_a_run_of_every_module_is_checked_unless_narrowed(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = default_modules()
    for option, value in (
        ("keyword", ""),
        ("markexpr", "not containers"),
        ("maxfail", 0),
        ("deselect", None),
        ("lf", False),
        ("stepwise", False),
        ("collectonly", False),
    ):
        monkeypatch.setattr(pytestconfig.option, option, value, raising=False)
    assert whole_suite_ran(pytestconfig, every)

    for option, value in (
        ("keyword", "inquiry"),
        ("markexpr", "e2e"),
        ("maxfail", 1),
        ("deselect", ["tests/unit"]),
        ("lf", True),
        ("collectonly", True),
    ):
        with monkeypatch.context() as narrowed:
            narrowed.setattr(pytestconfig.option, option, value)
            assert not whole_suite_ran(pytestconfig, every), option
