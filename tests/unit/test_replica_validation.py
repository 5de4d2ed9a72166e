"""``ipnsim validate replica``: every problem of a replica file, offline, as the server finds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ipnsim.cli import app

TAX = "TM00000000000002"
TAX_ITEMS = {
    "I001": "2025",
    "I002": "3500000",
    "I003": "2100000",
    "I004": "126000",
    "I005": "5000",
    "I006": "1",
    "I007": "0",
}


def replica(record_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "record_id": record_id,
        "atena_number": "000000000000001",
        "info_type_code": TAX,
        "layout_version": 1,
        "fiscal_year": 2025,
        "publication_start": "2025-06-01",
        "items": [{"code": code, "value": value} for code, value in TAX_ITEMS.items()],
    }
    return body | changes


def items(**values: str | None) -> list[dict[str, str]]:
    merged = TAX_ITEMS | values
    return [
        {"code": code, "value": value}
        if value is not None
        else {"code": code, "reason_of_null": "NotAcceptable"}
        for code, value in merged.items()
        if code in values or code in TAX_ITEMS
    ]


def validate(*paths: Path, as_json: bool = False) -> Any:
    arguments = ["validate", "replica", *map(str, paths)] + (["--json"] if as_json else [])
    return CliRunner().invoke(app, arguments, env={"COLUMNS": "200"})


def test_a_correct_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "replicas.jsonl"
    path.write_text("\n".join(json.dumps(replica(f"R{n}")) for n in range(3)) + "\n")
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert "3 replicas: ok" in result.output


def test_every_problem_is_named_by_line_and_field(tmp_path: Path) -> None:
    without_i007 = [item for item in replica("R3")["items"] if item["code"] != "I007"]
    lines = [
        replica("R1"),
        replica("R2", layout_version=2),
        replica("R3", items=without_i007),
        replica("R4", items=items(I002="three million", I099="1")),
        replica("R5", atena_number="123"),
        replica("R1"),
    ]
    path = tmp_path / "replicas.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    result = validate(path, as_json=True)
    assert result.exit_code == 1
    found = {
        (problem["where"], problem["field"], problem["code"])
        for problem in json.loads(result.output)["problems"]
    }
    assert found == {
        ("line 2", "layout_version", "RPL006"),
        ("line 3", "items.I007", "RPL004"),
        ("line 4", "items.I099", "RPL004"),
        ("line 4", "items.I002", "RPL004"),
        ("line 5", "atena_number", "VAL001"),
        ("line 6", "record_id", "RPL002"),
        ("line 7", "line", "VAL002"),
    }
    table = validate(path)
    assert "line 4 [R4]: items.I002: RPL004 not a valid integer" in table.output
    assert "7 replicas: 7 problems" in table.output


def test_a_list_and_a_bulk_body_are_read_too(tmp_path: Path) -> None:
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([replica("A1"), replica("A2", publication_end="2020-01-01")]))
    as_bulk = tmp_path / "bulk.json"
    as_bulk.write_text(json.dumps({"replicas": [replica("A1")]}))
    result = validate(as_list, as_bulk, as_json=True)
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert [(p["file"].endswith("list.json"), p["where"]) for p in problems] == [
        (True, "replica 2"),
        (False, "replica 1"),
    ]
    assert problems[1]["code"] == "RPL002"  # A1 again, in the second file


def test_an_unreadable_file_is_a_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{")
    result = validate(path)
    assert result.exit_code == 1
    assert "line 1" in result.output and "VAL002" in result.output
    assert "Traceback" not in result.output
