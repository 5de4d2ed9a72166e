"""The hub's database: issued 符号, its copy of every provision record, addenda, and the record
log that makes them tamper-evident (:mod:`network.protocol.record_log`).

``provision_records``, ``addenda``, ``record_outcomes``, ``record_log`` and ``tree_heads`` are
append-only: database triggers (migration 0002) refuse UPDATE and DELETE on them. What changes
after a record is written (an addendum's delivery to the provider) is kept apart, in
``addendum_deliveries``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ipnsim.storage import UtcDateTime
from network.protocol.record_log import (
    LogLeafColumns,
    RetentionHorizonColumns,
    RetentionPurgeColumns,
    TreeHeadColumns,
)

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UtcDateTime}


class IssuedPseudonym(Base):
    """One 符号 issued to one agency for one person."""

    __tablename__ = "issued_pseudonyms"
    __table_args__ = (UniqueConstraint("agency_code", "person_key"),)

    pseudonym: Mapped[str] = mapped_column(String(26), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(16))
    person_key: Mapped[str] = mapped_column(String(40), index=True)
    issued_at: Mapped[dt.datetime]


class HubRecord(Base):
    """The hub's copy of a provision record (情報提供等の記録) as first written; never updated.

    A record written pending (自動応答不可) is completed by a :class:`HubOutcome`.
    """

    __tablename__ = "provision_records"
    __table_args__ = (Index("ix_provision_records_person_requested", "person_key", "requested_at"),)

    inquiry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_key: Mapped[str | None] = mapped_column(String(40))
    requester_code: Mapped[str] = mapped_column(String(16))
    requester_name: Mapped[str] = mapped_column(String(200))
    provider_code: Mapped[str] = mapped_column(String(16))
    provider_name: Mapped[str] = mapped_column(String(200))
    affair_code: Mapped[str] = mapped_column(String(16))
    procedure_code: Mapped[str] = mapped_column(String(16))
    info_type_code: Mapped[str] = mapped_column(String(16))
    item_codes: Mapped[list[str]] = mapped_column(JSON)
    requested_at: Mapped[dt.datetime]
    provided_at: Mapped[dt.datetime | None]
    status_detail: Mapped[str] = mapped_column(String(2))
    status_info_type: Mapped[str] = mapped_column(String(2))
    error_code: Mapped[str | None] = mapped_column(String(6))
    requester_non_disclosure: Mapped[bool] = mapped_column(Boolean)
    provider_non_disclosure: Mapped[bool] = mapped_column(Boolean)
    provider_reached: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime]
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The exchange's trace (OpenTelemetry, 32 hex digits): the same in all three copies."""
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class HubAddendum(Base):
    """追記 appended to the hub's record. At most one mistaken-person addendum per inquiry
    (a partial unique index, so two concurrent declarations cannot both be appended)."""

    __tablename__ = "addenda"
    __table_args__ = (
        Index(
            "ux_addenda_one_mistaken_person",
            "inquiry_id",
            unique=True,
            sqlite_where=text("kind = 'mistaken_person'"),
            postgresql_where=text("kind = 'mistaken_person'"),
        ),
    )

    addendum_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    inquiry_id: Mapped[str] = mapped_column(ForeignKey("provision_records.inquiry_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(400))
    declared_by_agency: Mapped[str] = mapped_column(String(16))
    declared_by_user: Mapped[str] = mapped_column(String(20))
    declared_at: Mapped[dt.datetime]
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class AddendumDelivery(Base):
    """When the provider acknowledged an addendum (none yet: it is sent again)."""

    __tablename__ = "addendum_deliveries"

    addendum_id: Mapped[str] = mapped_column(ForeignKey("addenda.addendum_id"), primary_key=True)
    delivered_at: Mapped[dt.datetime]


class HubOutcome(Base):
    """The final outcome of a record written pending (自動応答不可): answered, declined or
    expired. Appended once; the record's readable view applies it."""

    __tablename__ = "record_outcomes"

    inquiry_id: Mapped[str] = mapped_column(
        ForeignKey("provision_records.inquiry_id"), primary_key=True
    )
    item_codes: Mapped[list[str]] = mapped_column(JSON)
    provided_at: Mapped[dt.datetime | None]
    status_detail: Mapped[str] = mapped_column(String(2))
    status_info_type: Mapped[str] = mapped_column(String(2))
    error_code: Mapped[str | None] = mapped_column(String(6))
    provider_non_disclosure: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime]
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class HubLogLeaf(LogLeafColumns, Base):
    """One leaf of the hub's record log."""

    __tablename__ = "record_log"


class HubTreeHead(TreeHeadColumns, Base):
    """The hub's signed tree head at one size of its record log."""

    __tablename__ = "tree_heads"


class CaseCount(Base):
    """How many cases (件数) of one procedure an agency handled in one month, as it reported
    them: the denominator of the utilisation rate (利用率 = 照会件数 ÷ 件数). A new report for
    the same agency, procedure and month replaces the old one."""

    __tablename__ = "case_counts"

    agency_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[dt.datetime]


class PortalCard(Base):
    """A mock My Number card's user-certificate key (利用者証明用電子証明書), bound to the person
    it was issued to (their keyed person key, never their My Number)."""

    __tablename__ = "portal_cards"

    card_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(40), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime]


class SpentPortalChallenge(Base):
    """A log-in challenge that has opened a portal session: each opens one session only, so a
    signed challenge seen by someone else cannot log them in. Kept until the challenge expires
    (``expires_at``); later the challenge is refused as expired anyway."""

    __tablename__ = "spent_portal_challenges"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class RetentionHorizon(RetentionHorizonColumns, Base):
    """The hub's retention horizon (保存期間): records inquired before it may be purged."""

    __tablename__ = "retention_horizon"


class HubRetentionPurge(RetentionPurgeColumns, Base):
    """One signed purge of expired records: which leaves' events were removed, and why."""

    __tablename__ = "retention_purges"
