"""How long a large 一括照会 job takes, and how much memory the services need for it.

Starts a fresh network (hub and every catalogue agency, SQLite, as ``ipnsim up`` does) in a
temporary directory, seeds ``--people`` people, and builds ``--files`` request files of
``--rows`` rows in all, fixed-width Shift_JIS as a municipal tool writes them: 福岡市 asks デジタル
庁 for the public-fund account (公金受取口座) of each of its residents in turn, cycling through
them (those デジタル庁 knows) until the rows are written. It then submits the files as one job to 福岡市's intermediate
server and times, per run:

(a) the upload, in which every row of every file is checked;
(b) the job itself, from start to its last row, every row a full inquiry through the hub with
    its three records (in blocks: one bulk inquiry per block of rows);

and reports rows per second (and the time of 100,000 rows: measured when ``--rows`` is 100,000,
else extrapolated and labelled so), the CPU time each of the three services the job uses spent
on it (their rows per CPU second are what the job would reach on one idle core, however busy
the shared machine was), the job's outcome counts, and the peak resident memory (VmHWM) of each
service process: streaming means the peak does not grow with the job.

Services are pinned to core 1 and this driver to core 0 with ``taskset`` when it exists and the
machine has two cores or more (``--no-pin`` shares every core, as ``ipnsim up`` runs). Every
process started is stopped at the end, whatever happens.

    python benchmarks/batch_job.py [--rows 100000] [--files 10] [--people 2000] [--runs 1]
                                   [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agencies.catalogue import DIGITAL_AGENCY, FUKUOKA, agency_by_slug, default_agencies
from agencies.population import generate_population
from ipnsim.batch_commands import BatchClient, build_request_files
from ipnsim.launcher import Launcher, find_free_port_block
from ipnsim.seeding import seed_network
from network.protocol.batch_file import Variant

PUBLIC_FUND_PROCEDURE = "JT00510000000002"
"""A procedure that may obtain the public-fund account from デジタル庁."""
INVOLVED = ("hub", FUKUOKA, DIGITAL_AGENCY)
"""The services a job of 福岡市 asking デジタル庁 uses: the hub, the requester, the provider."""
SERVICE_CORE = 1
DRIVER_CORE = 0


def can_pin() -> bool:
    from shutil import which

    return which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin(pid: int, core: int) -> None:
    os.sched_setaffinity(pid, {core})


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Run:
    upload_seconds: float
    job_seconds: float
    rows: int
    outcomes: dict[str, int]
    peak_mib: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds each service used during the job."""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.job_seconds

    @property
    def rows_per_cpu_second(self) -> float:
        """Rows per CPU second of the three services the job uses: the rate on one core of
        their own, whatever else the machine was running."""
        return self.rows / sum(self.cpu.get(name, 0.0) for name in INVOLVED)


async def run_job(launcher: Launcher, files: list[tuple[str, bytes]], within: float) -> Run:
    network = launcher.network
    assert network is not None
    async with BatchClient(network.agency(FUKUOKA).url) as client:
        started = time.perf_counter()
        job = await client.create_job()
        for name, data in files:
            await client.put_file(job.job_id, name, data)
        uploaded = time.perf_counter()
        before = {name: cpu_seconds(p.pid) for name, p in launcher.processes.items()}
        await client.start(job.job_id)
        done = await client.wait(job.job_id, within=within, interval=0.5)
        finished = time.perf_counter()
        after = {name: cpu_seconds(p.pid) for name, p in launcher.processes.items()}
    if done.state != "completed":
        raise SystemExit(f"the job ended {done.state}: {done.error}")
    return Run(
        upload_seconds=uploaded - started,
        job_seconds=finished - uploaded,
        rows=done.rows_done,
        outcomes={
            "provided (09/01)": done.rows_provided,
            "not provided (09/02)": done.rows_not_provided,
            "pending (05)": done.rows_pending,
            "failed (99)": done.rows_failed,
        },
        peak_mib={
            name: peak_memory_mib(process.pid) for name, process in launcher.processes.items()
        },
        cpu={name: after[name] - before[name] for name in after},
    )


def one_run(arguments: argparse.Namespace, pinned: bool) -> Run:
    population = generate_population(seed=0, size=arguments.people)
    known_to_digital_agency = {
        registration.person_key
        for registration in population.registrations
        if registration.agency_slug == DIGITAL_AGENCY and registration.acquire_pseudonym
    }
    atena_numbers = [
        registration.atena_number
        for registration in population.registrations
        if registration.agency_slug == FUKUOKA
        and registration.acquire_pseudonym
        and registration.person_key in known_to_digital_agency
    ]
    rows = list(itertools.islice(itertools.cycle(atena_numbers), arguments.rows))
    per_file = -(-len(rows) // arguments.files)
    files: list[tuple[str, bytes]] = []
    for index in range(arguments.files):
        chunk = rows[index * per_file : (index + 1) * per_file]
        [(name, data)] = build_request_files(
            chunk,
            requester_code=agency_by_slug(FUKUOKA).code,
            procedure_code=PUBLIC_FUND_PROCEDURE,
            provider_code=agency_by_slug(DIGITAL_AGENCY).code,
            info_type_code=None,
            variant=Variant.FIXED,
            encoding="cp932",
        )
        files.append((name.replace("_0001.", f"_{index + 1:04d}."), data))
    with tempfile.TemporaryDirectory(prefix="ipnsim-batch-bench-") as directory:
        agencies = default_agencies()
        launcher = Launcher(
            data_dir=Path(directory),
            port=find_free_port_block(len(agencies) + 2),
            agencies=agencies,
            seed=0,
        )
        try:
            started = launcher.start()
            if pinned:
                for process in launcher.processes.values():
                    pin(process.pid, SERVICE_CORE)
            asyncio.run(seed_network(started, population))
            return asyncio.run(run_job(launcher, files, arguments.timeout))
        finally:
            launcher.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the job in all")
    parser.add_argument("--files", type=int, default=10, help="request files of the job")
    parser.add_argument("--people", type=int, default=2_000, help="people of the population")
    parser.add_argument("--runs", type=int, default=1, help="runs; the table shows medians")
    parser.add_argument("--timeout", type=float, default=3_600, help="seconds a job may take")
    parser.add_argument("--no-pin", action="store_true", help="share every core")
    arguments = parser.parse_args()
    if arguments.files < 1 or arguments.rows < arguments.files:
        parser.error("give at least one file and at least one row per file")
    if -(-arguments.rows // arguments.files) > 10_000:
        parser.error("a request file carries at most 10,000 rows: give more --files")
    pinned = not arguments.no_pin and can_pin()
    if pinned:
        pin(os.getpid(), DRIVER_CORE)
    runs = [one_run(arguments, pinned) for _ in range(arguments.runs)]

    def median(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\n一括照会 job: {arguments.rows:,} rows in {arguments.files} files, "
        f"{arguments.people:,} people, {'services pinned to one core' if pinned else 'unpinned'}, "
        f"median of {len(runs)} run(s)"
    )
    print(f"{'upload and check, s':<32}{median([r.upload_seconds for r in runs]):>12.1f}")
    print(f"{'job, s':<32}{median([r.job_seconds for r in runs]):>12.1f}")
    print(f"{'runs, job s':<32}{'  '.join(f'{r.job_seconds:.1f}' for r in runs):>12}")
    print(f"{'rows per second':<32}{median([r.rows_per_second for r in runs]):>12.1f}")
    if arguments.rows == 100_000:
        print(
            f"{'100,000 rows took, s':<32}{median([r.job_seconds for r in runs]):>12.1f}"
            "   (target: under 120)"
        )
    else:
        projected = 100_000 / median([r.rows_per_second for r in runs])
        print(
            f"{'100,000 rows would take, s':<32}{projected:>12.1f}"
            f"   (extrapolated from {arguments.rows:,} rows; target: under 120)"
        )
    for name in INVOLVED:
        spent = median([r.cpu.get(name, 0.0) for r in runs])
        print(f"{'CPU of ' + name + ', s':<32}{spent:>12.1f}")
    per_cpu = median([r.rows_per_cpu_second for r in runs])
    print(
        f"{'rows per CPU second of the 3':<32}{per_cpu:>12.1f}   (100,000 rows on one idle core:"
        f" {100_000 / per_cpu:.0f} s)"
    )
    for outcome in runs[0].outcomes:
        print(f"{'rows ' + outcome:<32}{runs[0].outcomes[outcome]:>12,}")
    for name in runs[0].peak_mib:
        peak = median([r.peak_mib.get(name, 0.0) for r in runs])
        print(f"{'peak memory of ' + name + ', MiB':<32}{peak:>12.0f}")
    total = median([sum(r.peak_mib.get(name, 0.0) for name in INVOLVED) for r in runs])
    print(f"{'peak of the three the job uses':<32}{total:>12.0f}   (target: under 500 MiB)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
