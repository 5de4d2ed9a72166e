"""What the business system (業務システム) sends to and receives from its intermediate server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, NotRequired, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from error_codes import FieldProblem
from network.protocol.models import (
    MAX_BULK_ITEMS,
    MAX_FAN_OUT_PROVIDERS,
    AffairCode,
    AgencyCode,
    AtenaNumber,
    FanOutScope,
    InfoTypeCode,
    InquiryCondition,
    MyNumber,
    ProcedureCode,
    RecordId,
    ReplicaItem,
    ResidentCode,
    UserId,
    check_fan_out_providers,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonRegistration(_Body):
    """団体内統合宛名番号の登録: a person, and whether to obtain the 符号 now."""

    atena_number: AtenaNumber
    resident_code: ResidentCode
    my_number: MyNumber | None = Field(
        default=None, description="個人番号: kept here only; never sent to the hub."
    )
    acquire_pseudonym: bool = Field(default=True, description="Obtain the 符号 from the hub now.")


class PersonView(BaseModel):
    """A registered person. The 符号 is shown for training; the business system needs none."""

    atena_number: str
    has_my_number: bool
    pseudonym: str | None
    pseudonym_acquired_at: dt.datetime | None
    registered_at: dt.datetime


class ReplicaItemFields(TypedDict):
    """One item of a replica in a bulk registration: the fields of
    :class:`~network.protocol.models.ReplicaItem`, validated as a plain object (a bulk request
    carries hundreds of thousands of them)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    code: Annotated[
        str, Field(pattern=r"^I[0-9]{3}$", description="Item code within the info type.")
    ]
    value: NotRequired[str | None]
    reason_of_null: NotRequired[str | None]


def _check_content(
    publication_start: dt.date,
    publication_end: dt.date | None,
    items: Iterable[tuple[str, str | None, str | None]],
) -> None:
    """The rules every replica's content follows, whichever way its items arrive."""
    if publication_end is not None and publication_end < publication_start:
        raise ValueError("publication_end must not be before publication_start")
    codes: set[str] = set()
    for code, value, reason_of_null in items:
        if code in codes:
            raise ValueError("an item code appears twice")
        codes.add(code)
        if (value is None) == (reason_of_null is None):
            raise ValueError(
                f"item {code} has either a value or a reason_of_null, not both and not neither"
            )


class _ReplicaFields(_Body):
    layout_version: int = Field(ge=1, description="版番号 of the info type's layout.")
    fiscal_year: int | None = Field(default=None, ge=1989, le=2100)
    publication_start: dt.date = Field(description="公開開始日.")
    publication_end: dt.date | None = Field(default=None, description="公開終了日 (none: open).")
    manual_response: bool = Field(
        default=False,
        description="自動応答不可: inquiries of this replica wait for staff at this agency "
        "(GET /v1/manual-responses) instead of being answered automatically.",
    )
    non_disclosure: bool = Field(
        default=False,
        description="提供側不開示: provisions of this replica are recorded as usual but hidden "
        "from the person's view (やりとり履歴).",
    )


class ReplicaContent(_ReplicaFields):
    """The updatable part of a replica: layout version, publication period, fiscal year, items."""

    items: list[ReplicaItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _period(self) -> Self:
        _check_content(
            self.publication_start,
            self.publication_end,
            ((item.code, item.value, item.reason_of_null) for item in self.items),
        )
        return self

    def item_triples(self) -> list[tuple[str, str | None, str | None]]:
        """(code, value, reason_of_null) of every item."""
        return [(item.code, item.value, item.reason_of_null) for item in self.items]


class ReplicaRegistration(ReplicaContent):
    """副本登録: a new replica under a record id (レコード識別番号) that must be new."""

    record_id: RecordId
    atena_number: AtenaNumber
    info_type_code: InfoTypeCode


class ReplicaBulkItem(_ReplicaFields):
    """One replica of a 副本一括登録: the fields of :class:`ReplicaRegistration`."""

    record_id: RecordId
    atena_number: AtenaNumber
    info_type_code: InfoTypeCode
    items: list[ReplicaItemFields] = Field(min_length=1)

    @model_validator(mode="after")
    def _period(self) -> Self:
        _check_content(self.publication_start, self.publication_end, self.item_triples())
        return self

    def item_triples(self) -> list[tuple[str, str | None, str | None]]:
        """(code, value, reason_of_null) of every item."""
        return [
            (item["code"], item.get("value"), item.get("reason_of_null")) for item in self.items
        ]


class PeopleBulkRegistration(_Body):
    """団体内統合宛名番号の一括登録: many people at once, then their 符号 in one hub call."""

    people: list[PersonRegistration] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class ReplicaBulkRegistration(_Body):
    """副本一括登録: many replicas in one transaction; record ids already present are skipped."""

    replicas: list[ReplicaBulkItem] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class BulkResult(BaseModel):
    """What a bulk registration did: how many items were new and how many were already there."""

    created: int
    existing: int


class ReplicaView(BaseModel):
    record_id: str
    atena_number: str
    info_type_code: str
    layout_version: int
    fiscal_year: int | None
    publication_start: dt.date
    publication_end: dt.date | None
    items: list[ReplicaItem]
    registered_at: dt.datetime
    updated_at: dt.datetime
    manual_response: bool = False
    non_disclosure: bool = False
    pending_until: dt.datetime | None = None
    """登録遅延: set when the change waits in the registration queue; it becomes the live
    replica when the simulated clock passes this time (registered_at / updated_at show it)."""


class LagMode(StrEnum):
    """How a change to the master data reaches the replica (登録遅延)."""

    NONE = "none"
    """At once."""
    DELAY = "delay"
    """After ``delay_seconds``."""
    NIGHTLY = "nightly"
    """In the nightly batch (夜間バッチ) at ``nightly_hour`` o'clock, Japan time."""


class RegistrationLag(_Body):
    """``PUT /v1/registration-lag``: how long replica registrations take to become live."""

    mode: LagMode = LagMode.NONE
    delay_seconds: float | None = Field(default=None, gt=0, le=366 * 86_400)
    nightly_hour: int | None = Field(default=None, ge=0, le=23, description="Hour, Japan time.")

    @model_validator(mode="after")
    def _fits_mode(self) -> Self:
        if self.mode is LagMode.DELAY and self.delay_seconds is None:
            raise ValueError("mode 'delay' needs delay_seconds")
        if self.mode is LagMode.NIGHTLY and self.nightly_hour is None:
            raise ValueError("mode 'nightly' needs nightly_hour (0-23, Japan time)")
        if self.mode is not LagMode.DELAY and self.delay_seconds is not None:
            raise ValueError("delay_seconds belongs to mode 'delay'")
        if self.mode is not LagMode.NIGHTLY and self.nightly_hour is not None:
            raise ValueError("nightly_hour belongs to mode 'nightly'")
        return self

    def due(self, received_at: dt.datetime) -> dt.datetime:
        """When a change received at ``received_at`` becomes the live replica."""
        if self.mode is LagMode.DELAY:
            assert self.delay_seconds is not None
            return received_at + dt.timedelta(seconds=self.delay_seconds)
        if self.mode is LagMode.NIGHTLY:
            assert self.nightly_hour is not None
            local = received_at.astimezone(JST)
            run = local.replace(hour=self.nightly_hour, minute=0, second=0, microsecond=0)
            if run <= local:
                run += dt.timedelta(days=1)
            return run.astimezone(dt.UTC)
        return received_at

    @classmethod
    def parse(cls, text: str) -> RegistrationLag:
        """``none``, ``delay:SECONDS`` or ``nightly:HOUR`` (the server setting's form)."""
        mode, _, value = text.strip().partition(":")
        if mode == LagMode.DELAY.value:
            return cls(mode=LagMode.DELAY, delay_seconds=float(value))
        if mode == LagMode.NIGHTLY.value:
            return cls(mode=LagMode.NIGHTLY, nightly_hour=int(value))
        if mode == LagMode.NONE.value and not value:
            return cls()
        raise ValueError(f"not a registration lag: {text!r} (none, delay:SECONDS, nightly:HOUR)")


JST = dt.timezone(dt.timedelta(hours=9))


class AgeBuckets(BaseModel):
    """How many replicas were last updated within each age (simulated clock)."""

    under_1_day: int = 0
    under_7_days: int = 0
    under_30_days: int = 0
    under_365_days: int = 0
    older: int = 0


class InfoTypeFreshness(BaseModel):
    """The freshness of one agency's live replicas of one info type."""

    info_type_code: str
    name_en: str
    update_cycle_days: int
    replicas: int
    stale: int
    """Replicas past their update cycle (鮮度超過)."""
    ages: AgeBuckets
    oldest_update: dt.datetime | None
    newest_update: dt.datetime | None
    pending: int
    """Changes waiting in the registration queue (登録遅延)."""
    failed_registrations: int
    """Registrations and updates refused or failed when applied."""


class FreshnessReport(BaseModel):
    """鮮度報告: one agency's replicas by info type, measured at ``now`` (simulated clock)."""

    agency_code: str
    agency_name: str
    now: dt.datetime
    registration_lag: RegistrationLag
    replicas: int
    stale: int
    pending: int
    failed_registrations: int
    info_types: list[InfoTypeFreshness]


class InquiryOrder(_Body):
    """情報照会: what the business system asks, naming the person by atena number."""

    atena_number: AtenaNumber
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    provider_code: AgencyCode
    condition: InquiryCondition = InquiryCondition()
    non_disclosure: bool = Field(default=False, description="照会側不開示: hide from the person.")
    user_id: UserId = Field(default="system", description="情報照会者ユーザーID.")


class FanOutOrder(_Body):
    """一括照会先指定: one inquiry about one person to every provider concerned.

    Name the providers either by ``scope`` (``permitted``: every agency the permission table
    allows for the info type; ``holding``: of those, every one that knows the person) or by
    ``provider_codes``.
    """

    atena_number: AtenaNumber
    affair_code: AffairCode
    procedure_code: ProcedureCode
    info_type_code: InfoTypeCode
    scope: FanOutScope | None = None
    provider_codes: list[AgencyCode] | None = Field(
        default=None, min_length=1, max_length=MAX_FAN_OUT_PROVIDERS
    )
    condition: InquiryCondition = InquiryCondition()
    non_disclosure: bool = Field(default=False, description="照会側不開示: hide from the person.")
    user_id: UserId = Field(default="system", description="情報照会者ユーザーID.")

    @model_validator(mode="after")
    def _one_way_of_naming_providers(self) -> Self:
        check_fan_out_providers(self.scope, self.provider_codes)
        return self

    def order_to(self, provider_code: str) -> InquiryOrder:
        """The single inquiry of this fan-out to one provider (for its record here)."""
        return InquiryOrder(
            atena_number=self.atena_number,
            affair_code=self.affair_code,
            procedure_code=self.procedure_code,
            info_type_code=self.info_type_code,
            provider_code=provider_code,
            condition=self.condition,
            non_disclosure=self.non_disclosure,
            user_id=self.user_id,
        )


class MistakenDeclaration(_Body):
    """誤照会の申出: the inquiry named the wrong person."""

    reason: str = Field(min_length=1, max_length=400)
    declared_by_user: UserId


class ManualRequestView(BaseModel):
    """An inquiry held for this agency's staff (自動応答不可): who asks what about whom."""

    inquiry_id: uuid.UUID
    requester_code: str
    requester_name: str
    affair_code: str
    procedure_code: str
    info_type_code: str
    atena_number: str = Field(description="団体内統合宛名番号 of the person at this agency.")
    record_id: str = Field(description="The flagged replica the inquiry matched.")
    condition: InquiryCondition
    requested_at: dt.datetime
    received_at: dt.datetime
    deadline: dt.datetime
    state: str = Field(description="pending, answered, declined or expired.")
    hub_notified_at: dt.datetime | None = Field(
        default=None, description="When the hub acknowledged the final answer (empty: not yet)."
    )


class ManualAnswer(_Body):
    """職員による回答: provide the matched replica, or another replica of the same person and
    info type chosen by staff (``record_id``)."""

    record_id: RecordId | None = None
    answered_by: UserId = "staff"


class ManualDecline(_Body):
    """職員による提供拒否: the reason reaches the requester in MAN002."""

    reason: str = Field(min_length=1, max_length=400)
    declined_by: UserId = "staff"


class BatchFileView(BaseModel):
    """One request file of a batch job (一括照会ファイル)."""

    name: str
    encoding: str = Field(description="utf-8 or cp932 (Shift_JIS), detected or as given.")
    variant: str = Field(description="fixed (fixed-width) or csv.")
    rows: int
    rows_done: int
    rows_failed: int = Field(description="Rows that ended with an error (status 99).")
    received_at: dt.datetime


class BatchJobView(BaseModel):
    """A batch job (一括照会) and its progress.

    ``state``: ``receiving`` (files may be sent), ``running``, ``completed``, or
    ``interrupted`` (the server stopped while it ran; ``error`` says so).
    """

    job_id: uuid.UUID
    state: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    rows_total: int
    rows_done: int
    rows_provided: int = Field(description="Status 09/01: the items were provided.")
    rows_not_provided: int = Field(
        description="Status 09/02 or 09/03: processed, but nothing to provide (or declined)."
    )
    rows_pending: int = Field(description="Status 05/05: waiting for the provider's staff.")
    rows_failed: int = Field(description="Status 99/99: ended with an error code.")
    error: str | None = None
    files: list[BatchFileView] = Field(default_factory=list)


class JournalEntryView(BaseModel):
    """One request the business system sent, and the verdict on it (受付記録)."""

    entry_id: int
    received_at: dt.datetime
    method: str
    path: str
    status: int
    verdict: str = Field(
        description="accepted, answered (an inquiry ended with a code) or refused."
    )
    error_code: str | None = None
    message_en: str | None = None
    details: list[FieldProblem] = Field(
        default_factory=list, description="For a refused request: each field that failed, and why."
    )
    duration_ms: float


class DependantClaimsOrder(_Body):
    """扶養重複照会 (**ours**): which other municipalities' taxpayers claim this person as a
    dependant (扶養親族) in the assessment of ``fiscal_year``."""

    atena_number: AtenaNumber
    fiscal_year: int = Field(ge=1900, le=2999, description="課税年度 asked about.")
    non_disclosure: bool = Field(default=False, description="照会側不開示: hide from the person.")
    user_id: UserId = Field(default="system", description="情報照会者ユーザーID.")


class ClaimingMunicipality(_Body):
    """A municipality asked by the finder (its code and name only)."""

    code: AgencyCode
    name_ja: str
    inquiry_id: uuid.UUID
    """The exchange with it, under which every copy of its record is kept."""


class UnansweredMunicipality(ClaimingMunicipality):
    """A municipality that could not say (unreachable, refused …): neither claimed nor not."""

    error_code: str
    message_en: str


class DependantClaims(_Body):
    """The finder's answer: the municipalities only, never a taxpayer or a replica."""

    fan_out_id: uuid.UUID
    fiscal_year: int
    claimed_by: list[ClaimingMunicipality]
    """Municipalities where some taxpayer claims the person, in code order."""
    not_claimed_by: list[ClaimingMunicipality]
    """Municipalities asked that hold no such claim."""
    unanswered: list[UnansweredMunicipality]
    """Municipalities that could not answer: ask again."""
