"""Scenario files are checked before anything runs: each problem names the file, the line and
the field, in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipnsim.scenarios import (
    STEP_KINDS,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_paths,
)

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


INQUIRE_KEYS = (
    "persona",
    "atena",
    "from",
    "to",
    "procedure",
    "info_type",
    "fiscal_year",
    "idempotency_key",
    "force_outcome",
)
STEP_KEYS: dict[str, dict[str, bool]] = {
    # Each step kind's keys in a scenario file, and whether the key is required.
    "register_person": {
        "persona": False,
        "atena": False,
        "agency": True,
        "resident_code": True,
        "acquire_pseudonym": False,
    },
    "register_replica": {
        "persona": False,
        "atena": False,
        "agency": True,
        "record_id": True,
        "info_type": True,
        "layout_version": False,
        "fiscal_year": False,
        "publication_start": True,
        "publication_end": False,
        "manual_response": False,
        "items": True,
    },
    "update_replica": {
        "agency": True,
        "record_id": True,
        "layout_version": False,
        "fiscal_year": False,
        "publication_start": True,
        "publication_end": False,
        "manual_response": False,
        "items": True,
    },
    "registration_lag": {"agency": True, "delay": False, "nightly": False, "lift": False},
    "clock": {"set": False, "advance": False, "reset": False},
    "set_fault": {
        "down": False,
        "latency_ms": False,
        "latency_range_ms": False,
        "timeout": False,
        "error_rate": False,
        "error_code": False,
        "force_code": False,
        "online_hours": False,
        "seed": False,
        "agency": True,
    },
    "clear_faults": {"agency": False},
    "inquire": dict.fromkeys(INQUIRE_KEYS, False),
    "fan_out": dict.fromkeys((*INQUIRE_KEYS, "scope", "providers"), False),
    "declare_mistaken": {"inquiry": True, "reason": True, "user": False},
    "records": {"persona": False, "atena": False, "agency": True, "inquiry": False},
    "disclosure": {"persona": False, "atena": False, "agency": True, "inquiry": False},
    "manual_response": {"agency": True, "inquiry": True, "decline": False, "user": False},
    "inquiry_result": {"agency": True, "inquiry": True},
}


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_each_step_kind_takes_exactly_its_keys(kind: str) -> None:
    schema = Scenario.model_json_schema()
    step = schema["$defs"]["Step"]["properties"][kind]
    [reference] = [choice["$ref"] for choice in step["anyOf"] if "$ref" in choice]
    model = schema["$defs"][reference.rsplit("/", 1)[1]]
    assert set(model["properties"]) == set(STEP_KEYS[kind])
    assert set(model.get("required", [])) == {k for k, must in STEP_KEYS[kind].items() if must}
    assert model["additionalProperties"] is False


def test_replica_steps_and_record_views_keep_their_types() -> None:
    text = (
        "name: x\nsteps:\n"
        "  - name: put\n    update_replica: {agency: odawara, record_id: r1,"
        " publication_start: 2026-06-01, items: {I001: '1'}, layout_version: two}\n"
        "  - name: look\n    disclosure: {agency: odawara, persona: moved_in, inquiry: 3}\n"
        "  - name: staff\n    manual_response: {agency: odawara, inquiry: put, user: [a]}\n"
    )
    problem = problem_of(text)
    assert "s.yaml:4: steps.0.update_replica.layout_version: Input should be a valid integer" in (
        problem
    )
    assert "steps.1.disclosure.inquiry: Input should be a valid string" in problem
    assert "steps.2.manual_response.user: Input should be a valid string" in problem
    assert "update_replica.items" not in problem
