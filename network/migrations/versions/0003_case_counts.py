"""case counts reported by agencies, for the utilisation rate (利用率)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_counts",
        sa.Column("agency_code", sa.String(length=16), nullable=False),
        sa.Column("procedure_code", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "procedure_code", "month"),
    )


def downgrade() -> None:
    op.drop_table("case_counts")
