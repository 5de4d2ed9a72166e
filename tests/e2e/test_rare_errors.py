"""The rarer refusals, produced over real HTTP as a business system or an agency would meet them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO
from tests.e2e.conftest import RunningNetwork

pytestmark = pytest.mark.e2e

NHI_AFFAIR = "JM01000000121000"
NHI_TAX_PROCEDURE = "JT01010000000214"
LOCAL_TAX_AFFAIR = "JM01000000161000"


def order(net: RunningNetwork, persona: str, **changes: Any) -> dict[str, Any]:
    body = {
        "atena_number": net.atena(YAMAGATA, persona),
        "affair_code": NHI_AFFAIR,
        "procedure_code": NHI_TAX_PROCEDURE,
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": net.code(ODAWARA),
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
    }
    return body | changes


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["code"]
    return code


def test_another_resident_code_for_a_known_atena_number_is_idn005(net: RunningNetwork) -> None:
    person = net.population.persona_person("moved_in")
    other_code = "99999999999" if person.resident_code != "99999999999" else "88888888888"

    response = httpx.post(
        net.url(YAMAGATA) + "/v1/people",
        json={"atena_number": net.atena(YAMAGATA, "moved_in"), "resident_code": other_code},
        timeout=10,
    )

    assert response.status_code == 409
    assert code_of(response) == "IDN005"


def test_a_procedure_of_another_affair_is_prm002(net: RunningNetwork) -> None:
    response = httpx.post(
        net.url(YAMAGATA) + "/v1/inquiries",
        json=order(net, "moved_in", affair_code=LOCAL_TAX_AFFAIR),
        timeout=10,
    )

    assert response.status_code == 422
    assert code_of(response) == "PRM002"
    assert NHI_TAX_PROCEDURE in response.json()["message_en"]


def test_an_addendum_for_an_inquiry_that_never_left_is_rec003(net: RunningNetwork) -> None:
    with httpx.Client(base_url=net.url(YAMAGATA), timeout=10) as client:
        inquiry = client.post("/v1/inquiries", json=order(net, "no_pseudonym")).json()
        assert inquiry["error"]["code"] == "IDN001"
        response = client.post(
            f"/v1/inquiries/{inquiry['inquiry_id']}/mistaken",
            json={"reason": "wrong person", "declared_by_user": "staff01"},
        )

    assert response.status_code == 409
    assert code_of(response) == "REC003"


def test_an_unknown_record_id_is_rpl003_on_update_and_delete(net: RunningNetwork) -> None:
    content = {
        "layout_version": 1,
        "publication_start": "2026-06-01",
        "items": [{"code": "I001", "value": "2026"}],
    }
    with httpx.Client(base_url=net.url(YAMAGATA), timeout=10) as client:
        updated = client.put("/v1/replicas/NO-SUCH-RECORD", json=content)
        deleted = client.delete("/v1/replicas/NO-SUCH-RECORD")

    assert (updated.status_code, code_of(updated)) == (404, "RPL003")
    assert (deleted.status_code, code_of(deleted)) == (404, "RPL003")


def test_an_inquiry_id_used_twice_at_the_hub_is_rec004(net: RunningNetwork) -> None:
    person = net.population.persona_person("moved_in")
    headers = {"Authorization": f"Bearer {net.credential(YAMAGATA)}"}
    with httpx.Client(base_url=net.network.hub.url, headers=headers, timeout=10) as hub:
        issued = hub.post(
            "/v1/pseudonyms",
            json={"agency_code": net.code(YAMAGATA), "resident_code": person.resident_code},
        )
        assert issued.status_code == 200, issued.text
        request = {
            "inquiry_id": str(uuid.uuid4()),
            "requester_code": net.code(YAMAGATA),
            "requester_pseudonym": issued.json()["pseudonym"],
            "affair_code": NHI_AFFAIR,
            "procedure_code": NHI_TAX_PROCEDURE,
            "info_type_code": LOCAL_TAX_INFO,
            "provider_code": net.code(ODAWARA),
            "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
            "requested_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        first = hub.post("/v1/inquiries", json=request)
        again = hub.post("/v1/inquiries", json=request)

    assert first.status_code == 200, first.text
    assert first.json()["error"] is None
    assert (again.status_code, code_of(again)) == (409, "REC004")


def tax_template(net: RunningNetwork) -> dict[str, Any]:
    """One of moved_in's local-tax replicas at 小田原市, as listed there."""
    listed = httpx.get(
        net.url(ODAWARA) + "/v1/replicas",
        params={"atena_number": net.atena(ODAWARA, "moved_in")},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    template: dict[str, Any] = next(
        r for r in listed.json() if r["info_type_code"] == LOCAL_TAX_INFO
    )
    return template


def register_tax_replica(
    net: RunningNetwork, prefix: str, fiscal_year: int, **fields: object
) -> httpx.Response:
    """Register at 小田原市 a local-tax replica of moved_in for ``fiscal_year``, built on one of
    their replicas (``fields`` override the registration)."""
    template = tax_template(net)
    body = {
        "record_id": f"{prefix}-{uuid.uuid4().hex[:12]}",
        "atena_number": net.atena(ODAWARA, "moved_in"),
        "info_type_code": LOCAL_TAX_INFO,
        "layout_version": template["layout_version"],
        "fiscal_year": fiscal_year,
        "publication_start": f"{fiscal_year}-06-01",
        "items": template["items"],
    } | fields
    return httpx.post(net.url(ODAWARA) + "/v1/replicas", json=body, timeout=10)


def test_an_inquiry_matching_only_a_deleted_replica_is_rpl005(net: RunningNetwork) -> None:
    registered = register_tax_replica(net, "E2E-DELETED", 2001)
    assert registered.status_code in {200, 201}, registered.text
    record_id = registered.json()["record_id"]
    deleted = httpx.delete(f"{net.url(ODAWARA)}/v1/replicas/{record_id}", timeout=10)
    assert deleted.status_code in {200, 204}, deleted.text
    fiscal_2001 = {"kind": "fiscal_year", "fiscal_year": 2001}
    never = {"kind": "fiscal_year", "fiscal_year": 2002}
    with httpx.Client(base_url=net.url(YAMAGATA), timeout=10) as yamagata:
        withdrawn = yamagata.post(
            "/v1/inquiries", json=order(net, "moved_in", condition=fiscal_2001)
        )
        absent = yamagata.post("/v1/inquiries", json=order(net, "moved_in", condition=never))

    assert withdrawn.status_code == 200, withdrawn.text
    result = withdrawn.json()
    assert result["error"]["code"] == "RPL005"
    assert result["error"]["retryable"] is False
    assert "削除" in result["error"]["message_ja"]
    assert (result["status_detail"], result["status_info_type"]) == ("09", "02")
    assert result["items"] == []
    assert absent.json()["error"]["code"] == "RPL001"


def test_an_inquiry_matching_only_an_ended_replica_is_rpl007(net: RunningNetwork) -> None:
    """Stale data: the provider's only replica for the year is past its publication period."""
    registered = register_tax_replica(net, "E2E-ENDED", 2003, publication_end="2004-05-31")
    assert registered.status_code == 201, registered.text
    response = httpx.post(
        net.url(YAMAGATA) + "/v1/inquiries",
        json=order(net, "moved_in", condition={"kind": "fiscal_year", "fiscal_year": 2003}),
        timeout=10,
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["error"]["code"] == "RPL007"
    assert "2004-05-31" in result["error"]["message_en"]
    assert (result["status_detail"], result["status_info_type"]) == ("09", "02")
    assert result["items"] == []


def test_a_replica_on_another_layout_version_is_rpl006(net: RunningNetwork) -> None:
    template = tax_template(net)
    response = register_tax_replica(
        net, "E2E-LAYOUT", 2004, layout_version=template["layout_version"] + 1
    )

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "RPL006"
    assert body["explanation"] == "/v1/errors/RPL006"
    assert f"current version is {template['layout_version']}" in body["message_en"]


def test_a_replica_flagged_non_disclosure_is_provided_recorded_and_hidden_from_the_person(
    net: RunningNetwork,
) -> None:
    """提供側不開示: the provider flags its replica; every copy records the exchange with the
    flag, and the person's view leaves it out."""
    registered = register_tax_replica(net, "E2E-HIDDEN", 2005, non_disclosure=True)
    assert registered.status_code == 201, registered.text
    assert registered.json()["non_disclosure"] is True
    with httpx.Client(base_url=net.url(YAMAGATA), timeout=10) as yamagata:
        answered = yamagata.post(
            "/v1/inquiries",
            json=order(net, "moved_in", condition={"kind": "fiscal_year", "fiscal_year": 2005}),
        )
        result = answered.json()
        assert result["error"] is None and result["items"], answered.text
        assert result["provider_non_disclosure"] is True
        [requester_copy] = yamagata.get(
            "/v1/records", params={"inquiry_id": result["inquiry_id"]}
        ).json()
        shown = yamagata.get(f"/v1/people/{net.atena(YAMAGATA, 'moved_in')}/disclosure").json()
    [provider_copy] = httpx.get(
        net.url(ODAWARA) + "/v1/records", params={"inquiry_id": result["inquiry_id"]}
    ).json()
    hub_copy = httpx.get(
        f"{net.network.hub.url}/v1/records/{result['inquiry_id']}",
        headers={"Authorization": f"Bearer {net.network.admin_token}"},
        timeout=10,
    ).json()
    for copy in (requester_copy, provider_copy, hub_copy):
        assert copy["provider_non_disclosure"] is True
    assert result["inquiry_id"] not in {record["inquiry_id"] for record in shown["records"]}
