"""Building an inquiry order from what a person types (ipnsim.orders.build_order)."""

from __future__ import annotations

import datetime as dt

import pytest

import ipnsim.orders as orders
from ipnsim.orders import OrderError, build_order, obtainable_info_types
from network.protocol.models import ConditionKind, InquiryCondition

ATENA = "000000014689427"
ODAWARA = "2014206900000000"
DIGITAL = "1419900000002200"


def test_affair_is_derived_from_the_procedure() -> None:
    order = build_order(
        atena_number=ATENA, procedure_code="JT01010000000214", provider_code=ODAWARA
    )
    assert order.affair_code == "JM01000000121000"
    assert order.procedure_code == "JT01010000000214"
    assert order.provider_code == ODAWARA
    assert order.atena_number == ATENA
    order = build_order(
        atena_number=ATENA, procedure_code="JT02310000000214", provider_code=ODAWARA
    )
    assert order.affair_code == "JM01000000231000"


def test_default_info_type_when_the_procedure_permits_exactly_one() -> None:
    tax = build_order(atena_number=ATENA, procedure_code="JT01010000000214", provider_code=ODAWARA)
    assert tax.info_type_code == "TM00000000000002"
    account = build_order(
        atena_number=ATENA, procedure_code="JT01010000000001", provider_code=DIGITAL
    )
    assert account.info_type_code == "TM00000000000089"
    assert account.affair_code == "JM01000000041000"


def test_obtainable_info_types() -> None:
    assert obtainable_info_types("JT01010000000214") == ["TM00000000000002"]
    assert obtainable_info_types("JT01010000000001") == ["TM00000000000089"]
    assert obtainable_info_types("JT09999999999999") == []


def test_explicit_info_type_is_kept() -> None:
    order = build_order(
        atena_number=ATENA,
        procedure_code="JT01010000000214",
        provider_code=ODAWARA,
        info_type_code="TM00000000000089",
    )
    assert order.info_type_code == "TM00000000000089"


def test_several_obtainable_info_types_need_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        orders, "obtainable_info_types", lambda _: ["TM00000000000002", "TM00000000000089"]
    )
    with pytest.raises(OrderError, match="--info-type"):
        build_order(atena_number=ATENA, procedure_code="JT01010000000214", provider_code=ODAWARA)


def test_nothing_obtainable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders, "obtainable_info_types", lambda _: [])
    with pytest.raises(OrderError, match="nothing"):
        build_order(atena_number=ATENA, procedure_code="JT01010000000214", provider_code=ODAWARA)


def test_latest_by_default() -> None:
    order = build_order(
        atena_number=ATENA, procedure_code="JT01010000000214", provider_code=ODAWARA
    )
    assert order.condition == InquiryCondition()
    assert order.non_disclosure is False
    assert order.user_id == "cli"


def test_fiscal_year_condition() -> None:
    order = build_order(
        atena_number=ATENA,
        procedure_code="JT01010000000214",
        provider_code=ODAWARA,
        fiscal_year=2025,
        non_disclosure=True,
        user_id="clerk01",
    )
    assert order.condition.kind is ConditionKind.FISCAL_YEAR
    assert order.condition.fiscal_year == 2025
    assert order.non_disclosure is True
    assert order.user_id == "clerk01"


def test_period_condition() -> None:
    order = build_order(
        atena_number=ATENA,
        procedure_code="JT01010000000214",
        provider_code=ODAWARA,
        date_from="2025-04-01",
        date_to="2026-03-31",
    )
    assert order.condition.kind is ConditionKind.DATE_RANGE
    assert order.condition.date_from == dt.date(2025, 4, 1)
    assert order.condition.date_to == dt.date(2026, 3, 31)


@pytest.mark.parametrize(
    ("date_from", "date_to", "fragment"),
    [
        ("2025-02-30", "2026-03-31", "--date-from '2025-02-30' is not a date"),
        ("2025-04-01", "31/03/2026", "--date-to '31/03/2026' is not a date"),
        ("2025-04-01", None, "a period needs --date-to"),
        (None, "2026-03-31", "a period needs --date-from"),
        ("2026-04-01", "2026-03-31", "date_from must not be after date_to"),
    ],
)
def test_bad_period(date_from: str | None, date_to: str | None, fragment: str) -> None:
    with pytest.raises(OrderError, match=fragment):
        build_order(
            atena_number=ATENA,
            procedure_code="JT01010000000214",
            provider_code=ODAWARA,
            date_from=date_from,
            date_to=date_to,
        )


def test_year_and_period_together() -> None:
    with pytest.raises(OrderError, match="not both"):
        build_order(
            atena_number=ATENA,
            procedure_code="JT01010000000214",
            provider_code=ODAWARA,
            fiscal_year=2025,
            date_from="2025-04-01",
            date_to="2026-03-31",
        )


def test_unknown_procedure() -> None:
    with pytest.raises(OrderError, match="unknown procedure 'JT09999999999999'"):
        build_order(atena_number=ATENA, procedure_code="JT09999999999999", provider_code=ODAWARA)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("atena_number", "12345", "atena_number"),
        ("provider_code", "20142069", "provider_code"),
        ("fiscal_year", 1900, "fiscal_year"),
        ("user_id", "a user with spaces", "user_id"),
    ],
)
def test_invalid_input_becomes_order_error(field: str, value: object, fragment: str) -> None:
    arguments: dict[str, object] = {
        "atena_number": ATENA,
        "procedure_code": "JT01010000000214",
        "provider_code": ODAWARA,
    } | {field: value}
    with pytest.raises(OrderError, match=fragment):
        build_order(**arguments)  # type: ignore[arg-type]
