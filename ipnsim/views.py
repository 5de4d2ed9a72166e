"""How the command line shows services, inquiry results and records."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ipnsim.launcher import NetworkFile
from network.protocol.layouts import catalogue
from network.protocol.models import InquiryResult, ProvisionRecord


def services_table(network: NetworkFile, healthy: dict[str, bool] | None = None) -> Table:
    table = Table(title="ipnsim network")
    table.add_column("service")
    table.add_column("agency code")
    table.add_column("name")
    table.add_column("URL")
    if healthy is not None:
        table.add_column("health")
    for service in network.services:
        row = [
            service.name,
            service.agency_code or "-",
            service.name_ja or "情報提供ネットワークシステム",
            service.url,
        ]
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
        )
    return table
