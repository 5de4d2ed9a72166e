"""How long ``ipnsim up --municipalities all`` takes to start, and how much memory it uses.

Each run starts, in a fresh temporary data directory and on free ports, the real command line
as a user would:

(a) the baseline, ``ipnsim up``: the hub, the six agencies of the catalogue and the resident
    registry, one process each, seeded with the default population;
(b) ``ipnsim up --municipalities all``: the same, plus every other local government of Japan
    (1,741 municipalities and 47 prefectures in all) on a few agency host processes.

For each it measures the time from starting the command until it prints "Network up." (every
process healthy, the population seeded, the reference data set taken), and the sum of the
resident set sizes (RSS) of the command and every process under it once up. For (b) it then
opens agencies on every host until each keeps its most (``--max-open-agencies``, 16 by default)
open, timing each first request (an agency's cold open: its database created and migrated), and
measures the RSS again: the bound of the network's memory however many agencies are used.

Every network is stopped (SIGTERM to the command, which stops its processes) and its directory
removed, whatever happens. The table shows medians of the runs.

    python benchmarks/every_municipality.py [--runs 2] [--agencies-per-process 600]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from agencies.catalogue import default_agencies
from agencies.local_governments import all_agencies
from intermediate_server.host import DEFAULT_MAX_OPEN
from ipnsim.launcher import (
    DEFAULT_AGENCIES_PER_PROCESS,
    HOST_ROLE,
    NetworkFile,
    find_free_port_block,
    load_network_file,
)

READY = "Network up."
START_TIMEOUT = 300.0


@dataclass
class Measure:
    seconds: float
    processes: int
    rss_mb: float
    agencies: int
    opened_rss_mb: float | None = None
    cold_open_ms: float | None = None


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(root: int) -> list[int]:
    """``root`` and every process under it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def total_rss_mb(root: int) -> tuple[int, float]:
    pids = descendants(root)
    return len(pids), sum(rss_kb(pid) for pid in pids) / 1024


def start(data_dir: Path, options: list[str], ports: int) -> tuple[subprocess.Popen[str], float]:
    """Start ``ipnsim up`` on ``ports`` free ports and wait for "Network up."; (process,
    seconds)."""
    command = [
        sys.executable,
        "-m",
        "ipnsim",
        "up",
        "--data-dir",
        str(data_dir),
        "--port",
        str(find_free_port_block(ports)),
        *options,
    ]
    env = os.environ | {"COLUMNS": "200", "TERM": "dumb"}
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = began + START_TIMEOUT
    for line in process.stdout:
        output.append(line)
        if READY in line:
            return process, time.perf_counter() - began
        if time.perf_counter() > deadline:
            break
    stop(process)
    raise RuntimeError("ipnsim up did not come up:\n" + "".join(output[-30:]))


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_agencies(network: NetworkFile, per_host: int) -> float:
    """Open ``per_host`` agencies on every host; the median first-request time (ms)."""
    times = []
    for host in [s for s in network.services if s.role == HOST_ROLE]:
        for agency in network.hosted(host.name)[:per_host]:
            began = time.perf_counter()
            with urllib.request.urlopen(agency.url + "/health", timeout=60) as response:
                response.read()
            times.append((time.perf_counter() - began) * 1000)
        with urllib.request.urlopen(host.url + "/health", timeout=10) as response:
            assert json.loads(response.read())["open"] == per_host
    return statistics.median(times)


def measure(options: list[str], ports: int, max_open: int | None) -> Measure:
    with tempfile.TemporaryDirectory(prefix="ipnsim-every-") as directory:
        data_dir = Path(directory)
        process, seconds = start(data_dir, options, ports)
        try:
            time.sleep(1.0)  # let the processes settle after seeding
            count, rss = total_rss_mb(process.pid)
            network = load_network_file(data_dir)
            result = Measure(seconds, count, rss, len(network.agencies))
            if max_open is not None:
                result.cold_open_ms = open_agencies(network, max_open)
                time.sleep(1.0)
                result.opened_rss_mb = total_rss_mb(process.pid)[1]
            return result
        finally:
            stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--agencies-per-process", type=int, default=DEFAULT_AGENCIES_PER_PROCESS)
    parser.add_argument("--max-open-agencies", type=int, default=DEFAULT_MAX_OPEN)
    arguments = parser.parse_args()
    every = [
        "--municipalities",
        "all",
        "--agencies-per-process",
        str(arguments.agencies_per_process),
        "--max-open-agencies",
        str(arguments.max_open_agencies),
    ]
    hosts = -(-(len(all_agencies()) - len(default_agencies())) // arguments.agencies_per_process)
    ports = len(default_agencies()) + 2 + hosts
    baselines: list[Measure] = []
    candidates: list[Measure] = []
    for run in range(1, arguments.runs + 1):
        baseline = measure([], len(default_agencies()) + 2, None)
        baselines.append(baseline)
        print(
            f"run {run}: ipnsim up: {baseline.agencies} agencies up in {baseline.seconds:.2f}s, "
            f"{baseline.processes} processes, {baseline.rss_mb:,.0f} MB",
            flush=True,
        )
        candidate = measure(every, ports, arguments.max_open_agencies)
        candidates.append(candidate)
        print(
            f"run {run}: --municipalities all: {candidate.agencies} agencies up in "
            f"{candidate.seconds:.2f}s, {candidate.processes} processes, "
            f"{candidate.rss_mb:,.0f} MB; {candidate.opened_rss_mb:,.0f} MB with "
            f"{arguments.max_open_agencies} open per host (cold open {candidate.cold_open_ms:.0f}"
            " ms)",
            flush=True,
        )

    def median(values: list[float]) -> float:
        return statistics.median(values)

    rows = [
        ("ipnsim up (baseline)", baselines, False),
        ("ipnsim up --municipalities all", candidates, False),
        (f"  … with {arguments.max_open_agencies} agencies open per host", candidates, True),
    ]
    print(f"\n{arguments.runs} run(s), medians\n")
    print("| network | agencies | processes | start s | total RSS MB |")
    print("|---|--:|--:|--:|--:|")
    for name, measures, opened in rows:
        rss = [m.opened_rss_mb or 0.0 for m in measures] if opened else [m.rss_mb for m in measures]
        print(
            f"| {name} | {measures[0].agencies:,} | {measures[0].processes} | "
            f"{'' if opened else f'{median([m.seconds for m in measures]):.2f}'} | "
            f"{median(rss):,.0f} |"
        )
    cold = median([m.cold_open_ms or 0.0 for m in candidates])
    print(f"\ncold open of a hosted agency (first request): median {cold:.0f} ms")
    start_s = median([m.seconds for m in candidates])
    worst = median([m.opened_rss_mb or 0.0 for m in candidates])
    print(
        f"targets: start < 30 s: {start_s:.2f} s ({'met' if start_s < 30 else 'NOT met'}); "
        f"memory < 2,048 MB: {worst:,.0f} MB at most open "
        f"({'met' if worst < 2048 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
