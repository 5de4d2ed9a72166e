"""The check that every catalogued error code is put on the wire by some test of the suite.

Every error body a service renders is recorded (:mod:`error_codes.recording`) in one file per
run, shared by the test process, every pytest-xdist worker and every service process they start.
When the whole default suite has run, the process that runs the session (the only one, or the
xdist controller once every worker has finished) reads that file and fails the run, naming the
codes, if any catalogued code was never produced. tests/conftest.py wires this in; the functions
here decide, and are tested by tests/test_every_error_code_is_produced.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

DEFAULT_SELECTION = "not containers"
"""The marker expression of the default run (pyproject's addopts): the container tier is a run
of its own (``pytest -m containers``) that cannot produce every code."""


def default_modules(tests: Path = TESTS) -> set[Path]:
    """Every test module of the default run (all but the container tier)."""
    return {
        path.resolve()
        for path in tests.rglob("test_*.py")
        if path.relative_to(tests).parts[0] != "containers"
    }


def module_paths(rootpath: Path, nodeids: Iterable[str]) -> set[Path]:
    """The test modules of these node ids (relative to ``rootpath``, as pytest and the xdist
    workers report them; a ``@group`` suffix of xdist's loadgroup is ignored)."""
    return {(rootpath / nodeid.split("::")[0]).resolve() for nodeid in nodeids}


def narrowing_options(config: pytest.Config) -> list[str]:
    """The options of this run that leave tests out (empty for the whole default suite)."""
    option = config.option
    narrowing = []
    if getattr(option, "keyword", ""):
        narrowing.append("-k")
    if getattr(option, "markexpr", "") not in ("", DEFAULT_SELECTION):
        narrowing.append("-m")
    if getattr(option, "maxfail", 0):
        narrowing.append("-x/--maxfail")
    if getattr(option, "deselect", None):
        narrowing.append("--deselect")
    if getattr(option, "lf", False):
        narrowing.append("--last-failed")
    if getattr(option, "stepwise", False):
        narrowing.append("--stepwise")
    if getattr(option, "collectonly", False):
        narrowing.append("--collect-only")
    return narrowing


def whole_suite_ran(
    config: pytest.Config, collected: Collection[Path], tests: Path = TESTS
) -> bool:
    """Whether this run collected every test module of the default run and narrowed nothing."""
    return not narrowing_options(config) and default_modules(tests) <= set(collected)


def unproduced_codes_report(produced: Collection[str], catalogue: Mapping[str, object]) -> str:
    """Why the recorded codes fall short of the catalogue, or ``""`` when every catalogued code
    and nothing else was put on the wire."""
    problems = []
    missing = sorted(code for code in catalogue if code not in produced)
    if missing:
        problems.append(
            f"no test puts these {len(missing)} catalogued codes on the wire: {', '.join(missing)}"
        )
    uncatalogued = sorted(set(produced) - set(catalogue))
    if uncatalogued:
        problems.append(f"uncatalogued codes on the wire: {', '.join(uncatalogued)}")
    return "\n".join(problems)
