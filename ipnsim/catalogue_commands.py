"""``ipnsim catalogue``: browse the catalogue offline.

For a procedure: what can be obtained, from whom, and which paper the inquiry replaces. The
answers come from the catalogue and permission table shipped with ipnsim, through the same pure
functions as the hub's ``GET /v1/catalogue/…`` (:mod:`network.catalogue_api`); no network runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from error_codes import IpnsimError
from ipnsim.cli_support import AsJson, command_group, console, errors, fail, print_json
from network.catalogue_api import (
    AffairView,
    HitKind,
    InfoTypeView,
    ItemView,
    ProcedureSummary,
    ProcedureView,
    SearchHit,
    describe_code,
    kind_label,
    list_procedures,
    search,
    shipped_permissions,
)
from network.permissions import PermissionTable
from network.protocol.layouts import Catalogue, Source, catalogue
from network.protocol.models import AgencyKind

T = TypeVar("T")

catalogue_app = command_group(
    "catalogue",
    help="Browse the catalogue offline: for each procedure (事務手続), what can be obtained, "
    "from whom, and which paper (添付書類) the inquiry replaces.",
)

_HIT_LABELS = {
    HitKind.AFFAIR: "事務 affair",
    HitKind.PROCEDURE: "事務手続 procedure",
    HitKind.PAPER: "書類 paper",
    HitKind.INFO_TYPE: "特定個人情報名 info type",
    HitKind.ITEM: "項目 item",
}


def _answer(question: Callable[[Catalogue, PermissionTable], T]) -> T:
    """Ask the shipped catalogue; a catalogued error ends the command with exit status 2."""
    try:
        return question(catalogue(), shipped_permissions())
    except IpnsimError as error:
        errors.print(
            f"[bold red]{error.code}[/] {error.message_ja}", highlight=False, soft_wrap=True
        )
        errors.print(f"       {error.message_en}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ValueError as error:  # a malformed shipped file: CatalogueError, PermissionTableError
        fail(str(error), 2)


def _code(code: str, source: Source) -> Text:
    text = Text(code, style="bold")
    if source is Source.SIMULATED:
        text.append(" (simulated)", style="dim")
    return text


def _folded(table: Table) -> Table:
    """Japanese names have no spaces to wrap at: fold them instead of cutting them short."""
    for column in table.columns:
        column.overflow = "fold"
    return table


def _kinds(kinds: list[AgencyKind]) -> str:
    return ", ".join(kind_label(kind) for kind in kinds) or "—"


def _papers_ja_en(papers_ja: str, papers_en: str) -> str:
    return f"{papers_ja}\n({papers_en})"


def _items_table(title: str, items: list[ItemView]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("item")
    table.add_column("項目名")
    table.add_column("name")
    table.add_column("type")
    table.add_column("dataset")
    for item in items:
        table.add_row(
            item.code, item.name_ja, item.name_en, item.value_type.value, item.dataset_number
        )
    return _folded(table)


def _procedures_table(procedures: list[ProcedureSummary], *, with_affair: bool) -> Table:
    table = Table(show_lines=True)
    table.add_column("procedure (事務手続)")
    if with_affair:
        table.add_column("affair (事務)")
    table.add_column("obtains → from whom (提供者)")
    table.add_column("paper replaced (代替する書類)")
    for summary in procedures:
        name = Text.assemble(_code(summary.code, summary.source), "\n", summary.name_ja)
        obtains = "\n".join(
            f"{ref.code} {ref.name_ja} ← {_kinds(ref.provider_kinds)}" for ref in summary.obtainable
        )
        row: list[Text | str] = [name]
        if with_affair:
            row.append(
                Text.assemble(
                    _code(summary.affair.code, summary.affair.source), "\n", summary.affair.name_ja
                )
            )
        row += [
            obtains or "— (no permission row)",
            _papers_ja_en(summary.replaces_ja, summary.replaces_en),
        ]
        table.add_row(*row)
    return _folded(table)


def _show_procedure(view: ProcedureView) -> None:
    heading = Text.assemble(
        _code(view.code, view.source), "  ", (view.name_ja, "bold"), "\n", view.name_en
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="cyan")
    facts.add_column(overflow="fold")
    facts.add_row(
        "affair (事務)",
        Text.assemble(_code(view.affair.code, view.affair.source), " ", view.affair.name_ja),
    )
    facts.add_row("who may ask (照会者)", _kinds(view.requester_kinds))
    facts.add_row(
        "paper replaced (代替する書類)", _papers_ja_en(view.replaces_ja, view.replaces_en)
    )
    console.print(
        Panel(Group(heading, Text(), facts), title="procedure 事務手続", title_align="left")
    )

    obtainable = Table(title="what can be obtained, from whom", title_justify="left")
    obtainable.add_column("info type (特定個人情報名)")
    obtainable.add_column("from whom (提供者)")
    obtainable.add_column("layout")
    obtainable.add_column("items")
    for info_type in view.obtainable:
        obtainable.add_row(
            Text.assemble(
                _code(info_type.code, info_type.source),
                "\n",
                info_type.name_ja,
                "\n",
                info_type.name_en,
            ),
            _kinds(info_type.provider_kinds),
            f"v{info_type.layout_version}",
            str(len(info_type.items)),
        )
    if not view.obtainable:
        obtainable.add_row("— (no permission row)", "—", "—", "—")
    console.print(_folded(obtainable))
    for info_type in view.obtainable:
        console.print(_items_table(f"{info_type.code} {info_type.name_ja}: items", info_type.items))


def _show_affair(view: AffairView) -> None:
    heading = Text.assemble(
        _code(view.code, view.source), "  ", (view.name_ja, "bold"), "\n", view.name_en
    )
    console.print(Panel(heading, title="affair 事務", title_align="left"))
    console.print(_procedures_table(view.procedures, with_affair=False))


def _show_info_type(view: InfoTypeView) -> None:
    heading = Text.assemble(
        _code(view.code, view.source), "  ", (view.name_ja, "bold"), "\n", view.name_en
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="cyan")
    facts.add_column(overflow="fold")
    facts.add_row("held by (提供者)", kind_label(view.holder_kind))
    facts.add_row("layout version (版番号)", str(view.layout_version))
    console.print(
        Panel(Group(heading, Text(), facts), title="info type 特定個人情報名", title_align="left")
    )
    console.print(_items_table("items (項目)", view.items))
    uses = Table(title="obtainable through", title_justify="left", show_lines=True)
    uses.add_column("procedure (事務手続)")
    uses.add_column("who asks (照会者)")
    uses.add_column("from whom (提供者)")
    uses.add_column("paper replaced (代替する書類)")
    for use in view.obtainable_by:
        uses.add_row(
            f"{use.procedure_code}\n{use.procedure_name_ja}",
            _kinds(use.requester_kinds),
            _kinds(use.provider_kinds),
            _papers_ja_en(use.replaces_ja, use.replaces_en),
        )
    if not view.obtainable_by:
        uses.add_row("— (no procedure may obtain it)", "—", "—", "—")
    console.print(_folded(uses))


@catalogue_app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """Every procedure: its affair, what it may obtain from whom, and the paper it replaces."""
    procedures = _answer(list_procedures)
    if as_json:
        print_json(procedures)
        return
    console.print(_procedures_table(procedures, with_affair=True))


@catalogue_app.command("show")
def show_command(
    code: Annotated[
        str,
        typer.Argument(
            help="A procedure (JT…), affair (JM…) or info type (TM…) code, e.g. JT01010000000214.",
            show_default=False,
        ),
    ],
    as_json: AsJson = False,
) -> None:
    """What a procedure can obtain, from whom, and which paper it replaces (or an affair's
    procedures, or an info type's items)."""
    view = _answer(lambda shipped, permissions: describe_code(shipped, permissions, code))
    if as_json:
        print_json(view)
    elif isinstance(view, ProcedureView):
        _show_procedure(view)
    elif isinstance(view, AffairView):
        _show_affair(view)
    else:
        _show_info_type(view)


@catalogue_app.command("search")
def search_command(
    word: Annotated[
        str,
        typer.Argument(
            help="A Japanese or English word, e.g. 課税証明書, 難病 or tax.", show_default=False
        ),
    ],
    as_json: AsJson = False,
) -> None:
    """Affairs, procedures, papers, info types and items whose name contains WORD."""
    hits = _answer(lambda shipped, permissions: search(shipped, permissions, word))
    if as_json:
        print_json(hits)
        return
    if not hits:
        console.print(f"no affair, procedure, paper, info type or item matches {word!r}")
        return
    console.print(_hits_table(hits))


def _hits_table(hits: list[SearchHit]) -> Table:
    table = Table(show_lines=True)
    table.add_column("kind")
    table.add_column("code")
    table.add_column("name")
    table.add_column("procedures (ipnsim catalogue show …)")
    for hit in hits:
        code = hit.code or "—"
        if hit.info_type_code is not None:
            code = f"{hit.info_type_code}\n{code}"
        table.add_row(
            _HIT_LABELS[hit.kind],
            code,
            f"{hit.name_ja}\n{hit.name_en}",
            "\n".join(hit.procedure_codes) or "—",
        )
    return _folded(table)
