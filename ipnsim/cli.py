"""The ``ipnsim`` command line: start the network, send inquiries, read records, run the demo."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ipnsim import views
from ipnsim.batch_commands import batch_app, validate_app
from ipnsim.catalogue_commands import catalogue_app
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    agency_service,
    check_sandbox_key,
    command_group,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import (
    AgencyClient,
    HubOperatorClient,
    ServiceError,
    ServiceUnreachable,
    use_sandbox,
)
from ipnsim.error_commands import errors_app
from ipnsim.fault_commands import fault_app
from ipnsim.lag_commands import registration_lag_command
from ipnsim.launcher import (
    DEFAULT_AGENCIES_PER_PROCESS,
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    HOSTED_DIR,
    Launcher,
    LaunchError,
    NetworkFile,
)
from ipnsim.logs import LOG_FORMAT_ENV, LogFormat
from ipnsim.manual_commands import manual_app
from ipnsim.openapi_commands import openapi_command
from ipnsim.person_commands import card_app, clock_app, portal_app, purge_command
from ipnsim.registry_commands import lookup_command
from ipnsim.replica_commands import validate_replica
from ipnsim.sandbox_commands import reset_command, sandbox_app
from ipnsim.sandboxes import SANDBOX_ENV
from ipnsim.scenario_commands import scenario_app
from ipnsim.stats_commands import stats_app
from ipnsim.verify_commands import verify_command
from network.protocol.models import DetailStatus, FanOutScope, PersonaCatalogue

if TYPE_CHECKING:
    from agencies.population import Population

app = typer.Typer(
    name="ipnsim",
    help="A working simulator of Japan's My Number information-provision network "
    "(情報提供ネットワークシステム) and its intermediate servers (中間サーバー).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox",
            envvar=SANDBOX_ENV,
            help="Work in this sandbox: an isolated copy of the reference data on every service "
            "(created on first use), so parallel pipelines sharing one network never see each "
            "other's people, replicas or records. 1-32 of a-z, 0-9 and '-'.",
        ),
    ] = None,
) -> None:
    """A working simulator of Japan's My Number information-provision network."""
    use_sandbox(None if sandbox is None else check_sandbox_key(sandbox))


# --- up / serve -----------------------------------------------------------------------------


class ServeRole(StrEnum):
    hub = "hub"
    agency = "agency"
    registry = "registry"
    agency_host = "agency-host"


@app.command()
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Annotated[
        int, typer.Option(help="Port of the hub; agencies take the next ones.", min=1, max=65000)
    ] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Loopback address to serve on.")] = "127.0.0.1",
    agencies: Annotated[
        str | None,
        typer.Option(help="Comma-separated agency slugs to start (default: the whole catalogue)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 0,
    population_size: Annotated[
        int,
        typer.Option(
            "--population",
            help="People in the synthetic population (up to 100,000; loaded in bulk).",
            min=1,
            max=100_000,
        ),
    ] = 40,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete the data directory's databases first.")
    ] = False,
    provider_timeout: Annotated[
        float, typer.Option(help="Seconds the hub waits for a provider.", min=0.1)
    ] = 5.0,
    no_seed: Annotated[
        bool, typer.Option("--no-seed", help="Start empty: register no synthetic people.")
    ] = False,
    postgres: Annotated[
        str | None,
        typer.Option(
            envvar="IPNSIM_POSTGRES_URL",
            help="PostgreSQL server URL (e.g. postgresql://127.0.0.1:5432/test); each service "
            "gets its own database there instead of a SQLite file.",
        ),
    ] = None,
    faults: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="JSON list of faults the hub puts in force at start (see 'ipnsim fault').",
        ),
    ] = None,
    log_format: LogFormatOption = "text",
    hubs: Annotated[
        int,
        typer.Option(
            help="Hub processes: two or more share the PostgreSQL database (needs --postgres) "
            "behind an nginx load balancer on the hub's port.",
            min=1,
            max=16,
        ),
    ] = 1,
    trace_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="IPNSIM_TRACE_DIR",
            file_okay=False,
            help="Write every service's trace spans (OpenTelemetry) here, one JSON object a "
            "line, a file per service process. OTLP export: set OTEL_EXPORTER_OTLP_ENDPOINT "
            "(needs the otlp extra).",
        ),
    ] = None,
    municipalities: Annotated[
        str | None,
        typer.Option(
            help="'all': also start every other local government of Japan (1,741 municipalities "
            "and 47 prefectures in all, from agencies/data/local_governments.csv), served by a "
            "few agency host processes, each agency with its own SQLite file and credential "
            "and no population.",
        ),
    ] = None,
    agencies_per_process: Annotated[
        int,
        typer.Option(
            help="With --municipalities: agencies served by one agency host process.",
            min=1,
            max=100_000,
        ),
    ] = DEFAULT_AGENCIES_PER_PROCESS,
    max_open_agencies: Annotated[
        int | None,
        typer.Option(
            help="With --municipalities: agencies an agency host keeps open at once (opened on "
            "first use; the least recently used idle one is closed beyond it). Default: 16.",
            min=1,
            max=100_000,
        ),
    ] = None,
) -> None:
    """Start the hub and every agency's intermediate server as processes on loopback.

    Each service has its own SQLite database under DATA_DIR; the synthetic population is
    registered on first start. Runs until Ctrl-C, then stops every process.

    With --municipalities all, every other prefecture and municipality of Japan joins the
    network too: agency host processes serve them, each at <host URL>/agencies/<agency code>.
    """
    from agencies.catalogue import Agency, agency_by_slug, default_agencies
    from agencies.local_governments import all_agencies
    from agencies.population import generate_population

    chosen = list(default_agencies())
    if agencies:
        try:
            chosen = [agency_by_slug(slug.strip()) for slug in agencies.split(",") if slug.strip()]
        except KeyError as error:
            known = ", ".join(agency.slug for agency in default_agencies())
            fail(f"unknown agency {error.args[0]!r}; known: {known}", 2)
    hosted: list[Agency] = []
    if municipalities is not None:
        if municipalities != "all":
            fail(f"--municipalities takes 'all', not {municipalities!r}", 2)
        own = {agency.code for agency in chosen}
        hosted = [agency for agency in all_agencies() if agency.code not in own]
    if hubs > 1 and postgres is None:
        fail(
            f"{hubs} hubs share one database, which must be PostgreSQL: give --postgres URL "
            "(SQLite serves a single hub)",
            2,
        )
    if fresh:
        wipe(data_dir)
    launcher = Launcher(
        data_dir=data_dir,
        host=host,
        port=port,
        agencies=chosen,
        seed=seed,
        population=population_size,
        provider_timeout=provider_timeout,
        postgres_url=postgres,
        fresh_databases=fresh,
        faults_file=faults,
        log_format=log_format,
        trace_dir=trace_dir,
        hosted=hosted,
        agencies_per_process=agencies_per_process,
        max_open_agencies=max_open_agencies,
        hubs=hubs,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    # Ctrl-C (SIGINT) stops the network even when started as a script's background job, which
    # inherits SIGINT ignored: `ipnsim up & … kill -INT $!`.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with console.status("starting the network…"):
            network = launcher.start(report=lambda line: console.log(line))
        if not no_seed and not network.seeded:
            seed_with_progress(network, generate_population(seed=seed, size=population_size))
            launcher.mark_seeded()
        console.print(views.services_table(network))
        console.print(f"Console (コンソール): [bold]{network.hub.url}/console/[/]", soft_wrap=True)
        console.print(
            f"Network up. Data in [bold]{data_dir}[/]. Try [bold]ipnsim demo[/] in another "
            "terminal; Ctrl-C stops everything."
        )
        while True:
            ended = launcher.exited()
            if ended:
                name, status = ended[0]
                fail(f"{name} stopped unexpectedly (status {status}); see its log", 1)
            time.sleep(0.5)
    except LaunchError as error:
        fail(str(error), 2)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        launcher.stop()
    console.print("all services stopped.")


def seed_with_progress(network: NetworkFile, population: Population) -> None:
    """Register ``population`` with the network's agencies, showing a progress bar."""
    from ipnsim.seeding import seed_network

    with Progress(
        TextColumn("seeding people and replicas"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("seed", total=None)
        run(
            seed_network(
                network,
                population,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        )


def wipe(data_dir: Path) -> None:
    """Remove what ``ipnsim up`` created in ``data_dir`` (databases, logs, network.json)."""
    if not data_dir.exists():
        return
    for path in data_dir.iterdir():
        if path.suffix in {".sqlite3", ".json", ".tmp"} or path.name.endswith(
            (".sqlite3-wal", ".sqlite3-shm")
        ):
            path.unlink()
        elif path.name == "logs" and path.is_dir():
            for log in path.iterdir():
                log.unlink()
        elif path.name.endswith("-batch") and path.is_dir():
            shutil.rmtree(path)  # batch job files of the databases just deleted
        elif path.name in {HOSTED_DIR, "hosts"} and path.is_dir():
            shutil.rmtree(path)  # the agency hosts' agencies files and their agencies' data


@app.command()
def seed(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for every service to become healthy.", min=0)
    ] = 60.0,
) -> None:
    """Register the synthetic population at the running network described by DATA_DIR.

    Idempotent: people already registered and replicas already present are left as they are.
    'ipnsim up' does this itself on first start; containers run it as a one-shot job.
    """
    from agencies.population import generate_population
    from ipnsim.seeding import wait_until_healthy

    network = load_network(data_dir)
    run(wait_until_healthy(network, wait))
    population = generate_population(seed=network.seed, size=network.population)
    seed_with_progress(network, population)
    console.print(
        f"seeded {len(population.people)} people and {len(population.replicas)} replicas."
    )


@app.command()
def serve(
    role: Annotated[ServeRole, typer.Argument(help="Which service this process runs.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_format: LogFormatOption = "text",
) -> None:
    """Run one service in this process, configured from the environment.

    The hub reads IPNSIM_HUB_* (REGISTRY_FILE, SECRET, ADMIN_TOKEN, DATABASE_URL,
    PERSONAS_FILE…); an intermediate server reads IPNSIM_AGENCY_* (CODE, NAME_JA, CREDENTIAL,
    HUB_URL, DATABASE_URL…); the mock resident registry reads IPNSIM_REGISTRY_* (SEED,
    POPULATION); an agency host (the intermediate servers of many agencies, each under
    /agencies/<agency code>) reads IPNSIM_HOST_AGENCIES_FILE and IPNSIM_HOST_MAX_OPEN, and
    IPNSIM_AGENCY_* for what its agencies share. This is what 'ipnsim up' and the containers
    start.
    """
    from ipnsim.serve import Role
    from ipnsim.serve import serve as serve_role

    raise typer.Exit(serve_role(Role(role.value), host, port, log_level, log_format))


@app.command()
def status(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """Show every service of the network and whether it answers."""
    network = load_network(data_dir)

    async def check() -> dict[str, bool]:
        healthy: dict[str, bool] = {}
        for service in network.processes:
            async with AgencyClient(service.url, timeout=2.0) as client:
                try:
                    await client.health()
                    healthy[service.name] = True
                except (ServiceError, ServiceUnreachable):
                    healthy[service.name] = False
        # A hosted agency is as healthy as its host (asking it would open it).
        for service in network.services:
            if service.host is not None:
                healthy[service.name] = healthy[service.host]
        return healthy

    healthy = asyncio.run(check())
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "url": s.url,
                        "agency_code": s.agency_code,
                        "healthy": healthy[s.name],
                    }
                    for s in network.services
                ],
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    else:
        console.print(views.services_table(network, healthy))
    if not all(healthy.values()):
        raise typer.Exit(1)


# --- inquiries and records ------------------------------------------------------------------


def resolve_atena(network: NetworkFile, agency: str, atena: str | None, persona: str | None) -> str:
    if (atena is None) == (persona is None):
        fail("give exactly one of --atena or --persona", 2)
    if atena is not None:
        return atena
    from agencies.population import persona_population

    population = persona_population(seed=network.seed)
    slug = network.agency(agency).name
    try:
        chosen = population.persona(persona or "")
        # A persona's own inquiry may name someone else (dependant_claimed_twice names the
        # taxpayer who claims the persona): from its requester, --persona sends that inquiry.
        inquiry = chosen.inquiry
        person_key = (
            inquiry.person_key
            if inquiry is not None and inquiry.requester_slug == slug
            else chosen.person_key
        )
        return population.atena_number(slug, person_key)
    except KeyError:
        names = ", ".join(population.personas)
        fail(f"persona {persona!r} is not registered at {slug} (personas: {names})", 2)


Atena = Annotated[
    str | None, typer.Option("--atena", help="団体内統合宛名番号 of the person (15 digits).")
]
Persona = Annotated[
    str | None,
    typer.Option("--persona", help="A persona of the synthetic population, e.g. moved_in."),
]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        envvar=LOG_FORMAT_ENV,
        help="text, or json: one JSON object a line. Either way 11- and 12-digit numbers are "
        "redacted.",
    ),
]
Requester = Annotated[str, typer.Option("--from", help="Requesting agency (slug or code).")]
Procedure = Annotated[str, typer.Option(help="事務手続コード, e.g. JT01010000000214.")]
InfoType = Annotated[
    str | None,
    typer.Option(help="特定個人情報名コード (default: the one the procedure may obtain)."),
]
FiscalYear = Annotated[int | None, typer.Option(help="Ask for this fiscal year.")]
DateFrom = Annotated[str | None, typer.Option(help="Period start YYYY-MM-DD.")]
DateTo = Annotated[str | None, typer.Option(help="Period end YYYY-MM-DD.")]
User = Annotated[str, typer.Option(help="情報照会者ユーザーID.")]


def agency_code_of(network: NetworkFile, name_or_code: str) -> str:
    """The 16-digit code of an agency given by slug or code; KeyError names an unknown one."""
    if name_or_code.isdigit() and len(name_or_code) == 16:
        return name_or_code
    code = network.agency(name_or_code).agency_code
    if code is None:
        raise KeyError(f"{name_or_code!r} is not an agency")
    return code


@app.command()
def inquire(
    requester: Requester,
    provider: Annotated[str, typer.Option("--to", help="Providing agency (slug or code).")],
    procedure: Procedure,
    atena: Atena = None,
    persona: Persona = None,
    info_type: InfoType = None,
    fiscal_year: FiscalYear = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    non_disclosure: Annotated[
        bool, typer.Option("--non-disclosure", help="Flag the record 不開示.")
    ] = False,
    user: User = "cli",
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="冪等キー: repeating the command with the same key returns the first answer "
            "and records nothing more.",
        ),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Send one inquiry (情報照会) from an agency's intermediate server and show the answer.

    Exits 0 on status 09/01, 1 when the inquiry ended with an error code.
    """
    from ipnsim.orders import OrderError, build_order

    network = load_network(data_dir)
    atena_number = resolve_atena(network, requester, atena, persona)
    try:
        provider_code = agency_code_of(network, provider)
        order = build_order(
            atena_number=atena_number,
            procedure_code=procedure,
            provider_code=provider_code,
            info_type_code=info_type,
            fiscal_year=fiscal_year,
            date_from=date_from,
            date_to=date_to,
            non_disclosure=non_disclosure,
            user_id=user,
        )
    except KeyError as error:
        fail(str(error.args[0]), 2)
    except OrderError as error:
        fail(str(error), 2)

    async def send() -> Any:
        async with agency_service(network, requester) as client:
            return await client.inquire(order, idempotency_key)

    result = run(send())
    if as_json:
        print_json(result)
    else:
        views.print_inquiry_result(console, result)
    if result.error is not None:
        raise typer.Exit(1)


@app.command("fan-out")
def fan_out(
    requester: Requester,
    procedure: Procedure,
    scope: Annotated[
        FanOutScope | None,
        typer.Option(
            help="permitted: every agency the permission table allows for the info type; "
            "holding: of those, every one that knows the person (e.g. every municipality "
            "they lived in)."
        ),
    ] = None,
    providers: Annotated[
        list[str] | None,
        typer.Option("--to", help="A provider (slug or code); repeat for several."),
    ] = None,
    atena: Atena = None,
    persona: Persona = None,
    info_type: InfoType = None,
    fiscal_year: FiscalYear = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    user: User = "cli",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Send one inquiry to every provider concerned at once (一括照会先指定): by --scope, or by
    several --to. The hub asks them concurrently; each exchange is recorded on its own.

    Exits 0 when every provider answered (with items or with no data, status 09), 1 when any
    exchange failed or no provider was concerned.
    """
    from ipnsim.orders import OrderError, build_fan_out_order

    if (scope is None) == (not providers):
        fail("give either --scope or one or more --to", 2)
    network = load_network(data_dir)
    atena_number = resolve_atena(network, requester, atena, persona)
    try:
        provider_codes = (
            [agency_code_of(network, name) for name in providers] if providers else None
        )
        order = build_fan_out_order(
            atena_number=atena_number,
            procedure_code=procedure,
            info_type_code=info_type,
            fiscal_year=fiscal_year,
            date_from=date_from,
            date_to=date_to,
            user_id=user,
            scope=scope,
            provider_codes=provider_codes,
        )
    except KeyError as error:
        fail(str(error.args[0]), 2)
    except OrderError as error:
        fail(str(error), 2)

    async def send() -> Any:
        async with agency_service(network, requester) as client:
            return await client.fan_out(order)

    answer = run(send())
    if as_json:
        print_json(answer)
    else:
        console.print(views.fan_out_table(answer))
    if not answer.results or any(
        result.status_detail is not DetailStatus.COMPLETED for result in answer.results
    ):
        raise typer.Exit(1)


@app.command()
def journal(
    agency: Annotated[str, typer.Option(help="Agency whose intermediate server to read.")],
    refused: Annotated[
        bool, typer.Option("--refused", help="Only the refused requests (near misses).")
    ] = False,
    limit: Annotated[
        int, typer.Option(help="At most this many, newest first.", min=1, max=1000)
    ] = 50,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Show the request journal (受付記録) of an agency's intermediate server: every request its
    business system sent, with the verdict; for a refused one, each field that failed and why."""
    network = load_network(data_dir)

    async def fetch() -> Any:
        async with agency_service(network, agency) as client:
            return await client.journal(limit, refused)

    entries = run(fetch())
    if as_json:
        print_json(entries)
        return
    if not entries:
        console.print("no requests journalled yet.")
        return
    console.print(views.journal_table(entries))


records_app = command_group(
    "records",
    help="Provision records (情報提供等の記録): list copies, or verify them ('records verify').",
    no_args_is_help=False,
)
records_app.command("verify")(verify_command)
records_app.command("purge")(purge_command)


@records_app.callback(invoke_without_command=True)
def records(
    context: typer.Context,
    agency: Annotated[
        str | None, typer.Option(help="Agency whose copies to list (slug or code).")
    ] = None,
    hub: Annotated[bool, typer.Option("--hub", help="List the hub's copies instead.")] = False,
    atena: Atena = None,
    persona: Persona = None,
    inquiry: Annotated[str | None, typer.Option(help="Only this inquiry id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (hub).", min=1, max=1000)] = 50,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List provision records (情報提供等の記録): an agency's copies or the hub's.

    'ipnsim records verify' checks instead that none was edited, removed or truncated."""
    if context.invoked_subcommand is not None:
        return
    network = load_network(data_dir)
    inquiry_id = parse_inquiry_id(inquiry) if inquiry else None
    if hub == (agency is not None):
        fail("give exactly one of --agency or --hub", 2)

    async def fetch() -> list[Any]:
        if hub:
            async with HubOperatorClient(network.hub.url, network.admin_token) as client:
                if inquiry_id is not None:
                    return [await client.record(inquiry_id)]
                return list(await client.records(limit))
        assert agency is not None
        atena_number = (
            resolve_atena(network, agency, atena, persona) if (atena or persona) else None
        )
        async with agency_service(network, agency) as client:
            return list(await client.records(atena_number, inquiry_id))

    found = run(fetch())
    if as_json:
        print_json(found)
    else:
        console.print(views.records_table(found))


def parse_inquiry_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not an inquiry id (a UUID)", 2)


@app.command()
def mistaken(
    inquiry: Annotated[str, typer.Argument(help="Id of the inquiry that named the wrong person.")],
    agency: Annotated[str, typer.Option(help="The requesting agency (slug or code).")],
    reason: Annotated[str, typer.Option(help="Why the inquiry named the wrong person.")],
    user: Annotated[str, typer.Option(help="Who declares it (user id).")] = "cli",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Declare a mistaken-person inquiry (誤照会): an addendum (追記) joins all three records."""
    from intermediate_server.schemas import MistakenDeclaration

    network = load_network(data_dir)
    inquiry_id = parse_inquiry_id(inquiry)

    async def declare() -> Any:
        async with agency_service(network, agency) as client:
            return await client.declare_mistaken(
                inquiry_id, MistakenDeclaration(reason=reason, declared_by_user=user)
            )

    addendum = run(declare())
    if as_json:
        print_json(addendum)
    else:
        console.print(
            f"追記 [bold]{addendum.addendum_id}[/] appended to inquiry {addendum.inquiry_id} "
            f"at {addendum.declared_at:%Y-%m-%d %H:%M:%S} by {addendum.declared_by_user}."
        )


@app.command()
def disclosure(
    agency: Annotated[str, typer.Option(help="Agency asking on the person's behalf.")],
    atena: Atena = None,
    persona: Persona = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Show what the person sees (やりとり履歴): every record about them, with addenda."""
    network = load_network(data_dir)
    atena_number = resolve_atena(network, agency, atena, persona)

    async def fetch() -> Any:
        async with agency_service(network, agency) as client:
            return await client.disclosure(atena_number)

    view = run(fetch())
    if as_json:
        print_json(view)
    else:
        console.print(views.records_table(view.records, title="やりとり履歴 (disclosure view)"))


@app.command()
def demo(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Walk a running network through the canonical story, narrating each step.

    A person moved from 小田原市 to 山形市; 山形市 asks 小田原市 for local-tax information;
    then an inquiry about the wrong person and its addendum; then the person's view.
    Exits non-zero if any step does not behave as expected.
    """
    from ipnsim.demo import DemoFailure, run_demo

    network = load_network(data_dir)
    try:
        run(run_demo(network, console))
    except DemoFailure as failure:
        fail(f"demo step failed: {failure}", 1)
    console.print("[bold green]demo completed: every step behaved as expected.[/]")


@app.command()
def personas(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
    tour: Annotated[
        bool,
        typer.Option("--tour", help="Also list one inquiry per affair (the affair tour)."),
    ] = False,
) -> None:
    """List the personas: named test people, each guaranteeing one outcome.

    Each persona (success, no replica, 符号 not acquired, not permitted for the procedure…)
    comes with the inquiry that shows its outcome; send it with 'ipnsim inquire --persona
    NAME …'. --tour adds one inquiry for each of the nine affairs of the catalogue.
    """
    network = load_network(data_dir)

    async def fetch() -> PersonaCatalogue:
        async with HubOperatorClient(network.hub.url, network.admin_token) as client:
            return await client.personas()

    catalogue = run(fetch())
    if as_json:
        print_json(catalogue)
        return
    console.print(views.personas_table(catalogue))
    if tour:
        console.print(views.affair_tour_table(catalogue))


dependants_app = command_group(
    "dependants",
    help="The duplicate-dependant finder (扶養重複照会, simulated).",
)


@dependants_app.command("find")
def dependants_find(
    agency: Annotated[str, typer.Option(help="The asking municipality (slug or code).")],
    year: Annotated[int, typer.Option(help="課税年度: the fiscal year of the assessment.")],
    atena: Atena = None,
    persona: Persona = None,
    user: User = "cli",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Which other municipalities hold a local-tax assessment in which some taxpayer claims
    this person as a dependant (扶養親族) for the fiscal year: the municipalities only, never the
    taxpayers. Every municipality that knows the person is asked through the hub, and each
    exchange is recorded like an inquiry.

    Exits 0 when every municipality answered, 1 when the request was refused (e.g. PRM001 for
    an agency not permitted to ask) or some municipality could not answer.
    """
    from intermediate_server.schemas import DependantClaimsOrder

    network = load_network(data_dir)
    atena_number = resolve_atena(network, agency, atena, persona)
    try:
        order = DependantClaimsOrder(atena_number=atena_number, fiscal_year=year, user_id=user)
    except ValueError as error:
        fail(str(error), 2)

    async def send() -> Any:
        async with agency_service(network, agency) as client:
            return await client.find_dependant_claims(order)

    answer = run(send())
    if as_json:
        print_json(answer)
    else:
        console.print(views.dependant_claims_table(answer))
    if answer.unanswered:
        raise typer.Exit(1)


app.add_typer(dependants_app, name="dependants")
app.add_typer(records_app, name="records")
app.add_typer(card_app, name="card")
app.add_typer(portal_app, name="portal")
app.add_typer(clock_app, name="clock")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(errors_app, name="errors")
app.add_typer(stats_app, name="stats")
app.add_typer(manual_app, name="manual")
app.add_typer(fault_app, name="fault")
app.add_typer(batch_app, name="batch")
validate_app.command("replica")(validate_replica)
app.add_typer(validate_app, name="validate")
app.add_typer(scenario_app, name="scenario")
app.add_typer(sandbox_app, name="sandbox")
app.command("reset")(reset_command)
app.command("registration-lag")(registration_lag_command)
app.command("lookup")(lookup_command)
app.command("openapi")(openapi_command)


def main() -> None:
    app()
