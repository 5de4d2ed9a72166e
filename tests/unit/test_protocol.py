"""Wire models of the network: code shapes, conditions, replica items and statuses."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from stdnum.jp import in_ as my_number_format

from error_codes import IpnsimError
from network.protocol.models import (
    AffairCode,
    AgencyCode,
    AtenaNumber,
    ConditionKind,
    DetailStatus,
    InfoTypeCode,
    InfoTypeStatus,
    InquiryCondition,
    InquiryRequest,
    MyNumber,
    ProcedureCode,
    ProvisionAnswer,
    Pseudonym,
    ReplicaItem,
    ResidentCode,
    outcome_statuses,
)

VALID_MY_NUMBER = "12345678901" + my_number_format.calc_check_digit("12345678901")
WRONG_CHECK_DIGIT = VALID_MY_NUMBER[:-1] + str((int(VALID_MY_NUMBER[-1]) + 1) % 10)

SHAPES: list[tuple[object, list[str], list[str]]] = [
    (
        AgencyCode,
        ["2006201400000000", "1419900000002200"],
        [
            "200620140000000",
            "20062014000000000",
            "200620140000000A",
            "２００６２０１４００００００００",
            "",
        ],
    ),
    (
        AtenaNumber,
        ["000000014689427", "123456789012345"],
        ["00000001468942", "0000000146894270", "00000001468942X", " 000000014689427"],
    ),
    (
        AffairCode,
        ["JM01000000121000"],
        ["JT01000000121000", "jm01000000121000", "JM0100000012100", "JM010000001210000"],
    ),
    (
        ProcedureCode,
        ["JT01010000000214", "JT01010000000001"],
        ["JM01010000000214", "JT0101000000021", "JT0101000000021X", "TM01010000000214"],
    ),
    (
        InfoTypeCode,
        ["TM00000000000002", "TM00000000000089"],
        ["TM0000000000002", "tm00000000000002", "JT00000000000002", "TM00000000000002 "],
    ),
    (
        ResidentCode,
        ["12345678901"],
        ["1234567890", "123456789012", "1234567890A"],
    ),
    (
        Pseudonym,
        ["ABCDEFGHIJKLMNOPQRSTUVWXYZ", "234567ABCDEFGHIJKLMNOPQRST"],
        [
            "ABCDEFGHIJKLMNOPQRSTUVWXY",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZA",
            "ABCDEFGHIJKLMNOPQRSTUVWXY1",
            "ABCDEFGHIJKLMNOPQRSTUVWXY8",
            "abcdefghijklmnopqrstuvwxyz",
        ],
    ),
]


@pytest.mark.parametrize(
    ("shape", "value"),
    [(shape, value) for shape, good, _ in SHAPES for value in good],
)
def test_shape_accepts(shape: Any, value: str) -> None:
    assert TypeAdapter(shape).validate_python(value) == value


@pytest.mark.parametrize(
    ("shape", "value"),
    [(shape, value) for shape, _, bad in SHAPES for value in bad],
)
def test_shape_refuses(shape: Any, value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(shape).validate_python(value)


def test_my_number_with_valid_check_digit_is_accepted() -> None:
    assert my_number_format.is_valid(VALID_MY_NUMBER)
    assert TypeAdapter(MyNumber).validate_python(VALID_MY_NUMBER) == VALID_MY_NUMBER


@pytest.mark.parametrize(
    "value",
    [
        WRONG_CHECK_DIGIT,
        VALID_MY_NUMBER[:-1],
        VALID_MY_NUMBER + "0",
        VALID_MY_NUMBER[:4] + " " + VALID_MY_NUMBER[4:8] + " " + VALID_MY_NUMBER[8:],
        VALID_MY_NUMBER[:4] + "-" + VALID_MY_NUMBER[4:8] + "-" + VALID_MY_NUMBER[8:],
        "ABCDEFGHIJKL",
    ],
)
def test_my_number_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="check digit"):
        TypeAdapter(MyNumber).validate_python(value)


# --- inquiry conditions ---------------------------------------------------------------------


def test_default_condition_is_latest() -> None:
    condition = InquiryCondition()
    assert condition.kind is ConditionKind.LATEST
    assert condition.fiscal_year is None
    assert condition.date_from is None


def test_fiscal_year_condition() -> None:
    condition = InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2025)
    assert condition.fiscal_year == 2025
    with pytest.raises(ValidationError, match="needs fiscal_year"):
        InquiryCondition(kind=ConditionKind.FISCAL_YEAR)
    with pytest.raises(ValidationError):
        InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=1900)


def test_date_range_condition() -> None:
    day = dt.date(2026, 4, 1)
    assert (
        InquiryCondition(kind=ConditionKind.DATE_RANGE, date_from=day, date_to=day).date_to == day
    )
    with pytest.raises(ValidationError, match="needs date_from and date_to"):
        InquiryCondition(kind=ConditionKind.DATE_RANGE, date_from=day)
    with pytest.raises(ValidationError, match="needs date_from and date_to"):
        InquiryCondition(kind=ConditionKind.DATE_RANGE, date_to=day)
    with pytest.raises(ValidationError, match="must not be after"):
        InquiryCondition(
            kind=ConditionKind.DATE_RANGE, date_from=day, date_to=day - dt.timedelta(days=1)
        )


def test_condition_fields_belong_to_their_kind() -> None:
    with pytest.raises(ValidationError, match="only for a fiscal_year"):
        InquiryCondition(fiscal_year=2025)
    with pytest.raises(ValidationError, match="only for a date_range"):
        InquiryCondition(date_from=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError, match="only for a date_range"):
        InquiryCondition(
            kind=ConditionKind.FISCAL_YEAR, fiscal_year=2025, date_to=dt.date(2026, 1, 1)
        )


def test_condition_from_json() -> None:
    condition = InquiryCondition.model_validate_json(
        '{"kind": "date_range", "date_from": "2026-01-01", "date_to": "2026-03-31"}'
    )
    assert condition.date_from == dt.date(2026, 1, 1)
    assert condition.date_to == dt.date(2026, 3, 31)


@pytest.mark.parametrize("bad_date", ["2026-02-30", "2026-13-01", "20260101x"])
def test_impossible_date_is_refused(bad_date: str) -> None:
    with pytest.raises(ValidationError):
        InquiryCondition.model_validate_json(
            f'{{"kind": "date_range", "date_from": "2026-01-01", "date_to": "{bad_date}"}}'
        )


def test_unknown_condition_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        InquiryCondition.model_validate_json('{"kind": "whenever"}')


# --- replica items and extra fields ---------------------------------------------------------


def test_replica_item_has_value_or_reason() -> None:
    assert ReplicaItem(code="I001", value="2025").value == "2025"
    assert ReplicaItem(code="I001", reason_of_null="NotAcceptable").value is None
    with pytest.raises(ValidationError, match="either a value or a reason_of_null"):
        ReplicaItem(code="I001")
    with pytest.raises(ValidationError, match="either a value or a reason_of_null"):
        ReplicaItem(code="I001", value="1", reason_of_null="NotAcceptable")


@pytest.mark.parametrize("code", ["I01", "I0001", "X001", "i001"])
def test_replica_item_code_shape(code: str) -> None:
    with pytest.raises(ValidationError):
        ReplicaItem(code=code, value="1")


def inquiry_payload() -> dict[str, object]:
    return {
        "inquiry_id": str(uuid.uuid4()),
        "requester_code": "2006201400000000",
        "requester_pseudonym": "A" * 26,
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": "TM00000000000002",
        "provider_code": "2014206900000000",
        "requested_at": "2026-06-01T09:00:00+09:00",
    }


def test_inquiry_request_parses_and_defaults() -> None:
    request = InquiryRequest.model_validate(inquiry_payload())
    assert request.condition == InquiryCondition()
    assert request.requester_non_disclosure is False


@pytest.mark.parametrize(
    "model_payload",
    [
        (InquiryRequest, inquiry_payload()),
        (ReplicaItem, {"code": "I001", "value": "1"}),
        (InquiryCondition, {"kind": "latest"}),
        (
            ProvisionAnswer,
            {"inquiry_id": str(uuid.uuid4()), "provided_at": "2026-06-01T00:00:00Z"},
        ),
    ],
)
def test_extra_fields_are_forbidden(model_payload: tuple[Any, dict[str, object]]) -> None:
    model, payload = model_payload
    model.model_validate(payload)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(payload | {"my_number": VALID_MY_NUMBER})


def test_wire_models_are_frozen() -> None:
    item = ReplicaItem(code="I001", value="1")
    with pytest.raises(ValidationError):
        item.value = "2"  # type: ignore[misc]


def test_inquiry_request_refuses_a_bad_pseudonym() -> None:
    with pytest.raises(ValidationError, match="requester_pseudonym"):
        InquiryRequest.model_validate(inquiry_payload() | {"requester_pseudonym": "short"})


# --- outcome statuses -------------------------------------------------------------------------


def test_outcome_statuses() -> None:
    assert outcome_statuses(None) == (DetailStatus.COMPLETED, InfoTypeStatus.PROVIDED)
    assert outcome_statuses("RPL001") == (DetailStatus.COMPLETED, InfoTypeStatus.NO_DATA)
    assert outcome_statuses("RPL005") == (DetailStatus.COMPLETED, InfoTypeStatus.NO_DATA)
    assert outcome_statuses("RPL007") == (DetailStatus.COMPLETED, InfoTypeStatus.NO_DATA)
    for code in ("PRM001", "AVL001", "IDN004", "SYS001"):
        assert outcome_statuses(code) == (DetailStatus.FAILED, InfoTypeStatus.ERROR)


def test_status_wire_values() -> None:
    assert [DetailStatus.COMPLETED.value, InfoTypeStatus.PROVIDED.value] == ["09", "01"]
    assert InfoTypeStatus.NO_DATA.value == "02"
    assert (DetailStatus.FAILED.value, InfoTypeStatus.ERROR.value) == ("99", "99")


def test_provision_answer_carries_an_error_body() -> None:
    answer = ProvisionAnswer(
        inquiry_id=uuid.uuid4(),
        provided_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        error=IpnsimError("RPL001").body(),
    )
    parsed = ProvisionAnswer.model_validate_json(answer.model_dump_json())
    assert parsed.error is not None
    assert parsed.error.code == "RPL001"
    assert parsed.items == []


def test_a_fan_out_names_its_providers_one_way() -> None:
    from network.protocol.models import FanOutRequest, FanOutScope

    base = {
        "fan_out_id": str(uuid.uuid4()),
        "requester_code": "2006201400000000",
        "requester_pseudonym": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": "TM00000000000002",
        "requested_at": "2026-06-15T01:00:00Z",
    }
    by_scope = FanOutRequest.model_validate(base | {"scope": "holding"})
    assert by_scope.scope is FanOutScope.HOLDING
    listed = FanOutRequest.model_validate(base | {"provider_codes": ["2014206900000000"]})
    single = listed.inquiry_to("2014206900000000", uuid.UUID(int=7))
    assert (single.inquiry_id, single.provider_code) == (uuid.UUID(int=7), "2014206900000000")
    assert single.requester_pseudonym == listed.requester_pseudonym
    for wrong in (
        {},
        {"scope": "permitted", "provider_codes": ["2014206900000000"]},
        {"provider_codes": ["2014206900000000", "2014206900000000"]},
        {"provider_codes": []},
        {"scope": "everyone"},
    ):
        with pytest.raises(ValidationError):
            FanOutRequest.model_validate(base | wrong)
