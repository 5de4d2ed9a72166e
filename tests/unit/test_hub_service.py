"""The hub's behaviour on a real SQLite database, with a fake router to the providers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from error_codes import IpnsimError
from ipnsim.storage import create_engine, loop_reads, migrate, sessionmaker
from network.db import MIGRATIONS, HubAddendum, HubRecord, IssuedPseudonym
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.models import (
    Addendum,
    AgencyKind,
    InquiryRequest,
    MistakenInquiryDeclaration,
    ProvisionAnswer,
    ProvisionRequest,
    ReplicaItem,
)
from network.registry import AgencyEntry, Registry
from network.service import HubService
from network.settings import HubSettings
from tests.unit.raising import expect

SECRET = b"hub-secret-for-unit-tests-0001"
YAMAGATA = "2006201400000000"
ODAWARA = "2014206900000000"
FUKUOKA = "2040130700000000"
DIGITAL = "1419900000002200"
UNKNOWN = "2001692600000000"
RESIDENT = "12345678901"
OTHER_RESIDENT = "98765432109"

NHI_TAX = {
    "affair_code": "JM01000000121000",
    "procedure_code": "JT01010000000214",
    "info_type_code": "TM00000000000002",
}
ITEMS = [ReplicaItem(code="I001", value="2025"), ReplicaItem(code="I002", value="3500000")]


def entry(code: str, name: str, kind: AgencyKind) -> AgencyEntry:
    return AgencyEntry(
        code=code,
        name_ja=name,
        name_en=name,
        kind=kind,
        base_url=f"http://127.0.0.1:1/{code}",
        credential=f"credential-of-{code}",
    )


AGENCIES = {
    agency.code: agency
    for agency in (
        entry(YAMAGATA, "山形市", AgencyKind.MUNICIPALITY),
        entry(ODAWARA, "小田原市", AgencyKind.MUNICIPALITY),
        entry(FUKUOKA, "福岡市", AgencyKind.MUNICIPALITY),
        entry(DIGITAL, "デジタル庁", AgencyKind.DIGITAL_AGENCY),
    )
}


class FakeRouter:
    """Stands in for ProviderRouter: answers from ``items`` or fails with ``fail_with``."""

    def __init__(self) -> None:
        self.provided: list[tuple[str, ProvisionRequest]] = []
        self.delivered: list[tuple[str, Addendum]] = []
        self.fail_with: str | None = None
        self.deliver_fails_with: str | None = None
        self.answer_error: str | None = None
        self.provider_non_disclosure = False

    async def provide(self, provider: AgencyEntry, request: ProvisionRequest) -> ProvisionAnswer:
        self.provided.append((provider.code, request))
        if self.fail_with is not None:
            raise IpnsimError(self.fail_with, provider_code=provider.code)
        if self.answer_error is not None:
            return ProvisionAnswer(
                inquiry_id=request.inquiry_id,
                provided_at=dt.datetime.now(dt.UTC),
                error=IpnsimError(self.answer_error).body(),
            )
        return ProvisionAnswer(
            inquiry_id=request.inquiry_id,
            provided_at=dt.datetime.now(dt.UTC),
            items=ITEMS,
            provider_non_disclosure=self.provider_non_disclosure,
        )

    async def deliver_addendum(self, provider: AgencyEntry, addendum: Addendum) -> None:
        if self.deliver_fails_with is not None:
            raise IpnsimError(self.deliver_fails_with, provider_code=provider.code)
        self.delivered.append((provider.code, addendum))


Scenario = Callable[[HubService, FakeRouter], Awaitable[None]]


def run(tmp_path: Path, scenario: Scenario) -> FakeRouter:
    router = FakeRouter()

    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            permissions = PermissionTable.load(
                HubSettings.model_fields["permissions_file"].default, catalogue()
            )
            service = HubService(
                sessionmaker(engine),
                Registry(dict(AGENCIES)),
                permissions,
                catalogue(),
                router,  # type: ignore[arg-type]
                SECRET,
            )
            await scenario(service, router)
        finally:
            await engine.dispose()

    asyncio.run(go())
    return router


async def issue(service: HubService, agency: str, resident: str = RESIDENT) -> str:
    return await service.issue_pseudonym(AGENCIES[agency], agency, resident)


def inquiry(
    pseudonym: str,
    provider: str = ODAWARA,
    requester: str = YAMAGATA,
    inquiry_id: uuid.UUID | None = None,
    **overrides: Any,
) -> InquiryRequest:
    fields: dict[str, object] = {
        "inquiry_id": inquiry_id or uuid.uuid4(),
        "requester_code": requester,
        "requester_pseudonym": pseudonym,
        "provider_code": provider,
        "requested_at": dt.datetime(2026, 6, 15, 1, tzinfo=dt.UTC),
        **NHI_TAX,
    } | overrides
    return InquiryRequest.model_validate(fields)


async def hub_row(service: HubService, inquiry_id: uuid.UUID) -> HubRecord:
    async with service.sessions() as session:
        row = await session.get(HubRecord, str(inquiry_id))
    assert row is not None
    return row


# --- 符号 ---------------------------------------------------------------------------------


def test_pseudonym_issuance_is_idempotent_and_per_agency(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        first = await issue(service, YAMAGATA)
        assert await issue(service, YAMAGATA) == first
        odawara = await issue(service, ODAWARA)
        assert odawara != first
        assert await issue(service, YAMAGATA, OTHER_RESIDENT) not in {first, odawara}
        async with service.sessions() as session:
            rows = list(await session.scalars(select(IssuedPseudonym)))
        assert len(rows) == 3
        assert {row.agency_code for row in rows} == {YAMAGATA, ODAWARA}
        assert all(RESIDENT not in row.person_key for row in rows)
        keys = {row.pseudonym: row.person_key for row in rows}
        assert keys[first] == keys[odawara]

    run(tmp_path, scenario)


def test_pseudonym_for_another_agency_is_aut002(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        error = await expect(
            service.issue_pseudonym(AGENCIES[YAMAGATA], ODAWARA, RESIDENT), "AUT002"
        )
        assert "２０１４２０６９" in error.message_ja

    run(tmp_path, scenario)


# --- 情報照会 -----------------------------------------------------------------------------


def test_successful_inquiry_converts_the_pseudonym_and_is_recorded(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        provider_pseudonym = await issue(service, ODAWARA)
        request = inquiry(requester_pseudonym)
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is None
        assert (result.status_detail, result.status_info_type) == ("09", "01")
        assert result.items == ITEMS
        assert result.provider_name == "小田原市"

        [(code, sent)] = router.provided
        assert code == ODAWARA
        assert sent.provider_pseudonym == provider_pseudonym
        assert sent.requester_name == "山形市"
        assert requester_pseudonym not in sent.model_dump_json()

        record = await service.record(None, request.inquiry_id)
        assert record.item_codes == ["I001", "I002"]
        assert record.error_code is None
        assert record.provided_at is not None
        assert (await hub_row(service, request.inquiry_id)).provider_reached is True
        # Requester and provider may read the record; others may not.
        assert (await service.record(AGENCIES[ODAWARA], request.inquiry_id)).inquiry_id == (
            request.inquiry_id
        )
        await expect(service.record(AGENCIES[FUKUOKA], request.inquiry_id), "REC001")

    run(tmp_path, scenario)


def test_unknown_requester_pseudonym_is_idn003(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        request = inquiry("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "IDN003"
        row = await hub_row(service, request.inquiry_id)
        assert row.error_code == "IDN003"
        assert row.person_key is None
        assert row.provider_reached is False

    router = run(tmp_path, scenario)
    assert router.provided == []


def test_pseudonym_issued_to_another_agency_is_idn003(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        odawara_pseudonym = await issue(service, ODAWARA)
        await issue(service, YAMAGATA)
        result = await service.inquire(AGENCIES[YAMAGATA], inquiry(odawara_pseudonym))
        assert result.error is not None
        assert result.error.code == "IDN003"

    assert run(tmp_path, scenario).provided == []


def test_unknown_provider_is_agy001(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = inquiry(await issue(service, YAMAGATA), provider=UNKNOWN)
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "AGY001"
        assert (result.status_detail, result.status_info_type) == ("99", "99")
        row = await hub_row(service, request.inquiry_id)
        assert (row.error_code, row.provider_code, row.provider_name) == ("AGY001", UNKNOWN, "")

    assert run(tmp_path, scenario).provided == []


def test_not_permitted_is_prm001(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, DIGITAL)
        request = inquiry(await issue(service, YAMAGATA), provider=DIGITAL)
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "PRM001"
        assert "ＴＭ０００００００００００００２" in result.error.message_ja
        assert (await hub_row(service, request.inquiry_id)).error_code == "PRM001"

    assert run(tmp_path, scenario).provided == []


def test_provider_without_pseudonym_is_idn004(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = inquiry(await issue(service, YAMAGATA), provider=FUKUOKA)
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "IDN004"
        row = await hub_row(service, request.inquiry_id)
        assert row.error_code == "IDN004"
        assert row.person_key is not None

    assert run(tmp_path, scenario).provided == []


def test_provider_pseudonym_issued_after_idn004_is_found(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        first = await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
        assert first.error is not None
        assert first.error.code == "IDN004"
        provider_pseudonym = await issue(service, ODAWARA)
        second = await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
        assert second.error is None
        [(_, sent)] = router.provided
        assert sent.provider_pseudonym == provider_pseudonym

    run(tmp_path, scenario)


class StatementsRun:
    """The SQL statements the hub's database runs from now until :meth:`stop`: through the
    async engine, or on the loop reads' own connection (SQLite files)."""

    def __init__(self, service: HubService) -> None:
        self.seen: list[str] = []
        engine = service.sessions.kw["bind"]
        self._engine = engine.sync_engine
        self._reads = loop_reads(engine)
        event.listen(self._engine, "before_cursor_execute", self._note)
        if self._reads.on_loop_thread:
            self._reads.trace(self.seen.append)

    def _note(self, *arguments: Any) -> None:
        self.seen.append(arguments[2])

    def stop(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._note)
        if self._reads.on_loop_thread:
            self._reads.trace(None)


def test_issued_pseudonyms_are_read_once(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        provider_pseudonym = await issue(service, ODAWARA)
        watch = StatementsRun(service)
        for _ in range(3):
            result = await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
            assert result.error is None
        watch.stop()
        reads = [s for s in watch.seen if "FROM issued_pseudonyms" in s]
        assert len(reads) == 2
        assert [sent.provider_pseudonym for _, sent in router.provided] == [provider_pseudonym] * 3
        stranger = await service.inquire(
            AGENCIES[ODAWARA], inquiry(requester_pseudonym, requester=ODAWARA)
        )
        assert stranger.error is not None
        assert stranger.error.code == "IDN003"

    run(tmp_path, scenario)


def test_a_second_hub_on_the_database_reads_what_the_first_wrote(tmp_path: Path) -> None:
    """Another hub process (its own empty cache) finds the 符号 and the records in the
    database: it converts the same 符号 and refuses an inquiry id the first hub recorded."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        provider_pseudonym = await issue(service, ODAWARA)
        request = inquiry(requester_pseudonym)
        assert (await service.inquire(AGENCIES[YAMAGATA], request)).error is None
        other = HubService(
            service.sessions,
            service.registry,
            service.permissions,
            service.catalogue,
            router,  # type: ignore[arg-type]
            SECRET,
        )
        await expect(other.inquire(AGENCIES[YAMAGATA], request), "REC004")
        assert (await other.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))).error is None
        assert other.issued.owner(requester_pseudonym) == service.issued.owner(requester_pseudonym)
        assert [sent.provider_pseudonym for _, sent in router.provided] == [provider_pseudonym] * 2

    run(tmp_path, scenario)


def test_an_inquiry_is_routed_after_one_read_when_its_pseudonyms_are_known(
    tmp_path: Path,
) -> None:
    """Before routing, only whether the inquiry id is new is read (the 符号 come from memory)."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        requester_pseudonym = await issue(service, YAMAGATA)
        await issue(service, ODAWARA)
        await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
        provide = router.provide

        async def provide_after_reads(
            provider: AgencyEntry, request: ProvisionRequest
        ) -> ProvisionAnswer:
            watch.stop()
            return await provide(provider, request)

        router.provide = provide_after_reads  # type: ignore[method-assign]
        watch = StatementsRun(service)
        assert (
            await service.inquire(AGENCIES[YAMAGATA], inquiry(requester_pseudonym))
        ).error is None
        assert len(watch.seen) == 1
        assert "FROM provision_records" in watch.seen[0]

    run(tmp_path, scenario)


def test_unreachable_provider_is_recorded_as_not_reached(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        router.fail_with = "AVL001"
        request = inquiry(await issue(service, YAMAGATA))
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "AVL001"
        assert result.items == []
        row = await hub_row(service, request.inquiry_id)
        assert row.error_code == "AVL001"
        assert row.provider_reached is False
        assert row.provided_at is None
        assert (row.status_detail, row.status_info_type) == ("99", "99")

    assert len(run(tmp_path, scenario).provided) == 1


@pytest.mark.parametrize("code", ["AVL002", "AVL005"])
def test_a_provider_that_may_have_recorded_counts_as_reached(tmp_path: Path, code: str) -> None:
    """A timed-out or garbled answer may follow a provision the provider did record."""

    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        router.fail_with = code
        request = inquiry(await issue(service, YAMAGATA))
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == code
        assert (await hub_row(service, request.inquiry_id)).provider_reached is True
        router.fail_with = None
        await service.declare_mistaken(AGENCIES[YAMAGATA], request.inquiry_id, declaration())

    assert [code for code, _ in run(tmp_path, scenario).delivered] == [ODAWARA]


def test_provider_without_replica_is_09_02(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        router.answer_error = "RPL001"
        request = inquiry(await issue(service, YAMAGATA))
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert (result.status_detail, result.status_info_type) == ("09", "02")
        assert result.error is not None
        assert result.error.code == "RPL001"
        row = await hub_row(service, request.inquiry_id)
        assert row.provider_reached is True
        assert row.item_codes == []

    run(tmp_path, scenario)


def test_same_inquiry_id_twice_is_rec004(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        await issue(service, ODAWARA)
        pseudonym = await issue(service, YAMAGATA)
        request = inquiry(pseudonym)
        await service.inquire(AGENCIES[YAMAGATA], request)
        error = await expect(service.inquire(AGENCIES[YAMAGATA], request), "REC004")
        assert str(request.inquiry_id) in error.message_en
        # A failed inquiry also uses up its id.
        failed = inquiry(pseudonym, provider=UNKNOWN)
        await service.inquire(AGENCIES[YAMAGATA], failed)
        await expect(service.inquire(AGENCIES[YAMAGATA], failed), "REC004")
        async with service.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(HubRecord)) == 2

    assert len(run(tmp_path, scenario).provided) == 1


def test_requester_code_must_be_the_caller(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = inquiry(await issue(service, YAMAGATA))
        error = await expect(service.inquire(AGENCIES[ODAWARA], request), "AUT002")
        assert error.http_status == 403
        await expect(service.record(None, request.inquiry_id), "REC001")

    assert run(tmp_path, scenario).provided == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"affair_code": "JM09999999999999"}, "VAL006"),
        ({"procedure_code": "JT09999999999999"}, "VAL006"),
        ({"info_type_code": "TM00000000000999"}, "VAL006"),
        ({"affair_code": "JM01000000231000"}, "PRM002"),
    ],
)
def test_undefined_or_mismatched_codes_are_refused(
    tmp_path: Path, overrides: dict[str, Any], code: str
) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = inquiry(await issue(service, YAMAGATA), **overrides)
        await expect(service.inquire(AGENCIES[YAMAGATA], request), code)
        await expect(service.record(None, request.inquiry_id), "REC001")

    run(tmp_path, scenario)


# --- 追記 -----------------------------------------------------------------------------------


async def successful_inquiry(service: HubService, **overrides: Any) -> InquiryRequest:
    await issue(service, ODAWARA)
    request = inquiry(await issue(service, YAMAGATA), **overrides)
    await service.inquire(AGENCIES[YAMAGATA], request)
    return request


def declaration(requester: str = YAMAGATA) -> MistakenInquiryDeclaration:
    return MistakenInquiryDeclaration(
        requester_code=requester, reason="wrong person", declared_by_user="clerk01"
    )


def test_only_the_requester_may_declare(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = await successful_inquiry(service)
        await expect(
            service.declare_mistaken(AGENCIES[ODAWARA], request.inquiry_id, declaration(ODAWARA)),
            "REC002",
        )
        await expect(
            service.declare_mistaken(AGENCIES[ODAWARA], request.inquiry_id, declaration()),
            "AUT002",
        )
        await expect(
            service.declare_mistaken(AGENCIES[YAMAGATA], uuid.uuid4(), declaration()), "REC001"
        )
        assert (await service.record(None, request.inquiry_id)).addenda == []

    assert run(tmp_path, scenario).delivered == []


def test_declaring_again_is_idempotent_and_another_declaration_is_rec005(
    tmp_path: Path,
) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = await successful_inquiry(service)
        before = await service.record(None, request.inquiry_id)
        first = await service.declare_mistaken(
            AGENCIES[YAMAGATA], request.inquiry_id, declaration()
        )
        repeated = await service.declare_mistaken(
            AGENCIES[YAMAGATA], request.inquiry_id, declaration()
        )
        assert repeated == first
        other = declaration().model_copy(update={"reason": "another reason"})
        error = await expect(
            service.declare_mistaken(AGENCIES[YAMAGATA], request.inquiry_id, other),
            "REC005",
        )
        assert error.http_status == 409
        assert not error.entry.retryable
        assert str(request.inquiry_id) in error.message_en
        assert first.inquiry_id == request.inquiry_id
        assert first.declared_by_agency == YAMAGATA
        after = await service.record(None, request.inquiry_id)
        assert after.addenda == [first]
        assert after.model_copy(update={"addenda": []}) == before
        async with service.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(HubAddendum)) == 1

    router = run(tmp_path, scenario)
    assert [code for code, _ in router.delivered] == [ODAWARA]


def test_undelivered_addendum_is_delivered_later(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = await successful_inquiry(service)
        router.deliver_fails_with = "AVL001"
        addendum = await service.declare_mistaken(
            AGENCIES[YAMAGATA], request.inquiry_id, declaration()
        )
        assert router.delivered == []
        assert await service.deliver_pending_addenda() == 0
        router.deliver_fails_with = None
        assert await service.deliver_pending_addenda() == 1
        assert router.delivered == [(ODAWARA, addendum)]
        assert await service.deliver_pending_addenda() == 0
        assert len(router.delivered) == 1

    run(tmp_path, scenario)


def test_addendum_of_an_inquiry_that_never_reached_the_provider(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = inquiry(await issue(service, YAMAGATA), provider=FUKUOKA)
        await service.inquire(AGENCIES[YAMAGATA], request)
        addendum = await service.declare_mistaken(
            AGENCIES[YAMAGATA], request.inquiry_id, declaration()
        )
        assert (await service.record(None, request.inquiry_id)).addenda == [addendum]
        assert await service.deliver_pending_addenda() == 0

    assert run(tmp_path, scenario).delivered == []


# --- disclosure -------------------------------------------------------------------------------


def test_disclosure_excludes_non_disclosed_records(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        odawara = await issue(service, ODAWARA)
        yamagata = await issue(service, YAMAGATA)
        other = await issue(service, YAMAGATA, OTHER_RESIDENT)
        shown = inquiry(yamagata)
        hidden_by_requester = inquiry(yamagata, requester_non_disclosure=True)
        for request in (shown, hidden_by_requester):
            await service.inquire(AGENCIES[YAMAGATA], request)
        router.provider_non_disclosure = True
        hidden_by_provider = inquiry(yamagata)
        await service.inquire(AGENCIES[YAMAGATA], hidden_by_provider)
        await service.inquire(AGENCIES[YAMAGATA], inquiry(other, provider=FUKUOKA))

        view = await service.disclose(AGENCIES[YAMAGATA], YAMAGATA, yamagata)
        assert [record.inquiry_id for record in view.records] == [shown.inquiry_id]
        # The same person seen through the provider's 符号.
        view = await service.disclose(AGENCIES[ODAWARA], ODAWARA, odawara)
        assert [record.inquiry_id for record in view.records] == [shown.inquiry_id]

        await expect(service.disclose(AGENCIES[ODAWARA], YAMAGATA, yamagata), "AUT002")
        await expect(service.disclose(AGENCIES[ODAWARA], ODAWARA, yamagata), "IDN003")

    run(tmp_path, scenario)


def test_disclosure_shows_addenda(tmp_path: Path) -> None:
    async def scenario(service: HubService, router: FakeRouter) -> None:
        request = await successful_inquiry(service)
        addendum = await service.declare_mistaken(
            AGENCIES[YAMAGATA], request.inquiry_id, declaration()
        )
        view = await service.disclose(AGENCIES[YAMAGATA], YAMAGATA, request.requester_pseudonym)
        [record] = view.records
        assert record.addenda == [addendum]

    run(tmp_path, scenario)
