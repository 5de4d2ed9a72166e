"""Every catalogued error code is put on the wire by some test of the suite.

Every error body a service renders is recorded (error_codes.recording, set up in
tests/conftest.py for this process and every service process); this test runs after all the
others and fails for any code of the catalogue that no test produced through the public APIs.
It is skipped when only part of the suite runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from error_codes import CATALOGUE
from error_codes.recording import recorded
from tests.conftest import RECORD_FILE_KEY

pytestmark = pytest.mark.after_everything

TESTS = Path(__file__).resolve().parent


DEFAULT_SELECTION = "not containers"
"""The marker expression of the default run (pyproject's addopts): the container tier is a run
of its own (``pytest -m containers``) that cannot produce every code."""


def whole_suite_ran(request: pytest.FixtureRequest) -> bool:
    """Whether this session collected every test module of the default run and selected every
    test of it."""
    option = request.config.option
    if option.keyword or option.markexpr not in ("", DEFAULT_SELECTION) or option.maxfail:
        return False
    collected = {Path(item.path).resolve() for item in request.session.items}
    modules = {
        path.resolve()
        for path in TESTS.rglob("test_*.py")
        if path.relative_to(TESTS).parts[0] != "containers"
    }
    return modules <= collected


def test_every_catalogued_code_is_produced_on_the_wire(request: pytest.FixtureRequest) -> None:
    if not whole_suite_ran(request):
        pytest.skip("checked only when the whole suite runs (no -k, -m, -x or narrower paths)")
    produced = recorded(request.config.stash[RECORD_FILE_KEY])

    missing = sorted(code for code in CATALOGUE if code not in produced)

    assert not missing, f"no test puts these catalogued codes on the wire: {', '.join(missing)}"
    assert produced <= set(CATALOGUE), (
        f"uncatalogued codes on the wire: {produced - set(CATALOGUE)}"
    )
