"""Operations on orders: priority, the seller's flag, platform fees and keyed hashes of the
recipient's name and phone for search (with the indexes the work queues sort by); a cost price per
SKU; the shops an API key or console user is limited to. Then search's own tables (user tags).

Revision ID: 0018_search_and_tags
Revises: 0017_service_orders
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_search_and_tags"
down_revision: str | None = "0017_service_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


HASHES = ("recipient_hash", "phone_hash", "phone_last4_hash")
SORTS = {"ix_orders_priority": ["priority", "id"], "ix_orders_amount": ["total_amount", "id"],
         "ix_orders_paid": ["paid_at", "id"], "ix_orders_province": ["province", "channel_created_at"]}


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("seller_flag", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("platform_fee", sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column("province", sa.String(length=50), nullable=True))
        for name in HASHES:
            batch_op.add_column(sa.Column(name, sa.String(length=64), nullable=True))
    for name, columns in SORTS.items():
        op.create_index(name, "orders", columns, unique=False)
    for name in HASHES:
        op.create_index(f"ix_orders_{name}", "orders", [name], unique=False)
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost_price", sa.Numeric(precision=18, scale=4), nullable=True))
    for table in ("api_keys", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("shops", sa.JSON(), nullable=True))
    # search's own tables follow


def downgrade() -> None:
    for table in ("api_keys", "users"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("shops")
    with op.batch_alter_table("skus", schema=None) as batch_op:
        batch_op.drop_column("cost_price")
    for name in HASHES:
        op.drop_index(f"ix_orders_{name}", table_name="orders")
    for name in SORTS:
        op.drop_index(name, table_name="orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        for name in ("priority", "seller_flag", "platform_fee", "province", *HASHES):
            batch_op.drop_column(name)
