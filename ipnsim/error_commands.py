"""``ipnsim errors``: every error-classification code (エラー分類コード), explained offline.

The answers come from the catalogue itself (:mod:`error_codes.catalogue`), the same entries every
service serves at ``GET /v1/errors``; no network runs.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from error_codes import CATALOGUE, Category, ErrorCode, IpnsimError
from error_codes.docs import ORIGIN_LABELS, category_title
from error_codes.http import ErrorExplanation
from ipnsim.cli_support import AsJson, command_group, console, errors, fail, print_json

CODE_SHAPE = re.compile(r"[A-Z]{3}[0-9]{3}")
"""An error code: three capital letters naming its category and three digits."""

errors_app = command_group(
    "errors",
    help="Every error code (エラー分類コード) of ipnsim, explained offline: where it arises, "
    "whether a retry helps, its messages, likely cause and remedy.",
)


def explanation(entry: ErrorCode) -> ErrorExplanation:
    """One catalogue entry in the shape ``GET /v1/errors/{code}`` answers."""
    return ErrorExplanation(**dataclasses.asdict(entry))


def find_category(name: str) -> Category:
    """A category by name (``identity``) or by its codes' three letters (``IDN``)."""
    wanted = name.strip().lower()
    for category in Category:
        if wanted == category.value:
            return category
    for entry in CATALOGUE.values():
        if wanted == entry.code[:3].lower():
            return entry.category
    known = ", ".join(category.value for category in Category)
    fail(f"no category {name!r}: give one of {known}, or a code's three letters (e.g. IDN)", 2)


def find_code(code: str) -> ErrorCode:
    """The entry of ``code`` (case-insensitive); exit 2 with a message if it is malformed or
    unknown."""
    wanted = code.strip().upper()
    if not CODE_SHAPE.fullmatch(wanted):
        fail(
            f"{code!r} is not an error code: an error code is three letters and three digits, "
            "e.g. PRM001 (see 'ipnsim errors list')",
            2,
        )
    if wanted not in CATALOGUE:
        error = IpnsimError("VAL006", kind_ja="エラー分類コード", kind_en="error code", code=wanted)
        errors.print(
            f"[bold red]{error.code}[/] {escape(error.message_ja)}",
            highlight=False,
            soft_wrap=True,
        )
        errors.print(f"       {escape(error.message_en)}", highlight=False, soft_wrap=True)
        errors.print("       see 'ipnsim errors list'", highlight=False)
        raise typer.Exit(2)
    return CATALOGUE[wanted]


@errors_app.command("list")
def list_codes(
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Only this category: its name (identity, permission, …) or its codes' three "
            "letters (IDN, PRM, …).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every error code, with where it arises, whether a retry helps and its messages."""
    chosen = None if category is None else find_category(category)
    entries = [entry for entry in CATALOGUE.values() if chosen is None or entry.category is chosen]
    if as_json:
        print_json([explanation(entry).model_dump(mode="json") for entry in entries])
        return
    table = Table(
        title="error codes (エラー分類コード)" if chosen is None else category_title(chosen),
        title_justify="left",
    )
    for name in ("code", "category", "origin", "retry", "HTTP", "message (日本語)", "message"):
        table.add_column(name, overflow="fold")
    for entry in entries:
        table.add_row(
            Text(entry.code, style="bold"),
            entry.category.value,
            entry.origin.value,
            "yes" if entry.retryable else "no",
            str(entry.http_status),
            Text(entry.message_ja),
            Text(entry.message_en),
        )
    console.print(table, highlight=False)
    console.print(
        f"{len(entries)} codes; 'ipnsim errors explain CODE' for the cause and remedy.",
        highlight=False,
    )


@errors_app.command("explain")
def explain(
    code: Annotated[str, typer.Argument(help="An error code, e.g. PRM001.")],
    as_json: AsJson = False,
) -> None:
    """One error code: where it arises, whether a retry helps, its cause and remedy."""
    entry = find_code(code)
    if as_json:
        print_json(explanation(entry).model_dump(mode="json"))
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows = {
        "code": entry.code,
        "category": category_title(entry.category),
        "origin": ORIGIN_LABELS.get(entry.origin, entry.origin.value),
        "retryable": "yes: the same request may succeed later" if entry.retryable else "no",
        "HTTP status": str(entry.http_status),
        "message (日本語)": entry.message_ja,
        "message": entry.message_en,
        "likely cause": entry.cause,
        "remedy": entry.remedy,
        "served at": f"GET /v1/errors/{entry.code} on every service",
    }
    for name, value in rows.items():
        table.add_row(name, Text(value))
    console.print(table, highlight=False)
