"""The June release of local tax (地方税関係情報の6月公開).

Municipalities assess individual inhabitant tax (個人住民税) for fiscal year N in spring and send
the assessment notices in June; only then do their business systems register the fiscal year's
local-tax information as replicas, and 国民健康保険 and 介護保険 fix their premiums from it. A
provider therefore makes the local-tax information of fiscal year N visible from a release date
(by default 1 June of N, Japan time), compared against the simulated clock when it provides: an
inquiry for fiscal year N before that day is answered ``RPL010`` (retryable: ask again on or
after the date), whatever replicas are already registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from error_codes import IpnsimError
from network.protocol.models import ConditionKind, ProvisionRequest

LOCAL_TAX_INFO = "TM00000000000002"
"""特定個人情報名コード of local-tax information (地方税関係情報)."""

NOT_RELEASED_CODE = "RPL010"
"""The code of an inquiry for a fiscal year whose local tax is not released yet."""


def parse_month_day(text: str) -> tuple[int, int]:
    """``"06-01"`` → (6, 1); ValueError for anything that is not a day of every year."""
    month_text, separator, day_text = text.partition("-")
    if not separator or not month_text.isdigit() or not day_text.isdigit():
        raise ValueError(f"expected MM-DD, got {text!r}")
    month, day = int(month_text), int(day_text)
    dt.date(2001, month, day)  # not 29 February: every fiscal year must have the day
    return month, day


@dataclass(frozen=True)
class TaxRelease:
    """When the local-tax information of each fiscal year becomes visible at this provider."""

    month_day: tuple[int, int] = (6, 1)
    """The release day of every fiscal year N, in N (Japan time)."""
    overrides: Mapping[int, dt.date] = field(default_factory=dict)
    """A release date of its own for some fiscal years (a late assessment, a test)."""

    def release_date(self, fiscal_year: int) -> dt.date:
        """The first day (Japan time) on which fiscal year ``fiscal_year`` is provided."""
        override = self.overrides.get(fiscal_year)
        if override is not None:
            return override
        month, day = self.month_day
        return dt.date(fiscal_year, month, day)

    def refusal(self, request: ProvisionRequest, today: dt.date) -> IpnsimError | None:
        """``RPL010`` for a local-tax inquiry of a fiscal year not released yet on ``today``
        (Japan time, by the simulated clock), else None."""
        condition = request.condition
        if (
            request.info_type_code != LOCAL_TAX_INFO
            or condition.kind is not ConditionKind.FISCAL_YEAR
            or condition.fiscal_year is None
        ):
            return None
        released = self.release_date(condition.fiscal_year)
        if today >= released:
            return None
        return IpnsimError(
            NOT_RELEASED_CODE,
            fiscal_year=str(condition.fiscal_year),
            release_date=released.isoformat(),
        )
