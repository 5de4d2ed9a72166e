"""Scenario files over real processes: every shipped scenario passes and is reported in JUnit
XML; a wrong expectation fails the run with a readable expected/actual difference.

Some shipped scenarios set faults at the hub; every test here lifts every fault when it ends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipnsim.scenarios import load_scenario, scenario_paths
from tests.e2e.conftest import RunningNetwork, clear_faults
from tests.e2e.test_cli import ipnsim, json_of

pytestmark = pytest.mark.e2e

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture
def net(network: RunningNetwork) -> Iterator[RunningNetwork]:
    """The shared network, with every fault cleared at the end of the test."""
    clear_faults(network)
    try:
        yield network
    finally:
        clear_faults(network)


def test_every_shipped_scenario_passes_and_is_reported_in_junit(
    net: RunningNetwork, tmp_path: Path
) -> None:
    report = tmp_path / "report.xml"
    files = scenario_paths([SHIPPED])
    assert len(files) >= 8

    result = ipnsim(
        "scenario", "run", str(SHIPPED), "--junit", str(report), data_dir=net.data_dir, timeout=180
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(files)}/{len(files)} scenarios passed" in result.stdout
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [suite.get("file") for suite in suites] == [str(path) for path in files]
    for suite, path in zip(suites, files, strict=True):
        scenario = load_scenario(path)
        assert suite.get("name") == scenario.name
        cases = suite.findall("testcase")
        assert [case.get("name") for case in cases] == [
            f"{step.name} ({step.kind})" for step in scenario.steps
        ]
        assert suite.get("tests") == str(len(cases))
        assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
        assert all(case.find("failure") is None and case.find("error") is None for case in cases)


def test_a_wrong_expectation_fails_with_expected_and_actual(
    net: RunningNetwork, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "name: Wrong on purpose\n"
        "steps:\n"
        "  - name: ask\n"
        "    inquire: {persona: moved_in}\n"
        "    expect:\n"
        '      status: "09/02"\n'
        "      error: RPL001\n"
        "  - name: fine\n"
        "    inquire: {persona: moved_in}\n"
        "    expect: {error: null}\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.xml"

    result = ipnsim("scenario", "run", str(wrong), "--junit", str(report), data_dir=net.data_dir)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "status: expected '09/02', actual '09/01'" in result.stdout
    assert "error: expected 'RPL001', actual None" in result.stdout
    assert "0/1 scenarios passed (1/2 steps)" in result.stdout
    [suite] = ET.parse(report).getroot().findall("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed, passed = suite.findall("testcase")
    failure = failed.find("failure")
    assert failure is not None and "expected '09/02', actual '09/01'" in (failure.text or "")
    assert passed.find("failure") is None

    as_json = ipnsim("scenario", "run", str(wrong), "--json", data_dir=net.data_dir)
    assert as_json.returncode == 1
    [outcome] = json_of(as_json)
    assert outcome["passed"] is False
    assert outcome["steps"][0]["differences"] == [
        "error: expected 'RPL001', actual None",
        "status: expected '09/02', actual '09/01'",
    ]


def test_an_invalid_file_is_refused_before_anything_runs(
    net: RunningNetwork, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Bad\nsteps:\n  - name: down\n    set_fault: {agency: odawara, down: true}\n"
        "  - name: ask\n    inquire: {from: yamagata}\n",
        encoding="utf-8",
    )

    result = ipnsim("scenario", "run", str(bad), data_dir=net.data_dir)

    assert result.returncode == 2
    assert f"{bad}:6: steps.1.inquire: name the person: give persona or atena" in result.stderr
    assert "Traceback" not in result.stderr
    faults = ipnsim("fault", "list", "--json", data_dir=net.data_dir)
    assert json_of(faults) == []
