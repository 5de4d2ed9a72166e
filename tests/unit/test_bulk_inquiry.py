"""The hub's bulk inquiry on a real SQLite database (a fake router stands for the providers):
each inquiry ends as it would alone, and the block is one append to the record log."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path

from error_codes import IpnsimError
from ipnsim.storage import create_engine, migrate
from network.bulk_inquiry import inquire_bulk
from network.db import MIGRATIONS
from network.protocol.merkle import MerkleTree, canonical_bytes, leaf_hash
from network.protocol.models import (
    BulkInquiryRequest,
    InquiryRequest,
    InquiryResult,
    ProvisionAnswer,
    ProvisionRequest,
)
from network.protocol.record_log import verify_head
from network.registry import AgencyEntry
from network.service import HubService
from tests.unit.test_hub_record_log import hub_service
from tests.unit.test_hub_service import (
    AGENCIES,
    ODAWARA,
    OTHER_RESIDENT,
    YAMAGATA,
    FakeRouter,
    inquiry,
    issue,
)


class BulkRouter(FakeRouter):
    """The fake router, asked for many provisions at once as the real one is."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def provide_many(
        self, provider: AgencyEntry, requests: list[ProvisionRequest]
    ) -> list[ProvisionAnswer | IpnsimError]:
        self.calls += 1
        answers: list[ProvisionAnswer | IpnsimError] = []
        for request in requests:
            try:
                answers.append(await self.provide(provider, request))
            except IpnsimError as error:
                answers.append(error)
        return answers


Scenario = Callable[[HubService, BulkRouter], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> None:
    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            router = BulkRouter()
            service = hub_service(engine, router)
            await service.log.load(service.sessions)
            await scenario(service, router)
        finally:
            await engine.dispose()

    asyncio.run(go())


def outcome(result: InquiryResult) -> tuple[str, str, str | None, list[str], str]:
    return (
        result.status_detail.value,
        result.status_info_type.value,
        result.error.code if result.error else None,
        [item.code for item in result.items],
        result.provider_name,
    )


async def bulk(service: HubService, inquiries: list[InquiryRequest]) -> list[InquiryResult]:
    answer = await inquire_bulk(
        service,
        AGENCIES[YAMAGATA],
        BulkInquiryRequest(requester_code=YAMAGATA, inquiries=inquiries),
    )
    results = [item.result for item in answer.items]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def test_each_inquiry_of_a_bulk_ends_as_it_would_alone(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: BulkRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        unknown_to_provider = await issue(service, YAMAGATA, resident=OTHER_RESIDENT)

        def orders() -> list[InquiryRequest]:
            return [
                inquiry(pseudonym),
                inquiry(pseudonym, info_type_code="TM00000000000011"),  # not permitted
                inquiry(unknown_to_provider),  # no 符号 at the provider: IDN004
            ]

        alone = [await service.inquire(AGENCIES[YAMAGATA], order) for order in orders()]
        together = await bulk(service, orders())
        assert [outcome(r) for r in together] == [outcome(r) for r in alone]
        assert [outcome(r)[2] for r in together] == [None, "PRM001", "IDN004"]
        assert router.calls == 1  # one provision request for the block's one routed inquiry

        router.fail_with = "AVL001"
        alone = [await service.inquire(AGENCIES[YAMAGATA], order) for order in orders()]
        together = await bulk(service, orders())
        assert [outcome(r) for r in together] == [outcome(r) for r in alone]
        assert outcome(together[0])[2] == "AVL001"

    run(tmp_path, scenario)


def test_a_bulk_is_one_append_with_one_signed_head(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: BulkRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        await service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
        block = [inquiry(pseudonym) for _ in range(3)]
        await bulk(service, block)
        async with service.sessions() as session:
            stored = await service.log.entries(session, 0, 10)
            between = await service.log.head_at(session, 2)
        assert [entry.inquiry_id for entry in stored.entries[1:]] == [
            order.inquiry_id for order in block
        ]
        hashes = []
        for entry in stored.entries:
            assert entry.event is not None
            hashes.append(leaf_hash(canonical_bytes(entry.event)))
            assert entry.leaf_hash == hashes[-1].hex()
        public_key = base64.b64decode(service.log.public_key().public_key)
        assert [head.tree_size for head in stored.tree_heads] == [1, 4]
        for head in [*stored.tree_heads, between]:
            assert verify_head(head, public_key)
            assert head.root_hash == MerkleTree(hashes[: head.tree_size]).root().hex()
        assert between.tree_size == 2

    run(tmp_path, scenario)
