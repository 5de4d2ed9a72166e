"""Browsing the catalogue: the hub's /v1/catalogue API, `ipnsim catalogue` and docs/catalogue.md.

For every procedure: what can be obtained, from whom, and which paper the inquiry replaces.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from error_codes import IpnsimError
from error_codes.http import install_error_handling
from ipnsim.catalogue_commands import catalogue_app
from network.catalogue_api import (
    MAX_QUERY_LENGTH,
    HitKind,
    ProcedureView,
    catalogue_router,
    describe_code,
    describe_procedure,
    render_catalogue_markdown,
    search,
    shipped_permissions,
)
from network.protocol.layouts import catalogue

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "catalogue.md"

NINE_AFFAIRS = (
    "地方税",
    "国民健康保険",
    "児童扶養手当",
    "児童手当",
    "介護保険",
    "感染症",
    "障害者総合支援",
    "子ども・子育て支援",
    "難病",
)
PROCEDURES = sorted(catalogue().procedures)


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app)
    app.include_router(catalogue_router(catalogue(), shipped_permissions()))
    return app


APP = make_app()


def get(path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, params=params)

    return asyncio.run(go())


def ok(path: str, params: dict[str, str] | None = None) -> Any:
    response = get(path, params)
    assert response.status_code == 200, response.text
    return response.json()


def expect_error(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


# --- the HTTP API ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", PROCEDURES)
def test_every_procedure_says_what_it_obtains_from_whom_and_which_paper(code: str) -> None:
    view = ok(f"/v1/catalogue/procedures/{code}")
    assert view["code"] == code
    assert view["affair"]["code"] == catalogue().procedures[code].affair_code
    assert view["replaces_ja"] and view["replaces_en"] and view["papers"]
    assert view["requester_kinds"]
    assert view["obtainable"], f"{code} obtains nothing"
    for info_type in view["obtainable"]:
        assert info_type["provider_kinds"] == [info_type["holder_kind"]]
        assert info_type["requester_kinds"]
        assert info_type["items"]
        for item in info_type["items"]:
            assert item["name_ja"] and item["name_en"] and item["value_type"]
            assert item["dataset_number"].startswith("D")


def test_procedure_list_has_every_procedure_with_what_it_obtains() -> None:
    listed = ok("/v1/catalogue/procedures")
    assert [p["code"] for p in listed] == list(catalogue().procedures)
    for procedure in listed:
        assert procedure["affair"]["name_ja"]
        assert procedure["replaces_ja"]
        assert procedure["obtainable"]
        assert all(ref["provider_kinds"] for ref in procedure["obtainable"])


def test_every_one_of_the_nine_affairs_has_a_procedure() -> None:
    affairs = ok("/v1/catalogue/affairs")
    assert len(affairs) == len(NINE_AFFAIRS)
    for label in NINE_AFFAIRS:
        found = [affair for affair in affairs if label in affair["name_ja"]]
        assert found, label
        assert all(affair["procedures"] for affair in found), label
    one = ok(f"/v1/catalogue/affairs/{affairs[0]['code']}")
    assert one == affairs[0]


def test_the_real_codes_stay() -> None:
    tax = ok("/v1/catalogue/procedures/JT01010000000214")
    assert tax["affair"]["code"] == "JM01000000121000"
    assert tax["source"] == "real-code"
    assert [(t["code"], t["provider_kinds"]) for t in tax["obtainable"]] == [
        ("TM00000000000002", ["municipality"])
    ]
    assert tax["obtainable"][0]["name_ja"] == "地方税関係情報"
    assert tax["replaces_ja"] == "課税証明書"
    account = ok("/v1/catalogue/procedures/JT01010000000001")
    assert [(t["code"], t["provider_kinds"]) for t in account["obtainable"]] == [
        ("TM00000000000089", ["digital_agency"])
    ]
    assert account["replaces_ja"] == "預金通帳の写し"
    intractable = ok("/v1/catalogue/info-types/TM00000000000082")
    assert intractable["name_ja"] == "難病関係情報"
    assert intractable["source"] == "real-code"
    assert intractable["holder_kind"] == "prefecture"


def test_intractable_disease_procedure_is_asked_by_a_prefecture() -> None:
    view = ok("/v1/catalogue/procedures/JT03810000000001")
    assert view["requester_kinds"] == ["prefecture"]
    assert {t["code"]: t["provider_kinds"] for t in view["obtainable"]} == {
        "TM00000000000002": ["municipality"],
        "TM00000000000001": ["municipality"],
    }
    assert [p["name_ja"] for p in view["papers"]] == ["課税証明書", "住民票の写し"]


def test_info_type_lists_its_items_and_the_procedures_obtaining_it() -> None:
    view = ok("/v1/catalogue/info-types/TM00000000000021")
    assert view["holder_kind"] == "prefecture"
    assert [item["code"] for item in view["items"]] == ["I001", "I002", "I003", "I004"]
    uses = {use["procedure_code"]: use for use in view["obtainable_by"]}
    assert set(uses) == {"JT03310000000001", "JT03510000000002"}
    assert uses["JT03310000000001"]["provider_kinds"] == ["prefecture"]
    listed = ok("/v1/catalogue/info-types")
    assert [t["code"] for t in listed] == list(catalogue().info_types)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/catalogue/procedures/JT09999999999999", "procedure"),
        ("/v1/catalogue/info-types/TM09999999999999", "info type"),
        ("/v1/catalogue/affairs/JM09999999999999", "affair"),
    ],
)
def test_unknown_code_is_val006(path: str, kind: str) -> None:
    body = expect_error(get(path), "VAL006")
    code = path.rsplit("/", 1)[1]
    assert body["message_en"] == f"The {kind} '{code}' is not defined."
    assert (
        "ＪＴ" in body["message_ja"] or "ＴＭ" in body["message_ja"] or "ＪＭ" in body["message_ja"]
    )


def test_search_finds_papers_by_their_japanese_name() -> None:
    hits = ok("/v1/catalogue/search", {"q": "課税証明書"})
    papers = [hit for hit in hits if hit["kind"] == "paper"]
    assert len(papers) == 1
    assert papers[0]["name_en"] == "certificate of taxation"
    assert papers[0]["code"] is None
    assert "JT01010000000214" in papers[0]["procedure_codes"]
    assert "JT02310000000214" in papers[0]["procedure_codes"]


def test_search_finds_by_english_words_whatever_the_case_or_width() -> None:
    hits = ok("/v1/catalogue/search", {"q": "tax"})
    kinds = {hit["kind"] for hit in hits}
    assert kinds == {"affair", "procedure", "paper", "info_type", "item"}
    info_types = [hit for hit in hits if hit["kind"] == "info_type"]
    assert [hit["code"] for hit in info_types] == ["TM00000000000002"]
    assert "JT01010000000214" in info_types[0]["procedure_codes"]
    assert info_types[0]["matched"] == ["name_en"]
    items = [hit for hit in hits if hit["kind"] == "item"]
    assert all(hit["info_type_code"] for hit in items)
    for variant in ("TAX", "Tax", "ＴＡＸ", "  tax  "):
        assert ok("/v1/catalogue/search", {"q": variant}) == hits


def test_search_needs_every_word() -> None:
    hits = ok("/v1/catalogue/search", {"q": "local tax"})
    assert {hit["code"] for hit in hits if hit["kind"] == "info_type"} == {"TM00000000000002"}
    assert ok("/v1/catalogue/search", {"q": "tax 難病"}) == []


def test_search_finds_items_and_affairs_in_japanese() -> None:
    hits = ok("/v1/catalogue/search", {"q": "障害等級"})
    assert [(hit["kind"], hit["info_type_code"], hit["code"]) for hit in hits] == [
        ("item", "TM00000000000021", "I002")
    ]
    affairs = ok("/v1/catalogue/search", {"q": "障害者総合支援"})
    assert affairs[0]["kind"] == "affair"
    assert affairs[0]["code"] == "JM01000000331000"


@pytest.mark.parametrize("query", ["", "   ", "x" * (MAX_QUERY_LENGTH + 1)])
def test_bad_query_is_val001(query: str) -> None:
    body = expect_error(get("/v1/catalogue/search", {"q": query}), "VAL001")
    assert "「ｑ」" in body["message_ja"]


def test_missing_query_is_val001() -> None:
    body = expect_error(get("/v1/catalogue/search"), "VAL001")
    assert body["details"][0]["field"] == "q"


# --- the pure functions ----------------------------------------------------------------------


def test_codes_are_read_generously() -> None:
    view = describe_procedure(catalogue(), shipped_permissions(), " ｊｔ01010000000214 ")
    assert view.code == "JT01010000000214"
    assert isinstance(
        describe_code(catalogue(), shipped_permissions(), "jt01010000000214"), ProcedureView
    )


def test_describe_code_refuses_what_is_no_code() -> None:
    with pytest.raises(IpnsimError) as caught:
        describe_code(catalogue(), shipped_permissions(), "hello")
    assert caught.value.code == "VAL006"


def test_search_hits_are_typed() -> None:
    hits = search(catalogue(), shipped_permissions(), "公金")
    assert {hit.kind for hit in hits} == {HitKind.PROCEDURE, HitKind.INFO_TYPE}


# --- the command line ------------------------------------------------------------------------

runner = CliRunner()


def invoke(*args: str) -> Any:
    result = runner.invoke(catalogue_app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + result.stderr
    assert "Traceback" not in result.output
    return result


def test_cli_list_shows_every_procedure() -> None:
    shown = json.loads(invoke("list", "--json").stdout)
    assert [p["code"] for p in shown] == list(catalogue().procedures)
    assert all(p["obtainable"] for p in shown)
    text = invoke("list").stdout
    for code in catalogue().procedures:
        assert code in text


@pytest.mark.parametrize("code", PROCEDURES)
def test_cli_show_answers_for_every_procedure(code: str) -> None:
    view = json.loads(invoke("show", code, "--json").stdout)
    assert view["obtainable"] and all(t["provider_kinds"] for t in view["obtainable"])
    text = invoke("show", code).stdout
    assert code in text
    assert view["obtainable"][0]["code"] in text
    assert view["papers"][0]["name_ja"] in text


def test_cli_show_affair_and_info_type() -> None:
    affair = json.loads(invoke("show", "JM01000000381000", "--json").stdout)
    assert [p["code"] for p in affair["procedures"]] == ["JT03810000000001"]
    info_type = json.loads(invoke("show", "TM00000000000002", "--json").stdout)
    assert len(info_type["items"]) == 7
    assert "地方税関係情報" in invoke("show", "TM00000000000002").stdout
    assert "JT03810000000001" in invoke("show", "JM01000000381000").stdout


def test_cli_search_in_japanese_and_english() -> None:
    hits = json.loads(invoke("search", "課税証明書", "--json").stdout)
    assert any(hit["kind"] == "paper" for hit in hits)
    assert "certificate of taxation" in invoke("search", "課税証明書").stdout
    assert "TM00000000000002" in invoke("search", "tax").stdout
    assert "no affair" in invoke("search", "zzzz").stdout
    assert json.loads(invoke("search", "zzzz", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["show", "JT09999999999999"], "VAL006"),
        (["show", "hello"], "VAL006"),
        (["show", "TM09999999999999", "--json"], "VAL006"),
        (["search", " "], "VAL001"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message_on_stderr(args: list[str], code: str) -> None:
    result = runner.invoke(catalogue_app, args)
    assert result.exit_code == 2
    assert code in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


# --- docs/catalogue.md -----------------------------------------------------------------------


def test_docs_catalogue_is_up_to_date() -> None:
    rendered = render_catalogue_markdown(catalogue(), shipped_permissions())
    assert DOCS.read_text(encoding="utf-8") == rendered, (
        "docs/catalogue.md is out of date: python -m network.catalogue_api > docs/catalogue.md"
    )
    assert "python -m network.catalogue_api > docs/catalogue.md" in rendered
    for code in catalogue().procedures:
        assert code in rendered
