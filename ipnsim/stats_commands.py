"""``ipnsim stats errors``: where errors cluster, from the hub's provision records;
``ipnsim stats freshness``: how fresh each agency's replicas are.

The hub counts failed inquiries (records with an error code) by provider, error code and UTC day
(``GET /v1/stats/errors``, operator token); the table groups them by provider, the provider with
the most failures first, so a misbehaving one stands out.

Exit status: 0 answered; 1 the hub answered an error code; 2 no network in the data directory;
3 the hub cannot be reached.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from error_codes import CATALOGUE, IpnsimError
from intermediate_server.schemas import FreshnessReport, LagMode
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    agency_service,
    command_group,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import HubOperatorClient
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile
from network.protocol.models import (
    CaseReport,
    CaseReports,
    ErrorCount,
    ErrorStatistics,
    UsageStatistics,
)

stats_app = command_group(
    "stats",
    help="Statistics of the running network: the hub's provision records, replica freshness.",
)


@stats_app.callback()
def stats() -> None:
    """Statistics of the running network: the hub's provision records, replica freshness."""


@dataclass
class ProviderErrors:
    """The failures of one provider: its total, and its counts by error code and by day."""

    code: str
    name: str
    total: int = 0
    by_code: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_code_and_day: dict[str, list[ErrorCount]] = field(default_factory=lambda: defaultdict(list))


def by_provider(statistics: ErrorStatistics) -> list[ProviderErrors]:
    """The counts grouped by provider, the most failures first (ties by provider code); within
    a provider, error codes by count and each code's days newest first."""
    providers: dict[str, ProviderErrors] = {}
    for count in statistics.counts:
        provider = providers.setdefault(
            count.provider_code, ProviderErrors(count.provider_code, count.provider_name)
        )
        provider.total += count.count
        provider.by_code[count.error_code] += count.count
        provider.by_code_and_day[count.error_code].append(count)
    for provider in providers.values():
        for days in provider.by_code_and_day.values():
            days.sort(key=lambda count: count.day, reverse=True)
    return sorted(providers.values(), key=lambda provider: (-provider.total, provider.code))


def errors_table(statistics: ErrorStatistics) -> Table:
    """A table of failed inquiries by provider and error code, the worst provider first."""
    table = Table(
        title=f"failed inquiries by provider, {statistics.since} to {statistics.until} (UTC)",
        title_justify="left",
    )
    table.add_column("provider", overflow="fold")
    table.add_column("error code")
    table.add_column("failed", justify="right")
    table.add_column("share", justify="right")
    table.add_column("by day", overflow="fold")
    table.add_column("what it means", overflow="fold")
    providers = by_provider(statistics)
    for rank, provider in enumerate(providers):
        worst = rank == 0 and (len(providers) == 1 or provider.total > providers[1].total)
        style = "bold red" if worst else "bold"
        share = provider.total / statistics.total
        table.add_row(
            Text(f"{provider.name or '(unknown)'} {provider.code}", style=style),
            Text("all", style=style),
            Text(str(provider.total), style=style),
            Text(f"{share:.0%}", style=style),
            "",
            Text("◀ most failures" if worst else "", style=style),
            end_section=False,
        )
        codes = sorted(provider.by_code.items(), key=lambda item: (-item[1], item[0]))
        for position, (code, counted) in enumerate(codes):
            days = ", ".join(
                f"{count.day:%m-%d} ×{count.count}" for count in provider.by_code_and_day[code]
            )
            meaning = (
                IpnsimError(code, provider_code=provider.code).message_en
                if code in CATALOGUE
                else "(not in this ipnsim's catalogue)"
            )
            table.add_row(
                "",
                code,
                str(counted),
                "",
                days,
                Text(meaning),
                end_section=position == len(codes) - 1,
            )
    return table


async def _fetch(network: NetworkFile, days: int) -> ErrorStatistics:
    async with HubOperatorClient(network.hub.url, network.admin_token) as hub:
        return await hub.error_statistics(days)


@stats_app.command("errors")
def error_statistics(
    days: Annotated[
        int,
        typer.Option("--days", help="Count the last N days (UTC), today included.", min=1, max=366),
    ] = 7,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Where errors cluster: failed inquiries by provider, error code and day.

    Counted from the hub's provision records over the last N days (UTC); the provider with the
    most failures comes first.
    """
    statistics = run(_fetch(load_network(data_dir), days))
    if as_json:
        print_json(statistics)
        return
    if not statistics.counts:
        console.print(
            f"no failed inquiries from {statistics.since} to {statistics.until} (UTC).",
            highlight=False,
        )
        return
    console.print(errors_table(statistics), highlight=False)
    console.print(
        f"{statistics.total} failed inquiries in the last {statistics.days} days; "
        "'ipnsim errors explain CODE' for a code's cause and remedy.",
        highlight=False,
    )


def freshness_table(reports: list[FreshnessReport]) -> Table:
    """Replicas per agency and info type: ages, past their cycle, queued, failed."""
    table = Table(title="replica freshness by agency and info type", title_justify="left")
    for column, justify in (
        ("agency", "left"),
        ("info type", "left"),
        ("cycle (days)", "right"),
        ("replicas", "right"),
        ("<1d", "right"),
        ("<7d", "right"),
        ("<30d", "right"),
        ("<365d", "right"),
        ("older", "right"),
        ("past cycle", "right"),
        ("pending", "right"),
        ("failed", "right"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for report in reports:
        lag = report.registration_lag
        if lag.mode is LagMode.DELAY:
            lag_text = f"lag {lag.delay_seconds or 0:g}s"
        elif lag.mode is LagMode.NIGHTLY:
            lag_text = f"nightly at {lag.nightly_hour}:00 JST"
        else:
            lag_text = "no lag"
        agency = f"{report.agency_name} {report.agency_code} ({lag_text})"
        if not report.info_types:
            table.add_row(agency, "(no replicas)", *[""] * 10, end_section=True)
        for position, entry in enumerate(report.info_types):
            table.add_row(
                agency if position == 0 else "",
                f"{entry.name_en} {entry.info_type_code}",
                str(entry.update_cycle_days),
                str(entry.replicas),
                str(entry.ages.under_1_day),
                str(entry.ages.under_7_days),
                str(entry.ages.under_30_days),
                str(entry.ages.under_365_days),
                str(entry.ages.older),
                Text(str(entry.stale), style="bold red" if entry.stale else ""),
                str(entry.pending),
                Text(
                    str(entry.failed_registrations),
                    style="red" if entry.failed_registrations else "",
                ),
                end_section=position == len(report.info_types) - 1,
            )
    return table


@stats_app.command("freshness")
def freshness_statistics(
    agency: Annotated[
        str | None, typer.Option(help="Only this agency (slug or code); default every agency.")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Replica freshness (副本の鮮度) per agency and info type: the age distribution of the
    replicas, those past their info type's update cycle (stale), changes waiting under a
    registration lag (登録遅延), and registrations that failed. Measured by the simulated
    clock, from each intermediate server's GET /v1/stats/freshness."""

    async def fetch(network: NetworkFile) -> list[FreshnessReport]:
        names = [agency] if agency is not None else [s.name for s in network.agencies]
        reports = []
        for name in names:
            async with agency_service(network, name) as client:
                reports.append(await client.freshness_report())
        return reports

    reports = run(fetch(load_network(data_dir)))
    if as_json:
        print_json(reports)
        return
    console.print(freshness_table(reports), highlight=False)
    stale = sum(report.stale for report in reports)
    replicas = sum(report.replicas for report in reports)
    console.print(
        f"{replicas} replicas, {stale} past their update cycle, "
        f"{sum(report.pending for report in reports)} changes pending, "
        f"{sum(report.failed_registrations for report in reports)} failed registrations.",
        highlight=False,
    )


MonthOption = typer.Option(help="A month in Japan time, YYYY-MM.")


def usage_table(statistics: UsageStatistics) -> Table:
    """Inquiries, cases and utilisation per month, requester and procedure."""
    table = Table(
        title=f"network use by requester and procedure, {statistics.since} to "
        f"{statistics.until} (Japan time)",
        title_justify="left",
    )
    for column, justify in (
        ("month", "left"),
        ("requester", "left"),
        ("procedure", "left"),
        ("inquiries", "right"),
        ("cases", "right"),
        ("utilisation", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in statistics.rows:
        table.add_row(
            row.month,
            f"{row.requester_name} {row.requester_code}",
            row.procedure_code,
            str(row.inquiries),
            "-" if row.cases is None else str(row.cases),
            "-" if row.utilisation is None else f"{row.utilisation:.1%}",
        )
    return table


@stats_app.command("usage")
def usage_statistics(
    since: Annotated[str | None, MonthOption] = None,
    until: Annotated[str | None, MonthOption] = None,
    requester: Annotated[
        str | None, typer.Option(help="Only this requesting agency (slug or code).")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the hub's CSV.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """For ministries: inquiries per requester × procedure × month, with the case counts
    agencies reported and the utilisation rate (利用率 = inquiries ÷ cases).

    Counted from the hub's provision records by month in Japan time; the twelve months up to
    this one unless --since/--until say otherwise.
    """

    async def fetch(network: NetworkFile) -> UsageStatistics | str:
        requester_code = None
        if requester is not None:
            try:
                requester_code = network.agency(requester).agency_code
            except KeyError as error:
                fail(str(error.args[0]), 2)
        async with HubOperatorClient(network.hub.url, network.admin_token) as hub:
            if as_csv:
                return await hub.usage_csv(since, until, requester_code)
            return await hub.usage_statistics(since, until, requester_code)

    answer = run(fetch(load_network(data_dir)))
    if isinstance(answer, str):
        sys.stdout.write(answer)
        return
    if as_json:
        print_json(answer)
        return
    if not answer.rows:
        console.print(f"no inquiries and no cases from {answer.since} to {answer.until}.")
        return
    console.print(usage_table(answer), highlight=False)
    console.print(f"{answer.total_inquiries} inquiries in all.", highlight=False)


@stats_app.command("cases")
def report_cases(
    agency: Annotated[str, typer.Option(help="The reporting agency (slug or code).")],
    procedure: Annotated[str, typer.Option(help="事務手続コード, e.g. JT01010000000214.")],
    month: Annotated[str, MonthOption],
    cases: Annotated[int, typer.Option(help="Cases handled in the month.", min=0)],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """件数報告: report how many cases of a procedure an agency handled in a month, through its
    intermediate server; the hub divides its inquiries by it for the utilisation rate. A month
    reported again is replaced."""
    try:
        report = CaseReport(procedure_code=procedure, month=month, cases=cases)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        fail(problems, 2)

    async def send(network: NetworkFile) -> CaseReports:
        async with agency_service(network, agency) as client:
            return await client.report_cases([report])

    answer = run(send(load_network(data_dir)))
    console.print(
        f"reported {cases} cases of {procedure} in {month} for agency {answer.agency_code}.",
        highlight=False,
    )
