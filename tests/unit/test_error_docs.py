"""docs/error-codes.md: generated from the catalogue, and kept in step with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from error_codes import CATALOGUE, Category, ErrorCode, Origin
from error_codes.docs import ORIGIN_LABELS, category_prefix, render_error_codes_markdown

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "error-codes.md"
REGENERATE = "python -m error_codes.docs > docs/error-codes.md"


def test_committed_file_is_what_the_catalogue_gives() -> None:
    rendered = render_error_codes_markdown()
    assert DOCS.read_text(encoding="utf-8") == rendered, (
        f"docs/error-codes.md is out of date with error_codes/catalogue.py: {REGENERATE}"
    )
    assert REGENERATE in rendered


def test_module_prints_the_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "error_codes.docs"],
        capture_output=True,
        check=True,
        cwd=REPO,
    )
    assert result.stdout.decode("utf-8") == render_error_codes_markdown()


def test_every_code_has_a_row_with_everything_that_explains_it() -> None:
    rendered = render_error_codes_markdown()
    rows = {line.split("|")[1].strip(" `"): line for line in rendered.splitlines() if "| `" in line}
    assert set(rows) == set(CATALOGUE)
    for code, entry in CATALOGUE.items():
        row = rows[code]
        assert ORIGIN_LABELS[entry.origin] in row
        assert f"| {entry.http_status} |" in row
        assert ("| yes |" if entry.retryable else "| no |") in row
        assert " ".join(entry.cause.split()) in row
        assert " ".join(entry.remedy.split()) in row
        assert entry.message_ja.split("{")[0] in row
        assert entry.message_en.split("{")[0] in row


def test_a_table_per_category_under_its_prefix() -> None:
    rendered = render_error_codes_markdown()
    assert "別紙2" in rendered and "not public" in rendered
    for category in {entry.category for entry in CATALOGUE.values()}:
        prefix = category_prefix(category, CATALOGUE.values())
        assert len(prefix) == 3 and prefix.isupper()
        assert rendered.count(f"— `{prefix}`") == 1


def test_drift_is_visible_when_the_catalogue_changes() -> None:
    added = ErrorCode(
        "RPL999",
        Origin.PROVIDER_SERVER,
        Category.REPLICA,
        True,
        503,
        "副本「{record_id}」を読めません。",
        "Replica '{record_id}' | cannot be read.",
        "A test entry.",
        "Nothing to do.",
    )
    changed = render_error_codes_markdown(CATALOGUE | {added.code: added})
    assert changed != render_error_codes_markdown()
    row = next(line for line in changed.splitlines() if "RPL999" in line)
    assert "'`{record_id}`' \\| cannot be read." in row
    assert "副本「`{record_id}`」を読めません。" in row
    assert "| yes | 503 |" in row


def test_every_category_has_a_title_of_its_own() -> None:
    from error_codes.docs import CATEGORY_TITLES

    assert set(CATEGORY_TITLES) == set(Category)
    rendered = render_error_codes_markdown()
    for title in CATEGORY_TITLES.values():
        assert f"## {title} — `" in rendered
