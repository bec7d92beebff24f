"""Manual merge and split decisions for fulfilment: ``fulfilment_plans``, one row per order a
person merged with others, split by lines, or kept apart from a merge proposal.

Revision ID: 0014_merging
Revises: 0013
Create Date: 2026-12-05 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_merging"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fulfilment_plans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("merge_id", sa.String(length=40), nullable=True),
        sa.Column("line_groups", sa.JSON(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_fulfilment_plans_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilment_plans")),
        sa.UniqueConstraint("order_id", name=op.f("uq_fulfilment_plans_order_id")),
    )
    op.create_index("ix_fulfilment_plans_merge", "fulfilment_plans", ["merge_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_fulfilment_plans_merge", table_name="fulfilment_plans")
    op.drop_table("fulfilment_plans")
