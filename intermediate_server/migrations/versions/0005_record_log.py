"""record log: append-only record copies, outcomes as events, the Merkle log and its heads

Every existing copy of a record and addendum becomes a leaf of the log, in the order they were
written. Triggers then refuse UPDATE and DELETE on the record tables and the log.

Revision ID: 0005
Revises: 0004
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

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("provision_records", "addenda", "record_outcomes", "record_log", "tree_heads")


def upgrade() -> None:
    bind = op.get_bind()
    for table in ("provision_records", "addenda"):
        op.add_column(table, sa.Column("leaf_index", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_leaf_index", table, ["leaf_index"], unique=True)
    op.create_table(
        "record_outcomes",
        sa.Column("inquiry_id", sa.String(length=36), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("item_codes", sa.JSON(), nullable=False),
        sa.Column("provided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_detail", sa.String(length=2), nullable=False),
        sa.Column("status_info_type", sa.String(length=2), nullable=False),
        sa.Column("error_code", sa.String(length=6), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inquiry_id", "side"], ["provision_records.inquiry_id", "provision_records.side"]
        ),
        sa.PrimaryKeyConstraint("inquiry_id", "side"),
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
    """Every record copy and addendum written before the log, as leaves in the order written."""
    from intermediate_server.db import LocalAddendum, LocalRecord

    records = sa.inspect(LocalRecord).local_table
    addenda = sa.inspect(LocalAddendum).local_table
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
        key = "inquiry_id" if kind is LogEventKind.RECORD else "addendum_id"
        bind.execute(
            sa.update(table)
            .where(table.c[key] == values[key], table.c.side == values["side"])
            .values(leaf_index=index)
        )
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
    for table in ("addenda", "provision_records"):
        op.drop_index(f"ix_{table}_leaf_index", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("leaf_index")
