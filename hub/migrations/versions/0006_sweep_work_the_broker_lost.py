"""Sweep work the broker lost: remember when a sweeper last re-enqueued an item's follow-up.

Adds ``swept_at`` to ``orders``, ``shipments`` and ``inbox`` (NULL: never swept), which the
sweepers (``hub.services.sweepers``) use as their "in flight" mark, and an index on
``reservations (state, order_id)`` for the order sweeper's "still holds stock" test. Nothing
existing changes meaning, so the downgrade just drops them. Written by hand.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orders", "shipments", "inbox")
INDEX = "ix_reservations_state_order"


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("swept_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(INDEX, "reservations", ["state", "order_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="reservations")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("swept_at")
