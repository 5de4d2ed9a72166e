"""The hub's bound on inquiries in flight (AVL007): refused at once beyond the limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from error_codes import IpnsimError
from network.admission import RETRY_AFTER_SECONDS, HubOverloaded, InFlightLimit
from network.settings import HubSettings


def test_admits_up_to_the_limit_and_frees_places_on_exit() -> None:
    limit = InFlightLimit(2)
    with limit.admit(), limit.admit():
        assert limit.in_flight == 2
        with pytest.raises(HubOverloaded) as refused, limit.admit():
            pytest.fail("admitted beyond the limit")
        assert limit.in_flight == 2
    assert limit.in_flight == 0
    with limit.admit():
        assert limit.in_flight == 1
    error = refused.value
    assert isinstance(error, IpnsimError)
    assert (error.code, error.http_status, error.entry.retryable) == ("AVL007", 503, True)
    assert error.retry_after == RETRY_AFTER_SECONDS
    assert "2" in error.message_en
    assert "「２」" in error.message_ja


def test_a_failing_inquiry_gives_its_place_back() -> None:
    limit = InFlightLimit(1)
    with pytest.raises(IpnsimError), limit.admit():
        raise IpnsimError("AVL001", provider_code="x")
    assert limit.in_flight == 0


def test_concurrent_inquiries_beyond_the_limit_are_refused_without_waiting() -> None:
    limit = InFlightLimit(1)

    async def inquiry(release: asyncio.Event) -> str:
        try:
            with limit.admit():
                await release.wait()
                return "answered"
        except HubOverloaded as error:
            return error.code

    async def scenario() -> list[str]:
        release = asyncio.Event()
        first = asyncio.create_task(inquiry(release))
        await asyncio.sleep(0)
        second = await asyncio.wait_for(inquiry(release), timeout=1)
        release.set()
        return [await first, second]

    assert asyncio.run(scenario()) == ["answered", "AVL007"]


def test_the_limit_is_a_positive_hub_setting(tmp_path: Path) -> None:
    base = {
        "registry_file": tmp_path / "registry.json",
        "secret": "hub-secret-for-unit-tests-0001",
        "admin_token": "admin-token-for-unit-tests-01",
    }
    assert HubSettings.model_validate(base).max_inquiries_in_flight == 256
    assert (
        HubSettings.model_validate(base | {"max_inquiries_in_flight": 1}).max_inquiries_in_flight
        == 1
    )
    with pytest.raises(ValidationError):
        HubSettings.model_validate(base | {"max_inquiries_in_flight": 0})
    with pytest.raises(ValueError, match="at least 1"):
        InFlightLimit(0)
