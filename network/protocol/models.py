"""Wire models of the network: everything the hub and the intermediate servers exchange.

This module is the one place where the shape of a message between services is defined. The hub
serves these models; intermediate servers (and clients) import them, and nothing else of the hub.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from stdnum.jp import in_ as my_number_format

from error_codes import CATALOGUE, ErrorBody, FieldProblem, IpnsimError, Origin


def _pattern(regex: str, description: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {description}, got {value!r}")
        return value

    return AfterValidator(check)


AgencyCode = Annotated[str, _pattern(r"[0-9]{16}", "a 16-digit agency code (機関コード)")]
AtenaNumber = Annotated[str, _pattern(r"[0-9]{15}", "a 15-digit atena number (団体内統合宛名番号)")]
AffairCode = Annotated[str, _pattern(r"JM[0-9]{14}", "an affair code JM + 14 digits (事務コード)")]
ProcedureCode = Annotated[
    str, _pattern(r"JT[0-9]{14}", "a procedure code JT + 14 digits (事務手続コード)")
]
InfoTypeCode = Annotated[
    str, _pattern(r"TM[0-9]{14}", "an info-type code TM + 14 digits (特定個人情報名コード)")
]
ResidentCode = Annotated[str, _pattern(r"[0-9]{11}", "an 11-digit resident code (住民票コード)")]
Pseudonym = Annotated[
    str, _pattern(r"[A-Z2-7]{26}", "a 26-character pseudonym (情報提供用個人識別符号)")
]
RecordId = Annotated[
    str, _pattern(r"[0-9A-Za-z_-]{1,64}", "a record id of 1-64 letters, digits, '_' or '-'")
]
UserId = Annotated[str, _pattern(r"[0-9A-Za-z_.@-]{1,20}", "a user id of at most 20 characters")]


def _check_my_number(value: str) -> str:
    if not my_number_format.is_valid(value) or len(value) != 12:
        raise ValueError("must be a 12-digit My Number (個人番号) with a valid check digit")
    return value


MyNumber = Annotated[str, AfterValidator(_check_my_number)]
FiscalYear = Annotated[int, Field(ge=1989, le=2100, description="Fiscal year (年度), e.g. 2026.")]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyKind(StrEnum):
    """Kind of agency (機関種別), the unit of the permission table."""

    MUNICIPALITY = "municipality"
    """A municipality (市区町村)."""
    PREFECTURE = "prefecture"
    """A prefecture (都道府県)."""
    DIGITAL_AGENCY = "digital_agency"
    """デジタル庁, provider of public-fund account information (公金受取口座)."""


class DetailStatus(StrEnum):
    """照会ステータス（明細単位）: the status of one inquiry row."""

    COMPLETED = "09"
    """Processing completed (real value)."""
    FAILED = "99"
    """Processing ended with an error (ipnsim's value)."""
    PENDING = "05"
    """Processing not finished: the replica is flagged 自動応答不可 and the inquiry waits for
    the provider's staff (``MAN001``; ipnsim's value). The final result replaces it: 09/01 when
    staff answer, 09/03 when they decline (``MAN002``), 99/99 when nobody answers in time
    (``MAN003``)."""


class InfoTypeStatus(StrEnum):
    """照会ステータス（特定個人情報名単位）: the status of the info type asked for."""

    PROVIDED = "01"
    """Provided (real value)."""
    NO_DATA = "02"
    """The provider holds nothing matching (ipnsim's value)."""
    ERROR = "99"
    """Not provided because of an error (ipnsim's value)."""
    DECLINED = "03"
    """Processed, but the provider's staff declined to provide it (``MAN002``; ipnsim's
    value): like 02, a decision of the provider rather than a failure of the network."""
    PENDING = "05"
    """Waiting for the provider's staff (自動応答不可, ``MAN001``; ipnsim's value)."""


class ConditionKind(StrEnum):
    """照会条件区分: what the inquiry asks for."""

    LATEST = "latest"
    """The latest published replica (no period given)."""
    FISCAL_YEAR = "fiscal_year"
    """The replica of one fiscal year (年度指定)."""
    DATE_RANGE = "date_range"
    """The latest replica published within a period (期間指定)."""


class InquiryCondition(_Wire):
    """The inquiry's condition: latest, one fiscal year, or a date range."""

    kind: ConditionKind = ConditionKind.LATEST
    fiscal_year: FiscalYear | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is ConditionKind.FISCAL_YEAR and self.fiscal_year is None:
            raise ValueError("a fiscal_year condition needs fiscal_year")
        if self.kind is ConditionKind.DATE_RANGE:
            if self.date_from is None or self.date_to is None:
                raise ValueError("a date_range condition needs date_from and date_to")
            if self.date_from > self.date_to:
                raise ValueError("date_from must not be after date_to")
        if self.kind is not ConditionKind.FISCAL_YEAR and self.fiscal_year is not None:
            raise ValueError("fiscal_year is only for a fiscal_year condition")
        if self.kind is not ConditionKind.DATE_RANGE and (self.date_from or self.date_to):
            raise ValueError("date_from and date_to are only for a date_range condition")
        return self


class AgencySummary(_Wire):
    """An agency as the hub's registry shows it (never with its credential)."""

    code: AgencyCode
    name_ja: str
    name_en: str
    kind: AgencyKind


class PseudonymRequest(_Wire):
    """符号取得要求: an intermediate server asks the hub for its own 符号 for a person.

    The resident code is used once to identify the person and is neither stored nor logged.
    """

    agency_code: AgencyCode
    resident_code: ResidentCode


class PseudonymIssued(_Wire):
    """The 符号 the hub issued to one agency for one person."""

    agency_code: AgencyCode
    pseudonym: Pseudonym


MAX_BULK_ITEMS = 10_000
"""Most items one bulk request may carry (as many as rows in one 一括照会 file)."""


class PseudonymBulkRequest(_Wire):
    """符号一括取得要求: the calling agency's own 符号 for many people at once.

    The resident codes are used once to identify the people and are neither stored nor logged.
    """

    agency_code: AgencyCode
    resident_codes: list[ResidentCode] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class PseudonymBulkIssued(_Wire):
    """The 符号 the hub issued to one agency, in the order of the request's resident codes."""

    agency_code: AgencyCode
    pseudonyms: list[Pseudonym]


class InquiryRequest(_Wire):
    """情報照会要求: requester's intermediate server → hub, naming the person by 符号."""

    inquiry_id: uuid.UUID
    requester_code: AgencyCode
    requester_pseudonym: Pseudonym
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    provider_code: AgencyCode
    condition: InquiryCondition = InquiryCondition()
    requested_at: dt.datetime
    requester_non_disclosure: bool = False


class ProvisionRequest(_Wire):
    """情報提供要求: hub → provider's intermediate server, naming the person by the provider's 符号."""

    inquiry_id: uuid.UUID
    requester_code: AgencyCode
    requester_name: str
    provider_code: AgencyCode
    provider_pseudonym: Pseudonym
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    condition: InquiryCondition
    requested_at: dt.datetime
    requester_non_disclosure: bool = False
    trace_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="The trace of the inquiry (W3C trace id), which the provider's copy of "
        "the record carries; absent, the trace of the request that brought it.",
    )


class ReplicaItem(_Wire):
    """One item of a replica; an empty one carries its reason of null (未設定事由)."""

    code: str = Field(pattern=r"^I[0-9]{3}$", description="Item code within the info type.")
    value: str | None = None
    reason_of_null: str | None = Field(
        default=None, description="未設定事由 (ReasonOfNull), e.g. NotAcceptable."
    )

    @model_validator(mode="after")
    def _value_or_reason(self) -> Self:
        if (self.value is None) == (self.reason_of_null is None):
            raise ValueError("an item has either a value or a reason_of_null, not both")
        return self


class ReplicaMetadata(_Wire):
    """Where an answer came from: the replica's identity, layout version and freshness."""

    record_id: str
    layout_version: int
    fiscal_year: int | None
    publication_start: dt.date
    publication_end: dt.date | None
    registered_at: dt.datetime
    updated_at: dt.datetime
    update_cycle_days: int | None = Field(
        default=None,
        description="更新周期: how often the info type's replicas are expected to be updated.",
    )
    age_days: float | None = Field(
        default=None,
        description="Days from the replica's last update to the answer (simulated clock).",
    )
    stale: bool = Field(
        default=False,
        description="鮮度超過: the replica is older than its info type's update cycle. A flag, "
        "not an error: the items are still provided.",
    )


class ProvisionAnswer(_Wire):
    """情報提供: provider's intermediate server → hub. Either items or an error."""

    inquiry_id: uuid.UUID
    provided_at: dt.datetime
    items: list[ReplicaItem] = Field(default_factory=list)
    replica: ReplicaMetadata | None = None
    error: ErrorBody | None = None
    provider_non_disclosure: bool = False


class InquiryResult(_Wire):
    """情報照会結果: hub → requester's intermediate server → business system.

    Success is 照会ステータス ``09`` + ``01`` with the items; otherwise ``error`` says why.
    """

    inquiry_id: uuid.UUID
    requester_code: AgencyCode
    provider_code: AgencyCode
    provider_name: str = ""
    info_type_code: InfoTypeCode
    status_detail: DetailStatus
    status_info_type: InfoTypeStatus
    requested_at: dt.datetime
    provided_at: dt.datetime | None = None
    items: list[ReplicaItem] = Field(default_factory=list)
    replica: ReplicaMetadata | None = None
    error: ErrorBody | None = None
    provider_non_disclosure: bool = Field(
        default=False,
        description="提供側不開示: the provider keeps this exchange from the person's view.",
    )


class FanOutScope(StrEnum):
    """Which providers a fan-out inquiry (一括照会先指定) goes to."""

    PERMITTED = "permitted"
    """Every agency the permission table lets the requester ask for the info type."""
    HOLDING = "holding"
    """Of those, every agency that knows the person (holds a 符号 for them): for example
    every municipality the person has lived in."""


MAX_FAN_OUT_PROVIDERS = 2_000
"""Most providers one fan-out inquiry may name: every municipality and prefecture fits."""


def check_fan_out_providers(scope: FanOutScope | None, provider_codes: list[str] | None) -> None:
    """A fan-out names its providers one way, by scope or by a list without repeats."""
    if (scope is None) == (provider_codes is None):
        raise ValueError("name the providers either by scope or by provider_codes")
    if provider_codes is not None and len(set(provider_codes)) != len(provider_codes):
        raise ValueError("provider_codes must not repeat a provider")


class FanOutRequest(_Wire):
    """A fan-out inquiry: requester's intermediate server → hub, one person, many providers.

    Either ``scope`` or ``provider_codes`` names the providers. The hub sends one inquiry to
    each, concurrently, under an inquiry id of its own, and records each exchange separately.
    """

    fan_out_id: uuid.UUID
    requester_code: AgencyCode
    requester_pseudonym: Pseudonym
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    scope: FanOutScope | None = None
    provider_codes: list[AgencyCode] | None = Field(
        default=None, min_length=1, max_length=MAX_FAN_OUT_PROVIDERS
    )
    condition: InquiryCondition = InquiryCondition()
    requested_at: dt.datetime
    requester_non_disclosure: bool = False

    @model_validator(mode="after")
    def _one_way_of_naming_providers(self) -> Self:
        check_fan_out_providers(self.scope, self.provider_codes)
        return self

    def inquiry_to(self, provider_code: str, inquiry_id: uuid.UUID) -> InquiryRequest:
        """The single inquiry of this fan-out that goes to one provider."""
        return InquiryRequest(
            inquiry_id=inquiry_id,
            requester_code=self.requester_code,
            requester_pseudonym=self.requester_pseudonym,
            affair_code=self.affair_code,
            procedure_code=self.procedure_code,
            info_type_code=self.info_type_code,
            provider_code=provider_code,
            condition=self.condition,
            requested_at=self.requested_at,
            requester_non_disclosure=self.requester_non_disclosure,
        )


class FanOutResult(_Wire):
    """One result per provider of a fan-out inquiry, in provider-code order."""

    fan_out_id: uuid.UUID
    scope: FanOutScope | None = None
    results: list[InquiryResult]


MAX_BULK_INQUIRIES = 1_000
"""Most inquiries one bulk inquiry (or bulk provision) request may carry: one block of a
一括照会 job."""


class BulkInquiryRequest(_Wire):
    """A block of a 一括照会 job: requester's intermediate server → hub, many inquiries at once.

    Each inquiry is checked, converted, routed and recorded exactly as ``POST /v1/inquiries``
    would; the hub asks each provider once for all of the block's inquiries to it and writes
    the block's records in one transaction.
    """

    requester_code: AgencyCode
    inquiries: list[InquiryRequest] = Field(min_length=1, max_length=MAX_BULK_INQUIRIES)


MAX_CONCURRENT_INQUIRIES = 100
"""The most inquiries one ``POST /v1/inquiries/concurrent`` carries."""


class TracedInquiry(_Wire):
    """One inquiry of :class:`ConcurrentInquiries`, with the trace it belongs to."""

    inquiry: InquiryRequest
    traceparent: str | None = Field(
        default=None,
        max_length=256,
        description="The W3C ``traceparent`` of the requester's call for this inquiry, as the "
        "header of a single ``POST /v1/inquiries`` would carry it.",
    )


class ConcurrentInquiries(_Wire):
    """Single inquiries sent together: requester's intermediate server → hub.

    An intermediate server sends the inquiries made while its previous call to the hub was in
    flight in one request. Each is handled exactly as ``POST /v1/inquiries`` would handle it
    alone, all of them concurrently: in its own trace, admitted or refused (AVL007) on its own,
    checked, converted, routed and recorded on its own.
    """

    inquiries: list[TracedInquiry] = Field(min_length=1, max_length=MAX_CONCURRENT_INQUIRIES)


class BulkInquiryItem(_Wire):
    """One inquiry of a bulk: its result (recorded at the hub), or the error refusing it before
    anything was recorded (the error a single inquiry would have been answered with)."""

    result: InquiryResult | None = None
    refused: ErrorBody | None = None

    @model_validator(mode="after")
    def _result_or_refusal(self) -> Self:
        if (self.result is None) == (self.refused is None):
            raise ValueError("an item carries either a result or a refusal")
        return self


class BulkInquiryResult(_Wire):
    """One item per inquiry of a :class:`BulkInquiryRequest`, in its order."""

    items: list[BulkInquiryItem]


class BulkProvisionRequest(_Wire):
    """The provision requests of one bulk inquiry to one provider: hub → provider's
    intermediate server. Each is answered as ``POST /hub/provisions`` would."""

    requests: list[ProvisionRequest] = Field(min_length=1, max_length=MAX_BULK_INQUIRIES)


class BulkProvisionAnswer(_Wire):
    """One answer per request of a :class:`BulkProvisionRequest`, in its order."""

    answers: list[ProvisionAnswer]


class RecordSide(StrEnum):
    """Which of the three copies of a provision record this is."""

    REQUESTER = "requester"
    HUB = "hub"
    PROVIDER = "provider"


class AddendumKind(StrEnum):
    MISTAKEN_PERSON = "mistaken_person"
    """追記 after an inquiry that named the wrong person (誤照会)."""


class Addendum(_Wire):
    """追記: appended to every copy of a provision record; the original is never changed."""

    addendum_id: uuid.UUID
    inquiry_id: uuid.UUID
    kind: AddendumKind = AddendumKind.MISTAKEN_PERSON
    reason: str = Field(min_length=1, max_length=400)
    declared_by_agency: AgencyCode
    declared_by_user: str
    declared_at: dt.datetime


class ProvisionRecord(_Wire):
    """情報提供等の記録: one copy of the record of one inquiry, with its addenda."""

    inquiry_id: uuid.UUID
    side: RecordSide
    requester_code: AgencyCode
    requester_name: str
    provider_code: AgencyCode
    provider_name: str
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    item_codes: list[str]
    requested_at: dt.datetime
    provided_at: dt.datetime | None
    status_detail: DetailStatus
    status_info_type: InfoTypeStatus
    error_code: str | None
    requester_non_disclosure: bool
    provider_non_disclosure: bool
    addenda: list[Addendum] = Field(default_factory=list)
    trace_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="The exchange's trace (OpenTelemetry trace id): the same in the requester's, "
        "the hub's and the provider's copy; none for records written before traces were kept.",
    )


class MistakenInquiryDeclaration(_Wire):
    """誤照会の申出: the requester declares that an inquiry named the wrong person."""

    requester_code: AgencyCode
    reason: str = Field(min_length=1, max_length=400)
    declared_by_user: UserId


class DisclosureRequest(_Wire):
    """An agency asks, on the person's behalf, for every record about them (やりとり履歴)."""

    agency_code: AgencyCode
    pseudonym: Pseudonym


class DisclosureView(_Wire):
    """What the person sees: every record about them that is not flagged 不開示, with addenda."""

    records: list[ProvisionRecord]


class PersonaInquiry(_Wire):
    """The inquiry (情報照会) that shows a persona's outcome: who asks whom, under which
    procedure, for which info type, about which atena number at the requester."""

    person_key: str
    """The person the inquiry names (for most personas, the persona)."""
    requester_slug: str
    requester_code: AgencyCode
    atena_number: AtenaNumber
    """団体内統合宛名番号 of the person at the requester."""
    provider_slug: str
    provider_code: AgencyCode
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    fiscal_year: FiscalYear | None = None
    """照会条件: the fiscal year asked for; None asks for the latest information."""


class PersonaOutcome(_Wire):
    """What the persona's inquiry gives: both statuses of the result and the error code."""

    status_detail: DetailStatus
    status_info_type: InfoTypeStatus
    error_code: str | None = None


class Persona(_Wire):
    """A named test person (ペルソナ) that guarantees one outcome."""

    name: str
    person_key: str
    person_name: str
    person_name_kana: str
    municipality_slug: str
    demonstrates_en: str
    demonstrates_ja: str
    description_en: str
    description_ja: str
    feature: str | None = None
    """The simulator feature the persona's story needs when it is not simulated yet."""
    atena_number: AtenaNumber | None = None
    inquiry: PersonaInquiry | None = None
    expected: PersonaOutcome | None = None


class AffairTourStop(_Wire):
    """One affair (事務) of the catalogue inquired end to end for a persona."""

    affair_code: AffairCode
    affair_name_ja: str
    affair_name_en: str
    persona: str
    inquiry: PersonaInquiry
    expected: PersonaOutcome


class PersonaCatalogue(_Wire):
    """Every persona of the network's population, and one inquiry per affair of the catalogue."""

    seed: int
    population: int
    personas: list[Persona]
    affair_tour: list[AffairTourStop]


class ErrorCount(_Wire):
    """How many inquiries to one provider ended with one error code on one day (UTC)."""

    provider_code: AgencyCode
    provider_name: str
    error_code: str
    day: dt.date
    """UTC date of the inquiry (照会日時)."""
    count: int = Field(ge=1)


class ErrorStatistics(_Wire):
    """Failed inquiries of the last ``days`` days, by provider, error code and day (UTC), from
    the hub's own provision records; an inquiry failed when its record carries an error code."""

    days: int
    since: dt.date
    """First day counted (UTC); the last is today."""
    until: dt.date
    total: int
    counts: list[ErrorCount]


Month = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="A calendar month in Japan time, YYYY-MM.",
        examples=["2026-06"],
    ),
]
MAX_CASE_REPORTS = 10_000
"""Most case counts one report may carry."""


class CaseReport(_Wire):
    """件数報告: how many cases of one procedure an agency handled in one month."""

    procedure_code: ProcedureCode
    month: Month
    cases: int = Field(ge=0, le=100_000_000)


class CaseReports(_Wire):
    """An agency's case counts, for the utilisation rate; a month reported again is replaced."""

    agency_code: AgencyCode
    reports: list[CaseReport] = Field(min_length=1, max_length=MAX_CASE_REPORTS)


class UsageRow(_Wire):
    """Inquiries of one requester for one procedure in one month (Japan time), and the
    utilisation rate (利用率 = inquiries ÷ cases) when the requester reported its cases."""

    requester_code: AgencyCode
    requester_name: str
    procedure_code: ProcedureCode
    month: Month
    inquiries: int = Field(ge=0)
    cases: int | None = None
    utilisation: float | None = Field(
        default=None, description="inquiries ÷ cases; absent without a case count or with 0."
    )


class UsageStatistics(_Wire):
    """Network use for ministries: inquiry counts per requester × procedure × month, from the
    hub's provision records, beside the case counts agencies reported."""

    since: Month
    until: Month
    total_inquiries: int
    rows: list[UsageRow]


class Health(_Wire):
    """Answer of every service's ``GET /health``."""

    service: str
    status: str = "ok"
    agency_code: str | None = None


# --- faults on demand ----------------------------------------------------------------------

FORCE_OUTCOME_HEADER = "X-Ipnsim-Force-Outcome"
"""Header of an inquiry asking the hub to answer with this error code instead of the provider."""

FORCEABLE_ORIGINS = frozenset({Origin.HUB, Origin.PROVIDER_SERVER})
"""Where a code a fault forces may arise: the hub or the provider's intermediate server."""

MAX_FAULT_LATENCY_MS = 120_000
"""Longest latency a fault may add, in milliseconds."""

_ONLINE_HOURS = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")


def check_forceable_code(code: str) -> str:
    """``code`` (upper-cased) if a fault may force it; ValueError saying why not otherwise."""
    upper = code.strip().upper()
    entry = CATALOGUE.get(upper)
    if entry is None:
        raise ValueError(f"{code!r} is not a catalogued error code (see GET /v1/errors)")
    if entry.origin not in FORCEABLE_ORIGINS:
        where = (
            "the requester's server"
            if entry.origin is Origin.REQUESTER_SERVER
            else "any service, about the request itself"
        )
        raise ValueError(
            f"{upper} arises at {where}, not at the hub or the provider's server: only those "
            "codes can be forced"
        )
    return upper


def online_window(text: str) -> tuple[int, int]:
    """The minutes of the day (JST) at which ``HH:MM-HH:MM`` opens and closes.

    The window may cross midnight (``22:00-06:00``); ``24:00`` closes at the end of the day.
    """
    match = _ONLINE_HOURS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"online hours must be written HH:MM-HH:MM, got {text!r}")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise ValueError(f"online hours {text!r} name a time that does not exist")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end or (start == 0 and end == 24 * 60):
        raise ValueError(f"online hours {text!r} are empty or the whole day: give a window")
    return start, end


def _check_online_hours(text: str) -> str:
    online_window(text)
    return text.strip()


ForceableCode = Annotated[str, AfterValidator(check_forceable_code)]
OnlineHours = Annotated[str, AfterValidator(_check_online_hours)]
LatencyMs = Annotated[int, Field(ge=0, le=MAX_FAULT_LATENCY_MS)]


class FaultSettings(_Wire):
    """Failures the hub makes happen for inquiries to one provider (body of PUT /v1/faults/…).

    Checked in this order for each inquiry: online hours, down, forced code, latency, timeout,
    error rate. Random latency and the error rate draw from a generator seeded with ``seed``
    when the fault is set, so a run repeats.
    """

    down: bool = Field(
        default=False, description="Answer AVL001, as if the provider refused connections."
    )
    latency_ms: LatencyMs | None = Field(
        default=None, description="Wait this long before asking the provider."
    )
    latency_range_ms: tuple[LatencyMs, LatencyMs] | None = Field(
        default=None, description="Wait a random time in [min, max] ms (seeded)."
    )
    timeout: bool = Field(
        default=False, description="Wait the hub's provider timeout, then answer AVL002."
    )
    error_rate: float | None = Field(
        default=None, ge=0, le=1, description="Share of inquiries answered error_code (seeded)."
    )
    error_code: ForceableCode | None = Field(
        default=None, description="The code answered at the error rate."
    )
    force_code: ForceableCode | None = Field(
        default=None, description="Answer this code to every inquiry."
    )
    online_hours: OnlineHours | None = Field(
        default=None,
        description="Daily window HH:MM-HH:MM (JST); outside it the hub answers AVL006.",
    )
    seed: int = Field(default=0, description="Seed of the random latency and error rate.")

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.latency_ms is not None and self.latency_range_ms is not None:
            raise ValueError("give latency_ms or latency_range_ms, not both")
        if (
            self.latency_range_ms is not None
            and self.latency_range_ms[0] > self.latency_range_ms[1]
        ):
            raise ValueError("latency_range_ms must be [min, max] with min <= max")
        if (self.error_rate is None) != (self.error_code is None):
            raise ValueError("error_rate and error_code go together")
        if not (
            self.down
            or self.timeout
            or self.latency_ms is not None
            or self.latency_range_ms is not None
            or self.error_rate is not None
            or self.force_code is not None
            or self.online_hours is not None
        ):
            raise ValueError("the fault sets no failure (to clear faults, DELETE them)")
        return self


class ProviderFault(FaultSettings):
    """A fault in force for one provider (an entry of GET /v1/faults and of the faults file)."""

    agency_code: AgencyCode


def forced_outcome(value: str | None) -> str | None:
    """The code named by the ``X-Ipnsim-Force-Outcome`` header; ``VAL001`` naming it if bad."""
    if value is None or not value.strip():
        return None
    try:
        return check_forceable_code(value)
    except ValueError as exc:
        problem = FieldProblem(field=FORCE_OUTCOME_HEADER, problem=str(exc))
        raise IpnsimError(
            "VAL001", details=[problem], field=problem.field, problem=problem.problem
        ) from None


def outcome_statuses(error_code: str | None) -> tuple[DetailStatus, InfoTypeStatus]:
    """The two-level status of an inquiry that ended with ``error_code`` (None: success).

    No replica (``RPL001``), a deleted one (``RPL005``) and one past its publication period
    (``RPL007``) are 09/02. A manual-response hold (自動応答不可) is 05/05 while pending (``MAN001``), 09/03 once
    declined by the provider's staff (``MAN002``); an expired one (``MAN003``) is an error,
    99/99, like every other code.
    """
    if error_code is None:
        return DetailStatus.COMPLETED, InfoTypeStatus.PROVIDED
    if error_code in {NO_REPLICA_CODE, DELETED_REPLICA_CODE, ENDED_REPLICA_CODE}:
        return DetailStatus.COMPLETED, InfoTypeStatus.NO_DATA
    if error_code == MANUAL_PENDING_CODE:
        return DetailStatus.PENDING, InfoTypeStatus.PENDING
    if error_code == MANUAL_DECLINED_CODE:
        return DetailStatus.COMPLETED, InfoTypeStatus.DECLINED
    return DetailStatus.FAILED, InfoTypeStatus.ERROR


NO_REPLICA_CODE = "RPL001"
"""The code of an inquiry that was processed but found nothing: status 09 / 02."""
DELETED_REPLICA_CODE = "RPL005"
"""Processed, but the only matching replica was deleted by the provider: also 09 / 02."""
ENDED_REPLICA_CODE = "RPL007"
"""Processed, but the only matching replica is past its publication period: also 09 / 02."""
MANUAL_PENDING_CODE = "MAN001"
"""An inquiry waiting for the provider's staff (自動応答不可): status 05 / 05."""
MANUAL_DECLINED_CODE = "MAN002"
"""An inquiry the provider's staff declined: status 09 / 03."""
MANUAL_EXPIRED_CODE = "MAN003"
"""An inquiry nobody at the provider answered in time: status 99 / 99."""


# --- tamper-evident record logs (情報提供等の記録の改ざん検知) --------------------------------------


class LogEventKind(StrEnum):
    """What a leaf of a record log records."""

    RECORD = "record"
    """A copy of a provision record as first written (with its non-disclosure flags)."""
    ADDENDUM = "addendum"
    """追記 appended to a copy of a record."""
    OUTCOME = "outcome"
    """The final outcome of a record written pending (自動応答不可), with the provider's
    non-disclosure flag as the final answer gives it."""


class SignedTreeHead(_Wire):
    """A signed tree head of one record log: its size and root at a moment, signed by the
    service that keeps the log (Ed25519 over :func:`network.protocol.record_log.head_bytes`)."""

    log_id: str = Field(description="'hub', or the agency code of an intermediate server.")
    tree_size: int = Field(ge=0)
    root_hash: str = Field(description="MTH of the first tree_size leaves, hexadecimal.")
    timestamp: str = Field(description="When the head was signed, ISO 8601 in UTC.")
    signature: str = Field(description="Ed25519 signature, base64.")


class LogPublicKey(_Wire):
    """The public key that verifies a log's signed tree heads."""

    log_id: str
    algorithm: str = "Ed25519"
    public_key: str = Field(description="The raw 32-byte public key, base64.")


class InclusionProof(_Wire):
    """An audit path (RFC 9162 §2.1.3): the leaf at ``leaf_index`` is in the tree of
    ``tree_size`` leaves whose head is ``tree_head``."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    inquiry_id: uuid.UUID | None = None
    audit_path: list[str] = Field(description="Hexadecimal node hashes, nearest the leaf first.")
    tree_head: SignedTreeHead


class ConsistencyProof(_Wire):
    """A consistency proof (RFC 9162 §2.1.4): the tree of ``first`` leaves is a prefix of the
    tree of ``second`` leaves."""

    first: int
    second: int
    first_root_hash: str
    second_tree_head: SignedTreeHead
    consistency_path: list[str]


class LogEntry(_Wire):
    """One leaf of a record log as the service stores it: the event (``event``, whose canonical
    serialisation is the leaf's bytes) and the leaf hash stored beside it. ``event`` is None
    when the event's row is missing; ``leaf_hash`` is None when the leaf's row is."""

    leaf_index: int
    kind: LogEventKind | None
    inquiry_id: uuid.UUID | None
    event: dict[str, object] | None
    leaf_hash: str | None


class LogEntries(_Wire):
    """Leaves ``start`` ≤ index < ``end`` of a log as stored, with every signed tree head of
    those sizes (``tree_size`` in start+1 … end) and the latest signed head."""

    log_id: str
    start: int
    end: int
    entries: list[LogEntry]
    tree_heads: list[SignedTreeHead]
    latest: SignedTreeHead


# --- retention (保存期間) -------------------------------------------------------------------------


class RetentionPurge(_Wire):
    """A signed purge of expired records: the leaves whose events were removed because their
    inquiry was made before ``horizon``. The leaves' hashes stay in the log, so the log still
    verifies; the signature (Ed25519 over :func:`network.protocol.record_log.purge_bytes`, by
    the log's key) tells a verifier these removals were the retention purge and no tampering."""

    log_id: str
    purge_number: int = Field(ge=1)
    horizon: str = Field(description="Records inquired before this moment were purged (UTC).")
    purged_at: str = Field(description="When the purge ran, by the simulated clock (UTC).")
    tree_size: int = Field(ge=0, description="The log's size when the purge ran.")
    leaf_indexes: list[int]
    signature: str = Field(description="Ed25519 signature, base64.")


class RetentionPurgeResult(_Wire):
    """What one run of the retention purge removed."""

    horizon: dt.datetime
    """Records inquired before this moment (now − the retention period) are expired."""
    purged_records: int
    purged_leaves: int
    purge: RetentionPurge | None
    """The signed purge written (None when nothing had expired)."""


# --- the person's portal (やりとり履歴) ------------------------------------------------------------


class PortalCardIssue(_Wire):
    """Register a mock My Number card's user-certificate public key (利用者証明用電子証明書)
    for the person with this resident code (住民票コード, not stored)."""

    resident_code: ResidentCode
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64.")


class PortalCard(_Wire):
    """A card the hub knows: its id and public key (never whose it is)."""

    card_id: uuid.UUID
    public_key: str
    issued_at: dt.datetime


class PortalChallengeRequest(_Wire):
    card_id: uuid.UUID


class PortalChallenge(_Wire):
    """A one-time text the card must sign to prove possession; valid until ``expires_at``."""

    card_id: uuid.UUID
    challenge: str
    expires_at: dt.datetime


class PortalSessionRequest(_Wire):
    """The challenge signed with the card's private key (Ed25519 over the challenge's UTF-8
    bytes, base64)."""

    card_id: uuid.UUID
    challenge: str
    signature: str


class PortalSession(_Wire):
    """A short-lived bearer token for the person's portal."""

    access_token: str
    token_type: str = "Bearer"
    expires_at: dt.datetime


class PortalRecords(_Wire):
    """One page of the person's own records (やりとり履歴), newest first, with addenda; records
    flagged 不開示 are not shown."""

    page: int
    page_size: int
    total: int
    records: list[ProvisionRecord]
