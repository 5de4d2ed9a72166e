"""the person's portal cards, and the retention purge (保存期間 7 years)

``portal_cards`` binds a mock My Number card's public key to the person's keyed person key.
``retention_horizon`` holds the moment before which records have expired; the append-only
triggers on ``provision_records``, ``addenda`` and ``record_outcomes`` are replaced by ones that
still refuse every UPDATE, and every DELETE but of rows of inquiries made before that horizon.
``retention_purges`` keeps the signed list of the leaves each purge removed (append-only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ipnsim.storage import UtcDateTime
from network.protocol.record_log import (
    create_retention_tables,
    guard_retention_statements,
    unguard_retention_statements,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "portal_cards",
        sa.Column("card_id", sa.String(length=36), nullable=False),
        sa.Column("person_key", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("card_id"),
    )
    op.create_index("ix_portal_cards_person_key", "portal_cards", ["person_key"], unique=False)
    create_retention_tables(op)
    for statement in guard_retention_statements(dialect):
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in unguard_retention_statements(dialect):
        bind.execute(sa.text(statement))
    op.drop_table("retention_purges")
    op.drop_table("retention_horizon")
    op.drop_index("ix_portal_cards_person_key", table_name="portal_cards")
    op.drop_table("portal_cards")
