"""The hub's record log: every record event is a leaf, heads are signed, the database refuses
changes, and one mistaken-person addendum per inquiry holds under concurrency."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from error_codes import IpnsimError
from ipnsim.storage import create_engine, loop_writer, migrate, sessionmaker, utcnow
from network.app import create_app
from network.db import MIGRATIONS
from network.manual import complete_manual_response
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.merkle import (
    MerkleTree,
    canonical_bytes,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from network.protocol.models import (
    ConsistencyProof,
    InclusionProof,
    InquiryResult,
    LogEntries,
    LogPublicKey,
    MistakenInquiryDeclaration,
    ProvisionAnswer,
    SignedTreeHead,
)
from network.protocol.record_log import Appender, verify_head
from network.registry import AgencyEntry, Registry
from network.service import HubService
from network.settings import HubSettings
from tests.postgres import scratch_database
from tests.unit.test_hub_service import (
    AGENCIES,
    ITEMS,
    ODAWARA,
    SECRET,
    YAMAGATA,
    FakeRouter,
    inquiry,
    issue,
    run,
)

ADMIN_TOKEN = "admin-token-for-unit-tests-0001"
DECLARATION = MistakenInquiryDeclaration(
    requester_code=YAMAGATA, reason="同姓同名の別人", declared_by_user="clerk01"
)
APPEND_ONLY = ("provision_records", "addenda", "record_outcomes", "record_log", "tree_heads")


class DeliveringRouter(FakeRouter):
    """A fake router that also takes final results for requesters."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[InquiryResult] = []

    async def deliver_result(self, requester: AgencyEntry, result: InquiryResult) -> None:
        self.results.append(result)


async def held_and_answered(service: HubService) -> uuid.UUID:
    """An inquiry held for the provider's staff (MAN001), then answered: a record and its
    outcome."""
    router = DeliveringRouter()
    router.answer_error = "MAN001"
    service.router = router  # type: ignore[assignment]
    pseudonym = await issue(service, YAMAGATA)
    request = inquiry(pseudonym)
    await service.inquire(AGENCIES[YAMAGATA], request)
    answer = ProvisionAnswer(inquiry_id=request.inquiry_id, provided_at=utcnow(), items=ITEMS)
    await complete_manual_response(service, AGENCIES[ODAWARA], answer)
    assert router.results[0].status_detail == "09"
    return request.inquiry_id


async def two_inquiries_and_an_addendum(service: HubService) -> list[uuid.UUID]:
    await issue(service, ODAWARA)
    pseudonym = await issue(service, YAMAGATA)
    first, second = inquiry(pseudonym), inquiry(pseudonym)
    await service.inquire(AGENCIES[YAMAGATA], first)
    await service.inquire(AGENCIES[YAMAGATA], second)
    await service.declare_mistaken(AGENCIES[YAMAGATA], first.inquiry_id, DECLARATION)
    return [first.inquiry_id, second.inquiry_id]


def test_records_and_addenda_are_leaves_with_a_signed_head_per_size(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        first, second = await two_inquiries_and_an_addendum(service)
        public_key = base64.b64decode(service.log.public_key().public_key)
        async with service.sessions() as session:
            stored = await service.log.entries(session, 0, 10)
        assert [(entry.leaf_index, entry.kind, entry.inquiry_id) for entry in stored.entries] == [
            (0, "record", first),
            (1, "record", second),
            (2, "addendum", first),
        ]
        hashes = []
        for entry in stored.entries:
            assert entry.event is not None
            digest = leaf_hash(canonical_bytes(entry.event))
            assert entry.leaf_hash == digest.hex()
            hashes.append(digest)
        assert [head.tree_size for head in stored.tree_heads] == [1, 2, 3]
        for head in stored.tree_heads:
            assert verify_head(head, public_key)
            assert head.root_hash == MerkleTree(hashes[: head.tree_size]).root().hex()
        assert stored.latest == stored.tree_heads[-1]
        forged = stored.latest.model_copy(update={"tree_size": 2})
        assert not verify_head(forged, public_key)

    run(tmp_path, scenario)


def sqlite_refuses(database: Path, statement: str) -> str:
    connection = sqlite3.connect(database)
    try:
        with pytest.raises(sqlite3.DatabaseError) as refused:
            connection.execute(statement)
        return str(refused.value)
    finally:
        connection.close()


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_sqlite_triggers_refuse_update_and_delete(tmp_path: Path, table: str) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await two_inquiries_and_an_addendum(service)
        await held_and_answered(service)

    run(tmp_path, scenario)
    database = tmp_path / "hub.sqlite3"
    column = "tree_size" if table == "tree_heads" else "leaf_index"
    assert "UPDATE refused" in sqlite_refuses(database, f"UPDATE {table} SET {column} = 99")
    assert "DELETE refused" in sqlite_refuses(database, f"DELETE FROM {table}")


@contextlib.contextmanager
def hub_database(backend: str, tmp_path: Path, name: str) -> Iterator[str]:
    """The URL of an empty database for hubs: an SQLite file, or a PostgreSQL database of its
    own (the test is skipped where no server answers), dropped at the end."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    with scratch_database(f"ipnsim_unit_{name}") as url:
        yield url


def test_postgresql_triggers_refuse_update_and_delete() -> None:
    async def go(url: str) -> None:
        engine = create_engine(url)
        try:
            await migrate(engine, MIGRATIONS)
            service = hub_service(engine)
            await two_inquiries_and_an_addendum(service)
            await held_and_answered(service)
            for table in APPEND_ONLY:
                column = "tree_size" if table == "tree_heads" else "leaf_index"
                for statement in (f"UPDATE {table} SET {column} = 99", f"DELETE FROM {table}"):
                    with pytest.raises(DBAPIError, match="append-only table"):
                        async with engine.begin() as connection:
                            await connection.execute(text(statement))
        finally:
            await engine.dispose()

    with scratch_database("ipnsim_unit_log") as url:
        asyncio.run(go(url))


def hub_service(engine: Any, router: FakeRouter | None = None) -> HubService:
    return HubService(
        sessionmaker(engine),
        Registry(dict(AGENCIES)),
        PermissionTable.load(HubSettings.model_fields["permissions_file"].default, catalogue()),
        catalogue(),
        router or FakeRouter(),  # type: ignore[arg-type]
        SECRET,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_hubs_declaring_the_same_inquiry_at_once_append_one_addendum(
    tmp_path: Path, backend: str
) -> None:
    """Two hub processes (two services, two engines, two in-memory logs) on one database: one
    addendum per inquiry, and one gap-free sequence of leaves."""

    async def go(url: str) -> None:
        engines = [create_engine(url), create_engine(url)]
        try:
            await migrate(engines[0], MIGRATIONS)
            hubs = [hub_service(engine) for engine in engines]
            await issue(hubs[0], ODAWARA)
            pseudonym = await issue(hubs[0], YAMAGATA)
            for round_ in range(3):  # concurrent rounds, each on a new inquiry
                request = inquiry(pseudonym)
                await hubs[round_ % 2].inquire(AGENCIES[YAMAGATA], request)
                other = DECLARATION.model_copy(update={"reason": "別の理由"})
                outcomes = await asyncio.gather(
                    *(
                        hub.declare_mistaken(AGENCIES[YAMAGATA], request.inquiry_id, declared)
                        for hub, declared in zip(hubs, (DECLARATION, other), strict=True)
                    ),
                    hubs[1].inquire(AGENCIES[YAMAGATA], inquiry(pseudonym)),
                    return_exceptions=True,
                )
                refused = [o for o in outcomes if isinstance(o, IpnsimError)]
                assert len(refused) == 1, outcomes
                assert refused[0].code == "REC005"
                record = await hubs[0].record(None, request.inquiry_id)
                assert len(record.addenda) == 1
            await hubs[0].log.refresh(hubs[0].sessions)
            async with hubs[0].sessions() as session:
                stored = await hubs[0].log.entries(session, 0, 100)
            assert [entry.leaf_index for entry in stored.entries] == list(range(9))
            assert stored.latest.tree_size == 9
            hashes = [bytes.fromhex(entry.leaf_hash or "") for entry in stored.entries]
            assert [entry.event is not None for entry in stored.entries] == [True] * 9
            assert stored.latest.root_hash == MerkleTree(hashes).root().hex()
            assert [head.tree_size for head in stored.tree_heads] == list(range(1, 10))
        finally:
            for engine in engines:
                await engine.dispose()

    with hub_database(backend, tmp_path, "hubs") as url:
        asyncio.run(go(url))


def test_the_unique_index_refuses_a_second_mistaken_person_addendum(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await two_inquiries_and_an_addendum(service)

    run(tmp_path, scenario)
    connection = sqlite3.connect(tmp_path / "hub.sqlite3")
    try:
        inquiry_id = connection.execute(
            "SELECT inquiry_id FROM addenda WHERE kind = 'mistaken_person'"
        ).fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            connection.execute(
                "INSERT INTO addenda (addendum_id, inquiry_id, kind, reason, declared_by_agency, "
                "declared_by_user, declared_at) VALUES (?, ?, 'mistaken_person', 'r', ?, 'u', "
                "'2026-06-15 01:00:00')",
                (str(uuid.uuid4()), inquiry_id, YAMAGATA),
            )
    finally:
        connection.close()


# --- over HTTP ----------------------------------------------------------------------------


def call_hub_log(tmp_path: Path, scenario: Any) -> None:
    registry_file = tmp_path / "registry.json"
    registry_file.write_text(
        json.dumps({"agencies": [entry.model_dump(mode="json") for entry in AGENCIES.values()]}),
        encoding="utf-8",
    )
    app = create_app(
        HubSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}",
            registry_file=registry_file,
            secret=SECRET.decode(),
            admin_token=ADMIN_TOKEN,
        )
    )

    async def go() -> None:
        async with app.router.lifespan_context(app):
            service: HubService = app.state.service
            service.router = FakeRouter()  # type: ignore[assignment]
            ids = await two_inquiries_and_an_addendum(service)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hub"
            ) as client:
                await scenario(client, ids)

    asyncio.run(go())


def test_tree_head_and_proofs_over_http_verify(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, ids: list[uuid.UUID]) -> None:
        key = LogPublicKey.model_validate((await client.get("/v1/log/public-key")).json())
        public_key = base64.b64decode(key.public_key)
        head = SignedTreeHead.model_validate((await client.get("/v1/log/tree-head")).json())
        assert (head.log_id, head.tree_size) == ("hub", 3)
        assert verify_head(head, public_key)
        proof = InclusionProof.model_validate(
            (await client.get("/v1/log/proof/inclusion", params={"inquiry_id": str(ids[1])})).json()
        )
        assert (proof.leaf_index, proof.tree_size, proof.inquiry_id) == (1, 3, ids[1])
        assert proof.tree_head == head
        assert verify_inclusion(
            1,
            3,
            bytes.fromhex(proof.leaf_hash),
            [bytes.fromhex(node) for node in proof.audit_path],
            bytes.fromhex(head.root_hash),
        )
        older = InclusionProof.model_validate(
            (
                await client.get(
                    "/v1/log/proof/inclusion", params={"leaf_index": 0, "tree_size": 2}
                )
            ).json()
        )
        assert older.tree_head.tree_size == 2 and verify_head(older.tree_head, public_key)
        consistency = ConsistencyProof.model_validate(
            (await client.get("/v1/log/proof/consistency", params={"first": 2})).json()
        )
        assert consistency.first_root_hash == older.tree_head.root_hash
        assert verify_consistency(
            2,
            3,
            bytes.fromhex(older.tree_head.root_hash),
            bytes.fromhex(consistency.second_tree_head.root_hash),
            [bytes.fromhex(node) for node in consistency.consistency_path],
        )

    call_hub_log(tmp_path, scenario)


def test_bad_proof_requests_and_entries_without_the_operator_token_are_refused(
    tmp_path: Path,
) -> None:
    async def scenario(client: httpx.AsyncClient, ids: list[uuid.UUID]) -> None:
        too_big = await client.get("/v1/log/proof/inclusion", params={"leaf_index": 3})
        assert (too_big.status_code, too_big.json()["code"]) == (422, "VAL001")
        assert "tree_size 3" in too_big.json()["message_en"]
        unknown = await client.get(
            "/v1/log/proof/inclusion", params={"inquiry_id": str(uuid.uuid4())}
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "REC001")
        beyond = await client.get("/v1/log/proof/consistency", params={"first": 2, "second": 4})
        assert beyond.json()["code"] == "VAL001"
        assert "the log has 3 leaves" in beyond.json()["message_en"]
        anonymous = await client.get("/v1/log/entries")
        assert anonymous.json()["code"] == "AUT001"
        entries = await client.get(
            "/v1/log/entries", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        stored = LogEntries.model_validate(entries.json())
        assert [entry.inquiry_id for entry in stored.entries] == [ids[0], ids[1], ids[0]]

    call_hub_log(tmp_path, scenario)


def test_a_later_outcome_is_a_leaf_and_the_record_shows_it(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        inquiry_id = await held_and_answered(service)
        async with service.sessions() as session:
            stored = await service.log.entries(session, 0, 10)
        assert [(entry.kind, entry.inquiry_id) for entry in stored.entries] == [
            ("record", inquiry_id),
            ("outcome", inquiry_id),
        ]
        assert stored.entries[0].event is not None and stored.entries[1].event is not None
        assert stored.entries[0].event["error_code"] == "MAN001"
        assert stored.entries[1].event["error_code"] is None
        record = await service.record(None, inquiry_id)
        assert (record.status_detail, record.status_info_type) == ("09", "01")
        assert record.item_codes == [item.code for item in ITEMS]

    run(tmp_path, scenario)


# --- group commit ---------------------------------------------------------------------------


class CommitCounter:
    """The transactions committed through ``service``'s database from its creation on: through
    its engine, and through the loop writer that appends records to an SQLite file."""

    def __init__(self, service: HubService) -> None:
        engine = service.sessions.kw["bind"]
        self._writer = loop_writer(engine)
        self._writer_before = self._writer.committed if self._writer else 0
        self._through_engine = 0
        event.listen(engine.sync_engine, "commit", self._engine_commit)

    def _engine_commit(self, _: Any) -> None:
        self._through_engine += 1

    @property
    def count(self) -> int:
        through_writer = self._writer.committed - self._writer_before if self._writer else 0
        return self._through_engine + through_writer


async def stored_leaves(service: HubService) -> LogEntries:
    async with service.sessions() as session:
        return await service.log.entries(session, 0, 100)


def test_concurrent_records_share_their_commits(tmp_path: Path) -> None:
    """Inquiries recorded at the same moment are committed together, each its own leaf, with one
    signed head per commit, and every one answered after the commit that made it durable."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        requests = [inquiry(pseudonym) for _ in range(12)]
        commits = CommitCounter(service)
        results = await asyncio.gather(
            *(service.inquire(AGENCIES[YAMAGATA], request) for request in requests)
        )
        assert [result.status_detail for result in results] == ["09"] * 12
        assert 1 <= commits.count <= 6
        stored = await stored_leaves(service)
        assert sorted(str(entry.inquiry_id) for entry in stored.entries) == sorted(
            str(request.inquiry_id) for request in requests
        )
        assert [entry.leaf_index for entry in stored.entries] == list(range(12))
        sizes = [head.tree_size for head in stored.tree_heads]
        assert sizes == sorted(set(sizes)) and sizes[-1] == 12
        assert len(sizes) == commits.count < 12  # one head per commit, not one per leaf
        hashes = [bytes.fromhex(entry.leaf_hash or "") for entry in stored.entries]
        assert stored.latest.root_hash == MerkleTree(hashes).root().hex()
        public_key = base64.b64decode(service.log.public_key().public_key)
        assert all(verify_head(head, public_key) for head in stored.tree_heads)
        for head in stored.tree_heads:
            assert head.root_hash == MerkleTree(hashes[: head.tree_size]).root().hex()

    run(tmp_path, scenario)


async def behind_a_held_write(
    service: HubService, *writes: Callable[[], Awaitable[object]]
) -> tuple[list[object], int]:
    """Start ``writes`` one after the other while another write holds the log, so that they
    queue up in that order and form one group; their outcomes (or errors), in order, and the commits made after the hold."""
    gate = asyncio.Event()

    async def hold(session: AsyncSession, _: Appender) -> None:
        await session.connection()  # it holds a connection, and commits, like any write
        await gate.wait()

    holding = asyncio.create_task(service.log.write(service.sessions, hold))
    await asyncio.sleep(0.05)
    tasks = []
    for write in writes:
        tasks.append(asyncio.create_task(write()))
        await asyncio.sleep(0.1)  # until it waits for the log: they queue in this order
    commits = CommitCounter(service)
    gate.set()
    await holding
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    return list(outcomes), commits.count - 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_write_that_fails_in_a_group_fails_alone(tmp_path: Path, backend: str) -> None:
    """A duplicate inquiry id among writes committed together is refused (REC004) by itself:
    the others are recorded, in the order they came."""

    async def go(url: str) -> None:
        engine = create_engine(url)
        try:
            await migrate(engine, MIGRATIONS)
            service = hub_service(engine)
            await issue(service, ODAWARA)
            pseudonym = await issue(service, YAMAGATA)
            first, second = inquiry(pseudonym), inquiry(pseudonym)
            outcomes, commits = await behind_a_held_write(
                service,
                lambda: service.inquire(AGENCIES[YAMAGATA], first),
                lambda: service.inquire(AGENCIES[YAMAGATA], first),
                lambda: service.inquire(AGENCIES[YAMAGATA], second),
            )
            assert isinstance(outcomes[0], InquiryResult)
            assert isinstance(outcomes[1], IpnsimError) and outcomes[1].code == "REC004"
            assert isinstance(outcomes[2], InquiryResult)
            assert commits == 2  # the group was rolled back; each write again on its own
            stored = await stored_leaves(service)
            assert [entry.inquiry_id for entry in stored.entries] == [
                first.inquiry_id,
                second.inquiry_id,
            ]
            assert [head.tree_size for head in stored.tree_heads] == [1, 2]
            assert service.log.tree.size == 2
        finally:
            await engine.dispose()

    with hub_database(backend, tmp_path, "group") as url:
        asyncio.run(go(url))


def test_writes_that_wait_together_commit_once_in_order(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        requests = [inquiry(pseudonym) for _ in range(4)]
        outcomes, commits = await behind_a_held_write(
            service,
            *(
                (lambda request=request: service.inquire(AGENCIES[YAMAGATA], request))
                for request in requests
            ),
        )
        assert all(isinstance(outcome, InquiryResult) for outcome in outcomes)
        assert commits == 1
        stored = await stored_leaves(service)
        assert [entry.inquiry_id for entry in stored.entries] == [
            request.inquiry_id for request in requests
        ]

    run(tmp_path, scenario)


def test_a_write_given_up_while_waiting_is_not_written(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        kept, dropped = inquiry(pseudonym), inquiry(pseudonym)
        gate = asyncio.Event()

        async def hold(session: AsyncSession, _: Appender) -> None:
            await gate.wait()

        holding = asyncio.create_task(service.log.write(service.sessions, hold))
        await asyncio.sleep(0.05)
        writes = [
            asyncio.create_task(service.inquire(AGENCIES[YAMAGATA], request))
            for request in (dropped, kept)
        ]
        await asyncio.sleep(0.3)  # both wait for the log
        writes[0].cancel()
        gate.set()
        await holding
        assert isinstance(await writes[1], InquiryResult)
        with pytest.raises(asyncio.CancelledError):
            await writes[0]
        stored = await stored_leaves(service)
        assert [entry.inquiry_id for entry in stored.entries] == [kept.inquiry_id]

    run(tmp_path, scenario)


def test_a_group_whose_caller_gave_up_during_its_commit_is_written_once(
    tmp_path: Path,
) -> None:
    """When the write leading a group is cancelled while the group's commit runs, the commit
    still ends, the other writes of the group are answered as written, and nothing is written
    twice: the log and the stored leaves agree, and the next record follows on."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        writer = loop_writer(service.sessions.kw["bind"])
        assert writer is not None
        writer.commit_seconds = 1.0  # as on a slow disk: the commit goes to the writer's thread
        commit_started, commit_may_end = threading.Event(), threading.Event()
        commit_now = writer._commit_now

        def slow_commit(driver: sqlite3.Connection) -> None:
            commit_started.set()
            commit_may_end.wait(10)
            commit_now(driver)

        writer._commit_now = slow_commit  # type: ignore[method-assign]
        gate = asyncio.Event()

        async def hold(session: AsyncSession, _: Appender) -> None:
            await session.connection()
            await gate.wait()

        holding = asyncio.create_task(service.log.write(service.sessions, hold))
        await asyncio.sleep(0.05)
        requests = [inquiry(pseudonym) for _ in range(3)]
        writes = []
        for request in requests:
            writes.append(asyncio.create_task(service.inquire(AGENCIES[YAMAGATA], request)))
            await asyncio.sleep(0.1)  # until it waits for the log: they queue in this order
        gate.set()
        await holding
        assert await asyncio.to_thread(commit_started.wait, 10)
        writes[0].cancel()  # the group's leader, its commit on the writer's thread
        await asyncio.sleep(0.05)
        commit_may_end.set()
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        writer._commit_now = commit_now  # type: ignore[method-assign]

        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert all(isinstance(outcome, InquiryResult) for outcome in outcomes[1:]), outcomes
        stored = await stored_leaves(service)
        assert [entry.inquiry_id for entry in stored.entries] == [
            request.inquiry_id for request in requests
        ]
        assert service.log.tree.size == 3
        after = await service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
        assert after.status_detail == "09"
        assert service.log.tree.size == 4
        assert len((await stored_leaves(service)).entries) == 4

    run(tmp_path, scenario)


def test_records_go_through_the_loop_writer_and_wait_for_a_lock_held_elsewhere(
    tmp_path: Path,
) -> None:
    """On an SQLite file a record is appended by the loop writer; while another connection
    holds the file's write lock, it is written through the session instead (which waits for
    the lock), and the log stays whole."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        writer = loop_writer(service.sessions.kw["bind"])
        assert writer is not None
        before = writer.committed
        first = await service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym))
        assert writer.committed == before + 1

        other = sqlite3.connect(tmp_path / "hub.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            second = asyncio.create_task(service.inquire(AGENCIES[YAMAGATA], inquiry(pseudonym)))
            await asyncio.sleep(0.3)
            assert not second.done()  # waiting for the lock, on the session's thread
            other.execute("ROLLBACK")
        finally:
            other.close()
        answered = await second
        assert writer.committed == before + 1

        stored = await stored_leaves(service)
        assert [entry.inquiry_id for entry in stored.entries] == [
            first.inquiry_id,
            answered.inquiry_id,
        ]
        assert [head.tree_size for head in stored.tree_heads] == [1, 2]
        hashes = [bytes.fromhex(entry.leaf_hash or "") for entry in stored.entries]
        assert stored.latest.root_hash == MerkleTree(hashes).root().hex()
        assert service.log.tree.size == 2

    run(tmp_path, scenario)
