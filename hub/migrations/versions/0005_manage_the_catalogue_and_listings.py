"""Manage the catalogue and listings: SKUs can be deactivated and say who changed them last,
listings say how they were bound, and the listing sync keeps what each shop lists.

Adds to ``skus``: ``active`` (a deactivated SKU stays for history but takes no new listings or
stock), ``updated_at`` and ``updated_by`` (the API key, ``cli`` or ``import:<file>``). Adds to
``listings``: ``source`` (``manual`` | ``sync`` | ``order``; NULL for listings bound before this
revision, treated like ``order``), ``bound_by`` and ``bound_at``. New table ``shop_listings``: every
listing a shop showed at its last listing sync, with the outcome (bound, or why not), so unmatched
listings can be listed. Written by hand.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("bound_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "shop_listings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop", sa.String(length=100), nullable=False),
        sa.Column("channel_item_id", sa.String(length=200), nullable=False),
        sa.Column("channel_sku_id", sa.String(length=200), nullable=False),
        sa.Column("merchant_code", sa.String(length=200), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("merchant_sku", sa.String(length=200), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_listings")),
        sa.UniqueConstraint("shop", "channel_item_id", "channel_sku_id", name=op.f("uq_shop_listings_shop")),
    )
    op.create_index("ix_shop_listings_outcome", "shop_listings", ["shop", "outcome"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shop_listings_outcome", table_name="shop_listings")
    op.drop_table("shop_listings")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("bound_at")
        batch_op.drop_column("bound_by")
        batch_op.drop_column("source")
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.drop_column("updated_by")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("active")
