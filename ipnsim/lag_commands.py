"""``ipnsim registration-lag AGENCY``: show or set how long an agency's replica changes take to
become live (登録遅延), by the simulated clock.

Exit status: 0 done; 1 the server answered an error code; 2 bad options or no network;
3 the server cannot be reached.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from intermediate_server.schemas import LagMode, RegistrationLag
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    agency_service,
    console,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile


def describe(lag: RegistrationLag) -> str:
    """The lag in words."""
    if lag.mode is LagMode.DELAY:
        return f"replica changes become live {lag.delay_seconds:g} seconds after they arrive"
    if lag.mode is LagMode.NIGHTLY:
        return f"replica changes become live in the nightly batch at {lag.nightly_hour}:00 (JST)"
    return "replica changes become live at once"


def registration_lag_command(
    agency: Annotated[str, typer.Argument(help="The agency (slug or code).")],
    delay: Annotated[
        float | None, typer.Option(help="Changes become live this many seconds later.")
    ] = None,
    nightly: Annotated[
        int | None,
        typer.Option(help="Changes become live in the nightly batch at this hour (JST)."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Changes become live at once.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """登録遅延: show or set how long an agency's replica registrations, updates and deletions
    take to reach its replica, by the simulated clock. Until then an inquiry gets the old value;
    move the clock (``ipnsim clock set``) past the due time to see the new one."""
    chosen = [option for option in (delay is not None, nightly is not None, off) if option]
    if len(chosen) > 1:
        fail("give one of --delay, --nightly and --off", 2)
    lag: RegistrationLag | None = None
    try:
        if delay is not None:
            lag = RegistrationLag(mode=LagMode.DELAY, delay_seconds=delay)
        elif nightly is not None:
            lag = RegistrationLag(mode=LagMode.NIGHTLY, nightly_hour=nightly)
        elif off:
            lag = RegistrationLag()
    except ValidationError as error:
        fail("; ".join(str(problem["msg"]) for problem in error.errors()), 2)

    async def send(network: NetworkFile) -> RegistrationLag:
        async with agency_service(network, agency) as client:
            if lag is None:
                return await client.registration_lag()
            return await client.set_registration_lag(lag)

    answer = run(send(load_network(data_dir)))
    if as_json:
        print_json(answer)
        return
    console.print(f"{agency}: {describe(answer)}.", highlight=False)
