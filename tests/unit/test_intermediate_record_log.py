"""An intermediate server's record log: its requester and provider copies, their addenda and
later outcomes are leaves of one log, and the database refuses changes to them."""

from __future__ import annotations

import base64
import sqlite3
import uuid
from pathlib import Path

import pytest

from intermediate_server.db import LocalRecord
from intermediate_server.schemas import ManualAnswer
from intermediate_server.service import IntermediateService
from network.protocol.merkle import MerkleTree, canonical_bytes, leaf_hash
from network.protocol.models import Addendum, AddendumKind, RecordSide
from network.protocol.record_log import verify_head
from tests.unit.test_intermediate_service import AGENCY, order, provision
from tests.unit.test_manual_response import ManualHub, flagged, run

APPEND_ONLY = ("provision_records", "addenda", "record_outcomes", "record_log", "tree_heads")


async def copies_addendum_and_outcome(service: IntermediateService) -> list[uuid.UUID]:
    """A requester copy, a provider copy held for staff and then answered, and an addendum."""
    request = provision(await flagged(service))
    await service.provide(request)
    await service.manual.answer(request.inquiry_id, ManualAnswer(answered_by="k.sato"))
    sent = await service.inquire(order())
    await service.append_addendum(
        Addendum(
            addendum_id=uuid.uuid4(),
            inquiry_id=request.inquiry_id,
            kind=AddendumKind.MISTAKEN_PERSON,
            reason="別人",
            declared_by_agency="2006201400000000",
            declared_by_user="clerk01",
            declared_at=request.requested_at,
        ),
        RecordSide.PROVIDER,
    )
    return [request.inquiry_id, sent.inquiry_id]


def test_copies_addenda_and_outcomes_are_leaves_of_one_signed_log(tmp_path: Path) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        provided, sent = await copies_addendum_and_outcome(service)
        async with service.sessions() as session:
            stored = await service.log.entries(session, 0, 10)
        assert stored.log_id == AGENCY.code
        assert [(entry.kind, entry.inquiry_id) for entry in stored.entries] == [
            ("record", provided),
            ("outcome", provided),
            ("record", sent),
            ("addendum", provided),
        ]
        events = [entry.event or {} for entry in stored.entries]
        assert [event.get("side") for event in events] == [
            "provider",
            "provider",
            "requester",
            "provider",
        ]
        assert (events[0]["error_code"], events[1]["error_code"]) == ("MAN001", None)
        hashes = [leaf_hash(canonical_bytes(event)) for event in events]
        assert [entry.leaf_hash for entry in stored.entries] == [h.hex() for h in hashes]
        public_key = base64.b64decode(service.log.public_key().public_key)
        assert [head.tree_size for head in stored.tree_heads] == [1, 2, 3, 4]
        for head in stored.tree_heads:
            assert verify_head(head, public_key)
            assert head.root_hash == MerkleTree(hashes[: head.tree_size]).root().hex()
        # The copy as first written is unchanged; its view shows the outcome.
        async with service.sessions() as session:
            row = await session.get(LocalRecord, (str(provided), "provider"))
        assert row is not None and row.error_code == "MAN001"
        [view] = await service.records(inquiry_id=provided)
        assert (view.status_detail, view.error_code, len(view.addenda)) == ("09", None, 1)

    run(tmp_path, scenario)


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_sqlite_triggers_refuse_update_and_delete(tmp_path: Path, table: str) -> None:
    async def scenario(service: IntermediateService, hub: ManualHub) -> None:
        await copies_addendum_and_outcome(service)

    run(tmp_path, scenario)
    column = "tree_size" if table == "tree_heads" else "leaf_index"
    connection = sqlite3.connect(tmp_path / "intermediate.sqlite3")
    try:
        for statement, refusal in (
            (f"UPDATE {table} SET {column} = 99", "UPDATE refused"),
            (f"DELETE FROM {table}", "DELETE refused"),
        ):
            with pytest.raises(sqlite3.IntegrityError, match=refusal):
                connection.execute(statement)
    finally:
        connection.close()


def test_the_log_survives_a_restart(tmp_path: Path) -> None:
    """A new service on the same database reads the stored leaves and appends after them."""
    roots: list[str] = []

    async def first(service: IntermediateService, hub: ManualHub) -> None:
        await copies_addendum_and_outcome(service)
        async with service.sessions() as session:
            roots.append((await service.log.latest_head(session)).root_hash)

    async def second(service: IntermediateService, hub: ManualHub) -> None:
        await service.log.load(service.sessions)
        assert service.log.tree.size == 4
        assert service.log.tree.root().hex() == roots[0]
        await service.inquire(order())
        async with service.sessions() as session:
            stored = await service.log.entries(session, 0, 10)
        assert [entry.leaf_index for entry in stored.entries] == [0, 1, 2, 3, 4]
        assert stored.latest.tree_size == 5

    run(tmp_path, first)
    run(tmp_path, second)
