"""docker-compose.yml for real: the demo story, a batch, the records, and an agency stopped.

Every request goes from the host through the ports the compose file publishes on 127.0.0.1;
inside, the services reach each other by their compose names and keep their data in PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.containers.conftest import ComposeNetwork

# The first test also brings the topology up (images, wheels, start): allow for it.
pytestmark = [pytest.mark.containers, pytest.mark.timeout(2400)]

PROCEDURE = "JT01010000000214"
UNREACHABLE = {"AVL001", "AVL002"}


def json_of(stdout: str) -> Any:
    return json.loads(stdout)


def test_every_service_answers_through_its_published_port(compose_network: ComposeNetwork) -> None:
    with httpx.Client(timeout=5.0) as client:
        for name in compose_network.port_of:
            health = client.get(compose_network.url(name) + "/health")
            assert health.status_code == 200, f"{name}: {health.text}"
        agencies = client.get(compose_network.url("hub") + "/v1/agencies").json()
    assert len(agencies) == len(compose_network.port_of) - 2  # the hub and the registry
    status = compose_network.ipnsim("status")
    assert status.returncode == 0, status.stdout + status.stderr


def test_services_keep_their_data_in_postgresql(compose_network: ComposeNetwork) -> None:
    listed = compose_network.podman(
        "exec",
        compose_network.container("postgres"),
        "psql",
        "--username=ipnsim",
        "--dbname=hub",
        "--tuples-only",
        "--command=SELECT version_num FROM alembic_version",
    )
    assert listed.stdout.strip(), "the hub's migrations were not applied in PostgreSQL"


def test_demo_story_runs_through_the_published_ports(compose_network: ComposeNetwork) -> None:
    result = compose_network.ipnsim("demo", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo completed: every step behaved as expected." in result.stdout


def test_batch_runs_and_the_records_verify(compose_network: ComposeNetwork, tmp_path: Path) -> None:
    personas = httpx.get(compose_network.url("hub") + "/v1/personas", timeout=5.0).json()
    atena = [
        persona["atena_number"]
        for persona in personas["personas"]
        if persona.get("municipality_slug") == "yamagata" and persona.get("atena_number")
    ]
    assert atena, "no persona of 山形市 in the hub's catalogue"
    atena_file = tmp_path / "atena.csv"
    rows = "\r\n".join(["統合宛名番号", *atena[:3], "999999999999999"])
    atena_file.write_text(rows + "\r\n", encoding="cp932")
    made = compose_network.ipnsim(
        "batch",
        "make",
        str(atena_file),
        "--procedure",
        PROCEDURE,
        "--agency",
        "yamagata",
        "--provider",
        "14206",
        "--fiscal-year",
        "2026",
        "-o",
        str(tmp_path),
        "--json",
    )
    assert made.returncode == 0, made.stdout + made.stderr
    (request,) = json_of(made.stdout)
    submitted = compose_network.ipnsim(
        "batch", "submit", request["path"], "--agency", "yamagata", "--wait", "--json", timeout=600
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job = json_of(submitted.stdout)
    assert job["state"] == "completed"
    assert job["rows_total"] == len(atena[:3]) + 1
    assert job["rows_failed"] >= 1  # the unknown atena number

    records = compose_network.ipnsim("records", "--hub", "--json")
    assert records.returncode == 0, records.stdout + records.stderr
    assert json_of(records.stdout), "the hub kept no provision record"
    verified = compose_network.ipnsim("records", "verify", "--json", timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_stopped_agency_container_is_provider_unreachable(
    compose_network: ComposeNetwork,
) -> None:
    inquiry = [
        "inquire",
        "--from",
        "yamagata",
        "--to",
        "odawara",
        "--procedure",
        PROCEDURE,
        "--persona",
        "moved_in",
        "--fiscal-year",
        "2026",
        "--json",
    ]
    answered = compose_network.ipnsim(*inquiry)
    assert answered.returncode == 0, answered.stdout + answered.stderr
    compose_network.podman("stop", "-t", "5", compose_network.container("odawara"))
    try:
        refused = compose_network.ipnsim(*inquiry)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        answer = json_of(refused.stdout)
        assert answer["provider_code"] == json_of(answered.stdout)["provider_code"]
        assert answer["status_detail"] == "99"
        # Unreachable: refused (AVL001), or, when the container network's DNS takes longer
        # than the hub's provider timeout to give up on the stopped container's name, AVL002.
        assert answer["error"]["code"] in UNREACHABLE, answer["error"]
        assert answer["error"]["category"] == "availability"
        assert answer["error"]["retryable"] is True
    finally:
        compose_network.podman("start", compose_network.container("odawara"))
