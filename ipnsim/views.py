"""How the command line shows services, inquiry results and records."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from intermediate_server.schemas import DependantClaims, JournalEntryView
from ipnsim.launcher import NetworkFile
from network.protocol.layouts import catalogue
from network.protocol.models import FanOutResult, InquiryResult, PersonaCatalogue, ProvisionRecord

ROLE_NAMES = {
    "hub": "情報提供ネットワークシステム",
    "hub-instance": "情報提供ネットワークシステム（負荷分散先の一つ）",
    "registry": "住民基本台帳ネットワークシステム（模擬）",
    "agency-host": "中間サーバー（複数機関）",
}
"""What the services table calls a service that is not an agency's intermediate server."""


def services_table(network: NetworkFile, healthy: dict[str, bool] | None = None) -> Table:
    table = Table(title="ipnsim network")
    table.add_column("service", overflow="fold")
    # Codes and URLs whole on any usual terminal (and in a log, 80 columns): they are what the
    # reader copies. The names give way first.
    table.add_column("agency code", no_wrap=True, min_width=16)
    table.add_column("name", overflow="fold")
    longest_url = max((len(service.url) for service in network.processes), default=0)
    table.add_column("URL", no_wrap=True, min_width=longest_url)
    if healthy is not None:
        table.add_column("health")
    for service in network.processes:
        hosted = network.hosted(service.name)
        name = (service.name_ja or ROLE_NAMES.get(service.role, service.role)) + (
            f" — {service.process}" if service.process else ""
        )
        if hosted:
            name = f"{len(hosted):,} agencies (/agencies/<code>)"
        row = [service.name, service.agency_code or "-", name, service.url]
        if healthy is not None:
            row.append("[green]ok[/]" if healthy.get(service.name) else "[red]down[/]")
        table.add_row(*row)
    return table


def print_inquiry_result(console: Console, result: InquiryResult) -> None:
    status = f"{result.status_detail.value}/{result.status_info_type.value}"
    console.print(f"inquiry [bold]{result.inquiry_id}[/]  status {status}")
    if result.error is not None:
        console.print(f"[bold red]{result.error.code}[/] {result.error.message_ja}")
        console.print(f"       {result.error.message_en}")
        return
    info_type = catalogue().info_types.get(result.info_type_code)
    table = Table(title=f"{result.info_type_code} {info_type.name_ja if info_type else ''}")
    table.add_column("item")
    table.add_column("name")
    table.add_column("value")
    for item in result.items:
        layout_item = info_type.item(item.code) if info_type else None
        value = item.value if item.value is not None else f"(未設定: {item.reason_of_null})"
        table.add_row(item.code, layout_item.name_ja if layout_item else "", value)
    console.print(table)
    if result.replica is not None:
        replica = result.replica
        console.print(
            f"from replica {replica.record_id} (layout v{replica.layout_version}, fiscal year "
            f"{replica.fiscal_year or '-'}, updated {replica.updated_at:%Y-%m-%d %H:%M})"
        )
        if replica.stale:
            console.print(
                f"[bold yellow]stale:[/] last updated {replica.age_days or 0:.0f} days ago, "
                f"more than the info type's update cycle of {replica.update_cycle_days} days "
                "(鮮度超過; the items are still provided)"
            )


def fan_out_table(answer: FanOutResult) -> Table:
    """One row per provider of a fan-out inquiry: its status, and its items or its code."""
    scope = f" ({answer.scope.value})" if answer.scope else ""
    table = Table(title=f"fan-out {answer.fan_out_id}{scope}: {len(answer.results)} providers")
    for column in ("provider", "inquiry", "status", "answer"):
        table.add_column(column)
    for result in answer.results:
        status = f"{result.status_detail.value}/{result.status_info_type.value}"
        if result.error is not None:
            outcome = f"{result.error.code} {result.error.message_ja}"
        else:
            outcome = f"{len(result.items)} items"
        table.add_row(
            f"{result.provider_name or result.provider_code}",
            str(result.inquiry_id),
            status,
            outcome,
        )
    if not answer.results:
        table.caption = "no provider concerned: nobody else knows this person"
    return table


def dependant_claims_table(answer: DependantClaims) -> Table:
    """The duplicate-dependant finder's answer: each municipality asked and what it said."""
    claimed = ", ".join(m.name_ja or m.code for m in answer.claimed_by) or "none"
    table = Table(title=f"扶養重複照会 FY{answer.fiscal_year}: claimed as a dependant in {claimed}")
    for column in ("municipality", "code", "answer", "inquiry"):
        table.add_column(column)
    for municipality in answer.claimed_by:
        table.add_row(
            municipality.name_ja,
            municipality.code,
            "claimed (申告有り)",
            str(municipality.inquiry_id),
        )
    for municipality in answer.not_claimed_by:
        table.add_row(
            municipality.name_ja,
            municipality.code,
            "not claimed (申告無し)",
            str(municipality.inquiry_id),
        )
    for unanswered in answer.unanswered:
        table.add_row(
            unanswered.name_ja,
            unanswered.code,
            f"no answer: {unanswered.error_code} {unanswered.message_en}",
            str(unanswered.inquiry_id),
        )
    if not (answer.claimed_by or answer.not_claimed_by or answer.unanswered):
        table.caption = "no other municipality knows this person"
    return table


def journal_table(entries: list[JournalEntryView]) -> Table:
    """The request journal, newest first; a refused request shows its code and near misses."""
    table = Table(title="request journal (受付記録)")
    for column in ("#", "received", "request", "status", "verdict", "why"):
        table.add_column(column, overflow="fold")
    styles = {"accepted": "green", "answered": "yellow", "refused": "bold red"}
    for entry in entries:
        why = entry.error_code or ""
        if entry.message_en:
            why += f" {entry.message_en}"
        for detail in entry.details:
            why += f"\n  {detail.field}: {detail.problem}"
        table.add_row(
            str(entry.entry_id),
            f"{entry.received_at:%Y-%m-%d %H:%M:%S}",
            f"{entry.method} {entry.path}",
            str(entry.status),
            f"[{styles.get(entry.verdict, '')}]{entry.verdict}[/]",
            why,
        )
    return table


def records_table(records: list[ProvisionRecord], title: str = "provision records") -> Table:
    table = Table(title=title)
    table.add_column("inquiry", no_wrap=True, min_width=36)
    for column in (
        "copy",
        "requested",
        "requester",
        "provider",
        "info type",
        "status",
        "addenda",
    ):
        table.add_column(column)
    traced = any(record.trace_id for record in records)
    if traced:
        table.add_column("trace", no_wrap=True)
    for record in records:
        table.add_row(
            str(record.inquiry_id),
            record.side.value,
            f"{record.requested_at:%Y-%m-%d %H:%M:%S}",
            record.requester_name,
            record.provider_name or record.provider_code,
            record.info_type_code,
            f"{record.status_detail.value}/{record.status_info_type.value}"
            + (f" {record.error_code}" if record.error_code else ""),
            "; ".join(f"追記 {a.kind.value}: {a.reason}" for a in record.addenda) or "-",
            *([record.trace_id or "-"] if traced else []),
        )
    return table


def _outcome(status_detail: str, status_info_type: str, error_code: str | None) -> str:
    return f"{status_detail}/{status_info_type}" + (f" {error_code}" if error_code else "")


def personas_table(catalogue: PersonaCatalogue) -> Table:
    """Every persona: who, what it demonstrates, and the inquiry that shows it."""
    table = Table(title=f"personas (seed {catalogue.seed})", show_lines=True)
    table.add_column("persona", style="bold")
    table.add_column("person")
    table.add_column("demonstrates")
    table.add_column("inquiry (requester → provider, procedure, info type)")
    table.add_column("outcome")
    for persona in catalogue.personas:
        inquiry = persona.inquiry
        expected = persona.expected
        demonstrates = f"{persona.demonstrates_ja}\n{persona.demonstrates_en}"
        if persona.feature:
            demonstrates += f"\n[yellow]needs {persona.feature}, not simulated yet[/]"
        table.add_row(
            persona.name,
            f"{persona.person_name}\n{persona.person_name_kana}",
            demonstrates,
            "-"
            if inquiry is None
            else f"{inquiry.requester_slug} → {inquiry.provider_slug}\n"
            f"{inquiry.procedure_code} {inquiry.info_type_code}\n"
            f"atena {inquiry.atena_number}",
            "-"
            if expected is None
            else _outcome(
                expected.status_detail.value, expected.status_info_type.value, expected.error_code
            ),
        )
    return table


def affair_tour_table(catalogue: PersonaCatalogue) -> Table:
    """One inquiry for each affair of the catalogue, with the persona it is about."""
    table = Table(title="affair tour: one inquiry per affair", show_lines=True)
    table.add_column("affair")
    table.add_column("persona", style="bold")
    table.add_column("inquiry")
    table.add_column("outcome")
    for stop in catalogue.affair_tour:
        table.add_row(
            f"{stop.affair_code}\n{stop.affair_name_ja}",
            stop.persona,
            f"{stop.inquiry.requester_slug} → {stop.inquiry.provider_slug}\n"
            f"{stop.inquiry.procedure_code} {stop.inquiry.info_type_code}",
            _outcome(
                stop.expected.status_detail.value,
                stop.expected.status_info_type.value,
                stop.expected.error_code,
            ),
        )
    return table
