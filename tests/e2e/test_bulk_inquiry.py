"""Bulk inquiries (a 一括照会 job's blocks) over real processes: every row ends exactly as the
same inquiry sent alone does, with the same three copies of its record, and the record logs
verify."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.population import persona_population
from intermediate_server.batch import inquiry_order
from ipnsim.batch_commands import BatchClient
from ipnsim.client import AgencyClient, HubOperatorClient, ServiceError
from ipnsim.launcher import NetworkFile
from network.protocol.batch_file import (
    FIXED_WIDTH,
    RESULT_COLUMNS,
    RequestFileReader,
    Variant,
    fixed_result_columns,
    request_row,
)
from network.protocol.layouts import catalogue
from network.protocol.models import FaultSettings, InquiryResult, ProvisionRecord, RecordSide
from tests.e2e.conftest import ipnsim_cli, run, small_network
from tests.e2e.test_batch import UNKNOWN_ATENA, tax_line

pytestmark = pytest.mark.e2e

NAME = "P640R110_20261128100000_0001.DAT"
NOT_PERMITTED_INFO_TYPE = "TM00000000000011"
FIRST_ITEM = FIXED_WIDTH + sum(column.width for column in RESULT_COLUMNS)
"""Where a fixed-width result row's items begin."""


def request_file() -> bytes:
    """山形市 asks 小田原市 for local tax: data, no data, no 符号 at the provider, an unknown
    person, a person without 符号, and an info type the procedure may not obtain."""
    population = persona_population(seed=0)

    def atena(persona: str) -> str:
        return population.atena_number(YAMAGATA, population.persona_person(persona).person_key)

    lines = [
        tax_line(atena("moved_in")),
        tax_line(atena("registered_without_tax")),
        tax_line(atena("lifelong_yamagata")),
        tax_line(UNKNOWN_ATENA),
        tax_line(atena("no_pseudonym")),
        tax_line(atena("moved_in"), info_type_code=NOT_PERMITTED_INFO_TYPE),
        tax_line(atena("moved_in")),
    ]
    return b"".join(request_row(line, Variant.FIXED, "cp932") for line in lines)


async def as_batch(network: NetworkFile, data: bytes) -> list[bytes]:
    """The file as a job of 山形市: its result rows."""
    async with BatchClient(network.agency(YAMAGATA).url, timeout=60.0) as batch:
        job = await batch.create_job()
        await batch.put_file(job.job_id, NAME, data)
        await batch.start(job.job_id)
        job = await batch.wait(job.job_id, 120)
        assert job.state == "completed"
        results = await batch.download(job.job_id, NAME)
    return results.split(b"\r\n")[:-1]


async def one_by_one(network: NetworkFile, data: bytes) -> list[InquiryResult]:
    """Every row of the file sent alone (``POST /v1/inquiries``): the results."""
    reader = RequestFileReader(
        io.BytesIO(data), NAME, catalogue(), encoding="cp932", variant=Variant.FIXED
    )
    async with AgencyClient(network.agency(YAMAGATA).url) as agency:
        return [await agency.inquire(inquiry_order(row)) for row in reader.rows()]


def comparable(record: ProvisionRecord | None) -> dict[str, Any] | None:
    """A copy of a record without what differs between two inquiries of the same order (each
    exchange is a trace of its own)."""
    if record is None:
        return None
    return record.model_dump(exclude={"inquiry_id", "requested_at", "provided_at", "trace_id"})


async def copies(network: NetworkFile, inquiry_id: str) -> dict[str, dict[str, Any] | None]:
    """The three copies of one inquiry's record (None where there is none)."""
    key = uuid.UUID(inquiry_id)
    async with (
        AgencyClient(network.agency(YAMAGATA).url) as yamagata,
        AgencyClient(network.agency(ODAWARA).url) as odawara,
        HubOperatorClient(network.hub.url, network.admin_token) as hub,
    ):
        requester = [
            r for r in await yamagata.records(inquiry_id=key) if r.side is RecordSide.REQUESTER
        ]
        provider = [
            r for r in await odawara.records(inquiry_id=key) if r.side is RecordSide.PROVIDER
        ]
        try:
            at_hub: ProvisionRecord | None = await hub.record(key)
        except ServiceError as error:
            if error.body.code != "REC001":
                raise
            at_hub = None
    return {
        "requester": comparable(requester[0] if requester else None),
        "hub": comparable(at_hub),
        "provider": comparable(provider[0] if provider else None),
    }


def verify(data_dir: Path) -> tuple[int, dict[str, Any]]:
    done = ipnsim_cli(data_dir, "records", "verify", "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


@dataclass
class TwoAgencies:
    network: NetworkFile
    data_dir: Path


@pytest.fixture(scope="module")
def two_agencies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoAgencies]:
    """山形市 and 小田原市 with the personas, for this module alone (its logs are verified)."""
    data_dir = tmp_path_factory.mktemp("bulk") / "network"
    with small_network(data_dir, [YAMAGATA, ODAWARA]) as launcher:
        assert launcher.network is not None
        yield TwoAgencies(launcher.network, data_dir)


def set_down(network: NetworkFile, down: bool) -> None:
    """Put 小田原市 down at the hub, or lift its fault."""
    url = f"{network.hub.url}/v1/faults/{agency_by_slug(ODAWARA).code}"
    headers = {"Authorization": f"Bearer {network.admin_token}"}
    with httpx.Client(timeout=10, headers=headers) as client:
        if down:
            response = client.put(
                url,
                content=FaultSettings(down=True).model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        else:
            response = client.delete(url)
        assert response.status_code < 300, response.text


def test_bulk_rows_end_as_single_inquiries_do(two_agencies: TwoAgencies) -> None:
    data = request_file()
    expected = [
        ("09", "01", ""),
        ("09", "02", "RPL001"),
        ("99", "99", "IDN004"),
        ("99", "99", "IDN002"),
        ("99", "99", "IDN001"),
        ("99", "99", "PRM001"),
        ("09", "01", ""),
    ]
    provider_down = [
        ("99", "99", "AVL001"),
        ("99", "99", "AVL001"),
        ("99", "99", "IDN004"),
        ("99", "99", "IDN002"),
        ("99", "99", "IDN001"),
        ("99", "99", "PRM001"),
        ("99", "99", "AVL001"),
    ]
    network = two_agencies.network
    try:
        for outcomes in (expected, provider_down):
            set_down(network, outcomes is provider_down)
            lines = run(as_batch(network, data))
            columns = [fixed_result_columns(line, "cp932") for line in lines]
            assert [(c[24], c[26], c[22]) for c in columns] == outcomes
            singles = run(one_by_one(network, data))
            for row, (bulk_id, single_id) in enumerate(
                zip([c[19] for c in columns], [str(s.inquiry_id) for s in singles], strict=True)
            ):
                bulk_copies = run(copies(network, bulk_id))
                assert bulk_copies == run(copies(network, single_id)), f"row {row + 1}"
                assert bulk_copies["requester"] is not None
                reached = outcomes[row][2] not in {"IDN002", "IDN001"}
                assert (bulk_copies["hub"] is not None) == reached, f"row {row + 1}"
                provided = outcomes[row][2] in {"", "RPL001"}
                assert (bulk_copies["provider"] is not None) == provided, f"row {row + 1}"
            for row, single in enumerate(singles):  # the items, value for value
                values = [item.value for item in single.items if item.value is not None]
                region = lines[row][FIRST_ITEM:]
                assert all(value.encode("cp932") in region for value in values), f"row {row + 1}"
                assert bool(values) == (outcomes[row][2] == ""), f"row {row + 1}"
    finally:
        set_down(network, False)
    status, report = verify(two_agencies.data_dir)
    assert status == 0, report


def test_a_bulk_refuses_alone_what_the_hub_refuses_a_single_inquiry(
    two_agencies: TwoAgencies,
) -> None:
    """Another requester's code (AUT002) and an inquiry id already recorded (REC004) are
    refused in their own items, as a single inquiry would be; the others are answered."""
    network = two_agencies.network
    population = persona_population(seed=0)
    person = population.persona_person("moved_in")
    atena = population.atena_number(YAMAGATA, person.person_key)

    async def pseudonym() -> str:
        async with AgencyClient(network.agency(YAMAGATA).url) as yamagata:
            found = (await yamagata.person(atena)).pseudonym
        assert found is not None
        return found

    def inquiry(**changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "inquiry_id": str(uuid.uuid4()),
            "requester_code": agency_by_slug(YAMAGATA).code,
            "requester_pseudonym": run(pseudonym()),
            "affair_code": "JM01000000121000",
            "procedure_code": "JT01010000000214",
            "info_type_code": "TM00000000000002",
            "provider_code": agency_by_slug(ODAWARA).code,
            "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
            "requested_at": "2026-11-28T01:00:00Z",
        }
        return values | changes

    first = inquiry()
    headers = {"Authorization": f"Bearer {network.agency(YAMAGATA).credential}"}
    with httpx.Client(base_url=network.hub.url, headers=headers, timeout=30) as hub:
        alone = hub.post("/v1/inquiries", json=first)
        assert alone.status_code == 200, alone.text
        others = inquiry(requester_code=agency_by_slug(ODAWARA).code)
        singles = [hub.post("/v1/inquiries", json=body) for body in (first, others)]
        assert [answer.json()["code"] for answer in singles] == ["REC004", "AUT002"]
        fresh = inquiry()
        block = [first, others, fresh, fresh]
        answer = hub.post(
            "/v1/inquiries/bulk",
            json={"requester_code": agency_by_slug(YAMAGATA).code, "inquiries": block},
        )
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [item["refused"]["code"] if item["refused"] else None for item in items] == [
            "REC004",
            "AUT002",
            None,
            "REC004",
        ]
        assert items[2]["result"]["inquiry_id"] == fresh["inquiry_id"]
        assert items[2]["result"]["status_detail"] == "09"
        recorded = hub.get(
            f"/v1/records/{fresh['inquiry_id']}",
            headers={"Authorization": f"Bearer {network.admin_token}"},
        )
        assert recorded.status_code == 200, recorded.text
        refused = hub.post(
            "/v1/inquiries/bulk",
            json={"requester_code": agency_by_slug(ODAWARA).code, "inquiries": [inquiry()]},
        )
        assert refused.json()["code"] == "AUT002"
