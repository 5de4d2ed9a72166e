"""The canonical story, run against a live network and checked at every step.

A person lived in 小田原市 on 1 January and has since moved to 山形市. To assess the national
health insurance premium, 山形市 needs the local-tax information that 小田原市 holds. Then a
member of staff inquires about the wrong person, declares it, and the addendum (追記) reaches
all three copies of the record; finally the people concerned see the exchanges (やりとり履歴).
"""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.panel import Panel

from agencies.catalogue import ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import Person, Population, persona_population
from intermediate_server.schemas import InquiryOrder, MistakenDeclaration
from ipnsim.client import AgencyClient, HubOperatorClient
from ipnsim.launcher import NetworkFile
from ipnsim.person_commands import CardFile, PortalClient, log_in, raw_key
from ipnsim.views import print_inquiry_result, records_table
from network.protocol.models import (
    ConditionKind,
    DetailStatus,
    InfoTypeStatus,
    InquiryCondition,
    InquiryResult,
    PortalCard,
    PortalCardIssue,
    PortalRecords,
    ProvisionRecord,
)

TAX_INQUIRY_PROCEDURE = "JT01010000000214"
"""国民健康保険料の賦課のための税情報照会 (real procedure code)."""


class DemoFailure(Exception):
    """A step of the demo did not behave as the real network would."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


class Demo:
    def __init__(self, network: NetworkFile, console: Console) -> None:
        self.network = network
        self.console = console
        self.population: Population = persona_population(seed=network.seed)
        self.yamagata = AgencyClient(network.agency(YAMAGATA).url)
        self.odawara = AgencyClient(network.agency(ODAWARA).url)
        self.hub = HubOperatorClient(network.hub.url, network.admin_token)
        self.step_number = 0

    async def close(self) -> None:
        for client in (self.yamagata, self.odawara, self.hub):
            await client.aclose()

    def step(self, title: str, narration: str) -> None:
        self.step_number += 1
        self.console.print()
        self.console.print(Panel(narration, title=f"step {self.step_number}: {title}"))

    def ok(self, message: str) -> None:
        self.console.print(f"  [green]✔[/] {message}")

    async def run(self) -> None:
        fiscal_year = self.population.fiscal_year
        assert fiscal_year is not None
        moved = self.population.persona_person("moved_in")
        namesake = self.population.persona_person("namesake")
        await self.who_holds_what(moved)
        result = await self.tax_inquiry(moved, fiscal_year)
        await self.three_records(result.inquiry_id)
        mistaken = await self.mistaken_person(namesake, fiscal_year)
        await self.disclosure(namesake, mistaken)
        await self.portal(namesake, mistaken)

    async def who_holds_what(self, person: Person) -> None:
        self.step(
            "who holds what",
            f"{person.name}（{person.name_kana}）lived in 小田原市 on 1 January and now lives in "
            "山形市. Each municipality knows the person by its own 団体内統合宛名番号 and holds "
            "its own 符号 from the hub. The My Number stays in the municipalities: it is never "
            "sent to the hub.",
        )
        at_yamagata = await self.yamagata.person(self.atena(YAMAGATA, person))
        at_odawara = await self.odawara.person(self.atena(ODAWARA, person))
        expect(
            at_yamagata.pseudonym is not None and at_odawara.pseudonym is not None,
            "both municipalities should hold a 符号 for the person",
        )
        expect(
            at_yamagata.pseudonym != at_odawara.pseudonym,
            "the two municipalities' 符号 for one person must differ",
        )
        self.ok(f"山形市  atena {at_yamagata.atena_number}  符号 {at_yamagata.pseudonym}")
        self.ok(f"小田原市 atena {at_odawara.atena_number}  符号 {at_odawara.pseudonym}")
        self.ok("the 符号 differ: neither municipality can link the person without the hub")

    async def tax_inquiry(self, person: Person, fiscal_year: int) -> InquiryResult:
        self.step(
            "山形市 asks 小田原市 for local-tax information",
            "To assess the national health insurance premium (国民健康保険料), 山形市 inquires "
            f"with procedure {TAX_INQUIRY_PROCEDURE} for fiscal year {fiscal_year}. The hub "
            "checks the permission table, converts 山形市's 符号 into 小田原市's and routes the "
            "inquiry; 小田原市's intermediate server answers from its replica (副本).",
        )
        result = await self.yamagata.inquire(self.order(person, fiscal_year))
        print_inquiry_result(self.console, result)
        expect(
            (result.status_detail, result.status_info_type)
            == (DetailStatus.COMPLETED, InfoTypeStatus.PROVIDED),
            f"expected status 09/01, got {result.status_detail.value}/"
            f"{result.status_info_type.value} {result.error.code if result.error else ''}",
        )
        seeded = next(
            replica
            for replica in self.population.replicas_of(person.person_key)
            if replica.agency_slug == ODAWARA
            and replica.info_type_code == LOCAL_TAX_INFO
            and replica.fiscal_year == fiscal_year
        )
        answered = [(item.code, item.value) for item in result.items]
        expect(answered == list(seeded.items), "the items should be exactly 小田原市's replica")
        self.ok(f"status 09/01 with the {len(answered)} items of replica {seeded.record_id}")
        return result

    async def three_records(self, inquiry_id: uuid.UUID) -> None:
        self.step(
            "three copies of the provision record",
            "The requester, the hub and the provider each keep a record (情報提供等の記録) of "
            "the exchange, under one inquiry id.",
        )
        copies = await self.copies(inquiry_id)
        self.console.print(records_table(copies))
        expect(
            sorted(copy.side.value for copy in copies) == ["hub", "provider", "requester"],
            f"expected three copies, found {[copy.side.value for copy in copies]}",
        )
        expect(
            len({(copy.requester_code, copy.provider_code, copy.info_type_code) for copy in copies})
            == 1,
            "the three copies should agree",
        )
        self.ok("requester, hub and provider each hold the record")

    async def mistaken_person(self, namesake: Person, fiscal_year: int) -> uuid.UUID:
        self.step(
            "an inquiry about the wrong person",
            f"A member of staff picks {namesake.name}, who shares the family name, instead of "
            "the intended person, and sends the same inquiry. On noticing, 山形市 declares it a "
            "mistaken-person inquiry (誤照会): an addendum (追記) is appended to every copy; the "
            "original record is never changed.",
        )
        result = await self.yamagata.inquire(self.order(namesake, fiscal_year))
        expect(result.error is None, "the mistaken inquiry itself should succeed")
        before = await self.copies(result.inquiry_id)
        addendum = await self.yamagata.declare_mistaken(
            result.inquiry_id,
            MistakenDeclaration(
                reason="同姓の別人を照会した（誤照会）", declared_by_user="yamagata-kokuho-01"
            ),
        )
        after = await self.copies(result.inquiry_id)
        self.console.print(records_table(after))
        expect(len(after) == 3, "all three copies should still exist")
        for copy in after:
            expect(
                [a.addendum_id for a in copy.addenda] == [addendum.addendum_id],
                f"the {copy.side.value} copy should carry the addendum",
            )
            original = next(b for b in before if b.side == copy.side)
            expect(
                original.model_copy(update={"addenda": []})
                == copy.model_copy(update={"addenda": []}),
                f"the {copy.side.value} copy's original fields must not change",
            )
        self.ok(f"addendum {addendum.addendum_id} at requester, hub and provider")
        self.ok("the original record is unchanged")
        return result.inquiry_id

    async def disclosure(self, namesake: Person, inquiry_id: uuid.UUID) -> None:
        self.step(
            "what the person sees (やりとり履歴)",
            f"{namesake.name} looks at the exchanges about them, as on マイナポータル: the "
            "inquiry made by mistake is there, with its addendum.",
        )
        view = await self.yamagata.disclosure(self.atena(YAMAGATA, namesake))
        self.console.print(records_table(view.records, title="やりとり履歴"))
        shown = [record for record in view.records if record.inquiry_id == inquiry_id]
        expect(len(shown) == 1, "the person should see the mistaken inquiry")
        expect(len(shown[0].addenda) == 1, "the person should see its addendum")
        self.ok("the person sees the inquiry and the addendum")

    async def portal(self, namesake: Person, inquiry_id: uuid.UUID) -> None:
        self.step(
            "the person logs in with their card (マイナンバーカード)",
            f"{namesake.name} is issued a card; its key signs the hub's challenge, and the token "
            "it earns shows their own records only, the mistaken inquiry and its addendum "
            "among them.",
        )
        key = Ed25519PrivateKey.generate()
        private, public = raw_key(key)
        async with PortalClient(self.network.hub.url, self.network.admin_token) as authority:
            card: PortalCard = await authority.call(
                "POST",
                "/v1/portal/cards",
                PortalCard,
                PortalCardIssue(resident_code=namesake.resident_code, public_key=public),
            )
        held = CardFile(
            card_id=str(card.card_id),
            hub_url=self.network.hub.url,
            private_key=private,
            public_key=public,
            holder="namesake",
            issued_at=card.issued_at,
        )
        async with PortalClient(self.network.hub.url) as client:
            session = await log_in(client, held, key)
            client.headers = {"Authorization": f"Bearer {session.access_token}"}
            page: PortalRecords = await client.call(
                "GET", "/v1/portal/records", PortalRecords, params={"page_size": "50"}
            )
        self.console.print(records_table(page.records, title="やりとり履歴 (マイナポータル)"))
        shown = [record for record in page.records if record.inquiry_id == inquiry_id]
        expect(len(shown) == 1, "the person should see the mistaken inquiry in the portal")
        expect(len(shown[0].addenda) == 1, "the portal should show its addendum")
        self.ok(f"card {card.card_id} logged in; the portal shows {page.total} record(s)")

    def order(self, person: Person, fiscal_year: int) -> InquiryOrder:
        provider_code = self.network.agency(ODAWARA).agency_code
        assert provider_code is not None
        return InquiryOrder(
            atena_number=self.atena(YAMAGATA, person),
            affair_code="JM01000000121000",
            procedure_code=TAX_INQUIRY_PROCEDURE,
            info_type_code=LOCAL_TAX_INFO,
            provider_code=provider_code,
            condition=InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=fiscal_year),
            user_id="yamagata-kokuho-01",
        )

    def atena(self, agency_slug: str, person: Person) -> str:
        return self.population.atena_number(agency_slug, person.person_key)

    async def copies(self, inquiry_id: uuid.UUID) -> list[ProvisionRecord]:
        requester = await self.yamagata.records(inquiry_id=inquiry_id)
        provider = await self.odawara.records(inquiry_id=inquiry_id)
        hub = await self.hub.record(inquiry_id)
        return [*requester, hub, *provider]


async def run_demo(network: NetworkFile, console: Console) -> None:
    demo = Demo(network, console)
    try:
        await demo.run()
    finally:
        await demo.close()
