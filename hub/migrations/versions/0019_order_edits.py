"""Order edits with a record, the approval queue for money changes, and their write-back.

Revision ID: 0019_order_edits
Revises: 0018_search_and_tags
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_order_edits"
down_revision: str | None = "0018_search_and_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_edits",
        sa.Column("id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("shop", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("writeback", sa.String(length=20), nullable=False),
        sa.Column("writeback_error", sa.String(length=1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_order_edits_order", "order_edits", ["order_id", "id"], unique=False)
    op.create_index("ix_order_edits_status", "order_edits", ["status", "id"], unique=False)
    op.create_index("ix_order_edits_writeback", "order_edits", ["writeback", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_edits_writeback", table_name="order_edits")
    op.drop_index("ix_order_edits_status", table_name="order_edits")
    op.drop_index("ix_order_edits_order", table_name="order_edits")
    op.drop_table("order_edits")
