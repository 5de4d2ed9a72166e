"""manual-response hold (自動応答不可): replica flag, held requests, stored results

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("manual_response", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "manual_requests",
        sa.Column("inquiry_id", sa.String(length=36), nullable=False),
        sa.Column("atena_number", sa.String(length=15), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=20), nullable=True),
        sa.Column("hub_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("inquiry_id"),
    )
    with op.batch_alter_table("manual_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_manual_requests_state_deadline", ["state", "deadline"], unique=False
        )
    op.create_table(
        "inquiry_results",
        sa.Column("inquiry_id", sa.String(length=36), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("inquiry_id"),
    )


def downgrade() -> None:
    op.drop_table("inquiry_results")
    with op.batch_alter_table("manual_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_manual_requests_state_deadline")
    op.drop_table("manual_requests")
    with op.batch_alter_table("replicas", schema=None) as batch_op:
        batch_op.drop_column("manual_response")
