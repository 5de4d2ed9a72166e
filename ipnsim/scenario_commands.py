"""``ipnsim scenario``: run scenario files (docs/scenarios.md) against a running network.

Exit status: 0 every step met its expectations; 1 a step failed; 2 a scenario file is invalid
or there is no network; 3 the network cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from ipnsim.cli_support import DataDir, check_sandbox_key, command_group, console, fail
from ipnsim.client import Inherit, ServiceUnreachable
from ipnsim.launcher import DEFAULT_DATA_DIR, LaunchError, load_network_file
from ipnsim.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioOutcome,
    ScenarioRunner,
    StepOutcome,
    junit_xml,
    load_scenario,
    scenario_paths,
)

scenario_app = command_group(
    "scenario",
    help="Run scenario files (YAML: steps and expectations, see docs/scenarios.md) against the "
    "running network; write JUnit XML for CI.",
)


def _print_step(step: StepOutcome) -> None:
    mark = "[green]✓[/]" if step.passed else "[bold red]✗[/]"
    console.print(
        f"  {mark} {step.name} [dim]({step.kind}, {step.seconds:.2f}s)[/] {step.summary}",
        highlight=False,
    )
    if step.error is not None:
        console.print(f"      [red]error:[/] {step.error}", highlight=False)
    for difference in step.differences:
        console.print(f"      [red]{difference}[/]", highlight=False)


def _as_json(outcomes: list[ScenarioOutcome]) -> list[dict[str, object]]:
    return [
        {
            "file": str(outcome.path),
            "name": outcome.name,
            "passed": outcome.passed,
            "steps": [
                {
                    "name": step.name,
                    "kind": step.kind,
                    "passed": step.passed,
                    "seconds": round(step.seconds, 3),
                    "summary": step.summary,
                    "error": step.error,
                    "differences": step.differences,
                }
                for step in outcome.steps
            ],
        }
        for outcome in outcomes
    ]


@scenario_app.command("run")
def run_scenarios(
    paths: Annotated[
        list[Path], typer.Argument(help="Scenario files, or directories of *.yaml files.")
    ],
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", help="Write JUnit XML here: a testsuite per file, a testcase per step."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox",
            help="Run in this sandbox (its own copy of the reference data, created on first "
            "use); default: the global --sandbox / IPNSIM_SANDBOX, else the default data.",
        ),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Run every scenario given, step by step, and check each step's expectations.

    Every file is checked before any runs. Exits 0 when every step passed, 1 when one failed.
    """
    if sandbox is not None:
        check_sandbox_key(sandbox)
    files = scenario_paths(paths)
    if not files:
        fail("no scenario files found", 2)
    scenarios: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
    for path in files:
        try:
            scenarios.append((path, load_scenario(path)))
        except ScenarioError as error:
            problems.append(str(error))
    if problems:
        fail("invalid scenario file(s):\n" + "\n".join(problems), 2)
    try:
        network = load_network_file(data_dir)
    except LaunchError as error:
        fail(str(error), 2)
    runner = ScenarioRunner(
        network,
        on_step=None if as_json else _print_step,
        sandbox=Inherit.SANDBOX if sandbox is None else sandbox,
    )
    outcomes: list[ScenarioOutcome] = []
    for path, scenario in scenarios:
        if not as_json:
            console.print(f"[bold]{scenario.name}[/] [dim]{path}[/]", highlight=False)
        try:
            outcomes.append(asyncio.run(runner.run(path, scenario)))
        except ServiceUnreachable as error:
            fail(f"{error}\nIs the network running? Start it with 'ipnsim up'.", 3)
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit_xml(outcomes).write(junit, encoding="utf-8", xml_declaration=True)
    failed = [outcome for outcome in outcomes if not outcome.passed]
    if as_json:
        print(json.dumps(_as_json(outcomes), ensure_ascii=False, indent=2))
    else:
        steps = sum(len(outcome.steps) for outcome in outcomes)
        bad = sum(1 for outcome in outcomes for step in outcome.steps if not step.passed)
        colour = "red" if failed else "green"
        console.print(
            f"[bold {colour}]{len(outcomes) - len(failed)}/{len(outcomes)} scenarios passed[/] "
            f"({steps - bad}/{steps} steps)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)
