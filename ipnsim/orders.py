"""Build a valid inquiry order from what a person types (procedure, provider, period)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from intermediate_server.schemas import FanOutOrder, InquiryOrder
from network.protocol.layouts import catalogue
from network.protocol.models import ConditionKind, FanOutScope, InquiryCondition

T = TypeVar("T")


class OrderError(ValueError):
    """The inquiry cannot be built; the message says which input is wrong."""


def obtainable_info_types(procedure_code: str) -> list[str]:
    """Info types the permission table lets this procedure obtain, in table order."""
    from network.permissions import PermissionTable
    from network.settings import HubSettings

    default_table = HubSettings.model_fields["permissions_file"].default
    table = PermissionTable.load(default_table, catalogue())
    return sorted(
        {row.info_type_code for row in table.rows if row.procedure_code == procedure_code}
    )


def build_order(*, provider_code: str, **typed: Any) -> InquiryOrder:
    """An inquiry to one provider from what was typed (see :func:`order_fields`)."""
    fields = order_fields(**typed)
    return _validated(lambda: InquiryOrder(**fields, provider_code=provider_code))


def build_fan_out_order(
    *, scope: FanOutScope | None = None, provider_codes: list[str] | None = None, **typed: Any
) -> FanOutOrder:
    """A fan-out inquiry (一括照会先指定) from what was typed: by scope or by provider list."""
    fields = order_fields(**typed)
    return _validated(lambda: FanOutOrder(**fields, scope=scope, provider_codes=provider_codes))


def order_fields(
    *,
    atena_number: str,
    procedure_code: str,
    info_type_code: str | None = None,
    fiscal_year: int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    non_disclosure: bool = False,
    user_id: str = "cli",
) -> dict[str, Any]:
    """The fields every inquiry order has, checked: the affair comes from the procedure, the
    info type from the permission table when the procedure may obtain only one."""
    procedure = catalogue().procedures.get(procedure_code)
    if procedure is None:
        raise OrderError(f"unknown procedure {procedure_code!r}; see the catalogue")
    if info_type_code is None:
        candidates = obtainable_info_types(procedure_code)
        if len(candidates) != 1:
            raise OrderError(
                f"procedure {procedure_code} may obtain {', '.join(candidates) or 'nothing'}: "
                "name one with --info-type"
            )
        info_type_code = candidates[0]
    if fiscal_year is not None and (date_from or date_to):
        raise OrderError("give either a fiscal year or a period, not both")

    def condition() -> InquiryCondition:
        if fiscal_year is not None:
            return InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=fiscal_year)
        if date_from or date_to:
            return InquiryCondition(
                kind=ConditionKind.DATE_RANGE,
                date_from=_date(date_from, "--date-from"),
                date_to=_date(date_to, "--date-to"),
            )
        return InquiryCondition()

    return {
        "atena_number": atena_number,
        "affair_code": procedure.affair_code,
        "procedure_code": procedure_code,
        "info_type_code": info_type_code,
        "condition": _validated(condition),
        "non_disclosure": non_disclosure,
        "user_id": user_id,
    }


def _validated(build: Callable[[], T]) -> T:
    """Run ``build``; a validation failure becomes an OrderError naming each field."""
    try:
        return build()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors()
        )
        raise OrderError(problems) from None


def _date(value: str | None, option: str) -> dt.date:
    if value is None:
        raise OrderError(f"a period needs {option}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise OrderError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None
