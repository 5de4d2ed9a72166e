"""record log: append-only records, outcomes as events, the Merkle log and its signed heads

Every existing record and addendum becomes a leaf of the log, in the order they were written.
The delivery time of addenda moves to ``addendum_deliveries`` (it changes after the addendum is
written). Triggers then refuse UPDATE and DELETE on the record tables and the log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from network.protocol.models import LogEventKind
from network.protocol.record_log import (
    OPTIONAL_LEAF_COLUMNS,
    append_only_statements,
    drop_append_only_statements,
    event_leaf_hash,
    table_event,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("provision_records", "addenda", "record_outcomes", "record_log", "tree_heads")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "addendum_deliveries",
        sa.Column("addendum_id", sa.String(length=36), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["addendum_id"], ["addenda.addendum_id"]),
        sa.PrimaryKeyConstraint("addendum_id"),
    )
    bind.execute(
        sa.text(
            "INSERT INTO addendum_deliveries (addendum_id, delivered_at) "
            "SELECT addendum_id, provider_notified_at FROM addenda "
            "WHERE provider_notified_at IS NOT NULL"
        )
    )
    with op.batch_alter_table("addenda", schema=None) as batch_op:
        batch_op.drop_column("provider_notified_at")
        batch_op.add_column(sa.Column("leaf_index", sa.Integer(), nullable=True))
        batch_op.create_index("ix_addenda_leaf_index", ["leaf_index"], unique=True)
        batch_op.create_index(
            "ux_addenda_one_mistaken_person",
            ["inquiry_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'mistaken_person'"),
            postgresql_where=sa.text("kind = 'mistaken_person'"),
        )
    op.add_column("provision_records", sa.Column("leaf_index", sa.Integer(), nullable=True))
    op.create_index(
        "ix_provision_records_leaf_index", "provision_records", ["leaf_index"], unique=True
    )
    op.create_table(
        "record_outcomes",
        sa.Column("inquiry_id", sa.String(length=36), nullable=False),
        sa.Column("item_codes", sa.JSON(), nullable=False),
        sa.Column("provided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_detail", sa.String(length=2), nullable=False),
        sa.Column("status_info_type", sa.String(length=2), nullable=False),
        sa.Column("error_code", sa.String(length=6), nullable=True),
        sa.Column("provider_non_disclosure", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["inquiry_id"], ["provision_records.inquiry_id"]),
        sa.PrimaryKeyConstraint("inquiry_id"),
    )
    op.create_index("ix_record_outcomes_leaf_index", "record_outcomes", ["leaf_index"], unique=True)
    op.create_table(
        "record_log",
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("inquiry_id", sa.String(length=36), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
    )
    op.create_index("ix_record_log_inquiry_id", "record_log", ["inquiry_id"], unique=False)
    op.create_table(
        "tree_heads",
        sa.Column("tree_size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    _backfill_leaves(bind)
    for table in APPEND_ONLY_TABLES:
        for statement in append_only_statements(bind.dialect.name, table):
            bind.execute(sa.text(statement))


def _backfill_leaves(bind: Any) -> None:
    """Every record and addendum written before the log, as leaves in the order written."""
    from network.db import HubAddendum, HubRecord

    records = sa.inspect(HubRecord).local_table
    addenda = sa.inspect(HubAddendum).local_table
    events: list[tuple[Any, str, Any, LogEventKind, dict[str, Any]]] = []
    # The columns of the time (not those added by later revisions, which the leaves omit).
    present = [column for column in records.columns if column.key not in OPTIONAL_LEAF_COLUMNS]
    for row in bind.execute(sa.select(*present)).mappings():
        events.append(
            (row["recorded_at"], row["inquiry_id"], records, LogEventKind.RECORD, dict(row))
        )
    for row in bind.execute(sa.select(addenda)).mappings():
        events.append(
            (row["declared_at"], row["inquiry_id"], addenda, LogEventKind.ADDENDUM, dict(row))
        )
    events.sort(key=lambda event: (event[0], event[3] != LogEventKind.RECORD, event[1]))
    log = sa.table(
        "record_log",
        sa.column("leaf_index", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("inquiry_id", sa.String()),
        sa.column("leaf_hash", sa.String()),
    )
    for index, (_, inquiry_id, table, kind, values) in enumerate(events):
        digest = event_leaf_hash(table_event(table, values, kind))
        key = table.c.inquiry_id if kind is LogEventKind.RECORD else table.c.addendum_id
        value = values["inquiry_id"] if kind is LogEventKind.RECORD else values["addendum_id"]
        bind.execute(sa.update(table).where(key == value).values(leaf_index=index))
        bind.execute(
            sa.insert(log).values(
                leaf_index=index, kind=kind.value, inquiry_id=inquiry_id, leaf_hash=digest.hex()
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    for table in APPEND_ONLY_TABLES:
        for statement in drop_append_only_statements(bind.dialect.name, table):
            bind.execute(sa.text(statement))
    op.drop_table("tree_heads")
    op.drop_index("ix_record_log_inquiry_id", table_name="record_log")
    op.drop_table("record_log")
    op.drop_index("ix_record_outcomes_leaf_index", table_name="record_outcomes")
    op.drop_table("record_outcomes")
    op.drop_index("ix_provision_records_leaf_index", table_name="provision_records")
    with op.batch_alter_table("provision_records", schema=None) as batch_op:
        batch_op.drop_column("leaf_index")
    with op.batch_alter_table("addenda", schema=None) as batch_op:
        batch_op.drop_index("ux_addenda_one_mistaken_person")
        batch_op.drop_index("ix_addenda_leaf_index")
        batch_op.drop_column("leaf_index")
        batch_op.add_column(
            sa.Column("provider_notified_at", sa.DateTime(timezone=True), nullable=True)
        )
    bind.execute(
        sa.text(
            "UPDATE addenda SET provider_notified_at = (SELECT delivered_at FROM "
            "addendum_deliveries WHERE addendum_deliveries.addendum_id = addenda.addendum_id)"
        )
    )
    op.drop_table("addendum_deliveries")
