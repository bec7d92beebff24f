"""Account each shop's exposure in partitioned stock groups.

Adds to ``channel_stock``: ``exposure`` (an upper bound on what the listing can still sell that
the hub has not taken in), ``anchor_value``/``anchor_at`` (what it showed at the last moment the
hub knew exactly, counted forward) and ``pending_delta``/``pending_key``/``pending_at`` (a push
whose answer is not in yet). All nullable: a listing without them gets an absolute value on its
next partitioned push, as before. Written by hand, checked with ``alembic check``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_stock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exposure", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("anchor_value", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pending_delta", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pending_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pending_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_stock", schema=None) as batch_op:
        batch_op.drop_column("pending_at")
        batch_op.drop_column("pending_key")
        batch_op.drop_column("pending_delta")
        batch_op.drop_column("anchor_at")
        batch_op.drop_column("anchor_value")
        batch_op.drop_column("exposure")
