"""The 一括照会 (batch inquiry) files a business system exchanges with its intermediate server.

A **request file** carries one inquiry per row: 18 fields, no header, rows ending CRLF, at most
:data:`MAX_ROWS` rows. Two variants exist (:class:`Variant`): fixed-width, as the municipal
tools built on the real intermediate server write it, and comma-separated, as newer versions do.
The text is UTF-8 or Shift_JIS (Windows code page 932); unless told, the reader tries UTF-8
strictly and falls back to CP932 (a file of plain ASCII, valid as both, is taken as CP932).

Decisions that are ipnsim's own (the real specification is not public):

- **Fixed-width widths are bytes of the file's encoding.** The codes, digits and dates are
  ASCII; only 情報照会者部署コード may carry Japanese text, which takes two bytes a character
  in CP932 (three in UTF-8). A fixed-width row is :data:`FIXED_WIDTH` (220) bytes before its
  CRLF; values are left-aligned and right-padded with spaces (half-width).
- **CSV**: each row is read as one CSV record (double quotes allowed, no line break inside a
  value); spaces around a value are ignored.
- **Field 13** (情報提供者機関コード) takes a 16-digit agency code, or the 5-digit 全国地方公共団体
  コード without its check digit that municipal tools also write there; the latter is resolved
  with ipnsim's agency-code scheme (``20`` + 6-digit code + ``00000000``,
  ``agencies/data/README.md``).
- **Field 6** (情報照会者ユーザーID): 1–20 ASCII letters, digits, ``_ . @ -``, as the inquiry API
  takes it; 情報照会者部署コード (field 5) is free text.
- **Field 8** (照会側不開示コード): ``0`` or blank (shown to the person) or ``1`` (不開示).
- **Fields 15–18** (照会条件): 照会条件区分 ``0`` latest (the value seen in public material),
  ``1`` one fiscal year, ``2`` a period (照会開始日付 to 照会終了日付, both required). 照会年度区分
  is ``0`` (no fiscal year) unless the condition is ``1``; then ``1`` is the fiscal year
  (April–March, JST) of 照会依頼日時, ``2`` the one before, ``3`` the fiscal year containing
  照会開始日付.
- Fields 11 and 12 (委任元) are checked (blank or 16 digits) and carried into the result file;
  ipnsim does not simulate delegation.

The **result file** (:class:`ResultWriter`) has one row per request row, no header, in the
request's variant and encoding: the 18 request fields as given, then the columns of
:data:`RESULT_COLUMNS` (19–26; columns 24–26 are those of the real result file, 19–23 are
ipnsim's), then the values of the info type's items in layout order, then the replica's
freshness (:data:`FRESHNESS_COLUMNS`, ipnsim's: registered and updated at, layout version,
fiscal year, stale flag), trailing so that the items still start at column 27. The **failed-rows file**
(:class:`FailedRowsWriter`) repeats, byte for byte, every request row whose inquiry ended with
an error (status ``99``), ready to be sent again as a new request file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO

from network.protocol.layouts import Catalogue, InfoType
from network.protocol.models import (
    ConditionKind,
    InquiryCondition,
    ReplicaItem,
    ReplicaMetadata,
)

MAX_ROWS = 10_000
"""Most rows one request file may carry."""

ENCODINGS = ("utf-8", "cp932")
"""The encodings a request file may use: UTF-8, or Shift_JIS as Windows writes it (CP932)."""

JST = dt.timezone(dt.timedelta(hours=9), "JST")

_CHUNK = 64 * 1024


class Variant(StrEnum):
    """How the fields of a row are delimited."""

    FIXED = "fixed"
    """Fixed-width fields (widths in bytes of the file's encoding)."""
    CSV = "csv"
    """Comma-separated values."""


class ProblemKind(StrEnum):
    """What kind of problem a request file has; each is one error code (``BAT…``)."""

    ENCODING = "BAT001"
    """Bytes that are not text of the file's encoding."""
    TOO_MANY_ROWS = "BAT002"
    """More than :data:`MAX_ROWS` rows."""
    LAYOUT = "BAT003"
    """A row of the wrong width or field count, a bare LF, or an empty row."""
    FIELD = "BAT004"
    """A field whose value is not valid."""
    EMPTY = "BAT005"
    """No rows at all."""


@dataclass(frozen=True, slots=True)
class BatchField:
    """One field of a request row."""

    number: int
    name_ja: str
    name_en: str
    width: int
    """Width in the fixed-width variant, in bytes of the file's encoding."""

    @property
    def label(self) -> str:
        """``13 情報提供者機関コード``: how problems name the field."""
        return f"{self.number} {self.name_ja}"


FIELDS: tuple[BatchField, ...] = (
    BatchField(1, "番号体系", "numbering system", 2),
    BatchField(2, "宛名番号", "business atena number", 15),
    BatchField(3, "統合宛名番号", "atena number", 15),
    BatchField(4, "照会依頼日時", "requested at", 17),
    BatchField(5, "情報照会者部署コード", "requester department code", 20),
    BatchField(6, "情報照会者ユーザーID", "requester user id", 20),
    BatchField(7, "情報照会者機関コード", "requester agency code", 16),
    BatchField(8, "照会側不開示コード", "requester non-disclosure", 1),
    BatchField(9, "事務コード", "affair code", 16),
    BatchField(10, "事務手続きコード", "procedure code", 16),
    BatchField(11, "情報照会者機関コード（委任元）", "delegating requester agency code", 16),
    BatchField(12, "情報提供者機関コード（委任元）", "delegating provider agency code", 16),
    BatchField(13, "情報提供者機関コード", "provider agency code", 16),
    BatchField(14, "特定個人情報名コード", "info type code", 16),
    BatchField(15, "照会条件区分", "condition kind", 1),
    BatchField(16, "照会年度区分", "fiscal year kind", 1),
    BatchField(17, "照会開始日付", "period start", 8),
    BatchField(18, "照会終了日付", "period end", 8),
)
"""The 18 fields of a request row, in order."""

FIXED_WIDTH = sum(spec.width for spec in FIELDS)
"""Bytes of one fixed-width request row before its CRLF (220)."""

NUMBERING_SYSTEM = "01"
"""番号体系 of every row: 団体内統合宛名番号."""


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """A column of the result file after the 18 request fields."""

    number: int
    name_ja: str
    name_en: str
    width: int
    """Width in the fixed-width variant, in bytes of the file's encoding."""
    real: bool
    """Whether the column is seen in public material (else ipnsim's own)."""


RESULT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn(19, "照会番号", "inquiry id (UUID; blank if none was sent)", 36, False),
    ResultColumn(20, "情報提供者名", "provider name", 60, False),
    ResultColumn(21, "照会完了日時", "completed at (YYYYMMDDHHMMSSfff, JST)", 17, False),
    ResultColumn(22, "エラー分類コード", "error code (blank on success)", 6, False),
    ResultColumn(23, "再照会可否", "retry may help: 1 yes, 0 no, blank on success", 1, False),
    ResultColumn(24, "照会ステータス（明細単位）", "status of the row (09, 99, 05)", 2, True),
    ResultColumn(25, "照会処理結果メッセージ（明細単位）", "message (Japanese)", 400, True),
    ResultColumn(
        26, "照会ステータス（特定個人情報名単位）", "status of the info type (01, 02…)", 2, True
    ),
)
"""Columns 19–26 of a result row; the info type's items follow from column 27."""

FRESHNESS_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn(1, "副本登録日時", "replica registered at (YYYYMMDDHHMMSS, JST)", 14, False),
    ResultColumn(2, "副本更新日時", "replica updated at (YYYYMMDDHHMMSS, JST)", 14, False),
    ResultColumn(3, "版番号", "layout version of the replica", 3, False),
    ResultColumn(4, "年度", "fiscal year of the replica (blank if none)", 4, False),
    ResultColumn(
        5,
        "鮮度超過",
        "1 if the replica is older than its info type's update cycle, else 0",
        1,
        False,
    ),
)
"""The freshness columns after the items (numbered from 1 after the last item); all blank when
no replica was provided."""

ITEM_WIDTHS = {"integer": 16, "code": 16, "date": 10, "string": 100}
"""Width of an item's value in a fixed-width result row, by its value type (bytes). A longer
value is cut at a character boundary; the CSV variant carries every value whole."""


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One problem of a request file: where it is and what is wrong."""

    kind: ProblemKind
    file: str
    line: int | None
    """1-based line number (None: the file as a whole)."""
    problem: str
    """What is wrong, in English."""
    field: BatchField | None = None

    @property
    def code(self) -> str:
        return self.kind.value

    @property
    def where(self) -> str:
        """``P640R110.DAT line 12 field 13 情報提供者機関コード``."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field is not None:
            parts.append(f"field {self.field.label}")
        return " ".join(parts)

    def __str__(self) -> str:
        return f"{self.where}: {self.problem} ({self.code})"


@dataclass(frozen=True, slots=True)
class BatchRow:
    """One valid request row: what it asks, and the row as it was written."""

    line: int
    raw: bytes
    """The row's bytes without its line end (what the failed-rows file repeats)."""
    cells: tuple[str, ...]
    """The 18 values as written (fixed width: with their padding)."""
    atena_number: str
    requested_at: dt.datetime
    user_id: str
    requester_code: str
    non_disclosure: bool
    affair_code: str
    procedure_code: str
    provider_code: str
    """16-digit agency code (a 5-digit municipal code resolved)."""
    info_type_code: str
    condition: InquiryCondition


class BatchFileError(ValueError):
    """A request file has problems; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "no problem"
        super().__init__(f"{len(self.problems)} problem(s); first: {first}")


# --- reading ---------------------------------------------------------------------------------


def detect_encoding(stream: BinaryIO) -> str | None:
    """The encoding of a request file: ``utf-8`` if the whole stream decodes strictly as UTF-8
    and is not plain ASCII, else ``cp932`` if it decodes as CP932, else None.

    A file of ASCII characters only is both; it is taken as CP932, the encoding of the
    municipal tools, so that its result file (which carries Japanese messages and names) comes
    back in Shift_JIS. Reads in chunks and rewinds the stream.
    """
    try:
        for encoding in ENCODINGS:
            stream.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
            ascii_only = True
            try:
                while chunk := stream.read(_CHUNK):
                    decoder.decode(chunk)
                    ascii_only = ascii_only and chunk.isascii()
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                continue
            return "cp932" if ascii_only else encoding
        return None
    finally:
        stream.seek(0)


def municipal_agency_code(five_digits: str) -> str:
    """ipnsim's agency code of the local government whose 全国地方公共団体コード begins with
    ``five_digits`` (the check digit is computed): ``20`` + 6 digits + ``00000000``."""
    if len(five_digits) != 5 or not five_digits.isascii() or not five_digits.isdigit():
        raise ValueError(f"expected five digits, got {five_digits!r}")
    total = sum(
        weight * int(digit) for weight, digit in zip((6, 5, 4, 3, 2), five_digits, strict=True)
    )
    check = (11 - total % 11) % 10
    return f"20{five_digits}{check}00000000"


def fiscal_year_of(day: dt.date) -> int:
    """The fiscal year (年度, April to March) containing ``day``."""
    return day.year if day.month >= 4 else day.year - 1


@dataclass
class _Line:
    number: int
    raw: bytes
    problems: list[FileProblem] = field(default_factory=list)


class RequestFileReader:
    """Reads a request file from a binary stream, one row at a time, checking every field.

    ``encoding`` (``utf-8`` or ``cp932``) and ``variant`` are detected when not given: the
    encoding over the whole file (so the stream must be seekable), the variant from the first
    row (220 bytes: fixed width; otherwise, with a comma: CSV). ``requester_code``, when given,
    is the only agency code field 7 may hold.
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        catalogue: Catalogue,
        *,
        encoding: str | None = None,
        variant: Variant | None = None,
        requester_code: str | None = None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.catalogue = catalogue
        self.requester_code = requester_code
        self.encoding: str | None = encoding
        if encoding is not None and encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
        if encoding is None:
            self.encoding = detect_encoding(stream)
        self.variant: Variant | None = variant
        self.rows_read = 0
        """Rows read so far (after a full pass: the rows of the file)."""
        self.problem_count = 0
        """Problems found by :meth:`check` (it may list fewer)."""

    def problems(self) -> Iterator[FileProblem]:
        """Every problem of the file, in order of lines (reads the whole stream once)."""
        for item in self._scan():
            if isinstance(item, FileProblem):
                yield item

    def check(self, limit: int | None = None) -> list[FileProblem]:
        """The problems of the file (at most ``limit`` of them; the count goes on)."""
        found: list[FileProblem] = []
        self.problem_count = 0
        for problem in self.problems():
            self.problem_count += 1
            if limit is None or len(found) < limit:
                found.append(problem)
        return found

    def rows(self) -> Iterator[BatchRow]:
        """The rows of a file already checked; :class:`BatchFileError` at the first problem."""
        for item in self._scan():
            if isinstance(item, FileProblem):
                raise BatchFileError([item])
            yield item

    def _scan(self) -> Iterator[BatchRow | FileProblem]:
        self.stream.seek(0)
        self.rows_read = 0
        if self.encoding is None:
            yield FileProblem(
                ProblemKind.ENCODING,
                self.name,
                None,
                "the file is neither UTF-8 nor Shift_JIS (CP932) text",
            )
            return
        number = 0
        for raw_line in self.stream:
            number += 1
            self.rows_read = number
            if raw_line.endswith(b"\r\n"):
                content = raw_line[:-2]
            elif raw_line.endswith(b"\n"):
                content = raw_line[:-1]
                yield FileProblem(
                    ProblemKind.LAYOUT,
                    self.name,
                    number,
                    "the row ends with LF alone; rows end with CRLF",
                )
            else:
                content = raw_line  # the last row may lack its line end
            if number == 1 and self.variant is None:
                self.variant = (
                    Variant.CSV
                    if len(content) != FIXED_WIDTH and b"," in content
                    else Variant.FIXED
                )
            line = _Line(number, content)
            row = self._row(line)
            yield from line.problems
            if row is not None and not line.problems:
                yield row
        if number == 0:
            yield FileProblem(ProblemKind.EMPTY, self.name, None, "the file has no rows")
        elif number > MAX_ROWS:
            yield FileProblem(
                ProblemKind.TOO_MANY_ROWS,
                self.name,
                None,
                f"the file has {number} rows; at most {MAX_ROWS} are allowed (split it)",
            )

    def _cells(self, line: _Line) -> list[str] | None:
        assert self.encoding is not None
        if not line.raw.strip():
            line.problems.append(
                FileProblem(ProblemKind.LAYOUT, self.name, line.number, "the row is empty")
            )
            return None
        if self.variant is Variant.FIXED:
            if len(line.raw) != FIXED_WIDTH:
                line.problems.append(
                    FileProblem(
                        ProblemKind.LAYOUT,
                        self.name,
                        line.number,
                        f"the row is {len(line.raw)} bytes; a fixed-width row is "
                        f"{FIXED_WIDTH} bytes before its CRLF",
                    )
                )
                return None
            cells: list[str] = []
            start = 0
            for spec in FIELDS:
                piece = line.raw[start : start + spec.width]
                start += spec.width
                try:
                    cells.append(piece.decode(self.encoding))
                except UnicodeDecodeError:
                    line.problems.append(
                        FileProblem(
                            ProblemKind.ENCODING,
                            self.name,
                            line.number,
                            f"not {self.encoding} text within the field's {spec.width} bytes",
                            spec,
                        )
                    )
                    cells.append("")
            return cells
        try:
            text = line.raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            line.problems.append(
                FileProblem(
                    ProblemKind.ENCODING,
                    self.name,
                    line.number,
                    f"not {self.encoding} text at byte {exc.start + 1}",
                )
            )
            return None
        try:
            records = list(csv.reader(io.StringIO(text), strict=True))
        except csv.Error as exc:
            line.problems.append(
                FileProblem(ProblemKind.LAYOUT, self.name, line.number, f"not CSV: {exc}")
            )
            return None
        values = records[0] if len(records) == 1 else []
        if len(values) != len(FIELDS):
            line.problems.append(
                FileProblem(
                    ProblemKind.LAYOUT,
                    self.name,
                    line.number,
                    f"the row has {len(values)} fields; a request row has {len(FIELDS)}",
                )
            )
            return None
        return values

    def _row(self, line: _Line) -> BatchRow | None:
        cells = self._cells(line)
        if cells is None:
            return None
        values = [
            cell.strip(" ") if self.variant is Variant.CSV else cell.rstrip(" ") for cell in cells
        ]
        checker = _RowChecker(self, line, values)
        return checker.row(tuple(cells))


_DIGITS = {n: re.compile(f"[0-9]{{{n}}}") for n in (5, 15, 16)}
_USER_ID = re.compile(r"[0-9A-Za-z_.@-]{1,20}")
_AFFAIR = re.compile(r"JM[0-9]{14}")
_PROCEDURE = re.compile(r"JT[0-9]{14}")
_INFO_TYPE = re.compile(r"TM[0-9]{14}")


class _RowChecker:
    """The checks of one row's values; problems go to the line."""

    def __init__(self, reader: RequestFileReader, line: _Line, values: list[str]) -> None:
        self.reader = reader
        self.line = line
        self.values = values

    def value(self, number: int) -> str:
        return self.values[number - 1]

    def bad(self, number: int, problem: str) -> None:
        self.line.problems.append(
            FileProblem(
                ProblemKind.FIELD,
                self.reader.name,
                self.line.number,
                problem,
                FIELDS[number - 1],
            )
        )

    def shaped(self, number: int, pattern: re.Pattern[str], description: str) -> str | None:
        value = self.value(number)
        if pattern.fullmatch(value):
            return value
        shown = f"{value!r}" if value else "blank"
        self.bad(number, f"must be {description}, got {shown}")
        return None

    def date(self, number: int, required: bool) -> dt.date | None:
        value = self.value(number)
        if not value:
            if required:
                self.bad(number, "must be a date YYYYMMDD for this condition, got blank")
            return None
        parsed = _parse(value, "%Y%m%d", 8)
        if parsed is None:
            self.bad(number, f"must be a date YYYYMMDD or blank, got {value!r}")
            return None
        return parsed.date()

    def row(self, cells: tuple[str, ...]) -> BatchRow | None:
        catalogue = self.reader.catalogue
        if self.value(1) != NUMBERING_SYSTEM:
            self.bad(1, f"must be {NUMBERING_SYSTEM} (団体内統合宛名番号), got {self.value(1)!r}")
        if self.value(2):
            self.shaped(2, _DIGITS[15], "15 digits (zero-padded) or blank")
        atena = self.shaped(3, _DIGITS[15], "15 digits")
        requested_at = _parse(self.value(4), "%Y%m%d%H%M%S", 17)
        if requested_at is None:
            self.bad(4, f"must be a date-time YYYYMMDDHHMMSSfff, got {self.value(4)!r}")
        user_id = self.shaped(6, _USER_ID, "1-20 letters, digits, '_', '.', '@' or '-'")
        requester = self.shaped(7, _DIGITS[16], "a 16-digit agency code")
        expected = self.reader.requester_code
        if requester is not None and expected is not None and requester != expected:
            self.bad(7, f"is {requester}, but the file is sent by agency {expected}")
        if self.value(8) not in {"", "0", "1"}:
            self.bad(8, f"must be 0 (disclosed) or 1 (不開示), got {self.value(8)!r}")
        affair = self.shaped(9, _AFFAIR, "JM + 14 digits")
        if affair is not None and affair not in catalogue.affairs:
            self.bad(9, f"{affair} is not an affair of the catalogue")
            affair = None
        procedure_code = self.shaped(10, _PROCEDURE, "JT + 14 digits")
        if procedure_code is not None:
            procedure = catalogue.procedures.get(procedure_code)
            if procedure is None:
                self.bad(10, f"{procedure_code} is not a procedure of the catalogue")
                procedure_code = None
            elif affair is not None and procedure.affair_code != affair:
                self.bad(
                    10, f"{procedure_code} is a procedure of {procedure.affair_code}, not {affair}"
                )
                procedure_code = None
        for number in (11, 12):
            if self.value(number):
                self.shaped(number, _DIGITS[16], "a 16-digit agency code or blank")
        provider = self.value(13)
        provider_code: str | None = None
        if _DIGITS[16].fullmatch(provider):
            provider_code = provider
        elif _DIGITS[5].fullmatch(provider):
            provider_code = municipal_agency_code(provider)
        else:
            shown = repr(provider) if provider else "blank"
            self.bad(13, f"must be a 16-digit agency code or a 5-digit municipal code, got {shown}")
        info_type = self.shaped(14, _INFO_TYPE, "TM + 14 digits")
        if info_type is not None and info_type not in catalogue.info_types:
            self.bad(14, f"{info_type} is not an info type of the catalogue")
            info_type = None
        condition = self.condition(requested_at)
        if (
            atena is None
            or requested_at is None
            or user_id is None
            or requester is None
            or affair is None
            or procedure_code is None
            or provider_code is None
            or info_type is None
            or condition is None
            or self.line.problems
        ):
            return None
        return BatchRow(
            line=self.line.number,
            raw=self.line.raw,
            cells=cells,
            atena_number=atena,
            requested_at=requested_at,
            user_id=user_id,
            requester_code=requester,
            non_disclosure=self.value(8) == "1",
            affair_code=affair,
            procedure_code=procedure_code,
            provider_code=provider_code,
            info_type_code=info_type,
            condition=condition,
        )

    def condition(self, requested_at: dt.datetime | None) -> InquiryCondition | None:
        kind, year_kind = self.value(15), self.value(16)
        if kind not in {"0", "1", "2"}:
            self.bad(15, f"must be 0 (latest), 1 (fiscal year) or 2 (period), got {kind!r}")
            return None
        if kind != "1" and year_kind not in {"", "0"}:
            self.bad(16, f"must be 0 unless 照会条件区分 is 1, got {year_kind!r}")
            return None
        if kind == "1" and year_kind not in {"1", "2", "3"}:
            self.bad(
                16,
                "must be 1 (fiscal year of 照会依頼日時), 2 (the year before) or 3 (fiscal "
                f"year of 照会開始日付) when 照会条件区分 is 1, got {year_kind!r}",
            )
            return None
        start = self.date(17, required=kind == "2" or (kind == "1" and year_kind == "3"))
        end = self.date(18, required=kind == "2")
        if kind == "0":
            if start or end:
                self.bad(17, "must be blank when 照会条件区分 is 0 (latest)")
                return None
            return InquiryCondition()
        if kind == "2":
            if start is None or end is None:
                return None
            if start > end:
                self.bad(18, f"{end:%Y%m%d} is before 照会開始日付 {start:%Y%m%d}")
                return None
            return InquiryCondition(kind=ConditionKind.DATE_RANGE, date_from=start, date_to=end)
        if end is not None:
            self.bad(18, "must be blank when 照会条件区分 is 1 (fiscal year)")
            return None
        if year_kind == "3":
            if start is None:
                return None
            year = fiscal_year_of(start)
        else:
            if requested_at is None:
                return None
            year = fiscal_year_of(requested_at.date()) - (1 if year_kind == "2" else 0)
        if not 1989 <= year <= 2100:
            self.bad(17 if year_kind == "3" else 4, f"fiscal year {year} is out of range")
            return None
        return InquiryCondition(kind=ConditionKind.FISCAL_YEAR, fiscal_year=year)


def _parse(value: str, pattern: str, length: int) -> dt.datetime | None:
    """``value`` as a date-time of ``pattern`` (+ 3 digits of milliseconds for 17 characters)."""
    if len(value) != length or not value.isascii() or not value.isdigit():
        return None
    try:
        parsed = dt.datetime.strptime(value[:14] if length == 17 else value, pattern)
    except ValueError:
        return None
    if length == 17:
        parsed = parsed.replace(microsecond=int(value[14:]) * 1000)
    return parsed.replace(tzinfo=JST)


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestLine:
    """What a tool writes into one request row (see :func:`request_row`)."""

    atena_number: str
    requested_at: dt.datetime
    requester_code: str
    affair_code: str
    procedure_code: str
    provider_code: str
    info_type_code: str
    user_id: str = "batch"
    department_code: str = ""
    business_atena_number: str = ""
    non_disclosure: bool = False
    condition_kind: str = "0"
    fiscal_year_kind: str = "0"
    period_start: dt.date | None = None
    period_end: dt.date | None = None

    def values(self) -> list[str]:
        at = self.requested_at.astimezone(JST)
        return [
            NUMBERING_SYSTEM,
            self.business_atena_number,
            self.atena_number,
            f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}",
            self.department_code,
            self.user_id,
            self.requester_code,
            "1" if self.non_disclosure else "0",
            self.affair_code,
            self.procedure_code,
            "",
            "",
            self.provider_code,
            self.info_type_code,
            self.condition_kind,
            self.fiscal_year_kind,
            f"{self.period_start:%Y%m%d}" if self.period_start else "",
            f"{self.period_end:%Y%m%d}" if self.period_end else "",
        ]


def _fixed(value: str, width: int, encoding: str, cut: bool = False) -> bytes:
    """``value`` in ``width`` bytes of ``encoding``, right-padded with spaces."""
    data = value.encode(encoding)
    if len(data) > width:
        if not cut:
            raise ValueError(f"{value!r} does not fit in {width} bytes of {encoding}")
        data = value.encode(encoding)[:width].decode(encoding, errors="ignore").encode(encoding)
    return data + b" " * (width - len(data))


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def request_row(line: RequestLine, variant: Variant, encoding: str) -> bytes:
    """One request row, with its CRLF, as a conforming tool writes it."""
    values = line.values()
    if variant is Variant.CSV:
        return _csv_line(values).encode(encoding)
    return (
        b"".join(
            _fixed(value, spec.width, encoding) for value, spec in zip(values, FIELDS, strict=True)
        )
        + b"\r\n"
    )


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """How the inquiry of one row ended: what the result file shows after the request."""

    status_detail: str
    status_info_type: str
    inquiry_id: str = ""
    provider_name: str = ""
    completed_at: dt.datetime | None = None
    error_code: str = ""
    retryable: bool | None = None
    message_ja: str = ""
    items: Sequence[ReplicaItem] = ()
    replica: ReplicaMetadata | None = None

    @property
    def failed(self) -> bool:
        """Ended with an error (status ``99``): the row belongs in the failed-rows file."""
        return self.status_detail == "99"


class ResultWriter:
    """Writes result rows to a binary stream in the request's variant and encoding."""

    def __init__(
        self,
        stream: BinaryIO,
        variant: Variant,
        encoding: str,
        info_type: Callable[[str], InfoType | None],
    ) -> None:
        self.stream = stream
        self.variant = variant
        self.encoding = encoding
        self.info_type = info_type

    def write(self, row: BatchRow, outcome: RowOutcome) -> None:
        completed = ""
        if outcome.completed_at is not None:
            at = outcome.completed_at.astimezone(JST)
            completed = f"{at:%Y%m%d%H%M%S}{at.microsecond // 1000:03d}"
        retry = "" if outcome.retryable is None else ("1" if outcome.retryable else "0")
        columns = [
            outcome.inquiry_id,
            outcome.provider_name,
            completed,
            outcome.error_code,
            retry,
            outcome.status_detail,
            outcome.message_ja,
            outcome.status_info_type,
        ]
        info_type = self.info_type(row.info_type_code)
        given = {item.code: item.value for item in outcome.items}
        layout = info_type.items if info_type is not None else ()
        item_values = [given.get(item.code) or "" for item in layout]
        freshness = freshness_values(outcome.replica)
        if self.variant is Variant.CSV:
            line = _csv_line([*row.cells, *columns, *item_values, *freshness]).encode(self.encoding)
        else:
            parts = [row.raw]
            parts += [
                _fixed(value, spec.width, self.encoding, cut=True)
                for value, spec in zip(columns, RESULT_COLUMNS, strict=True)
            ]
            parts += [
                _fixed(value, ITEM_WIDTHS[item.value_type.value], self.encoding, cut=True)
                for value, item in zip(item_values, layout, strict=True)
            ]
            parts += [
                _fixed(value, spec.width, self.encoding, cut=True)
                for value, spec in zip(freshness, FRESHNESS_COLUMNS, strict=True)
            ]
            line = b"".join(parts) + b"\r\n"
        self.stream.write(line)


def freshness_values(replica: ReplicaMetadata | None) -> list[str]:
    """The freshness columns of a result row (blank without a replica)."""
    if replica is None:
        return ["" for _ in FRESHNESS_COLUMNS]
    return [
        f"{replica.registered_at.astimezone(JST):%Y%m%d%H%M%S}",
        f"{replica.updated_at.astimezone(JST):%Y%m%d%H%M%S}",
        str(replica.layout_version),
        "" if replica.fiscal_year is None else str(replica.fiscal_year),
        "1" if replica.stale else "0",
    ]


class FailedRowsWriter:
    """Writes the request rows that failed, byte for byte, each ending CRLF."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.count = 0

    def write(self, row: BatchRow) -> None:
        self.stream.write(row.raw + b"\r\n")
        self.count += 1


def result_file_name(request_name: str, failed: bool = False) -> str:
    """The name of a request file's result (or failed-rows) file: ``P640R110_…_0001.DAT`` →
    ``P640R110_…_0001_result.DAT`` (``_failed.DAT``)."""
    stem, dot, suffix = request_name.rpartition(".")
    kind = "failed" if failed else "result"
    return f"{stem}_{kind}.{suffix}" if dot and stem else f"{request_name}_{kind}"


def read_result_rows(data: bytes, encoding: str) -> list[list[str]]:
    """The rows of a CSV result file, as lists of values (for tools and tests)."""
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def fixed_result_columns(line: bytes, encoding: str) -> dict[int, str]:
    """Columns 1–26 of a fixed-width result row (without its CRLF), by column number, with
    their padding removed."""
    values: dict[int, str] = {}
    start = 0
    for spec in FIELDS:
        values[spec.number] = line[start : start + spec.width].decode(encoding).rstrip(" ")
        start += spec.width
    for column in RESULT_COLUMNS:
        values[column.number] = line[start : start + column.width].decode(encoding).rstrip(" ")
        start += column.width
    return values
