"""Sandboxes over real processes: parallel pipelines sharing one network never see each other's
people, replicas or records, a sandbox returns to the reference data on reset, and the default
data is left as it was. Runs on SQLite and on PostgreSQL (the ``network`` fixture)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from intermediate_server.schemas import PersonRegistration
from ipnsim.client import AgencyClient, HubOperatorClient, ServiceError
from ipnsim.sandboxes import SANDBOX_HEADER
from ipnsim.scenarios import ScenarioOutcome, ScenarioRunner, load_scenario
from network.protocol.log_api import SignedTreeHead
from tests.e2e.conftest import RunningNetwork, run
from tests.e2e.test_cli import ipnsim

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "register_replica.yaml"
AGENCIES = ("yamagata", "odawara")


def new_key(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def agency(net: RunningNetwork, slug: str, sandbox: str | None) -> AgencyClient:
    return AgencyClient(net.url(slug), sandbox=sandbox)


def hub(net: RunningNetwork, sandbox: str | None) -> HubOperatorClient:
    return HubOperatorClient(net.network.hub.url, net.network.admin_token, sandbox=sandbox)


async def delete_everywhere(net: RunningNetwork, *keys: str) -> None:
    for key in keys:
        async with hub(net, None) as operator:
            await operator.delete_sandbox(key)
        for service in net.network.agencies:
            async with AgencyClient(service.url, sandbox=None) as client:
                await client.delete_sandbox(key)


async def tree_head(net: RunningNetwork, slug: str, sandbox: str | None) -> SignedTreeHead:
    headers = {SANDBOX_HEADER: sandbox} if sandbox else {}
    async with httpx.AsyncClient(base_url=net.url(slug), headers=headers) as client:
        response = await client.get("/v1/log/tree-head")
        assert response.status_code == 200, response.text
        return SignedTreeHead.model_validate_json(response.content)


async def snapshot(net: RunningNetwork, sandbox: str | None) -> dict[str, object]:
    """What one sandbox holds: records per agency, the hub's records, replica ids at odawara."""
    state: dict[str, object] = {}
    for slug in AGENCIES:
        async with agency(net, slug, sandbox) as client:
            state[f"{slug} records"] = sorted(str(r.inquiry_id) for r in await client.records())
            state[f"{slug} log"] = (await tree_head(net, slug, sandbox)).tree_size
    async with agency(net, "odawara", sandbox) as client:
        state["odawara replicas"] = sorted(r.record_id for r in await client.replicas())
    async with hub(net, sandbox) as operator:
        state["hub records"] = sorted(str(r.inquiry_id) for r in await operator.records(1000))
    return state


def test_two_sandboxes_run_the_same_scenario_concurrently_without_interference(
    net: RunningNetwork,
) -> None:
    first, second = new_key("ci-a"), new_key("ci-b")
    scenario = load_scenario(SCENARIO)

    async def both() -> tuple[ScenarioOutcome, ScenarioOutcome]:
        return await asyncio.gather(
            ScenarioRunner(net.network, sandbox=first).run(SCENARIO, scenario),
            ScenarioRunner(net.network, sandbox=second).run(SCENARIO, scenario),
        )

    try:
        default_before = run(snapshot(net, None))
        # Each sandbox starts as a copy of the reference data (the network as seeded), whatever
        # the default data went through since.
        logs_before = {
            key: run(tree_head(net, "yamagata", key)).tree_size for key in (first, second)
        }
        outcomes = run(both())
        for outcome in outcomes:
            assert outcome.passed, [(s.name, s.error, s.differences) for s in outcome.steps]
        in_first, in_second = run(snapshot(net, first)), run(snapshot(net, second))

        # Each sandbox holds exactly its own run: one inquiry, one replica registered.
        for key, mine, theirs in ((first, in_first, in_second), (second, in_second, in_first)):
            new_inquiries = set(mine["hub records"]) - set(default_before["hub records"])  # type: ignore[arg-type]
            assert len(new_inquiries) == 1
            assert not new_inquiries & set(theirs["hub records"])  # type: ignore[arg-type]
            assert set(mine["yamagata records"]) - set(default_before["yamagata records"]) == (  # type: ignore[arg-type]
                new_inquiries
            )
            new_replicas = set(mine["odawara replicas"]) - set(default_before["odawara replicas"])  # type: ignore[arg-type]
            assert len(new_replicas) == 1
            assert not new_replicas & set(theirs["odawara replicas"])  # type: ignore[arg-type]
            # Each sandbox keeps its own record log: the inquiry's leaves are in it alone.
            assert mine["yamagata log"] > logs_before[key]  # type: ignore[operator]
        # The default data saw none of it.
        assert run(snapshot(net, None)) == default_before

        # A person registered in one sandbox is unknown in the other and in the default data.
        atena = "990000000000001"

        async def register_and_look() -> list[int]:
            async with agency(net, "yamagata", first) as client:
                await client.register_person(
                    PersonRegistration(
                        atena_number=atena, resident_code="99000000001", acquire_pseudonym=False
                    )
                )
                assert (await client.person(atena)).atena_number == atena
            statuses = []
            for sandbox in (second, None):
                async with agency(net, "yamagata", sandbox) as client:
                    with pytest.raises(ServiceError) as refused:
                        await client.person(atena)
                    assert refused.value.body.code == "IDN002"
                    statuses.append(refused.value.status)
            return statuses

        assert run(register_and_look()) == [404, 404]
    finally:
        run(delete_everywhere(net, first, second))


def test_reset_returns_a_sandbox_to_the_reference_data(net: RunningNetwork) -> None:
    key = new_key("reset")
    scenario = load_scenario(SCENARIO)
    persona_atena = net.atena("yamagata", "registered_without_tax")
    try:
        reference = run(snapshot(net, key))
        outcome = run(ScenarioRunner(net.network, sandbox=key).run(SCENARIO, scenario))
        assert outcome.passed
        assert run(snapshot(net, key)) != reference

        result = ipnsim("--sandbox", key, "reset", data_dir=net.data_dir)
        assert result.returncode == 0, result.stderr
        assert f"reset {key} on {len(net.network.agencies) + 1} services" in result.stdout

        assert run(snapshot(net, key)) == reference

        async def persona_still_there() -> str:
            async with agency(net, "yamagata", key) as client:
                return (await client.person(persona_atena)).atena_number

        assert run(persona_still_there()) == persona_atena

        listed = ipnsim("sandbox", "list", "--json", data_dir=net.data_dir)
        assert listed.returncode == 0, listed.stderr
        assert key in listed.stdout
    finally:
        deleted = ipnsim("sandbox", "delete", "--sandbox", key, data_dir=net.data_dir)
        assert deleted.returncode == 0, deleted.stderr

    listed = ipnsim("sandbox", "list", "--json", data_dir=net.data_dir)
    assert key not in listed.stdout


def test_scenario_command_runs_in_the_sandbox_it_is_given(net: RunningNetwork) -> None:
    key = new_key("cli")
    try:
        before = run(snapshot(net, None))
        result = ipnsim(
            "scenario", "run", str(SCENARIO), "--sandbox", key, data_dir=net.data_dir, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1/1 scenarios passed" in result.stdout
        assert run(snapshot(net, None)) == before
        in_sandbox = run(snapshot(net, key))
        assert len(set(in_sandbox["hub records"]) - set(before["hub records"])) == 1  # type: ignore[arg-type]
    finally:
        run(delete_everywhere(net, key))


def test_an_invalid_sandbox_key_is_refused_with_sbx001(net: RunningNetwork) -> None:
    for url in (net.network.hub.url, net.url("yamagata")):
        response = httpx.get(url + "/v1/agencies", headers={SANDBOX_HEADER: "Not_Valid!"})
        assert response.status_code == 422
        assert response.json()["code"] == "SBX001"
    response = httpx.post(net.url("yamagata") + "/v1/sandboxes/-bad/reset")
    assert response.status_code == 422
    assert response.json()["code"] == "SBX001"
    result = ipnsim("--sandbox", "UPPER", "sandbox", "list", data_dir=net.data_dir)
    assert result.returncode == 2
    assert "invalid sandbox key 'UPPER'" in result.stderr
    assert "Traceback" not in result.stderr
    unnamed = ipnsim("reset", data_dir=net.data_dir)
    assert unnamed.returncode == 2
    assert "name the sandbox: --sandbox KEY (or IPNSIM_SANDBOX), or --all" in unnamed.stderr
    both = ipnsim("reset", "--sandbox", "a", "--all", data_dir=net.data_dir)
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_sandboxes_are_bounded_with_sbx002(net: RunningNetwork) -> None:
    url = net.url("fukuoka")

    async def fill() -> tuple[list[str], ServiceError]:
        created: list[str] = []
        async with AgencyClient(url, sandbox=None) as client:
            existing = len(await client.sandboxes())
            try:
                for n in range(existing, 1000):
                    key = f"fill-{n}"
                    await client.reset_sandbox(key)
                    created.append(key)
            except ServiceError as error:
                return created, error
            finally:
                for key in created:
                    await client.delete_sandbox(key)
        raise AssertionError("no limit reached")

    created, error = run(fill())
    assert error.status == 409
    assert error.body.code == "SBX002"
    assert len(created) >= 1

    async def left() -> list[str]:
        async with AgencyClient(url, sandbox=None) as client:
            return [s.key for s in await client.sandboxes()]

    assert not set(created) & set(run(left()))


def test_operator_only_at_the_hub(net: RunningNetwork) -> None:
    response = httpx.get(net.network.hub.url + "/v1/sandboxes")
    assert response.status_code == 401
    assert response.json()["code"] == "AUT001"


def test_every_shipped_scenario_passes_in_a_sandbox_leaving_the_default_data(
    net: RunningNetwork,
) -> None:
    """Fan-out, idempotent retries, held inquiries answered or declined by staff (the hub's
    delivery of the final result), mistaken-person addenda: all within the sandbox."""
    key = new_key("all")
    try:
        before = run(snapshot(net, None))
        result = ipnsim(
            "--sandbox",
            key,
            "scenario",
            "run",
            str(SCENARIO.parent),
            data_dir=net.data_dir,
            timeout=240,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert run(snapshot(net, None)) == before
        in_sandbox = run(snapshot(net, key))
        assert len(set(in_sandbox["hub records"]) - set(before["hub records"])) > 5  # type: ignore[arg-type]
    finally:
        run(delete_everywhere(net, key))


def test_a_batch_job_runs_in_the_sandbox_that_started_it(
    net: RunningNetwork, tmp_path: Path
) -> None:
    key = new_key("batch")
    atena_file = tmp_path / "atena.csv"
    atena_file.write_text(
        f"統合宛名番号\r\n{net.atena('yamagata', 'moved_in')}\r\n", encoding="cp932"
    )
    try:
        before = run(snapshot(net, None))
        made = ipnsim(
            "batch", "make", str(atena_file), "--procedure", "JT01010000000214",
            "--agency", "yamagata", "--provider", "14206", "--fiscal-year", "2026",
            "-o", str(tmp_path), "--json", data_dir=net.data_dir,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        submitted = ipnsim(
            "--sandbox", key, "batch", "submit", json.loads(made.stdout)[0]["path"],
            "--agency", "yamagata", "--wait", "--json", data_dir=net.data_dir,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        job = json.loads(submitted.stdout)
        assert (job["state"], job["rows_provided"]) == ("completed", 1)

        def jobs(*sandbox: str) -> set[str]:
            listed = ipnsim(
                *sandbox, "batch", "list", "--agency", "yamagata", "--json", data_dir=net.data_dir
            )
            assert listed.returncode == 0, listed.stderr
            return {entry["job_id"] for entry in json.loads(listed.stdout)}

        assert job["job_id"] in jobs("--sandbox", key)
        assert job["job_id"] not in jobs()
        # The job's inquiry went through the hub inside the sandbox, and only there.
        in_sandbox = run(snapshot(net, key))
        assert len(set(in_sandbox["hub records"]) - set(before["hub records"])) == 1  # type: ignore[arg-type]
        assert run(snapshot(net, None)) == before
    finally:
        run(delete_everywhere(net, key))
