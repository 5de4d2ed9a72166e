"""The web console (ウェブコンソール): served by the hub, driven in a real headless Chromium.

The browser is Debian's ``chromium`` (never a downloaded one). Without it the browser tests are
skipped on a developer's machine and fail in CI. Screenshots land in test-artifacts/console/.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from agencies.catalogue import DIGITAL_AGENCY, FUKUOKA, KANAGAWA, ODAWARA, YAMAGATA
from ipnsim.launcher import NetworkFile
from network.console import STATIC_DIRECTORY
from tests.e2e.conftest import PROVIDER_TIMEOUT, small_network, started

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
"""The one URL the pages name: SVG's XML namespace, an identifier that is never fetched."""

DEMOS = {
    "moved_in": [
        "order",
        "received",
        "permitted",
        "converted",
        "forwarded",
        "replica",
        "provided",
        "answered",
    ],
    "no_account": ["received", "permitted", "converted", "forwarded", "provided", "answered"],
    "namesake": ["received", "permitted", "converted", "forwarded", "provided", "answered"],
    "manual_response_hold": ["received", "permitted", "converted", "forwarded", "answered"],
    "provider_down": ["received", "permitted", "converted", "forwarded", "answered"],
    "dependant_finder": ["received", "permitted", "converted", "forwarded", "provided", "answered"],
    "june_release": ["received", "permitted", "converted", "forwarded", "provided", "answered"],
}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkFile]:
    slugs = (YAMAGATA, ODAWARA, FUKUOKA, DIGITAL_AGENCY, KANAGAWA)
    data_dir = tmp_path_factory.mktemp("console")
    with small_network(data_dir, slugs, provider_timeout=PROVIDER_TIMEOUT) as launcher:
        yield started(launcher)


def console_url(network: NetworkFile) -> str:
    return network.hub.url + "/console/"


# --- without a browser ---------------------------------------------------------------------


def test_console_pages_reference_nothing_outside_the_machine() -> None:
    files = sorted(STATIC_DIRECTORY.iterdir())
    assert {path.name for path in files} >= {"index.html", "console.js", "console.css"}
    for path in files:
        urls = set(
            re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'`)<>]*", path.read_text())
        )
        assert urls <= {SVG_NAMESPACE}, f"{path.name} names {urls - {SVG_NAMESPACE}}"
        assert "@import" not in path.read_text()


def test_hub_serves_the_console_and_redirects_to_it(network: NetworkFile) -> None:
    page = httpx.get(network.hub.url + "/console", follow_redirects=True, timeout=10)
    assert page.status_code == 200
    assert str(page.url) == console_url(network)
    assert '<html lang="ja">' in page.text
    script = httpx.get(console_url(network) + "console.js", timeout=10)
    assert script.status_code == 200
    assert "EventSource" in script.text


def test_event_stream_pushes_each_hop_of_an_inquiry(network: NetworkFile) -> None:
    personas = httpx.get(network.hub.url + "/v1/personas", timeout=10).json()
    inquiry = next(p for p in personas["personas"] if p["name"] == "moved_in")["inquiry"]

    async def go() -> list[dict[str, object]]:
        events: list[dict[str, object]] = []
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("GET", network.hub.url + "/v1/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ": subscribed"
            sent = asyncio.create_task(
                client.post(
                    network.hub.url
                    + f"/console/api/agencies/{inquiry['requester_code']}/inquiries",
                    json=order(inquiry),
                )
            )
            async for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if events[-1]["hop"] == "answered":
                        break
            result = (await sent).json()
        assert {event["inquiry_id"] for event in events} == {result["inquiry_id"]}
        return events

    events = asyncio.run(go())
    assert [event["hop"] for event in events] == DEMOS["namesake"]
    assert events[-1]["status"] == "0901"
    assert events[0]["requester_code"] == inquiry["requester_code"]


def order(inquiry: dict[str, object]) -> dict[str, object]:
    return {
        "atena_number": inquiry["atena_number"],
        "affair_code": inquiry["affair_code"],
        "procedure_code": inquiry["procedure_code"],
        "info_type_code": inquiry["info_type_code"],
        "provider_code": inquiry["provider_code"],
        "condition": {"kind": "fiscal_year", "fiscal_year": inquiry["fiscal_year"]}
        if inquiry["fiscal_year"]
        else {"kind": "latest"},
    }


def test_console_refuses_actions_a_terminal_may_not_take(network: NetworkFile) -> None:
    agencies = httpx.get(network.hub.url + "/v1/agencies", timeout=10).json()
    code = agencies[0]["code"]
    refused = httpx.post(
        network.hub.url + f"/console/api/agencies/{code}/replicas", json={}, timeout=10
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "VAL006"
    unknown = httpx.get(
        network.hub.url + "/console/api/agencies/2999999999999999/records", timeout=10
    )
    assert unknown.json()["code"] == "AGY001"


def test_network_map_shows_health_faults_counts_and_hot_spots(network: NetworkFile) -> None:
    answer = httpx.get(network.hub.url + "/console/api/network", timeout=30).json()
    assert len(answer["agencies"]) == 5
    assert all(agency["healthy"] for agency in answer["agencies"])

    personas = httpx.get(network.hub.url + "/v1/personas", timeout=10).json()
    inquiry = next(p for p in personas["personas"] if p["name"] == "moved_in")["inquiry"]
    operator = {"Authorization": f"Bearer {network.admin_token}"}
    provider = inquiry["provider_code"]
    faults = network.hub.url + "/v1/faults"
    assert httpx.put(f"{faults}/{provider}", json={"down": True}, headers=operator).is_success
    try:
        sent = httpx.post(
            network.hub.url + f"/console/api/agencies/{inquiry['requester_code']}/inquiries",
            json=order(inquiry),
            timeout=30,
        ).json()
        assert sent["error"]["code"] == "AVL001"
        answer = httpx.get(network.hub.url + "/console/api/network", timeout=30).json()
    finally:
        assert httpx.delete(faults, headers=operator).status_code == 204
    by_code = {agency["agency"]["code"]: agency for agency in answer["agencies"]}
    assert by_code[provider]["fault"]["down"] is True
    assert by_code[provider]["errors_as_provider"] >= 1
    assert by_code[inquiry["requester_code"]]["inquiries_as_requester"] >= 1
    spots = {
        (spot["provider_code"], spot["error_code"]): spot["count"] for spot in answer["hot_spots"]
    }
    assert spots[(provider, "AVL001")] >= 1


# --- in the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed, and CI requires the browser tests")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {ARTIFACTS}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(network: NetworkFile, browser: object) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(console_url(network))
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#stream-state[data-state=live]")
    try:
        yield page
    finally:
        context.close()
        hosts = {urlsplit(url).hostname for url in requested}
        assert hosts <= {"127.0.0.1"}, f"the console fetched from {hosts}"


def hops(page: object, selector: str) -> list[str]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    found: list[str] = page.eval_on_selector_all(
        selector + " svg g.hop", "nodes => nodes.map(node => node.dataset.hop)"
    )
    return found


@pytest.mark.parametrize("demo", list(DEMOS))
def test_guided_demo_runs_to_its_end_and_shows_each_hop(page: object, demo: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.click("nav button[data-tab=demos]")
    page.click(f"button[data-demo={demo}]")
    steps = 0
    while page.is_hidden("#demo-done"):
        page.wait_for_function(
            "() => !document.querySelector('#demo-next').disabled"
            " || !document.querySelector('#demo-done').hidden"
        )
        if page.is_visible("#demo-done"):
            break
        page.click("#demo-next")
        steps += 1
        assert steps < 10
    expect(page.locator("#demo-next")).to_be_disabled()
    expect(page.locator("#demo-output .step-failed")).to_have_count(0)
    page.wait_for_function(
        "() => document.querySelector('#demo-flow svg g.hop[data-hop=answered]') !== null"
    )
    shown = hops(page, "#demo-flow")
    assert [hop for hop in DEMOS[demo] if hop in shown] == DEMOS[demo], shown
    lanes = page.eval_on_selector_all(
        "#demo-flow svg text[data-lane]", "n => n.map(t => t.textContent)"
    )
    assert lanes[:5] == [
        "業務システム",
        "照会側中間サーバー",
        "情報提供ネットワークシステム",
        "提供側中間サーバー",
        "副本",
    ]
    if demo == "provider_down":
        expect(page.locator("#demo-flow")).to_contain_text("AVL001")
    if demo == "no_account":
        expect(page.locator("#demo-flow")).to_contain_text("RPL001")
    if demo == "manual_response_hold":
        expect(page.locator("#demo-output .result").last).to_contain_text("09/01")
    if demo == "namesake":
        expect(page.locator("#demo-output tr.addendum")).to_have_count(1)
    if demo == "june_release":
        expect_june_release_shown(page)
    page.screenshot(path=str(ARTIFACTS / f"demo-{demo}.png"), full_page=True)


def network_clock(page: object) -> dict[str, Any]:
    """The network's clock as the console's endpoint reports it, fetched outside the page."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    answer: dict[str, Any] = httpx.get(page.url + "api/clock", timeout=10).json()
    return answer


def clock_is_real(page: object) -> bool:
    clocks = network_clock(page)
    return bool(clocks["complete"]) and not any(
        view["simulated"] for view in [clocks["hub"], *(a["clock"] for a in clocks["agencies"])]
    )


def expect_june_release_shown(page: object) -> None:
    """The June demo: refused with RPL010 before the release date, answered after it, and the
    clock put back."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    flows = page.locator("#demo-flow .flow")
    expect(flows).to_have_count(2)
    expect(flows.first).to_have_class(re.compile(r"\berror\b"))
    expect(flows.first.locator("g.hop[data-hop=answered]")).to_contain_text("RPL010")
    expect(flows.last).not_to_have_class(re.compile(r"\berror\b"))
    expect(flows.last.locator("g.hop[data-hop=provided]")).to_be_visible()
    expect(flows.last.locator("g.hop[data-hop=answered]")).to_contain_text("0901")
    results = page.locator("#demo-output .result")
    expect(results).to_have_count(2)
    expect(results.first).to_contain_text("99/99")
    expect(results.first).to_contain_text("RPL010")
    expect(results.last).to_contain_text("09/01")
    expect(results.last.locator("tr")).not_to_have_count(0)
    clocks = page.locator("#demo-output table.clock")
    expect(clocks).to_have_count(3)
    expect(clocks.nth(0)).to_contain_text("05/25")
    expect(clocks.nth(1)).to_contain_text("06/01")
    expect(clocks.nth(2)).to_contain_text("実時間")
    assert clock_is_real(page)


def test_june_demo_that_fails_midway_puts_the_clock_back(page: object) -> None:
    from playwright.sync_api import Page, Route, expect

    assert isinstance(page, Page)

    def cut(route: Route) -> None:
        route.abort("connectionrefused")  # the inquiry never reaches the hub

    page.route("**/console/api/agencies/*/inquiries", cut)
    page.click("nav button[data-tab=demos]")
    page.click("button[data-demo=june_release]")
    expect(page.locator("#demo-output table.clock")).to_have_count(1)
    expect(page.locator("#demo-next")).to_be_enabled()
    assert not clock_is_real(page)
    page.click("#demo-next")
    expect(page.locator("#demo-output .step-failed")).to_have_count(1)
    expect(page.locator("#demo-output .restored")).to_have_count(1)
    expect(page.locator("#demo-next")).to_be_disabled()
    expect(page.locator("#demo-done")).to_be_visible()
    assert clock_is_real(page)
    page.screenshot(path=str(ARTIFACTS / "demo-june_release-failed.png"), full_page=True)


def test_june_demo_left_midway_puts_the_clock_back(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.click("nav button[data-tab=demos]")
    page.click("button[data-demo=june_release]")
    expect(page.locator("#demo-output table.clock")).to_have_count(1)
    assert not clock_is_real(page)
    page.click("button[data-demo=moved_in]")  # another demo: the June one is left
    expect(page.locator("#demo-output .result")).to_have_count(0)
    deadline = time.monotonic() + 10
    while not clock_is_real(page) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert clock_is_real(page)

    page.click("button[data-demo=june_release]")
    expect(page.locator("#demo-output table.clock")).to_have_count(1)
    assert not clock_is_real(page)
    page.reload()  # leaving the page
    page.wait_for_selector("body[data-ready=true]")
    deadline = time.monotonic() + 10
    while not clock_is_real(page) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert clock_is_real(page)


def test_terminal_inquiry_appears_in_the_live_flow_and_can_be_declared_mistaken(
    page: object,
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.click("nav button[data-tab=terminal]")
    page.select_option("#term-persona", "moved_in")
    page.click("#term-send")
    result = page.locator("#term-result .result")
    expect(result).to_contain_text("09/01")
    inquiry_id = result.get_attribute("data-inquiry")
    page.screenshot(path=str(ARTIFACTS / "terminal.png"), full_page=True)

    page.click("nav button[data-tab=flow]")
    flow = f"#flow-list .flow[data-inquiry='{inquiry_id}']"
    page.wait_for_selector(flow + " svg g.hop[data-hop=answered]")
    assert hops(page, flow) == DEMOS["moved_in"] + ["business"]
    page.screenshot(path=str(ARTIFACTS / "live-flow.png"), full_page=True)

    page.click("nav button[data-tab=terminal]")
    page.click("#term-mistaken")
    expect(page.locator("#term-records-out tr.addendum")).to_contain_text("別人への照会")

    page.click("nav button[data-tab=person]")
    page.select_option("#person-pick", "moved_in")
    page.click("#person-show")
    expect(page.locator("#person-out tr.addendum").first).to_contain_text("別人への照会")
    page.screenshot(path=str(ARTIFACTS / "person.png"), full_page=True)


def test_language_switch_turns_the_console_into_english_and_back(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    nav = page.locator("nav button[data-tab=flow]")
    expect(nav).to_have_text("ライブフロー")
    page.click("#lang-toggle")
    expect(nav).to_have_text("Live flow")
    expect(page.locator("nav button[data-tab=terminal]")).to_have_text("Staff terminal")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("nav button[data-tab=catalogue]")
    expect(page.locator("#error-table tr[data-code=AVL001]")).to_contain_text("cannot be reached")
    page.screenshot(path=str(ARTIFACTS / "english-catalogue.png"), full_page=True)
    page.click("#lang-toggle")
    expect(nav).to_have_text("ライブフロー")
    expect(page.locator("#error-table tr[data-code=AVL001]")).to_contain_text("接続できません")


def test_network_map_in_the_browser_lists_each_agency_up(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.click("nav button[data-tab=map]")
    expect(page.locator("#map-table tr[data-agency]")).to_have_count(5)
    expect(page.locator("#map-table td.up")).to_have_count(5)
    page.screenshot(path=str(ARTIFACTS / "network-map.png"), full_page=True)
