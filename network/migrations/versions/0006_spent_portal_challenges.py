"""log-in challenges already used: each opens one portal session only

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ipnsim.storage import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spent_portal_challenges",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index(
        "ix_spent_portal_challenges_expires_at",
        "spent_portal_challenges",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_spent_portal_challenges_expires_at", table_name="spent_portal_challenges")
    op.drop_table("spent_portal_challenges")
