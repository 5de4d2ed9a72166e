"""``ipnsim batch`` and ``ipnsim validate batch``: 一括照会 request files and batch jobs.

``make`` writes a request file from a list of atena numbers (as 小田原市's tool formats it),
``submit`` sends files as one job to an agency's intermediate server and can wait for it,
``status``, ``list`` and ``results`` follow a job, ``public-fund-accounts`` runs 福岡市's flow
(applicants' CSV → 公金受取口座 inquiries to デジタル庁 → summary) end to end, and
``validate batch`` checks files offline, naming every problem by file, line and field.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import time
import uuid
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intermediate_server.schemas import BatchJobView
from ipnsim.cli_support import (
    AsJson,
    DataDir,
    agency_url,
    command_group,
    console,
    errors,
    fail,
    load_network,
    print_json,
    run,
)
from ipnsim.client import AgencyClient, ServiceError, ServiceUnreachable
from ipnsim.launcher import DEFAULT_DATA_DIR, NetworkFile
from network.protocol.batch_file import (
    ENCODINGS,
    JST,
    MAX_ROWS,
    FileProblem,
    RequestFileReader,
    RequestLine,
    Variant,
    municipal_agency_code,
    read_result_rows,
    request_row,
    result_file_name,
)
from network.protocol.layouts import catalogue

T = TypeVar("T")

batch_app = command_group(
    "batch",
    help="一括照会 (batch inquiries): make request files, submit them as a job to an "
    "agency's intermediate server, follow the job and download its result files.",
)
validate_app = command_group(
    "validate",
    help="Check files offline against the formats of the network.",
)


PUBLIC_FUND_PROCEDURE = "JT01010000000001"
"""The procedure of 福岡市's public-fund-account inquiries."""
PUBLIC_FUND_INFO_TYPE = "TM00000000000089"
"""公金受取口座情報."""
DIGITAL_AGENCY_CODE = "1419900000002200"
"""デジタル庁, the single provider of public-fund account information."""
FINISHED = ("completed", "interrupted")

Encoding = Annotated[
    str | None,
    typer.Option(help="utf-8 or cp932 (Shift_JIS); detected when not given (UTF-8, else CP932)."),
]
VariantOption = Annotated[
    Variant | None,
    typer.Option("--variant", help="fixed or csv; detected from the first row when not given."),
]
JobId = Annotated[str, typer.Argument(help="The batch job id (a UUID).")]
OptionalAgency = Annotated[
    str | None,
    typer.Option(
        "--agency", help="The agency whose server holds the job (default: look at every one)."
    ),
]


class BatchClient(AgencyClient):
    """An intermediate server's batch jobs (一括照会), as a business system uses them."""

    async def create_job(self) -> BatchJobView:
        job: BatchJobView = await self._call("POST", "/v1/batch-jobs", BatchJobView)
        return job

    async def jobs(self) -> list[BatchJobView]:
        found: list[BatchJobView] = await self._call("GET", "/v1/batch-jobs", list[BatchJobView])
        return found

    async def job(self, job_id: uuid.UUID) -> BatchJobView:
        job: BatchJobView = await self._call("GET", f"/v1/batch-jobs/{job_id}", BatchJobView)
        return job

    async def start(self, job_id: uuid.UUID) -> BatchJobView:
        job: BatchJobView = await self._call("POST", f"/v1/batch-jobs/{job_id}/start", BatchJobView)
        return job

    async def put_file(
        self,
        job_id: uuid.UUID,
        name: str,
        data: bytes,
        encoding: str | None = None,
        variant: Variant | None = None,
    ) -> BatchJobView:
        """Send one request file's bytes; the server checks every row before accepting it."""
        params = {"encoding": encoding} if encoding else {}
        if variant is not None:
            params["variant"] = variant.value
        response = await self._send(
            "PUT",
            f"/v1/batch-jobs/{job_id}/files/{name}",
            content=data,
            params=params,
            headers={"Content-Type": "application/octet-stream"},
        )
        return BatchJobView.model_validate_json(response.content)

    async def download(self, job_id: uuid.UUID, name: str, failed: bool = False) -> bytes:
        """A finished job's result file (or failed-rows file) for one request file."""
        kind = "failed" if failed else "results"
        response = await self._send("GET", f"/v1/batch-jobs/{job_id}/files/{name}/{kind}")
        return response.content

    async def wait(
        self,
        job_id: uuid.UUID,
        within: float,
        progress: Any = None,
        interval: float = 0.3,
    ) -> BatchJobView:
        """Poll the job until it finishes (``progress(job)`` after each look)."""
        deadline = time.monotonic() + within
        while True:
            job = await self.job(job_id)
            if progress is not None:
                progress(job)
            if job.state in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"batch job {job_id} is still {job.state} after {within:g}s "
                    f"({job.rows_done} of {job.rows_total} rows)"
                )
            await asyncio.sleep(interval)


# --- plumbing ---------------------------------------------------------------------------------


def _fail(message: str, status: int = 2) -> NoReturn:
    """Exit ``status`` (2, bad usage, unless said otherwise) with ``message``."""
    fail(message, status)


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run client calls; a service's error exits 1, an unreachable service 3, a job that does
    not finish in time 1."""
    try:
        return run(work)
    except TimeoutError as error:
        _fail(str(error), 1)


def _client(network: NetworkFile, agency: str) -> BatchClient:
    return BatchClient(agency_url(network, agency), timeout=60.0)


def _job_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        _fail(f"{value!r} is not a batch job id (a UUID)")


def _check_encoding(encoding: str | None) -> str | None:
    if encoding is not None and encoding.lower() not in ENCODINGS:
        _fail(f"--encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    return encoding.lower() if encoding else None


def _job_table(job: BatchJobView) -> Table:
    table = Table(title=f"一括照会 {job.job_id}: {job.state}")
    for column in ("file", "encoding", "variant", "rows", "done", "failed"):
        table.add_column(column)
    for file in job.files:
        table.add_row(
            file.name,
            file.encoding,
            file.variant,
            str(file.rows),
            str(file.rows_done),
            str(file.rows_failed),
        )
    return table


def _summary(job: BatchJobView) -> str:
    return (
        f"{job.rows_done} of {job.rows_total} rows: {job.rows_provided} provided (09/01), "
        f"{job.rows_not_provided} not provided (09/02, 09/03), {job.rows_pending} pending "
        f"(05/05), {job.rows_failed} failed (99/99)"
    )


async def _wait_with_bar(client: BatchClient, job: BatchJobView, within: float) -> BatchJobView:
    with Progress(
        TextColumn("inquiring rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=errors,
    ) as bar:
        task = bar.add_task("rows", total=job.rows_total, failed=0)

        def show(current: BatchJobView) -> None:
            bar.update(task, completed=current.rows_done, failed=current.rows_failed)

        return await client.wait(job.job_id, within, progress=show)


async def _submit(
    client: BatchClient,
    files: Sequence[tuple[str, bytes]],
    encoding: str | None,
    variant: Variant | None,
) -> BatchJobView:
    job = await client.create_job()
    for name, data in files:
        await client.put_file(job.job_id, name, data, encoding, variant)
    return await client.start(job.job_id)


def _read_files(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    read: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            read.append((path.name, path.read_bytes()))
        except OSError as error:
            _fail(f"{path}: cannot be read: {error.strerror}")
    names = [name for name, _ in read]
    if len(set(names)) != len(names):
        _fail("two files have the same name: a job names its files by their names")
    return read


async def _find_job(
    network: NetworkFile, agency: str | None, job_id: uuid.UUID
) -> tuple[BatchClient, BatchJobView]:
    """The client of the server holding the job, and the job (BAT006 if none has it)."""
    names = [agency] if agency else [service.name for service in network.agencies]
    last: ServiceError | None = None
    for name in names:
        client = _client(network, name)
        try:
            return client, await client.job(job_id)
        except ServiceError as error:
            await client.aclose()
            if error.body.code != "BAT006":
                raise
            last = error
        except ServiceUnreachable:
            await client.aclose()
            if agency:
                raise
    if last is None:
        raise ServiceUnreachable("no agency's intermediate server answered")
    raise last


# --- commands ---------------------------------------------------------------------------------


@batch_app.command()
def submit(
    files: Annotated[
        list[Path],
        typer.Argument(help="Request files, sent as one job.", exists=True, dir_okay=False),
    ],
    agency: Annotated[str, typer.Option(help="The requesting agency (slug or 16-digit code).")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the job, with a progress bar.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.", min=1)] = 3600.0,
    encoding: Encoding = None,
    variant: VariantOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Send request files as one batch job and start it.

    Every file is checked whole by the server first; a file with any problem is refused with
    every problem by line and field, and nothing is inquired. With --wait, shows progress until
    every row is inquired. Exits 1 if a file is refused.
    """
    chosen = _check_encoding(encoding)
    contents = _read_files(files)
    network = load_network(data_dir)
    client = _client(network, agency)

    async def go() -> BatchJobView:
        async with client:
            job = await _submit(client, contents, chosen, variant)
            if wait:
                job = await _wait_with_bar(client, job, timeout)
            return job

    job = _run(go())
    if as_json:
        print_json(job.model_dump(mode="json"))
        return
    console.print(_job_table(job))
    console.print(_summary(job))
    if not wait:
        console.print(f"follow it with: ipnsim batch status {job.job_id}")
    else:
        console.print(f"download the results with: ipnsim batch results {job.job_id}")


@batch_app.command()
def status(
    job: JobId,
    agency: OptionalAgency = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Show a batch job's state and progress (rows done of the total, by outcome)."""
    job_id = _job_id(job)
    network = load_network(data_dir)

    async def fetch() -> BatchJobView:
        client, found = await _find_job(network, agency, job_id)
        await client.aclose()
        return found

    found = _run(fetch())
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    console.print(_job_table(found))
    console.print(_summary(found))
    if found.error:
        console.print(f"[bold red]{found.error}[/]")


@batch_app.command("list")
def list_jobs(
    agency: Annotated[str, typer.Option(help="The agency (slug or 16-digit code).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List an agency's batch jobs, newest first."""
    client = _client(load_network(data_dir), agency)

    async def fetch() -> list[BatchJobView]:
        async with client:
            return await client.jobs()

    found = _run(fetch())
    if as_json:
        print_json([job.model_dump(mode="json") for job in found])
        return
    table = Table(title="一括照会 jobs")
    for column in ("job", "state", "created", "files", "rows", "done", "failed"):
        table.add_column(column, no_wrap=column == "job")
    for job in found:
        table.add_row(
            str(job.job_id),
            job.state,
            f"{job.created_at.astimezone(JST):%Y-%m-%d %H:%M:%S}",
            str(len(job.files)),
            str(job.rows_total),
            str(job.rows_done),
            str(job.rows_failed),
        )
    console.print(table)


@batch_app.command()
def results(
    job: JobId,
    failed: Annotated[
        bool, typer.Option("--failed", help="The failed rows (to send again) instead.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Where to write: for a job of one file, a path with an extension is the "
            "file to write; otherwise a directory, which gets '<name>_result.<ext>' (or "
            "'<name>_failed.<ext>') per request file (default: the current directory).",
        ),
    ] = None,
    agency: OptionalAgency = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Download a finished job's result files (or failed-rows files), one per request file."""
    job_id = _job_id(job)
    network = load_network(data_dir)

    async def fetch() -> tuple[BatchJobView, list[tuple[str, bytes]]]:
        client, found = await _find_job(network, agency, job_id)
        async with client:
            return found, [
                (file.name, await client.download(job_id, file.name, failed))
                for file in found.files
            ]

    found, downloads = _run(fetch())
    written: list[dict[str, Any]] = []
    for name, data in downloads:
        if output is not None and len(downloads) == 1 and output.suffix and not output.is_dir():
            path = output
        else:
            path = (output or Path(".")) / result_file_name(name, failed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows = data.count(b"\r\n")
        written.append({"file": name, "path": str(path), "rows": rows})
    if as_json:
        print_json({"job_id": str(found.job_id), "state": found.state, "written": written})
        return
    for item in written:
        console.print(f"{item['file']}: {item['rows']} rows written to {item['path']}")
    if found.state != "completed":
        console.print(f"[yellow]the job is {found.state}: results are partial[/]")


# --- making request files ---------------------------------------------------------------------


def _agency_code(value: str, option: str) -> str:
    """A 16-digit agency code from a slug, a 16-digit code or a 5-digit municipal code."""
    from agencies.catalogue import agency_by_slug

    if value.isascii() and value.isdigit() and len(value) == 16:
        return value
    if value.isascii() and value.isdigit() and len(value) == 5:
        return municipal_agency_code(value)
    try:
        return agency_by_slug(value).code
    except KeyError:
        _fail(f"{option} {value!r} is neither an agency slug nor a 16- or 5-digit agency code")


def read_atena_numbers(path: Path) -> list[str]:
    """The atena numbers of a simple CSV: the first column of each row; a first row that is
    not a number is a header. Shorter numbers are zero-padded to 15 digits."""
    try:
        data = path.read_bytes()
    except OSError as error:
        _fail(f"{path}: cannot be read: {error.strerror}")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        _fail(f"{path}: neither UTF-8 nor Shift_JIS (CP932) text")
    numbers: list[str] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip():
            continue
        cell = row[0].strip()
        if not (cell.isascii() and cell.isdigit()):
            if number == 1:
                continue  # a header
            _fail(f"{path}:{number}: {cell!r} is not an atena number (digits)")
        if len(cell) > 15:
            _fail(f"{path}:{number}: {cell!r} has more than 15 digits")
        numbers.append(cell.zfill(15))
    if not numbers:
        _fail(f"{path}: no atena numbers")
    return numbers


def build_request_files(
    atena_numbers: Sequence[str],
    *,
    requester_code: str,
    procedure_code: str,
    provider_code: str,
    info_type_code: str | None,
    variant: Variant,
    encoding: str,
    fiscal_year: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    user_id: str = "batch",
    department: str = "",
    now: dt.datetime | None = None,
) -> list[tuple[str, bytes]]:
    """Request files (name, bytes) of one inquiry per atena number, 10,000 rows a file, named
    ``P640R110_YYYYMMDDHHmmss_NNNN.DAT`` (``.csv`` for the CSV variant)."""
    from ipnsim.orders import obtainable_info_types

    procedure = catalogue().procedures.get(procedure_code)
    if procedure is None:
        raise ValueError(f"unknown procedure {procedure_code!r}; see 'ipnsim catalogue list'")
    if info_type_code is None:
        candidates = obtainable_info_types(procedure_code)
        if len(candidates) != 1:
            raise ValueError(
                f"procedure {procedure_code} may obtain {', '.join(candidates) or 'nothing'}: "
                "name one with --info-type"
            )
        info_type_code = candidates[0]
    if fiscal_year is not None and (date_from or date_to):
        raise ValueError("give either a fiscal year or a period, not both")
    if (date_from is None) != (date_to is None):
        raise ValueError("a period needs both --date-from and --date-to")
    at = (now or dt.datetime.now(JST)).astimezone(JST)
    condition: dict[str, Any] = {}
    if fiscal_year is not None:
        condition = {
            "condition_kind": "1",
            "fiscal_year_kind": "3",
            "period_start": dt.date(fiscal_year, 4, 1),
        }
    elif date_from is not None:
        condition = {"condition_kind": "2", "period_start": date_from, "period_end": date_to}
    files: list[tuple[str, bytes]] = []
    suffix = "csv" if variant is Variant.CSV else "DAT"
    for index, start in enumerate(range(0, len(atena_numbers), MAX_ROWS), start=1):
        rows = [
            request_row(
                RequestLine(
                    atena_number=atena,
                    requested_at=at,
                    requester_code=requester_code,
                    affair_code=procedure.affair_code,
                    procedure_code=procedure_code,
                    provider_code=provider_code,
                    info_type_code=info_type_code,
                    user_id=user_id,
                    department_code=department,
                    **condition,
                ),
                variant,
                encoding,
            )
            for atena in atena_numbers[start : start + MAX_ROWS]
        ]
        files.append((f"P640R110_{at:%Y%m%d%H%M%S}_{index:04d}.{suffix}", b"".join(rows)))
    return files


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


@batch_app.command()
def make(
    atena_csv: Annotated[
        Path,
        typer.Argument(
            help="CSV whose first column is atena numbers (団体内統合宛名番号); a header row is "
            "skipped.",
            exists=True,
            dir_okay=False,
        ),
    ],
    procedure: Annotated[str, typer.Option(help="事務手続コード, e.g. JT01010000000214.")],
    agency: Annotated[str, typer.Option(help="The requesting agency (slug or code).")],
    provider: Annotated[
        str, typer.Option(help="The providing agency: slug, 16-digit or 5-digit municipal code.")
    ],
    info_type: Annotated[
        str | None,
        typer.Option(help="特定個人情報名コード (default: the one the procedure may obtain)."),
    ] = None,
    fiscal_year: Annotated[int | None, typer.Option(help="Ask for this fiscal year.")] = None,
    date_from: Annotated[str | None, typer.Option(help="Period start YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option(help="Period end YYYY-MM-DD.")] = None,
    encoding: Annotated[str, typer.Option(help="utf-8 or cp932 (Shift_JIS).")] = "cp932",
    variant: Annotated[Variant, typer.Option(help="fixed (fixed-width) or csv.")] = Variant.FIXED,
    user: Annotated[str, typer.Option(help="情報照会者ユーザーID.")] = "batch",
    department: Annotated[str, typer.Option(help="情報照会者部署コード.")] = "",
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Directory to write the files to.")
    ] = Path("."),
    as_json: AsJson = False,
) -> None:
    """Write request files from a list of atena numbers: one inquiry per number, at most
    10,000 rows a file, named P640R110_YYYYMMDDHHmmss_NNNN.DAT (.csv for CSV)."""
    chosen = _check_encoding(encoding) or "cp932"
    numbers = read_atena_numbers(atena_csv)
    requester = _agency_code(agency, "--agency")
    provider_code = _agency_code(provider, "--provider")
    try:
        files = build_request_files(
            numbers,
            requester_code=requester,
            procedure_code=procedure,
            provider_code=provider_code,
            info_type_code=info_type,
            variant=variant,
            encoding=chosen,
            fiscal_year=fiscal_year,
            date_from=_date(date_from, "--date-from"),
            date_to=_date(date_to, "--date-to"),
            user_id=user,
            department=department,
        )
    except (ValueError, UnicodeEncodeError) as error:
        _fail(str(error))
    written = []
    output.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        problems = _problems_of(name, data, requester, chosen, variant)
        if problems:
            _fail(f"the options make rows that are not valid: {problems[0]}")
        path = output / name
        path.write_bytes(data)
        written.append({"path": str(path), "rows": data.count(b"\r\n")})
    if as_json:
        print_json(written)
        return
    for item in written:
        console.print(f"{item['path']}: {item['rows']} rows ({variant.value}, {chosen})")


def _problems_of(
    name: str, data: bytes, requester: str | None, encoding: str | None, variant: Variant | None
) -> list[FileProblem]:
    import io

    reader = RequestFileReader(
        io.BytesIO(data),
        name,
        catalogue(),
        encoding=encoding,
        variant=variant,
        requester_code=requester,
    )
    return reader.check()


# --- 福岡市: applicants' CSV → public-fund account inquiries → summary -----------------------


@batch_app.command("public-fund-accounts")
def public_fund_accounts(
    applicants_csv: Annotated[
        Path,
        typer.Argument(
            help="Applicants' CSV whose first column is atena numbers; a header row is skipped.",
            exists=True,
            dir_okay=False,
        ),
    ],
    agency: Annotated[str, typer.Option(help="The requesting municipality (slug or code).")],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="Directory for the request and result files."),
    ] = Path("."),
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.", min=1)] = 3600.0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """公金受取口座: ask デジタル庁 for every applicant's public-fund account and summarise.

    Writes the request files (CSV, UTF-8), runs them as one job, writes the result and
    failed-rows files beside them, and prints how many applicants have an account registered,
    have none, or could not be asked (failed). Exits 1 if any row failed.
    """
    numbers = read_atena_numbers(applicants_csv)
    requester = _agency_code(agency, "--agency")
    files = build_request_files(
        numbers,
        requester_code=requester,
        procedure_code=PUBLIC_FUND_PROCEDURE,
        provider_code=DIGITAL_AGENCY_CODE,
        info_type_code=PUBLIC_FUND_INFO_TYPE,
        variant=Variant.CSV,
        encoding="utf-8",
    )
    network = load_network(data_dir)
    client = _client(network, agency)

    async def go() -> tuple[BatchJobView, list[tuple[str, bytes, bytes]]]:
        async with client:
            job = await _submit(client, files, "utf-8", Variant.CSV)
            job = await _wait_with_bar(client, job, timeout)
            downloads = [
                (
                    name,
                    await client.download(job.job_id, name),
                    await client.download(job.job_id, name, failed=True),
                )
                for name, _ in files
            ]
            return job, downloads

    job, downloads = _run(go())
    output.mkdir(parents=True, exist_ok=True)
    registered = not_registered = failed = 0
    failures: list[tuple[str, str, str]] = []
    for (name, request), (_, result, failed_rows) in zip(files, downloads, strict=True):
        (output / name).write_bytes(request)
        (output / result_file_name(name, False)).write_bytes(result)
        (output / result_file_name(name, True)).write_bytes(failed_rows)
        for row in read_result_rows(result, "utf-8"):
            status_detail, status_info_type = row[23], row[25]
            if (status_detail, status_info_type) == ("09", "01"):
                registered += 1
            elif status_detail == "09":
                not_registered += 1
            else:
                failed += 1
                failures.append((row[2], row[21], row[24]))
    summary = {
        "job_id": str(job.job_id),
        "state": job.state,
        "applicants": len(numbers),
        "registered": registered,
        "not_registered": not_registered,
        "failed": failed,
        "output": str(output),
    }
    if as_json:
        print_json(summary)
    else:
        table = Table(title=f"公金受取口座 of {len(numbers)} applicants (job {job.job_id})")
        table.add_column("outcome")
        table.add_column("applicants", justify="right")
        table.add_row("registered (登録あり, 09/01)", str(registered))
        table.add_row("not registered (登録なし, 09/02)", str(not_registered))
        table.add_row("failed (99/99)", str(failed))
        console.print(table)
        for atena, code, message in failures[:20]:
            console.print(f"  {atena}: {code} {message}", highlight=False)
        console.print(f"request, result and failed-rows files in {output}")
    if failed:
        raise typer.Exit(1)


# --- offline validation -----------------------------------------------------------------------


@validate_app.command("batch")
def validate_batch(
    files: Annotated[
        list[Path], typer.Argument(help="Request files to check.", exists=True, dir_okay=False)
    ],
    agency: Annotated[
        str | None,
        typer.Option(help="The agency that will send them: field 7 must be its code."),
    ] = None,
    encoding: Encoding = None,
    variant: VariantOption = None,
    as_json: AsJson = False,
) -> None:
    """Check 一括照会 request files offline: every problem, by file, line and field.

    Checks the encoding (UTF-8 or Shift_JIS), CRLF line ends, the row width (fixed-width,
    220 bytes) or the 18 fields (CSV), every field's value against the catalogue, and at most
    10,000 rows a file. No network is needed. Exits 1 if any file has a problem.
    """
    chosen = _check_encoding(encoding)
    requester = _agency_code(agency, "--agency") if agency else None
    found: list[dict[str, Any]] = []
    total = 0
    for path in files:
        count = 0
        with path.open("rb") as stream:
            reader = RequestFileReader(
                stream,
                path.name,
                catalogue(),
                encoding=chosen,
                variant=variant,
                requester_code=requester,
            )
            for problem in reader.problems():
                count += 1
                if as_json:
                    found.append(
                        {
                            "file": str(path),
                            "line": problem.line,
                            "field": problem.field.number if problem.field else None,
                            "field_name": problem.field.name_ja if problem.field else None,
                            "code": problem.code,
                            "problem": problem.problem,
                        }
                    )
                else:
                    console.print(str(problem), highlight=False, soft_wrap=True)
        total += count
        if not as_json:
            shape = f"{reader.variant.value if reader.variant else '?'}, {reader.encoding or '?'}"
            verdict = "[green]ok[/]" if count == 0 else f"[red]{count} problems[/]"
            console.print(f"{path}: {reader.rows_read} rows ({shape}): {verdict}", highlight=False)
    if as_json:
        print_json({"problems": found, "count": total})
    if total:
        raise typer.Exit(1)
