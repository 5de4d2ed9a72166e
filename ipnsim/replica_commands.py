"""``ipnsim validate replica``: check replica (副本) files offline, as the server would.

A replica file holds what a business system registers at its intermediate server: JSON Lines
(one ``POST /v1/replicas`` body a line), a JSON list of such bodies, or a bulk body
``{"replicas": [...]}``. Every replica is checked against the request schema and against its info
type's standard layout (the layout version, every item and its type), exactly as the
intermediate server checks it; record ids must not repeat within the files. Every problem is
reported with file, line (JSON Lines) or position (a list), and field. No network is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from intermediate_server.replica_layout import layout_problems
from intermediate_server.schemas import ReplicaRegistration
from network.protocol.layouts import catalogue

console = Console(highlight=False)


@dataclass(frozen=True, slots=True)
class ReplicaProblem:
    """One problem of one replica in a file."""

    file: str
    where: str
    """``line N`` (JSON Lines) or ``replica N`` (a list), counted from 1."""
    record_id: str | None
    field: str
    code: str
    problem: str

    def __str__(self) -> str:
        record = f" [{self.record_id}]" if self.record_id else ""
        return f"{self.file}: {self.where}{record}: {self.field}: {self.code} {self.problem}"


def _bodies(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, parsed body) of every replica in the file; a line that is not JSON yields the
    JSONDecodeError in place of a body. A file that is one JSON document is a list, a bulk body
    or one replica; any other file is read as JSON Lines."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "replicas" not in document:
        yield "replica 1", document
        return
    if isinstance(document, dict | list):
        replicas = document.get("replicas") if isinstance(document, dict) else document
        if not isinstance(replicas, list):
            yield "file", ValueError('expected a list of replicas or {"replicas": [...]}')
            return
        for index, body in enumerate(replicas, start=1):
            yield f"replica {index}", body
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as error:
            yield f"line {number}", error


def replica_problems(path: Path, seen: dict[str, str]) -> tuple[int, list[ReplicaProblem]]:
    """How many replicas the file holds, and every problem of them. ``seen`` maps record ids
    already met (across files) to where they were."""
    problems: list[ReplicaProblem] = []
    count = 0
    try:
        bodies = list(_bodies(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return 0, [ReplicaProblem(str(path), "file", None, "file", "VAL002", str(error))]
    for where, body in bodies:
        count += 1
        record_id = body.get("record_id") if isinstance(body, dict) else None
        record_id = record_id if isinstance(record_id, str) else None
        for field, code, problem in _body_problems(body, f"{path}: {where}", seen):
            problems.append(ReplicaProblem(str(path), where, record_id, field, code, problem))
    return count, problems


def _body_problems(body: Any, where: str, seen: dict[str, str]) -> list[tuple[str, str, str]]:
    """(field, code, problem) of every problem of one replica body."""
    if isinstance(body, Exception):
        return [("line", "VAL002", f"not JSON: {body}")]
    try:
        replica = ReplicaRegistration.model_validate(body)
    except ValidationError as error:
        return [
            (
                ".".join(str(part) for part in item["loc"]) or "replica",
                "VAL001",
                str(item["msg"]).removeprefix("Value error, "),
            )
            for item in error.errors()
        ]
    info_type = catalogue().info_types.get(replica.info_type_code)
    if info_type is None:
        return [("info_type_code", "VAL006", f"info type {replica.info_type_code} is not defined")]
    found = [
        (
            problem.item if problem.item == "layout_version" else f"items.{problem.item}",
            problem.code,
            problem.problem,
        )
        for problem in layout_problems(info_type, replica.layout_version, replica.item_triples())
    ]
    if replica.record_id in seen:
        found.append(
            ("record_id", "RPL002", f"record id repeated (first at {seen[replica.record_id]})")
        )
    else:
        seen[replica.record_id] = where
    return found


def validate_replica(
    files: Annotated[
        list[Path],
        typer.Argument(help="Replica files: JSON Lines or JSON.", exists=True, dir_okay=False),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Check replica (副本) files offline: every problem, by file, line and field.

    Each replica is checked as POST /v1/replicas checks it: the fields, the publication period,
    the info type's layout version and every item and its type; record ids must not repeat.
    Exits 1 if any file has a problem.
    """
    seen: dict[str, str] = {}
    found: list[ReplicaProblem] = []
    for path in files:
        count, problems = replica_problems(path, seen)
        found.extend(problems)
        if not as_json:
            for problem in problems:
                console.print(str(problem), soft_wrap=True)
            verdict = "[green]ok[/]" if not problems else f"[red]{len(problems)} problems[/]"
            console.print(f"{path}: {count} replicas: {verdict}")
    if as_json:
        print(
            json.dumps(
                {"problems": [asdict(problem) for problem in found], "count": len(found)},
                ensure_ascii=False,
                indent=2,
            )
        )
    if found:
        raise typer.Exit(1)
