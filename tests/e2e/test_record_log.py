"""Tamper-evident provision records over real processes: ``ipnsim records verify`` recomputes
each log and names the first record edited, removed or truncated by someone with access to a
service's database (who drops the append-only triggers first)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agencies.catalogue import ODAWARA, YAMAGATA, agency_by_slug
from agencies.personas import LOCAL_TAX_INFO
from agencies.population import persona_population
from ipnsim.launcher import Launcher, NetworkFile, find_free_port_block
from ipnsim.seeding import seed_network
from network.protocol.merkle import canonical_bytes, leaf_hash
from tests.e2e.conftest import ipnsim_cli, run

pytestmark = pytest.mark.e2e

APPEND_ONLY = ("provision_records", "addenda", "record_outcomes", "record_log", "tree_heads")


@dataclass
class SmallNetwork:
    network: NetworkFile
    data_dir: Path
    inquiries: list[uuid.UUID]

    def database(self, service: str) -> sqlite3.Connection:
        """The service's SQLite file, opened as an attacker would: triggers dropped."""
        connection = sqlite3.connect(self.data_dir / f"{service}.sqlite3", isolation_level=None)
        for table in APPEND_ONLY:
            connection.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            connection.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        return connection


def order() -> dict[str, Any]:
    population = persona_population(seed=0)
    person = population.persona_person("moved_in")
    return {
        "atena_number": population.atena_number(YAMAGATA, person.person_key),
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": agency_by_slug(ODAWARA).code,
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
    }


@pytest.fixture
def small(tmp_path: Path) -> Iterator[SmallNetwork]:
    """山形市 and 小田原市; three inquiries, the first declared mistaken (4 leaves per log)."""
    agencies = [agency_by_slug(YAMAGATA), agency_by_slug(ODAWARA)]
    launcher = Launcher(
        data_dir=tmp_path / "network",
        port=find_free_port_block(len(agencies) + 2),
        agencies=agencies,
        seed=0,
        population=1,
    )
    try:
        started = launcher.start()
        run(seed_network(started, persona_population(seed=0)))
        launcher.mark_seeded()
        yamagata = started.agency(YAMAGATA).url
        inquiries = []
        with httpx.Client(base_url=yamagata, timeout=30) as client:
            for _ in range(3):
                answer = client.post("/v1/inquiries", json=order())
                assert answer.status_code == 200, answer.text
                assert answer.json()["status_detail"] == "09"
                inquiries.append(uuid.UUID(answer.json()["inquiry_id"]))
            declared = client.post(
                f"/v1/inquiries/{inquiries[0]}/mistaken",
                json={"reason": "同姓同名の別人", "declared_by_user": "clerk01"},
            )
            assert declared.status_code == 200, declared.text
        yield SmallNetwork(started, tmp_path / "network", inquiries)
    finally:
        launcher.stop()


def verify(small: SmallNetwork, *args: str) -> tuple[int, dict[str, Any]]:
    done = ipnsim_cli(small.data_dir, "records", "verify", "--json", *args)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def log_of(report: dict[str, Any], service: str) -> dict[str, Any]:
    [log] = [log for log in report["logs"] if log["service"] == service]
    return log


def test_untouched_logs_verify_and_the_copies_agree(small: SmallNetwork) -> None:
    status, report = verify(small)
    assert status == 0, report
    assert report["ok"] is True
    assert report["disagreements"] == []
    for service in ("hub", YAMAGATA, ODAWARA):
        log = log_of(report, service)
        assert (log["stored_leaves"], log["tree_size"], log["problem"]) == (4, 4, None)
        assert log["heads_checked"] == 4
    assert (small.data_dir / "log-checkpoints.json").exists()
    # The triggers are in force: a change is refused.
    connection = sqlite3.connect(small.data_dir / "hub.sqlite3")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UPDATE refused"):
            connection.execute("UPDATE provision_records SET requester_code = '0'")
    finally:
        connection.close()


def test_an_edited_field_is_named_with_its_leaf_and_inquiry(small: SmallNetwork) -> None:
    second = str(small.inquiries[1])
    with small.database("hub") as connection:
        connection.execute(
            "UPDATE provision_records SET info_type_code = 'TM00000000000089' WHERE inquiry_id = ?",
            (second,),
        )
    status, report = verify(small)
    assert status == 1
    problem = log_of(report, "hub")["problem"]
    assert (problem["kind"], problem["leaf_index"], problem["inquiry_id"]) == (
        "edited",
        1,
        second,
    )
    assert "no longer matches its leaf hash" in problem["detail"]
    assert log_of(report, YAMAGATA)["problem"] is None
    [disagreement] = report["disagreements"]
    assert (disagreement["inquiry_id"], disagreement["field"]) == (second, "info_type_code")
    assert disagreement["values"]["hub"] == "TM00000000000089"
    assert disagreement["values"][f"requester:{agency_by_slug(YAMAGATA).code}"] == LOCAL_TAX_INFO


def test_an_edit_with_its_leaf_hash_rewritten_is_caught_by_the_signed_heads(
    small: SmallNetwork,
) -> None:
    third = str(small.inquiries[2])
    with small.database(ODAWARA) as connection:
        connection.execute(
            "UPDATE provision_records SET requested_at = '2026-01-01 00:00:00.000000' "
            "WHERE inquiry_id = ?",
            (third,),
        )
        [leaf] = connection.execute(
            "SELECT leaf_index FROM provision_records WHERE inquiry_id = ?", (third,)
        ).fetchone()
    # Recompute the leaf hash as the service would serialise the edited row.
    with httpx.Client(base_url=small.network.agency(ODAWARA).url) as client:
        entries = client.get("/v1/log/entries").json()["entries"]
    event = entries[leaf]["event"]
    with small.database(ODAWARA) as connection:
        connection.execute(
            "UPDATE record_log SET leaf_hash = ? WHERE leaf_index = ?",
            (leaf_hash(canonical_bytes(event)).hex(), leaf),
        )
    status, report = verify(small, "--service", ODAWARA)
    assert status == 1
    problem = log_of(report, ODAWARA)["problem"]
    assert (problem["kind"], problem["leaf_index"], problem["inquiry_id"]) == (
        "edited",
        leaf,
        third,
    )
    assert "differs from the tree head signed" in problem["detail"]


def test_a_deleted_record_is_named(small: SmallNetwork) -> None:
    second = str(small.inquiries[1])
    with small.database(YAMAGATA) as connection:
        connection.execute("DELETE FROM provision_records WHERE inquiry_id = ?", (second,))
    status, report = verify(small)
    assert status == 1
    problem = log_of(report, YAMAGATA)["problem"]
    assert (problem["kind"], problem["leaf_index"], problem["inquiry_id"]) == (
        "removed",
        1,
        second,
    )
    assert log_of(report, "hub")["problem"] is None


def test_a_truncated_tail_is_named_against_the_checkpoint(small: SmallNetwork) -> None:
    status, _ = verify(small)  # a clean run keeps the checkpoint of 4 leaves
    assert status == 0
    with small.database("hub") as connection:
        connection.execute("DELETE FROM addendum_deliveries")
        connection.execute("DELETE FROM addenda WHERE leaf_index >= 2")
        connection.execute("DELETE FROM provision_records WHERE leaf_index >= 2")
        connection.execute("DELETE FROM record_log WHERE leaf_index >= 2")
        connection.execute("DELETE FROM tree_heads WHERE tree_size > 2")
    status, report = verify(small)
    assert status == 1
    problem = log_of(report, "hub")["problem"]
    assert (problem["kind"], problem["leaf_index"]) == ("truncated", 2)
    assert "leaves 2..3 were removed" in problem["detail"]
    # The requester's copy says the hub recorded the third inquiry: its hub copy is missing.
    missing = [d for d in report["disagreements"] if d["field"] == "copy"]
    assert [d["inquiry_id"] for d in missing] == [str(small.inquiries[2])]
