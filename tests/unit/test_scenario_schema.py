"""Scenario files are checked before anything runs: each problem names the file, the line and
the field, in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipnsim.scenarios import ScenarioError, load_scenario, parse_scenario, scenario_paths

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"


def problem_of(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.yaml")
    return str(caught.value)


def test_every_shipped_scenario_is_valid() -> None:
    paths = scenario_paths([SHIPPED])
    assert paths
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.steps, path


def test_a_step_with_two_actions_is_refused_at_its_line() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    inquire: {persona: moved_in}\n    clear_faults: {}\n"
    )
    assert problem.startswith("s.yaml:3: steps.0: a step does exactly one of")
    assert "(given: clear_faults, inquire)" in problem


def test_an_unknown_key_is_named_with_its_line() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    inquire:\n      persona: moved_in\n      colour: red\n"
    )
    assert problem == "s.yaml:6: steps.0.inquire.colour: Extra inputs are not permitted"


def test_a_bad_status_pattern_is_refused() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    inquire: {persona: moved_in}\n    expect:\n"
        "      status: '0901'\n"
    )
    assert problem.startswith("s.yaml:6: steps.0.expect.status: String should match pattern")


def test_a_reference_to_a_later_or_unknown_step_is_refused() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: declare\n    declare_mistaken: {inquiry: ask, reason: r}\n"
        "  - name: ask\n    inquire: {persona: moved_in}\n"
    )
    assert "step 'declare' refers to 'ask', which is not an earlier step" in problem


def test_two_steps_of_the_same_name_are_refused() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    clear_faults: {}\n  - name: a\n    clear_faults: {}\n"
    )
    assert "two steps are named 'a'" in problem


def test_fan_out_needs_exactly_one_way_of_naming_providers() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    fan_out:\n      persona: moved_in\n"
        "      scope: holding\n      providers: [odawara]\n"
    )
    assert problem.startswith("s.yaml:4: steps.0.fan_out: give exactly one of scope or providers")


def test_bad_yaml_and_wrong_shapes_are_reported_plainly(tmp_path: Path) -> None:
    assert problem_of("name: [unclosed\n").startswith("s.yaml:2: not valid YAML:")
    assert problem_of("- a list\n") == "s.yaml: a scenario file is a mapping with name and steps"
    assert problem_of("name: x\nsteps: []\n").startswith("s.yaml:2: steps: List should have")
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError, match=r"missing\.yaml: cannot read"):
        load_scenario(missing)


def test_a_fault_step_is_checked_like_ipnsim_fault() -> None:
    problem = problem_of(
        "name: x\nsteps:\n  - name: a\n    set_fault: {agency: odawara, latency_ms: -5}\n"
    )
    assert problem.startswith("s.yaml:4: steps.0.set_fault.latency_ms:")


def test_clock_and_lag_steps_take_exactly_one_choice() -> None:
    clock = problem_of(
        "name: x\nsteps:\n  - name: a\n    clock:\n      advance: 60\n      reset: true\n"
    )
    assert clock.startswith("s.yaml:4: steps.0.clock: give exactly one of set, advance and reset")
    naive = problem_of("name: x\nsteps:\n  - name: a\n    clock:\n      set: 2033-12-01T00:00:00\n")
    assert "needs a UTC offset" in naive
    lag = problem_of(
        "name: x\nsteps:\n  - name: a\n    registration_lag:\n      agency: odawara\n"
        "      delay: 60\n      nightly: 2\n"
    )
    assert "give exactly one of delay, nightly and lift" in lag
    scenario = parse_scenario(
        "name: x\nsteps:\n  - name: a\n    clock:\n      set: 2033-12-01T00:00:00+09:00\n"
        "  - name: b\n    registration_lag:\n      agency: odawara\n      nightly: 2\n",
        "s.yaml",
    )
    assert [step.kind for step in scenario.steps] == ["clock", "registration_lag"]
