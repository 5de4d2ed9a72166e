"""Build a valid inquiry order from what a person types (procedure, provider, period)."""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError

from intermediate_server.schemas import InquiryOrder
from network.protocol.layouts import catalogue
from network.protocol.models import ConditionKind, InquiryCondition


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


def build_order(
    *,
    atena_number: str,
    procedure_code: str,
    provider_code: str,
    info_type_code: str | None = None,
    fiscal_year: int | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    non_disclosure: bool = False,
    user_id: str = "cli",
) -> InquiryOrder:
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
    try:
        if fiscal_year is not None:
            condition = InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=fiscal_year)
        elif date_from or date_to:
            condition = InquiryCondition(
                kind=ConditionKind.DATE_RANGE,
                date_from=_date(date_from, "--date-from"),
                date_to=_date(date_to, "--date-to"),
            )
        else:
            condition = InquiryCondition()
        return InquiryOrder(
            atena_number=atena_number,
            affair_code=procedure.affair_code,
            procedure_code=procedure_code,
            info_type_code=info_type_code,
            provider_code=provider_code,
            condition=condition,
            non_disclosure=non_disclosure,
            user_id=user_id,
        )
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
