"""How many single inquiries (情報照会) a network answers a second, beside a do-nothing chain.

Starts a real network with the launcher (the hub, 山形市 and 小田原市, SQLite files, the small
synthetic population seeded through the bulk path) in a temporary directory, and drives
``POST /v1/inquiries`` at 山形市's intermediate server for the ``moved_in`` persona (a permitted
local-tax inquiry to 小田原市 that succeeds: the hub checks, converts and routes it, the provider
answers from its replica, and all three copies of the provision record are written). With
more than one request in flight, the inquiries made at once share their requests on the two
inner hops, as they do in use (``ipnsim.coalescing``); each is still handled and recorded on
its own.

In the same run, the **baseline**: the same three hops on the same server stack (one uvicorn
process each, configured as ``ipnsim serve`` configures it, FastAPI, and the HTTP client the
services use between them, ``ipnsim.http.make_client``) with handlers that only forward the
request body (business system → A → B → C and back; C answers with a real inquiry result).
The ratio product/baseline is the share of the stack's capacity left after the product's own
work; the ratio to the raw-aiohttp chain of ``shared/PERFORMANCE.md`` shows how far the
product is from what this design can do on such a machine.

The load comes from this process's own asyncio generator (aiohttp, one connection per request
in flight), for ``--duration`` seconds per point at each ``--concurrency``; each point is
measured ``--repeat`` times, product and baseline alternately, and the table shows medians.
Beside req/s and latency it shows the CPU time the services used per request (in all, and
each process's) and their threads' voluntary context switches per request (from /proc, every
process and thread): on a machine shared with other work req/s move with the load, the
switches hardly at all.
With ``taskset`` and two cores or more, every service process (all its threads) is pinned to
core 1 and this generator to core 0; ``--no-pin`` lets them share every core. Every process
started is stopped at the end, also on Ctrl-C or an error.

    python benchmarks/inquiry_throughput.py [--pin/--no-pin] [--duration 10] [--concurrency 1,16]
                                            [--repeat 2] [--warm-up 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import aiohttp
import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from agencies.catalogue import agency_by_slug
from agencies.population import generate_population
from ipnsim.http import make_client
from ipnsim.launcher import Launcher, find_free_port_block
from ipnsim.logs import configure_logging
from ipnsim.seeding import seed_network

LOADER_CORE = 0
SERVICE_CORE = 1
REQUESTER = "yamagata"
PROVIDER = "odawara"
PERSONA = "moved_in"
"""A persona whose inquiry from 山形市 to 小田原市 succeeds with the replica's items."""
RAW_AIOHTTP_CHAIN = {1: 905.0, 16: 1330.0}
"""req/s of a do-nothing three-hop chain forwarding with ``aiohttp.ClientSession`` on this kind
of machine (``shared/PERFORMANCE.md``): the limit of this design here."""
LINK_COMMAND = "_link"
"""Internal: run one link of the baseline chain in this process."""
REPO = Path(__file__).resolve().parent.parent


# --- pinning ----------------------------------------------------------------------------------


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin(pid: int, core: int) -> None:
    """Pin every thread of process ``pid`` to one core."""
    subprocess.run(
        ["taskset", "-a", "-c", "-p", str(core), str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the product ------------------------------------------------------------------------------


@dataclass
class Target:
    """Something to drive: where to POST what, and how to tell a good answer."""

    name: str
    url: str
    body: bytes
    pids: list[int] = field(default_factory=list)
    """The service processes that answer it, whose CPU time is counted."""
    names: list[str] = field(default_factory=list)
    """Each process's name (the service, or the link of the chain), in the order of ``pids``."""


def start_product(data_dir: Path, pinned: bool) -> tuple[Launcher, Target, bytes]:
    """A seeded network of the requester and the provider; its target and one real answer."""
    agencies = [agency_by_slug(REQUESTER), agency_by_slug(PROVIDER)]
    launcher = Launcher(
        data_dir=data_dir,
        port=find_free_port_block(len(agencies) + 2),  # and the hub and the resident registry
        agencies=agencies,
        seed=0,
    )
    try:
        network = launcher.start()
        if pinned:
            for process in launcher.processes.values():
                pin(process.pid, SERVICE_CORE)
        asyncio.run(seed_network(network, generate_population(seed=0, size=launcher.population)))
        launcher.mark_seeded()
        personas = httpx.get(network.hub.url + "/v1/personas", timeout=10).json()
        persona = next(p for p in personas["personas"] if p["name"] == PERSONA)
        inquiry = persona["inquiry"]
        assert inquiry["requester_slug"] == REQUESTER and inquiry["provider_slug"] == PROVIDER
        order = {
            "atena_number": inquiry["atena_number"],
            "affair_code": inquiry["affair_code"],
            "procedure_code": inquiry["procedure_code"],
            "info_type_code": inquiry["info_type_code"],
            "provider_code": inquiry["provider_code"],
            "condition": (
                {"kind": "fiscal_year", "fiscal_year": inquiry["fiscal_year"]}
                if inquiry["fiscal_year"] is not None
                else {"kind": "latest"}
            ),
            "user_id": "bench",
        }
        target = Target(
            "product",
            network.agency(REQUESTER).url + "/v1/inquiries",
            json.dumps(order).encode(),
            [process.pid for process in launcher.processes.values()],
            list(launcher.processes),
        )
        answer = httpx.post(
            target.url,
            content=target.body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        if answer.status_code != 200 or not answered_with_items(answer.content):
            raise RuntimeError(
                f"the {PERSONA} inquiry did not succeed: {answer.status_code} {answer.text}"
            )
    except BaseException:
        launcher.stop()
        raise
    return launcher, target, answer.content


def answered_with_items(content: bytes) -> bool:
    """Whether an inquiry result is a success (status 09/01, no error code)."""
    try:
        result = json.loads(content)
    except ValueError:
        return False
    return (
        isinstance(result, dict)
        and result.get("error") is None
        and result.get("status_detail") == "09"
        and result.get("status_info_type") == "01"
    )


# --- the baseline: three links that only forward ---------------------------------------------


def link_app(next_url: str | None, answer: bytes) -> FastAPI:
    """One link of the do-nothing chain: forward the body to ``next_url``, or answer ``answer``."""
    clients: list[httpx.AsyncClient] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clients.append(make_client(15.0))
        try:
            yield
        finally:
            await clients[0].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/inquiries")
    async def forward(request: Request) -> Response:
        body = await request.body()
        if next_url is None:
            return Response(answer, media_type="application/json")
        upstream = await clients[0].post(
            next_url,
            content=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer baseline"},
        )
        return Response(
            upstream.content, status_code=upstream.status_code, media_type="application/json"
        )

    return app


def serve_link(argv: Sequence[str]) -> int:
    """Serve one link as ``ipnsim serve`` serves a service (same uvicorn settings, gc.freeze)."""
    port, next_url, answer_file = int(argv[0]), argv[1] or None, Path(argv[2])
    configure_logging("info", "text", "link")
    app = link_app(next_url, answer_file.read_bytes())
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="info",
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
    return 0


@dataclass
class Chain:
    """The baseline's three processes (A, B, C)."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_chain(directory: Path, answer: bytes, pinned: bool, chain: Chain) -> Target:
    """Start C, B and A (A receives the load); their processes are added to ``chain``."""
    directory.mkdir(parents=True, exist_ok=True)
    answer_file = directory / "answer.json"
    answer_file.write_bytes(answer)
    base = find_free_port_block(3)
    urls = [f"http://127.0.0.1:{base + offset}" for offset in range(3)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for index in (2, 1, 0):
        next_url = urls[index + 1] + "/v1/inquiries" if index < 2 else ""
        with open(directory / f"link-{'ABC'[index]}.log", "ab") as log_file:
            chain.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        LINK_COMMAND,
                        str(base + index),
                        next_url,
                        str(answer_file),
                    ],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=2) as client:
        for url in urls:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url + "/health").status_code == 200:
                        break
                if any(process.poll() is not None for process in chain.processes):
                    raise RuntimeError(f"a link of the baseline chain exited; see {directory}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the baseline chain did not start; see {directory}")
                time.sleep(0.1)
    if pinned:
        for process in chain.processes:
            pin(process.pid, SERVICE_CORE)
    return Target(
        "baseline",
        urls[0] + "/v1/inquiries",
        b"",
        [process.pid for process in chain.processes],
        ["link C", "link B", "link A"],  # started in this order
    )


# --- the load generator -----------------------------------------------------------------------


@dataclass
class Point:
    """One measurement: requests answered in ``seconds`` at ``concurrency``, their latencies."""

    target: str
    concurrency: int
    requests: int
    failures: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float | None
    """CPU time the target's service processes used meanwhile (None where unknown)."""
    switches: int | None
    """Voluntary context switches of the target's service threads meanwhile (None where
    unknown)."""
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    """CPU time each of the target's processes used meanwhile, by name (empty where unknown)."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Service CPU milliseconds per request (NaN where unknown)."""
        if self.cpu_seconds is None or not self.requests:
            return float("nan")
        return self.cpu_seconds / self.requests * 1000

    def cpu_ms_of(self, name: str) -> float:
        """CPU milliseconds per request of one process (NaN where unknown)."""
        if name not in self.cpu_by_process or not self.requests:
            return float("nan")
        return self.cpu_by_process[name] / self.requests * 1000

    @property
    def switches_per_request(self) -> float:
        """Service context switches per request (NaN where unknown)."""
        if self.switches is None or not self.requests:
            return float("nan")
        return self.switches / self.requests


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User and system CPU time of these processes (all their threads) so far, from /proc;
    None where /proc cannot tell. Unlike req/s, CPU time per request hardly depends on what
    else the machine runs."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            return None
    return ticks / os.sysconf("SC_CLK_TCK")


def context_switches(pids: Sequence[int]) -> int | None:
    """Voluntary context switches of every thread of these processes so far (a thread waited),
    from /proc; None where /proc cannot tell. Each time a service hands work to another of its
    threads (a database call, a thread-pool call) and waits for it costs some; unlike the
    switches forced by other work, these hardly depend on what else the machine runs."""
    total = 0
    for pid in pids:
        try:
            for status in Path(f"/proc/{pid}/task").glob("*/status"):
                for line in status.read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split(":", 1)[1])
        except (OSError, ValueError):
            return None
    return total


def percentile(ordered: Sequence[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Load:
    """What :func:`keep_in_flight` saw: the answered requests' latencies (sorted, seconds), the
    failures, and how long the load ran."""

    latencies: list[float]
    failures: int
    seconds: float


async def keep_in_flight(
    url: str,
    concurrency: int,
    duration: float,
    request_for: Callable[[int], tuple[bytes, Mapping[str, str]]],
    good: Callable[[bytes], bool],
    request_timeout: float = 30,
) -> Load:
    """Keep ``concurrency`` POSTs to ``url`` in flight for ``duration`` seconds.

    ``request_for(turn)`` gives each request's body and headers (worker ``k`` sends turns k,
    k+1, k+2, …); an answer that is not 200 or that ``good`` refuses counts as a failure, and so
    does a request that fails to connect or times out (it has no latency)."""
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=request_timeout)
    ) as session:
        started = time.perf_counter()
        deadline = started + duration

        async def worker(turn: int) -> None:
            nonlocal failures
            clock = time.perf_counter
            while clock() < deadline:
                body, headers = request_for(turn)
                turn += 1
                sent = clock()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        content = await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    failures += 1
                    continue
                latencies.append(clock() - sent)
                if response.status != 200 or not good(content):
                    failures += 1

        await asyncio.gather(*(worker(turn) for turn in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Load(latencies, failures, elapsed)


async def drive(
    target: Target, concurrency: int, duration: float, good: Callable[[bytes], bool]
) -> Point:
    """Keep ``concurrency`` requests in flight for ``duration`` seconds."""
    headers = {"Content-Type": "application/json"}
    each_before = [cpu_seconds([pid]) for pid in target.pids]
    switches_before = context_switches(target.pids)
    load = await keep_in_flight(
        target.url, concurrency, duration, lambda _turn: (target.body, headers), good
    )
    each_after = [cpu_seconds([pid]) for pid in target.pids]
    switches_after = context_switches(target.pids)
    cpu_by_process = {
        name: after - before
        for name, before, after in zip(target.names, each_before, each_after, strict=True)
        if before is not None and after is not None
    }
    return Point(
        target=target.name,
        concurrency=concurrency,
        requests=len(load.latencies),
        failures=load.failures,
        seconds=load.seconds,
        p50_ms=percentile(load.latencies, 0.50) * 1000,
        p99_ms=percentile(load.latencies, 0.99) * 1000,
        cpu_seconds=(
            sum(cpu_by_process.values()) if len(cpu_by_process) == len(target.pids) else None
        ),
        switches=(
            switches_after - switches_before
            if switches_before is not None
            and switches_after is not None
            and switches_after >= switches_before  # not when threads ended meanwhile
            else None
        ),
        cpu_by_process=cpu_by_process,
    )


# --- report -----------------------------------------------------------------------------------


def table(points: Sequence[Point], concurrencies: Sequence[int], pinned: bool) -> str:
    def median_of(name: str, concurrency: int, attribute: str) -> float:
        values = [
            float(getattr(point, attribute))
            for point in points
            if point.target == name and point.concurrency == concurrency
        ]
        known = [value for value in values if not math.isnan(value)]
        return statistics.median(known) if known else math.nan

    def shown(value: float, width: int, digits: int) -> str:
        return f"{'n/a':>{width}}" if math.isnan(value) else f"{value:>{width}.{digits}f}"

    repeats = sum(1 for p in points if p.target == "product" and p.concurrency == concurrencies[0])
    lines = [
        f"{repeats} repeat(s) per point, medians; "
        + (
            f"services pinned to core {SERVICE_CORE}, load generator to core {LOADER_CORE}"
            if pinned
            else "not pinned: services and load generator share every core"
        ),
        "",
        "| target                          |   c |    req/s | p50 ms | p99 ms | CPU ms/req | switches/req | failures |",
        "|---------------------------------|----:|---------:|-------:|-------:|-----------:|-------------:|---------:|",
    ]
    labels = {
        "product": "product (3 hops, 3 records)",
        "baseline": "baseline (3 hops, forward only)",
    }
    for concurrency in concurrencies:
        for name in ("product", "baseline"):
            failures = sum(
                p.failures for p in points if p.target == name and p.concurrency == concurrency
            )
            lines.append(
                f"| {labels[name]:<31} | {concurrency:>3} "
                f"| {median_of(name, concurrency, 'rate'):>8,.0f} "
                f"| {median_of(name, concurrency, 'p50_ms'):>6.1f} "
                f"| {median_of(name, concurrency, 'p99_ms'):>6.1f} "
                f"| {shown(median_of(name, concurrency, 'cpu_ms'), 10, 2)} "
                f"| {shown(median_of(name, concurrency, 'switches_per_request'), 12, 1)} "
                f"| {failures:>8} |"
            )
    lines.append("")
    for concurrency in concurrencies:
        product = median_of("product", concurrency, "rate")
        baseline = median_of("baseline", concurrency, "rate")
        raw = RAW_AIOHTTP_CHAIN.get(concurrency)
        cpu_share = median_of("baseline", concurrency, "cpu_ms") / median_of(
            "product", concurrency, "cpu_ms"
        )
        line = f"c={concurrency}: product/baseline {product / baseline:.0%}"
        if not math.isnan(cpu_share):
            line += f" (by service CPU per request: {cpu_share:.0%})"
        if raw is not None:
            line += (
                f"; product/raw-aiohttp chain ({raw:,.0f} req/s, PERFORMANCE.md) {product / raw:.0%}"
                f"; baseline/raw-aiohttp chain {baseline / raw:.0%}"
            )
        lines.append(line)
    for concurrency in concurrencies:
        for name in ("product", "baseline"):
            measured = [p for p in points if p.target == name and p.concurrency == concurrency]
            processes = list(dict.fromkeys(key for p in measured for key in p.cpu_by_process))
            medians = [
                f"{process} {statistics.median(p.cpu_ms_of(process) for p in measured):.2f}"
                for process in processes
            ]
            if medians:
                lines.append(
                    f"CPU ms/req by process, {name} c={concurrency}: " + ", ".join(medians)
                )
    lines.append(
        "per run (req/s): "
        + "; ".join(f"{p.target} c={p.concurrency} {p.rate:,.0f}" for p in points)
    )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def concurrency_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError("give one or more concurrencies of at least 1")
    return values


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def positive_int(text: str) -> int:
    value = positive(text)
    if value != int(value):
        raise argparse.ArgumentTypeError("must be a whole number")
    return int(value)


@contextlib.contextmanager
def stopped_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into an exception, so that every ``finally`` stops what it started."""

    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [LINK_COMMAND]:
        return serve_link(arguments[1:])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Services are pinned to core 1 and the load generator to core 0 when taskset "
        "exists and the machine has two cores or more.",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pin services and load generator to different cores (default: yes, if possible)",
    )
    parser.add_argument(
        "--duration", type=positive, default=10.0, help="seconds per measured point (10)"
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=[1, 16],
        help="requests in flight, comma-separated (1,16)",
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=2, help="measurements per point (medians shown)"
    )
    parser.add_argument(
        "--warm-up", type=positive, default=3.0, help="seconds of untimed load per target first"
    )
    args = parser.parse_args(arguments)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pinned = args.pin and can_pin()
    if pinned:
        pin(os.getpid(), LOADER_CORE)
    points: list[Point] = []
    with stopped_on_sigterm(), tempfile.TemporaryDirectory(prefix="ipnsim-bench-") as directory:
        root = Path(directory)
        chain = Chain()
        launcher: Launcher | None = None
        try:
            log("starting the network (hub, 山形市, 小田原市, resident registry) and seeding it")
            launcher, product, answer = start_product(root / "network", pinned)
            log("starting the baseline chain (A → B → C)")
            baseline = start_chain(root / "chain", answer, pinned, chain)
            baseline.body = product.body
            for target in (product, baseline):
                log(f"warming up {target.name} for {args.warm_up:g}s")
                asyncio.run(drive(target, max(args.concurrency), args.warm_up, answered_with_items))
            for repeat in range(1, args.repeat + 1):
                for concurrency in args.concurrency:
                    for target in (product, baseline):
                        point = asyncio.run(
                            drive(target, concurrency, args.duration, answered_with_items)
                        )
                        points.append(point)
                        log(
                            f"run {repeat}: {target.name:<8} c={concurrency:<3} "
                            f"{point.rate:>7,.0f} req/s  p50 {point.p50_ms:6.1f} ms  "
                            f"p99 {point.p99_ms:6.1f} ms  CPU {point.cpu_ms:5.2f} ms/req  "
                            f"{point.switches_per_request:5.1f} switches/req  "
                            f"failures {point.failures}"
                        )
        finally:
            chain.stop()
            if launcher is not None:
                launcher.stop()
    print(table(points, args.concurrency, pinned))
    return 0


if __name__ == "__main__":
    sys.exit(main())
