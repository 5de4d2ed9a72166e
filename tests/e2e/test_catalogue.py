"""The catalogue served by a running hub: what a procedure obtains, from whom, replacing what."""

from __future__ import annotations

import httpx
import pytest

from network.catalogue_api import ProcedureSummary, ProcedureView, SearchHit
from network.protocol.layouts import catalogue
from tests.e2e.conftest import RunningNetwork

pytestmark = pytest.mark.e2e


def test_the_hub_answers_for_a_procedure(network: RunningNetwork) -> None:
    response = httpx.get(
        network.network.hub.url + "/v1/catalogue/procedures/JT03510000000001", timeout=10
    )

    assert response.status_code == 200
    view = ProcedureView.model_validate_json(response.content)
    assert view.affair.code == "JM01000000351000"
    assert [paper.name_ja for paper in view.papers] == ["課税証明書"]
    assert [
        (item.code, [kind.value for kind in item.provider_kinds]) for item in view.obtainable
    ] == [("TM00000000000002", ["municipality"])]


def test_the_hub_lists_every_procedure_and_searches_in_japanese(network: RunningNetwork) -> None:
    with httpx.Client(base_url=network.network.hub.url, timeout=10) as client:
        listed = client.get("/v1/catalogue/procedures")
        found = client.get("/v1/catalogue/search", params={"q": "預金通帳"})
        unknown = client.get("/v1/catalogue/procedures/JT99999999999999")

    codes = [ProcedureSummary.model_validate(item).code for item in listed.json()]
    assert sorted(codes) == sorted(catalogue().procedures)
    hits = [SearchHit.model_validate(hit) for hit in found.json()]
    [paper] = [hit for hit in hits if hit.kind.value == "paper"]
    assert paper.name_ja == "預金通帳の写し"
    assert sorted(paper.procedure_codes) == ["JT00510000000002", "JT01010000000001"]
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "VAL006"
