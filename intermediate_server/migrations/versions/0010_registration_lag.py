"""registration lag (登録遅延): pending replica changes, the lag setting, failed registrations

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replica_pending_changes",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("info_type_code", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_id"),
    )
    op.create_index(
        "ix_replica_pending_changes_record_id", "replica_pending_changes", ["record_id"]
    )
    op.create_index("ix_replica_pending_changes_due_at", "replica_pending_changes", ["due_at"])
    op.create_table(
        "registration_lag",
        sa.Column("setting_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("delay_seconds", sa.Float(), nullable=True),
        sa.Column("nightly_hour", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("setting_id"),
    )
    op.create_table(
        "replica_registration_failures",
        sa.Column("failure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=True),
        sa.Column("info_type_code", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("failure_id"),
    )


def downgrade() -> None:
    op.drop_table("replica_registration_failures")
    op.drop_table("registration_lag")
    op.drop_index("ix_replica_pending_changes_due_at", table_name="replica_pending_changes")
    op.drop_index("ix_replica_pending_changes_record_id", table_name="replica_pending_changes")
    op.drop_table("replica_pending_changes")
