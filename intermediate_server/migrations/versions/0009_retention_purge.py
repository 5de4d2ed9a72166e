"""the retention purge (保存期間 7 years) of this server's record copies

``retention_horizon`` holds the moment before which records have expired; the append-only
triggers on ``provision_records``, ``addenda`` and ``record_outcomes`` are replaced by ones that
still refuse every UPDATE, and every DELETE but of rows of inquiries made before that horizon (a
child row matched to its copy on inquiry and side). ``retention_purges`` keeps the signed list
of the leaves each purge removed (append-only). The same tables and triggers as the hub's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from network.protocol.record_log import (
    create_retention_tables,
    guard_retention_statements,
    unguard_retention_statements,
)

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    create_retention_tables(op)
    for statement in guard_retention_statements(bind.dialect.name, keys=("inquiry_id", "side")):
        bind.execute(sa.text(statement))


def downgrade() -> None:
    bind = op.get_bind()
    for statement in unguard_retention_statements(bind.dialect.name):
        bind.execute(sa.text(statement))
    op.drop_table("retention_purges")
    op.drop_table("retention_horizon")
