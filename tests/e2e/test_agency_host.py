"""Many agencies in one process: agency hosts serving local governments under /agencies/{code}."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, Agency, default_agencies
from agencies.local_governments import local_governments
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import Population, persona_population
from intermediate_server.schemas import InquiryOrder, PersonRegistration
from ipnsim.client import AgencyClient, HubOperatorClient
from ipnsim.launcher import HOST_ROLE, Launcher, NetworkFile, ServiceInfo, find_free_port_block
from ipnsim.seeding import replica_registration
from network.protocol.models import (
    AgencyKind,
    ConditionKind,
    InquiryCondition,
    InquiryResult,
    ProvisionRecord,
    RecordSide,
)
from tests.e2e.conftest import run

pytestmark = pytest.mark.e2e

HOSTED = 50
PER_PROCESS = 25
TAX_AFFAIR = "JM01000000121000"
TAX_PROCEDURE = "JT01010000000214"
PERSONA = "moved_in"
HOSTED_PROVIDER_TIMEOUT = 10.0


def hosted_municipalities() -> list[Agency]:
    shipped = {agency.code for agency in default_agencies()}
    return [
        agency
        for agency in local_governments()
        if agency.kind is AgencyKind.MUNICIPALITY and agency.code not in shipped
    ][:HOSTED]


@pytest.fixture(scope="module")
def hosted_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    """50 municipalities on two agency hosts, each keeping one agency open at a time."""
    hosts = -(-HOSTED // PER_PROCESS)
    launcher = Launcher(
        data_dir=tmp_path_factory.mktemp("agency-host"),
        port=find_free_port_block(2 + hosts),
        agencies=[],
        hosted=hosted_municipalities(),
        agencies_per_process=PER_PROCESS,
        max_open_agencies=1,
        # Opening an agency (its database created and migrated) takes a moment on a busy machine.
        provider_timeout=HOSTED_PROVIDER_TIMEOUT,
        population=1,
    )
    try:
        yield launcher.start()
    finally:
        launcher.stop()


def test_every_agency_is_registered_and_hosted_by_a_few_processes(
    hosted_network: NetworkFile,
) -> None:
    hosts = [s for s in hosted_network.services if s.role == HOST_ROLE]
    assert len(hosts) == 2
    assert len(hosted_network.agencies) == HOSTED
    assert len(hosted_network.processes) == 4  # the hub, the resident registry, two hosts
    registry = run(registry_codes(hosted_network))
    assert registry == {agency.code for agency in hosted_municipalities()}
    for host in hosts:
        health = httpx.get(host.url + "/health").json()
        assert health["service"] == "agency_host" and health["agencies"] == PER_PROCESS
        for agency in hosted_network.hosted(host.name):
            assert agency.url == f"{host.url}/agencies/{agency.agency_code}"


async def registry_codes(network: NetworkFile) -> set[str]:
    async with httpx.AsyncClient() as client:
        response = await client.get(network.hub.url + "/v1/agencies")
        response.raise_for_status()
        return {agency["code"] for agency in response.json()}


def test_a_hosted_agency_answers_as_its_own_server(hosted_network: NetworkFile) -> None:
    agency = hosted_network.agencies[7]
    health = httpx.get(agency.url + "/health").json()
    assert health == {
        "service": "intermediate_server",
        "status": "ok",
        "agency_code": agency.agency_code,
    }
    assert httpx.get(agency.url + "/openapi.json").status_code == 200


def test_an_agency_the_host_does_not_serve_is_agy001(hosted_network: NetworkFile) -> None:
    host = next(s for s in hosted_network.services if s.role == HOST_ROLE)
    response = httpx.get(f"{host.url}/agencies/2006201400000000/health")
    assert response.status_code == 404
    assert response.json()["code"] == "AGY001"
    assert httpx.get(host.url + "/elsewhere").status_code == 404


def test_hub_calls_to_a_hosted_agency_need_its_own_credential(
    hosted_network: NetworkFile,
) -> None:
    first, second = hosted_network.agencies[:2]
    response = httpx.post(
        first.url + "/hub/provisions",
        json={},
        headers={"Authorization": f"Bearer {second.credential}"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "AUT001"


def test_an_inquiry_between_two_agencies_of_one_process_leaves_three_records(
    hosted_network: NetworkFile,
) -> None:
    """The requester and the provider share one process that keeps one agency open at a time:
    each is closed and opened again from its database along the way."""
    requester, provider = hosted_network.agencies[:2]
    assert requester.host == provider.host
    population = persona_population(seed=0)
    person = population.persona_person(PERSONA)
    run(register(provider, population, ODAWARA, person.person_key, person.resident_code))
    run(register(requester, population, YAMAGATA, person.person_key, person.resident_code))
    order = InquiryOrder(
        atena_number=population.atena_number(YAMAGATA, person.person_key),
        affair_code=TAX_AFFAIR,
        procedure_code=TAX_PROCEDURE,
        info_type_code=LOCAL_TAX_INFO,
        provider_code=provider.agency_code or "",
        condition=InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=2026),
        user_id="e2e",
    )
    result = run(inquire(requester.url, order))
    assert result.error is None, result
    assert result.items

    records = run(three_copies(hosted_network, requester.url, provider.url, result.inquiry_id))
    assert {record.side for record in records} == {
        RecordSide.REQUESTER,
        RecordSide.HUB,
        RecordSide.PROVIDER,
    }
    for record in records:
        assert record.inquiry_id == result.inquiry_id
        assert record.requester_code == requester.agency_code
        assert record.provider_code == provider.agency_code
        assert (record.status_detail, record.status_info_type) == ("09", "01")


async def register(
    service: ServiceInfo, population: Population, slug: str, person_key: str, resident_code: str
) -> None:
    """Register the persona at a hosted agency as the population has it at ``slug``, with its
    replicas there."""
    async with AgencyClient(service.url, sandbox=None) as client:
        await client.register_person(
            PersonRegistration(
                atena_number=population.atena_number(slug, person_key),
                resident_code=resident_code,
            )
        )
        for replica in population.replicas_of(person_key):
            if replica.agency_slug == slug:
                await client.register_replica(replica_registration(replica))


async def inquire(url: str, order: InquiryOrder) -> InquiryResult:
    async with AgencyClient(url, sandbox=None) as client:
        return await client.inquire(order)


async def three_copies(
    network: NetworkFile, requester: str, provider: str, inquiry_id: uuid.UUID
) -> list[ProvisionRecord]:
    async with (
        AgencyClient(requester, sandbox=None) as req,
        AgencyClient(provider, sandbox=None) as prov,
        HubOperatorClient(network.hub.url, network.admin_token, sandbox=None) as hub,
    ):
        return [
            *(await req.records(inquiry_id=inquiry_id)),
            await hub.record(inquiry_id),
            *(await prov.records(inquiry_id=inquiry_id)),
        ]


def test_a_hosted_agency_keeps_its_data_across_closing(hosted_network: NetworkFile) -> None:
    """With one agency open at a time, asking the others closes it; its people are still there
    when it is opened again."""
    agency = hosted_network.agencies[10]
    population = persona_population(seed=0)
    person = population.persona_person(PERSONA)
    run(register(agency, population, ODAWARA, person.person_key, person.resident_code))
    for other in hosted_network.hosted(agency.host or "")[11:14]:
        assert httpx.get(other.url + "/health").status_code == 200
    host = next(s for s in hosted_network.services if s.name == agency.host)
    assert httpx.get(host.url + "/health").json()["open"] == 1
    atena = population.atena_number(ODAWARA, person.person_key)
    response = httpx.get(f"{agency.url}/v1/people/{atena}")
    assert response.status_code == 200
    assert response.json()["atena_number"] == atena
    assert response.json()["pseudonym"] is not None
