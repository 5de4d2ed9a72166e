"""Several hubs behind nginx, sharing one PostgreSQL database (``ipnsim up --hubs 2``).

Many inquiries from several agencies at once, spread by the load balancer over both hubs so that
their appends to the hub's one record log interleave; afterwards the log is one gap-free,
verifiable sequence signed with one key, and the three copies of every record agree.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from agencies.catalogue import FUKUOKA, KANAGAWA, ODAWARA, YAMAGATA
from agencies.population import persona_population
from ipnsim.launcher import HUB_INSTANCE_ROLE, LOAD_BALANCER, Launcher, LaunchError
from ipnsim.load_balancer import config_path, find_nginx
from ipnsim.postgres import drop_databases
from tests.e2e.conftest import ipnsim_cli, postgres_url, small_network

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PERSONAS = ("moved_in", "dependant_claimed_twice", "intractable_disease", "care_insured")
"""Succeeding inquiries of three requesters: 山形市, 福岡市 and 小田原市."""
ROUNDS = 30
"""Inquiries per persona: 120 in all, 24 in flight at a time."""
IN_FLIGHT = 24


def order(persona: str) -> tuple[str, dict[str, Any]]:
    """The requester's slug and the business system's order of the persona's inquiry."""
    inquiry = persona_population(seed=0).persona_catalogue()
    [found] = [p.inquiry for p in inquiry.personas if p.name == persona and p.inquiry]
    body: dict[str, Any] = {
        "atena_number": found.atena_number,
        "affair_code": found.affair_code,
        "procedure_code": found.procedure_code,
        "info_type_code": found.info_type_code,
        "provider_code": found.provider_code,
    }
    if found.fiscal_year is not None:
        body["condition"] = {"kind": "fiscal_year", "fiscal_year": found.fiscal_year}
    return found.requester_slug, body


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    server = postgres_url()
    if server is None:
        pytest.skip("no PostgreSQL server reachable (set IPNSIM_TEST_POSTGRES_URL)")
    data_dir = tmp_path_factory.mktemp("several-hubs")
    with small_network(
        data_dir, (YAMAGATA, ODAWARA, FUKUOKA, KANAGAWA), postgres_url=server, hubs=2
    ) as launcher:
        try:
            yield launcher
        finally:
            launcher.stop()
            drop_databases(server, launcher.database_names())


def served_by(data_dir: Path) -> Counter[str]:
    """POST /v1/inquiries per hub address, from the load balancer's access log."""
    counts: Counter[str] = Counter()
    for line in (data_dir / "logs" / "hub-access.log").read_text().splitlines():
        if '"POST /v1/inquiries HTTP' in line:
            match = re.search(r"upstream=(\S+)$", line)
            assert match is not None, line
            counts[match.group(1)] += 1
    return counts


async def send_all(urls: dict[str, str]) -> list[dict[str, Any]]:
    orders = [order(persona) for persona in PERSONAS for _ in range(ROUNDS)]
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def one(client: httpx.AsyncClient, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            response = await client.post(urls[slug] + "/v1/inquiries", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(one(client, slug, body) for slug, body in orders))


def test_the_network_file_says_what_runs(hubs: Launcher) -> None:
    network = hubs.network
    assert network is not None
    assert network.hub.process == LOAD_BALANCER
    instances = network.hub_instances
    assert [s.name for s in instances] == ["hub-1", "hub-2"]
    assert all(s.role == HUB_INSTANCE_ROLE for s in instances)
    config = config_path(hubs.data_dir).read_text()
    for instance in instances:
        assert f"server {network.host}:{instance.port} max_fails=0;" in config
    assert f"listen {network.host}:{network.hub.port};" in config
    # The agencies know only the load balancer's address.
    assert all(
        hubs._environment(agency)["IPNSIM_AGENCY_HUB_URL"] == network.hub.url
        for agency in network.agencies
    )
    # ipnsim status lists the load balancer and both hubs, all answering.
    done = ipnsim_cli(hubs.data_dir, "status", "--json", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    health = {entry["name"]: entry["healthy"] for entry in json.loads(done.stdout)}
    assert health["hub"] and health["hub-1"] and health["hub-2"], health
    # Both hubs sign with one key.
    keys = {
        httpx.get(s.url + "/v1/log/public-key", timeout=10).json()["public_key"] for s in instances
    }
    assert len(keys) == 1


def test_concurrent_inquiries_over_two_hubs_leave_one_verifiable_log(hubs: Launcher) -> None:
    network = hubs.network
    assert network is not None
    before = served_by(hubs.data_dir)
    urls = {slug: network.agency(slug).url for slug in (YAMAGATA, FUKUOKA, ODAWARA)}

    results = asyncio.run(send_all(urls))

    assert len(results) == len(PERSONAS) * ROUNDS
    assert {r["status_detail"] for r in results} == {"09"}, Counter(
        (r["status_detail"], (r.get("error") or {}).get("code")) for r in results
    )
    served = served_by(hubs.data_dir) - before
    hub_addresses = {f"{network.host}:{s.port}" for s in network.hub_instances}
    assert set(served) == hub_addresses, served
    # Inquiries made at once go to a hub together: each hub took a share of the requests.
    assert all(count >= sum(served.values()) // 5 for count in served.values()), served

    # The hub's log, straight from the database: one gap-free sequence, one head per size.
    leaves, heads, records = asyncio.run(hub_rows(hubs))
    assert leaves == list(range(len(leaves)))
    assert records >= len(results)
    assert heads == sorted(set(heads)) and heads[-1] == len(leaves)

    # Each hub sees the whole log, and both report the same signed head.
    tree_heads = [
        httpx.get(instance.url + "/v1/log/tree-head", timeout=10).json()
        for instance in network.hub_instances
    ]
    assert {(h["tree_size"], h["root_hash"]) for h in tree_heads} == {
        (len(leaves), tree_heads[0]["root_hash"])
    }

    # ipnsim records verify, through the load balancer: every log recomputed from its rows and
    # checked against every signed head, and the three copies of every record compared.
    done = ipnsim_cli(hubs.data_dir, "records", "verify", "--json", timeout=300)
    report = json.loads(done.stdout)
    assert done.returncode == 0, report
    assert report["disagreements"] == []
    [hub_log] = [log for log in report["logs"] if log["service"] == "hub"]
    assert hub_log["problem"] is None
    assert hub_log["tree_size"] == hub_log["stored_leaves"] == len(leaves)
    assert hub_log["heads_checked"] == len(heads)


def test_a_fault_holds_at_every_hub(hubs: Launcher) -> None:
    """Faults live in each hub process: ``ipnsim fault`` sets and clears them at every one."""
    network = hubs.network
    assert network is not None

    def ipnsim(*args: str) -> None:
        done = ipnsim_cli(hubs.data_dir, *args, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    slug, body = order("moved_in")
    url = network.agency(slug).url + "/v1/inquiries"
    before = served_by(hubs.data_dir)
    ipnsim("fault", "set", ODAWARA, "--down")
    try:
        codes = [
            (httpx.post(url, json=body, timeout=30).json().get("error") or {}).get("code")
            for _ in range(8)
        ]
        assert codes == ["AVL001"] * 8
        assert len(served_by(hubs.data_dir) - before) == 2  # both hubs refused some
    finally:
        ipnsim("fault", "clear", ODAWARA)
    assert httpx.post(url, json=body, timeout=30).json()["status_detail"] == "09"
    for instance in network.hub_instances:
        listed = httpx.get(
            instance.url + "/v1/faults",
            headers={"Authorization": f"Bearer {network.admin_token}"},
            timeout=10,
        )
        assert listed.json() == []


async def hub_rows(hubs: Launcher) -> tuple[list[int], list[int], int]:
    """The hub database's leaf indexes, signed head sizes and number of records, in order."""
    assert hubs.postgres_url is not None
    [name] = [n for n in hubs.database_names() if n.endswith("_hub")]
    url = make_url(hubs.postgres_url).set(drivername="postgresql", database=name)
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        leaves = [
            r[0]
            for r in await connection.fetch("SELECT leaf_index FROM record_log ORDER BY leaf_index")
        ]
        heads = [
            r[0]
            for r in await connection.fetch("SELECT tree_size FROM tree_heads ORDER BY tree_size")
        ]
        records = await connection.fetchval("SELECT count(*) FROM provision_records")
    finally:
        await connection.close()
    return leaves, heads, int(records)


def test_several_hubs_need_postgresql(tmp_path: Path) -> None:
    launcher = Launcher(data_dir=tmp_path / "network", hubs=2)
    with pytest.raises(LaunchError, match="must be PostgreSQL"):
        launcher.prepare()
    done = subprocess.run(
        [sys.executable, "-m", "ipnsim", "up", "--hubs", "2", "--data-dir", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "IPNSIM_POSTGRES_URL"},
        check=False,
    )
    assert done.returncode == 2
    assert "must be PostgreSQL" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_nginx_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    find_nginx()  # installed here
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("ipnsim.load_balancer.NGINX_SEARCH_PATH", (str(tmp_path),))
    launcher = Launcher(
        data_dir=tmp_path / "network", hubs=2, postgres_url="postgresql://127.0.0.1:1/none"
    )
    with pytest.raises(LaunchError, match="nginx is not installed"):
        launcher.start()
