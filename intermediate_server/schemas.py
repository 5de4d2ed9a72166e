"""What the business system (業務システム) sends to and receives from its intermediate server."""

from __future__ import annotations

import datetime as dt
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from network.protocol.models import (
    MAX_BULK_ITEMS,
    AffairCode,
    AgencyCode,
    AtenaNumber,
    InfoTypeCode,
    InquiryCondition,
    MyNumber,
    ProcedureCode,
    RecordId,
    ReplicaItem,
    ResidentCode,
    UserId,
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


class ReplicaContent(_Body):
    """The updatable part of a replica: layout version, publication period, fiscal year, items."""

    layout_version: int = Field(ge=1, description="版番号 of the info type's layout.")
    fiscal_year: int | None = Field(default=None, ge=1989, le=2100)
    publication_start: dt.date = Field(description="公開開始日.")
    publication_end: dt.date | None = Field(default=None, description="公開終了日 (none: open).")
    items: list[ReplicaItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.publication_end is not None and self.publication_end < self.publication_start:
            raise ValueError("publication_end must not be before publication_start")
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError("an item code appears twice")
        return self


class ReplicaRegistration(ReplicaContent):
    """副本登録: a new replica under a record id (レコード識別番号) that must be new."""

    record_id: RecordId
    atena_number: AtenaNumber
    info_type_code: InfoTypeCode


class PeopleBulkRegistration(_Body):
    """団体内統合宛名番号の一括登録: many people at once, then their 符号 in one hub call."""

    people: list[PersonRegistration] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class ReplicaBulkRegistration(_Body):
    """副本一括登録: many replicas in one transaction; record ids already present are skipped."""

    replicas: list[ReplicaRegistration] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


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


class MistakenDeclaration(_Body):
    """誤照会の申出: the inquiry named the wrong person."""

    reason: str = Field(min_length=1, max_length=400)
    declared_by_user: UserId
