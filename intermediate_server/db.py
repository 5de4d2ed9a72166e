"""An intermediate server's own database: people, replicas (副本), and its copies of the records.

Its copies of the records (``provision_records``), their addenda, later outcomes
(``record_outcomes``) and the record log that makes them tamper-evident (``record_log``,
``tree_heads``; :mod:`network.protocol.record_log`) are append-only: database triggers
(migration 0005) refuse UPDATE and DELETE on them, but for the retention purge (migration 0009):
the copies of inquiries made more than seven years ago may be deleted, no others.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    false,
)
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
    type_annotation_map = {dt.datetime: UtcDateTime, dt.date: Date}


class Person(Base):
    """A person known to this agency by 団体内統合宛名番号, with the 符号 the hub issued."""

    __tablename__ = "people"

    atena_number: Mapped[str] = mapped_column(String(15), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    my_number: Mapped[str | None] = mapped_column(String(12))
    pseudonym: Mapped[str | None] = mapped_column(String(26), unique=True)
    pseudonym_acquired_at: Mapped[dt.datetime | None]
    registered_at: Mapped[dt.datetime]


class ReplicaFields(Protocol):
    """What a 副本's columns hold, read only: a :class:`Replica`, or a row of its table read
    without loading an entity (the provision path reads them so)."""

    @property
    def record_id(self) -> str: ...
    @property
    def atena_number(self) -> str: ...
    @property
    def info_type_code(self) -> str: ...
    @property
    def layout_version(self) -> int: ...
    @property
    def fiscal_year(self) -> int | None: ...
    @property
    def publication_start(self) -> dt.date: ...
    @property
    def publication_end(self) -> dt.date | None: ...
    @property
    def items(self) -> list[dict[str, Any]]: ...
    @property
    def registered_at(self) -> dt.datetime: ...
    @property
    def updated_at(self) -> dt.datetime: ...
    @property
    def deleted_at(self) -> dt.datetime | None: ...
    @property
    def manual_response(self) -> bool: ...
    @property
    def non_disclosure(self) -> bool: ...


class Replica(Base):
    """副本: a replica of the agency's master data for one person and info type."""

    __tablename__ = "replicas"
    __table_args__ = (Index("ix_replicas_person_info_type", "atena_number", "info_type_code"),)

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    atena_number: Mapped[str] = mapped_column(ForeignKey("people.atena_number"))
    info_type_code: Mapped[str] = mapped_column(String(16))
    layout_version: Mapped[int] = mapped_column(Integer)
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    publication_start: Mapped[dt.date]
    publication_end: Mapped[dt.date | None]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    registered_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]
    manual_response: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """自動応答不可: an inquiry of this replica waits for staff instead of being answered."""
    non_disclosure: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """提供側不開示: its provisions are recorded but hidden from the person's view."""


class PendingReplicaChange(Base):
    """登録遅延: a change to a replica received but not yet live; it is applied when the
    simulated clock passes ``due_at`` (``kind``: ``register``, ``update`` or ``delete``)."""

    __tablename__ = "replica_pending_changes"

    change_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64), index=True)
    info_type_code: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime] = mapped_column(index=True)


class RegistrationLagSetting(Base):
    """The registration lag set over the operator API (one row; none: the server setting)."""

    __tablename__ = "registration_lag"

    setting_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    delay_seconds: Mapped[float | None] = mapped_column(Float)
    nightly_hour: Mapped[int | None] = mapped_column(Integer)
    set_at: Mapped[dt.datetime]


class RegistrationFailure(Base):
    """A replica registration, update or deletion that failed (refused, or found impossible
    when a lagging change was applied): counted in the freshness report."""

    __tablename__ = "replica_registration_failures"

    failure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    failed_at: Mapped[dt.datetime]
    operation: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str | None] = mapped_column(String(64))
    info_type_code: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str] = mapped_column(String(6))


class LocalRecord(Base):
    """This server's copy of a provision record, as requester or as provider, as first written;
    never updated (a record written pending is completed by a :class:`LocalOutcome`)."""

    __tablename__ = "provision_records"
    __table_args__ = (Index("ix_provision_records_person", "atena_number", "requested_at"),)

    inquiry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    atena_number: Mapped[str | None] = mapped_column(String(15))
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
    reached_hub: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime]
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The exchange's trace (OpenTelemetry, 32 hex digits): the same in all three copies."""
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class LocalAddendum(Base):
    """追記 appended to one of this server's record copies."""

    __tablename__ = "addenda"
    __table_args__ = (
        ForeignKeyConstraint(
            ["inquiry_id", "side"], ["provision_records.inquiry_id", "provision_records.side"]
        ),
    )

    addendum_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    inquiry_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(400))
    declared_by_agency: Mapped[str] = mapped_column(String(16))
    declared_by_user: Mapped[str] = mapped_column(String(20))
    declared_at: Mapped[dt.datetime]
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class LocalOutcome(Base):
    """The final outcome of one of this server's copies written pending (自動応答不可):
    answered, declined or expired. Appended once; the record's readable view applies it."""

    __tablename__ = "record_outcomes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["inquiry_id", "side"], ["provision_records.inquiry_id", "provision_records.side"]
        ),
    )

    inquiry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    side: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_codes: Mapped[list[str]] = mapped_column(JSON)
    provided_at: Mapped[dt.datetime | None]
    status_detail: Mapped[str] = mapped_column(String(2))
    status_info_type: Mapped[str] = mapped_column(String(2))
    error_code: Mapped[str | None] = mapped_column(String(6))
    recorded_at: Mapped[dt.datetime]
    leaf_index: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)


class LocalLogLeaf(LogLeafColumns, Base):
    """One leaf of this server's record log."""

    __tablename__ = "record_log"


class LocalTreeHead(TreeHeadColumns, Base):
    """This server's signed tree head at one size of its record log."""

    __tablename__ = "tree_heads"


class LocalRetentionHorizon(RetentionHorizonColumns, Base):
    """This server's retention horizon (保存期間): copies of inquiries made before it may be
    purged, no others (migration 0009)."""

    __tablename__ = "retention_horizon"


class LocalRetentionPurge(RetentionPurgeColumns, Base):
    """One signed purge of this server's expired copies: which leaves' events were removed."""

    __tablename__ = "retention_purges"


class ManualRequest(Base):
    """A provision request held for the provider's staff (自動応答不可) and how it ended.

    ``state`` is ``pending`` until staff answer (``answered``) or decline (``declined``) or the
    deadline passes (``expired``); ``answer`` is then the final answer for the hub, and
    ``hub_notified_at`` says when the hub acknowledged it (empty: to be sent again).
    """

    __tablename__ = "manual_requests"
    __table_args__ = (Index("ix_manual_requests_state_deadline", "state", "deadline"),)

    inquiry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    atena_number: Mapped[str] = mapped_column(String(15))
    record_id: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(20))
    hub_notified_at: Mapped[dt.datetime | None]


class StoredResult(Base):
    """The result of an inquiry this server sent that waited for the provider's staff: the
    pending result first, replaced by the final one the hub delivers (``GET /v1/inquiries/{id}``).
    """

    __tablename__ = "inquiry_results"

    inquiry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime]


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` (冪等キー) a business system sent with an inquiry.

    ``fingerprint`` identifies the inquiry's content; ``state`` is ``in_flight`` until the
    inquiry ends, then ``completed`` with the ``result`` every retry under the key receives.
    """

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    inquiry_id: Mapped[str | None] = mapped_column(String(36))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]


class BatchJob(Base):
    """一括照会: a job of one or more request files, and how far it has come.

    ``state`` is ``receiving`` while files are sent, ``running`` once started, then
    ``completed``; ``interrupted`` when the server stopped while it ran (``error`` says so).
    The counts add up every file's rows by outcome.
    """

    __tablename__ = "batch_jobs"
    __table_args__ = (Index("ix_batch_jobs_created_at", "created_at"),)

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer)
    rows_provided: Mapped[int] = mapped_column(Integer)
    rows_not_provided: Mapped[int] = mapped_column(Integer)
    rows_pending: Mapped[int] = mapped_column(Integer)
    rows_failed: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(400))


class BatchFile(Base):
    """One request file of a batch job, accepted after every row was checked."""

    __tablename__ = "batch_files"

    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.job_id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    encoding: Mapped[str] = mapped_column(String(8))
    variant: Mapped[str] = mapped_column(String(8))
    rows: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer)
    rows_failed: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime]


class JournalEntry(Base):
    """One request the business system sent to this server, and the verdict on it (受付記録).

    ``verdict`` is ``accepted``, ``answered`` (an inquiry that went through and ended with an
    error code) or ``refused``; for a refused request, ``details`` names each field that failed
    and why: the near miss. Request bodies are never kept.
    """

    __tablename__ = "request_journal"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[dt.datetime]
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(400))
    status: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(6))
    message_en: Mapped[str | None] = mapped_column(String(800))
    details: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    duration_ms: Mapped[float] = mapped_column(Float)
