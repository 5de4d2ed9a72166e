"""How a scenario step's result is compared with its expectations and reported in JUnit XML,
without a network."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from ipnsim.scenarios import (
    Actual,
    Expectation,
    RunContext,
    ScenarioOutcome,
    StepOutcome,
    compare,
    junit_xml,
)
from network.protocol.models import DetailStatus, InfoTypeStatus, InquiryResult, ReplicaItem

ODAWARA = "2014206900000000"


def result(detail: str = "09", info: str = "01", **items: str) -> InquiryResult:
    return InquiryResult(
        inquiry_id=uuid.uuid4(),
        requester_code="2012010000000000",
        provider_code=ODAWARA,
        info_type_code="TM00000000000002",
        status_detail=DetailStatus(detail),
        status_info_type=InfoTypeStatus(info),
        requested_at=dt.datetime.now(dt.UTC),
        items=[ReplicaItem(code=code, value=value) for code, value in items.items()],
    )


def test_every_difference_is_listed_as_expected_and_actual() -> None:
    expect = Expectation.model_validate(
        {"status": "09/02", "error": None, "items": {"I001": "2026", "I009": "x"}}
    )
    actual = Actual(result=result(I001="2025"))

    assert compare(expect, actual, RunContext("000000")) == [
        "status: expected '09/02', actual '09/01'",
        "item I001: expected '2026', actual '2025'",
        "item I009: expected 'x', actual '<absent>'",
    ]


def test_only_the_keys_given_are_checked() -> None:
    assert compare(Expectation(), Actual(result=result()), RunContext("000000")) == []


def test_a_refusal_fails_unless_its_code_is_expected() -> None:
    refused = Actual(http_status=409, error="REC005", text="already declared")
    assert compare(Expectation.model_validate({"error": "REC005"}), refused, RunContext("0")) == []
    assert compare(Expectation(), refused, RunContext("0")) == [
        "the service refused the step: HTTP 409 REC005: already declared"
    ]


def test_a_fan_out_is_checked_per_provider() -> None:
    answered = Actual(results=[result("99", "99")])
    expect = Expectation.model_validate(
        {"results": 2, "by_provider": {"odawara": {"status": "09/01"}, "fukuoka": {}}}
    )
    codes = {"odawara": ODAWARA, "fukuoka": "2040130000000000"}

    assert compare(expect, answered, RunContext("0"), codes.__getitem__) == [
        "number of results: expected 2, actual 1",
        "status of odawara: expected '09/01', actual '99/99'",
        "result of fukuoka: expected one, actual none",
    ]


def test_junit_has_a_suite_per_file_and_a_case_per_step() -> None:
    outcome = ScenarioOutcome(Path("scenarios/x.yaml"), "X")
    outcome.steps = [
        StepOutcome("ask", "inquire", 0.25, summary="09/01"),
        StepOutcome("check", "records", 0.5, differences=["number of records: expected 1"]),
        StepOutcome("gone", "inquire", 0.0, error="no agency 'nowhere'"),
    ]

    root = junit_xml([outcome]).getroot()

    [suite] = root.findall("testsuite")
    assert dict(suite.attrib) == {
        "name": "X",
        "file": "scenarios/x.yaml",
        "tests": "3",
        "failures": "1",
        "errors": "1",
        "time": "0.750",
    }
    ask, check, gone = suite.findall("testcase")
    assert ask.get("name") == "ask (inquire)" and ask.find("failure") is None
    failure = check.find("failure")
    assert failure is not None and failure.text == "number of records: expected 1"
    error = gone.find("error")
    assert error is not None and error.get("message") == "no agency 'nowhere'"
