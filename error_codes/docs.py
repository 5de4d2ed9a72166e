"""docs/error-codes.md, generated from the catalogue (:mod:`error_codes.catalogue`).

Regenerate with ``python -m error_codes.docs > docs/error-codes.md``; a unit test fails when the
committed file differs from what the catalogue gives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from error_codes.catalogue import CATALOGUE, Category, ErrorCode, Origin

ORIGIN_LABELS: dict[Origin, str] = {
    Origin.REQUESTER_SERVER: "requester's intermediate server (照会側中間サーバー)",
    Origin.HUB: "hub (情報提供ネットワークシステム)",
    Origin.PROVIDER_SERVER: "provider's intermediate server (提供側中間サーバー)",
    Origin.ANY: "any service",
}
"""Where a code arises, in words."""

CATEGORY_TITLES: dict[Category, str] = {
    Category.VALIDATION: "Validation: the shape of a request (入力チェック)",
    Category.AUTHENTICATION: "Authentication: who is calling (認証)",
    Category.AGENCY: "Agency: the agency named (機関)",
    Category.IDENTITY: "Identity: the person, their atena number and 符号 (本人特定)",
    Category.PERMISSION: "Permission: the permission table (情報照会の可否)",
    Category.REPLICA: "Replica: 副本",
    Category.AVAILABILITY: "Availability: a service that does not answer (接続・応答)",
    Category.RECORDS: "Records: provision records and addenda (情報提供等の記録)",
    Category.INTERNAL: "Internal: a defect of the service (システム内部)",
    Category.MANUAL_RESPONSE: "Manual response: answered by the provider's staff (自動応答不可)",
    Category.IDEMPOTENCY: "Idempotency: a request repeated under its key (冪等キー)",
    Category.BATCH: "Batch: 一括照会 request files and jobs (一括照会)",
    Category.SANDBOX: "Sandbox: isolated copies of the data for parallel tests (サンドボックス)",
}
"""Heading of each category's table."""


def category_prefix(category: Category, entries: Iterable[ErrorCode]) -> str:
    """The three letters of a category's codes (``VAL`` for validation), from its entries."""
    prefixes = sorted({entry.code[:3] for entry in entries if entry.category is category})
    return "/".join(prefixes)


def category_title(category: Category) -> str:
    """The heading of a category's table (its name when no title is written for it)."""
    return CATEGORY_TITLES.get(category, category.value.capitalize())


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: pipes escaped, no line breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def _message(text: str) -> str:
    return _cell(text).replace("{", "`{").replace("}", "}`")


def render_error_codes_markdown(catalogue: Mapping[str, ErrorCode] = CATALOGUE) -> str:
    """docs/error-codes.md: a table per category of every code of ``catalogue``."""
    entries = list(catalogue.values())
    lines = [
        "# Error codes (エラー分類コード)",
        "",
        "<!-- Generated from error_codes/catalogue.py by",
        "     error_codes.docs.render_error_codes_markdown. Do not edit by hand; regenerate with:",
        "     python -m error_codes.docs > docs/error-codes.md",
        "     (tests/unit/test_error_docs.py fails when this file is out of date.) -->",
        "",
        "The real network's list of standard error-classification codes (別紙2) is not public, so",
        "the codes here are ipnsim's own scheme: three capital letters naming the category and",
        "three digits, e.g. `PRM001`. Every error answer of every service carries its code, a",
        "Japanese message in the style of the real intermediate server (values quoted in 「」 are",
        "written in full width), an English message and the path of its explanation",
        "(`/v1/errors/{code}`). The same explanations are served by every service at",
        "`GET /v1/errors` and `GET /v1/errors/{code}`, and offline by",
        "`ipnsim errors list | explain CODE`.",
        "",
        "*Origin* is the side of the network that raises the code; *retryable* says whether",
        "sending the same request again later can succeed. Words in `{braces}` are filled with",
        "the values of the failing request.",
        "",
        f"{len(entries)} codes in {len({entry.category for entry in entries})} categories.",
        "",
    ]
    for category in Category:
        in_category = [entry for entry in entries if entry.category is category]
        if not in_category:
            continue
        prefix = category_prefix(category, in_category)
        lines += [
            f"## {category_title(category)} — `{prefix}`",
            "",
            "| code | origin | retryable | HTTP | message (日本語) | message (English) "
            "| likely cause | remedy |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| `{entry.code}` | {ORIGIN_LABELS.get(entry.origin, entry.origin.value)} "
            f"| {'yes' if entry.retryable else 'no'} | {entry.http_status} "
            f"| {_message(entry.message_ja)} | {_message(entry.message_en)} "
            f"| {_cell(entry.cause)} | {_cell(entry.remedy)} |"
            for entry in sorted(in_category, key=lambda entry: entry.code)
        ]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.buffer.write(render_error_codes_markdown().encode("utf-8"))
    sys.stdout.buffer.flush()
