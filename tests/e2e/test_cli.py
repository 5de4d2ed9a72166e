"""The command line against a running network, as a user would run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ipnsim.launcher import find_free_port_block, port_is_free
from tests.e2e.conftest import RunningNetwork, ipnsim_cli

pytestmark = pytest.mark.e2e


def ipnsim(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return ipnsim_cli(data_dir, *args, timeout=timeout, columns=160)


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_demo_walks_the_canonical_story(network: RunningNetwork) -> None:
    result = ipnsim("demo", data_dir=network.data_dir)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo completed: every step behaved as expected." in result.stdout
    assert "step 5" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_inquire_mistaken_and_records(network: RunningNetwork) -> None:
    inquiry = ipnsim(
        "inquire",
        "--from",
        "yamagata",
        "--to",
        "odawara",
        "--persona",
        "moved_in",
        "--procedure",
        "JT01010000000214",
        "--fiscal-year",
        "2026",
        "--json",
        data_dir=network.data_dir,
    )
    assert inquiry.returncode == 0, inquiry.stderr
    answer = json_of(inquiry)
    assert (answer["status_detail"], answer["status_info_type"]) == ("09", "01")
    assert answer["items"][0] == {"code": "I001", "value": "2026", "reason_of_null": None}

    declared = ipnsim(
        "mistaken",
        answer["inquiry_id"],
        "--agency",
        "yamagata",
        "--reason",
        "別人",
        "--json",
        data_dir=network.data_dir,
    )
    assert declared.returncode == 0, declared.stderr
    assert json_of(declared)["inquiry_id"] == answer["inquiry_id"]

    hub_copy = ipnsim(
        "records", "--hub", "--inquiry", answer["inquiry_id"], "--json", data_dir=network.data_dir
    )
    assert hub_copy.returncode == 0, hub_copy.stderr
    [record] = json_of(hub_copy)
    assert record["side"] == "hub"
    assert record["addenda"][0]["reason"] == "別人"

    table = ipnsim(
        "records", "--agency", "yamagata", "--persona", "moved_in", data_dir=network.data_dir
    )
    assert table.returncode == 0, table.stderr
    assert answer["inquiry_id"] in table.stdout


def test_a_failed_inquiry_exits_1_and_shows_its_code(network: RunningNetwork) -> None:
    result = ipnsim(
        "inquire",
        "--from",
        "yamagata",
        "--to",
        "odawara",
        "--persona",
        "no_pseudonym",
        "--procedure",
        "JT01010000000214",
        data_dir=network.data_dir,
    )

    assert result.returncode == 1
    assert "IDN001" in result.stdout
    assert "符号が未取得です" in result.stdout


def test_status_reports_every_service_healthy(network: RunningNetwork) -> None:
    result = ipnsim("status", "--json", data_dir=network.data_dir)

    assert result.returncode == 0, result.stderr
    services = json_of(result)
    assert {service["name"] for service in services} == {
        "hub",
        "yamagata",
        "odawara",
        "fukuoka",
        "digital-agency",
        "kanagawa",
        "resident-registry",
    }
    assert all(service["healthy"] for service in services)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "inquire",
                "--from",
                "nowhere",
                "--to",
                "odawara",
                "--atena",
                "000000000000001",
                "--procedure",
                "JT01010000000214",
            ),
            "no agency 'nowhere'",
        ),
        (
            (
                "inquire",
                "--from",
                "yamagata",
                "--to",
                "odawara",
                "--atena",
                "000000000000001",
                "--procedure",
                "JT99999999999999",
            ),
            "unknown procedure",
        ),
        (
            (
                "inquire",
                "--from",
                "yamagata",
                "--to",
                "odawara",
                "--atena",
                "12",
                "--procedure",
                "JT01010000000214",
            ),
            "atena_number",
        ),
        (
            (
                "inquire",
                "--from",
                "yamagata",
                "--to",
                "odawara",
                "--persona",
                "nobody",
                "--procedure",
                "JT01010000000214",
            ),
            "persona 'nobody'",
        ),
        (
            (
                "inquire",
                "--from",
                "yamagata",
                "--to",
                "odawara",
                "--atena",
                "000000000000001",
                "--procedure",
                "JT01010000000214",
                "--date-from",
                "2026-02-30",
                "--date-to",
                "2026-03-01",
            ),
            "is not a date",
        ),
        (("records", "--inquiry", "not-a-uuid", "--hub"), "not an inquiry id"),
    ],
)
def test_bad_command_line_input_is_explained_without_a_traceback(
    network: RunningNetwork, args: tuple[str, ...], message: str
) -> None:
    result = ipnsim(*args, data_dir=network.data_dir)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_without_a_network_say_how_to_start_one(tmp_path: Path) -> None:
    result = ipnsim("demo", data_dir=tmp_path)

    assert result.returncode == 2
    assert "ipnsim up" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_serves_until_ctrl_c_then_stops_every_process(tmp_path: Path) -> None:
    port = find_free_port_block(4)  # hub, two agencies, resident registry
    env = os.environ | {"COLUMNS": "160"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ipnsim",
            "up",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--agencies",
            "yamagata,odawara",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # Started as a script's background job is (`ipnsim up &`): with SIGINT ignored, which
        # it must not inherit, or `kill -INT` (what Ctrl-C sends) would not stop it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Network up" in line:
                break
        assert any("Network up" in line for line in output), "".join(output)
        console_line = next(line for line in output if "Console (コンソール)" in line)
        console_url = console_line.split()[-1]
        assert console_url == f"http://127.0.0.1:{port}/console/"
        page = httpx.get(console_url, timeout=10)
        assert page.status_code == 200
        assert "console.js" in page.text
        assert not port_is_free("127.0.0.1", port + 2)
        assert not port_is_free("127.0.0.1", port + 3)

        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=30)
        output.append(remaining)
    finally:
        if process.poll() is None:  # it did not stop: SIGTERM stops its services too
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()

    text = "".join(output)
    assert process.returncode == 0, text
    assert "all services stopped." in text
    assert "Traceback" not in text
    assert all(port_is_free("127.0.0.1", port + offset) for offset in range(4))
    network = json.loads((tmp_path / "network.json").read_text())
    assert network["seeded"] is True
