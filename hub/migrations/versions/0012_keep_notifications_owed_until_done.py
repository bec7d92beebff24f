"""Keep a plugin notification owed until its actor has run: ``outbox.done_at``.

Adds ``done_at`` to ``outbox`` (NULL: the row's job is still owed) and a partial index
``ix_outbox_owed`` on ``outbox (published_at, id) WHERE done_at IS NULL`` for the outbox sweep
(``hub.services.sweepers.sweep_outbox``), which reads only rows still owed. Rows already published
count as done (``done_at = published_at``): what the broker took before this revision is not
tracked, so upgrading sends no old notification again. Written by hand.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_outbox_owed"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE outbox SET done_at = published_at WHERE published_at IS NOT NULL")
    op.create_index(INDEX, "outbox", ["published_at", "id"], postgresql_where=sa.text("done_at IS NULL"),
                    sqlite_where=sa.text("done_at IS NULL"))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("done_at")
