"""The example of docs/pytest-plugin.md, as a vendor of a business system would write it: only
the plugin's fixtures, against a network the plugin starts for the session."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from intermediate_server.schemas import InquiryOrder, PersonRegistration
from ipnsim.client import AgencyClient, ServiceError
from ipnsim.pytest_plugin import IpnsimNetwork
from network.protocol.models import ConditionKind, InquiryCondition, PersonaCatalogue

pytestmark = pytest.mark.e2e


def test_local_tax_of_a_resident_who_moved_in(
    ipnsim_agency: Callable[[str], AgencyClient], ipnsim_personas: PersonaCatalogue
) -> None:
    moved_in = next(p for p in ipnsim_personas.personas if p.name == "moved_in")
    inquiry = moved_in.inquiry
    assert inquiry is not None
    order = InquiryOrder(
        atena_number=inquiry.atena_number,
        affair_code=inquiry.affair_code,
        procedure_code=inquiry.procedure_code,
        info_type_code=inquiry.info_type_code,
        provider_code=inquiry.provider_code,
        condition=InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=inquiry.fiscal_year),
    )

    async def ask() -> None:
        async with ipnsim_agency(inquiry.requester_slug) as yamagata:
            result = await yamagata.inquire(order)
            assert (result.status_detail, result.status_info_type) == ("09", "01")
            assert result.error is None
            items = {item.code: item.value for item in result.items}
            assert items["I001"] == str(inquiry.fiscal_year)
            [record] = await yamagata.records(inquiry_id=result.inquiry_id)
            assert record.error_code is None

    asyncio.run(ask())


def test_each_test_has_a_sandbox_of_its_own(ipnsim_sandbox: IpnsimNetwork) -> None:
    """Two tests (or two xdist workers) in their sandboxes: what one registers, the other and
    the default data never see."""
    other = dataclasses.replace(ipnsim_sandbox, sandbox=f"{ipnsim_sandbox.sandbox}-x"[:32])
    default = dataclasses.replace(ipnsim_sandbox, sandbox=None)
    atena = "991234567890123"

    async def check() -> None:
        try:
            async with ipnsim_sandbox.agency("yamagata") as mine:
                await mine.register_person(
                    PersonRegistration(
                        atena_number=atena, resident_code="99123456789", acquire_pseudonym=False
                    )
                )
                assert (await mine.person(atena)).atena_number == atena
            for view in (other, default):
                async with view.agency("yamagata") as theirs:
                    with pytest.raises(ServiceError) as unknown:
                        await theirs.person(atena)
                    assert unknown.value.body.code == "IDN002"
        finally:
            await other.delete_sandbox()

    asyncio.run(check())
    assert ipnsim_sandbox.sandbox is not None
    assert ipnsim_sandbox.sandbox.startswith("t-")
