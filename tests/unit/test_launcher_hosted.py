"""The launcher's plan for every local government: agency hosts, their files and the registry."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from agencies.catalogue import default_agencies
from agencies.local_governments import all_agencies
from intermediate_server.host import load_hosted_agencies
from ipnsim.launcher import HOST_ROLE, Launcher, LaunchError, load_network_file


def every_local_government(data_dir: Path, **options: Any) -> Launcher:
    shipped = default_agencies()
    return Launcher(
        data_dir=data_dir,
        port=30_000,
        agencies=shipped,
        hosted=all_agencies()[len(shipped) :],
        **options,
    )


def test_every_local_government_is_planned_on_three_hosts(tmp_path: Path) -> None:
    network = every_local_government(tmp_path).prepare()
    hosts = [s for s in network.services if s.role == HOST_ROLE]
    assert [h.name for h in hosts] == [f"agency-host-{n}" for n in (1, 2, 3)]
    # The hub, six agencies and the resident registry take the first eight ports.
    assert [h.port for h in hosts] == [30_008, 30_009, 30_010]
    assert len(network.agencies) == 1_789
    assert len(network.processes) == 11
    assert [len(network.hosted(h.name)) for h in hosts] == [600, 600, 583]
    sapporo = network.agency("sapporo-011002")
    assert sapporo.host == "agency-host-1"
    assert sapporo.url == "http://127.0.0.1:30008/agencies/2001100200000000"
    # The demo's agencies keep a process of their own.
    assert network.agency("yamagata").host is None
    assert network.agency("yamagata").url == "http://127.0.0.1:30001"


def test_the_hub_registry_has_every_agency_with_its_own_credential(tmp_path: Path) -> None:
    network = every_local_government(tmp_path).prepare()
    registry = json.loads((tmp_path / "hub-registry.json").read_text("utf-8"))["agencies"]
    assert len(registry) == 1_789
    by_code = {entry["code"]: entry for entry in registry}
    sapporo = network.agency("sapporo-011002")
    assert by_code["2001100200000000"]["base_url"] == sapporo.url
    assert by_code["2001100200000000"]["credential"] == sapporo.credential
    assert len({entry["credential"] for entry in registry}) == 1_789


def test_each_host_file_lists_its_agencies_with_their_own_databases(tmp_path: Path) -> None:
    network = every_local_government(tmp_path, agencies_per_process=1_000).prepare()
    files = sorted((tmp_path / "hosts").iterdir())
    assert [f.name for f in files] == ["agency-host-1.json", "agency-host-2.json"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    hosted = load_hosted_agencies(files[0])
    assert len(hosted) == 1_000
    assert len({agency.database_url for agency in hosted}) == 1_000
    first = network.hosted("agency-host-1")[0]
    assert hosted[0].code == first.agency_code
    assert hosted[0].credential.get_secret_value() == first.credential
    assert hosted[0].database_url.endswith(f"/hosted/{first.name}.sqlite3")


def test_credentials_are_kept_from_one_start_to_the_next(tmp_path: Path) -> None:
    first = every_local_government(tmp_path).prepare()
    again = every_local_government(tmp_path).prepare()
    assert [s.credential for s in first.agencies] == [s.credential for s in again.agencies]
    assert load_network_file(tmp_path).agency("sapporo-011002").host == "agency-host-1"


def test_hosted_agencies_are_refused_on_postgresql(tmp_path: Path) -> None:
    launcher = every_local_government(tmp_path, postgres_url="postgresql://127.0.0.1:1/none")
    with pytest.raises(LaunchError, match="SQLite"):
        launcher.prepare()


def test_an_agency_cannot_be_both_hosted_and_on_its_own(tmp_path: Path) -> None:
    shipped = default_agencies()
    launcher = Launcher(data_dir=tmp_path, agencies=shipped, hosted=shipped[:1])
    with pytest.raises(LaunchError, match="both"):
        launcher.prepare()


def test_a_bad_agencies_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text('{"agencies": [{"code": "123"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"host\.json"):
        load_hosted_agencies(path)
    with pytest.raises(ValueError, match="cannot be read"):
        load_hosted_agencies(tmp_path / "missing.json")


def test_fresh_removes_the_hosted_agencies_data(tmp_path: Path) -> None:
    from ipnsim.cli import wipe

    every_local_government(tmp_path).prepare()
    (tmp_path / "hosted" / "sapporo-011002.sqlite3").write_bytes(b"")
    wipe(tmp_path)
    assert not (tmp_path / "hosted").exists()
    assert not (tmp_path / "hosts").exists()
