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
    append_only_statements,
    drop_append_only_statements,
    drop_horizon_statements,
    drop_retention_statements,
    horizon_forward_only_statements,
    retention_statements,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURGEABLE_TABLES = ("provision_records", "addenda", "record_outcomes")


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
    op.create_table(
        "retention_horizon",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("horizon", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "retention_purges",
        sa.Column("purge_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("horizon", sa.String(length=40), nullable=False),
        sa.Column("purged_at", sa.String(length=40), nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("leaf_indexes", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("purge_number"),
    )
    for table in PURGEABLE_TABLES:
        for statement in drop_append_only_statements(dialect, table):
            bind.execute(sa.text(statement))
        for statement in retention_statements(dialect, table):
            bind.execute(sa.text(statement))
    for statement in horizon_forward_only_statements(dialect):
        bind.execute(sa.text(statement))
    for statement in append_only_statements(dialect, "retention_purges"):
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in drop_append_only_statements(dialect, "retention_purges"):
        bind.execute(sa.text(statement))
    for statement in drop_horizon_statements(dialect):
        bind.execute(sa.text(statement))
    for table in PURGEABLE_TABLES:
        for statement in drop_retention_statements(dialect, table):
            bind.execute(sa.text(statement))
        for statement in append_only_statements(dialect, table):
            bind.execute(sa.text(statement))
    op.drop_table("retention_purges")
    op.drop_table("retention_horizon")
    op.drop_index("ix_portal_cards_person_key", table_name="portal_cards")
    op.drop_table("portal_cards")
