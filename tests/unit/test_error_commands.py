"""``ipnsim errors list | explain``: every code of the catalogue, explained offline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from error_codes import CATALOGUE, Category
from error_codes.docs import ORIGIN_LABELS
from ipnsim.cli import app
from ipnsim.error_commands import errors_app

CODES = sorted(CATALOGUE)
runner = CliRunner()


def invoke(*args: str) -> Any:
    result = runner.invoke(errors_app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + result.stderr
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("code", CODES)
def test_explain_answers_for_every_code(code: str) -> None:
    entry = CATALOGUE[code]
    shown = json.loads(invoke("explain", code, "--json").stdout)
    assert shown == {
        "code": code,
        "origin": entry.origin.value,
        "category": entry.category.value,
        "retryable": entry.retryable,
        "http_status": entry.http_status,
        "message_ja": entry.message_ja,
        "message_en": entry.message_en,
        "cause": entry.cause,
        "remedy": entry.remedy,
    }
    # Compared without whitespace: where Rich wraps a line depends on the console's width
    # (fixed when the command's module is imported, so not always the COLUMNS given here).
    text = "".join(invoke("explain", code.lower()).stdout.split())
    for expected in (
        code,
        ORIGIN_LABELS[entry.origin],
        str(entry.http_status),
        entry.message_ja,
        entry.message_en,
        entry.cause,
        entry.remedy,
        f"/v1/errors/{code}",
    ):
        assert "".join(expected.split()) in text


def test_list_shows_every_code() -> None:
    shown = json.loads(invoke("list", "--json").stdout)
    assert [item["code"] for item in shown] == list(CATALOGUE)
    text = invoke("list").stdout
    for code in CATALOGUE:
        assert code in text
    assert f"{len(CATALOGUE)} codes" in text


@pytest.mark.parametrize("category", sorted({entry.category for entry in CATALOGUE.values()}))
def test_list_by_category_name_or_letters(category: Category) -> None:
    expected = [code for code, entry in CATALOGUE.items() if entry.category is category]
    by_name = json.loads(invoke("list", "--category", category.value, "--json").stdout)
    assert [item["code"] for item in by_name] == expected
    letters = expected[0][:3].lower()
    by_letters = json.loads(invoke("list", "--category", letters, "--json").stdout)
    assert by_letters == by_name
    text = invoke("list", "--category", category.value).stdout
    assert all(code in text for code in expected)
    others = [code for code in CATALOGUE if code not in expected]
    assert not any(code in text for code in others)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["explain", "XYZ999"], "VAL006"),
        (["explain", "PRM999", "--json"], "VAL006"),
        (["explain", "PRM1"], "three letters and three digits"),
        (["explain", "[bold]"], "three letters and three digits"),
        (["explain", "001PRM"], "three letters and three digits"),
        (["list", "--category", "nope"], "no category 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_message_on_stderr(args: list[str], says: str) -> None:
    result = runner.invoke(errors_app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert says in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_registered_as_ipnsim_errors() -> None:
    result = runner.invoke(app, ["errors", "explain", "IDN004", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["code"] == "IDN004"
