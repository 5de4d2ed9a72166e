"""The June release rule (6月公開) of a provider: default day, per-year overrides, the
settings that configure it, and which inquiries it refuses."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError

from intermediate_server.settings import IntermediateServerSettings
from intermediate_server.tax_release import TaxRelease, parse_month_day
from network.protocol.models import InquiryCondition, ProvisionRequest


def request(info_type: str, condition: InquiryCondition) -> ProvisionRequest:
    return ProvisionRequest(
        inquiry_id=uuid.uuid4(),
        requester_code="0620140000000000",
        requester_name="山形市",
        provider_code="1421100000000000",
        provider_pseudonym="A" * 26,
        affair_code="JM01000000231000",
        procedure_code="JT02310000000214",
        info_type_code=info_type,
        condition=condition,
        requested_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
    )


def test_fiscal_year_n_is_refused_until_1_june_japan_time() -> None:
    year_2026 = InquiryCondition(kind="fiscal_year", fiscal_year=2026)
    release = TaxRelease()
    refused = release.refusal(request("TM00000000000002", year_2026), dt.date(2026, 5, 31))
    assert refused is not None and refused.code == "RPL010"
    assert refused.params == {"fiscal_year": "2026", "release_date": "2026-06-01"}
    assert release.refusal(request("TM00000000000002", year_2026), dt.date(2026, 6, 1)) is None


def test_today_in_japan_follows_the_simulated_clock() -> None:
    from intermediate_server.service import today_in_japan
    from ipnsim.clock import clock

    # 1 June 00:30 in Japan is still 31 May in UTC: Japan time decides.
    clock.set(dt.datetime(2026, 5, 31, 15, 30, tzinfo=dt.UTC))
    try:
        assert today_in_japan() == dt.date(2026, 6, 1)
    finally:
        clock.reset()


def test_only_local_tax_for_a_fiscal_year_is_held_back() -> None:
    may, release = dt.date(2026, 5, 1), TaxRelease()
    assert release.refusal(request("TM00000000000002", InquiryCondition()), may) is None
    previous = InquiryCondition(kind="fiscal_year", fiscal_year=2025)
    assert release.refusal(request("TM00000000000002", previous), may) is None
    care = InquiryCondition(kind="fiscal_year", fiscal_year=2026)
    assert release.refusal(request("TM00000000000031", care), may) is None


def test_settings_configure_the_day_and_per_year_dates() -> None:
    settings = IntermediateServerSettings(
        code="1" * 16,
        name_ja="市",
        credential="c" * 16,
        hub_url="http://127.0.0.1:1",
        local_tax_release="07-10",
        local_tax_release_dates={2026: dt.date(2026, 6, 15)},
    )
    release = settings.tax_release()
    assert release.release_date(2026) == dt.date(2026, 6, 15)
    assert release.release_date(2027) == dt.date(2027, 7, 10)
    with pytest.raises(ValidationError):
        IntermediateServerSettings(
            code="1" * 16,
            name_ja="市",
            credential="c" * 16,
            hub_url="http://127.0.0.1:1",
            local_tax_release="02-29",
        )
    with pytest.raises(ValueError, match="MM-DD"):
        parse_month_day("June 1")
