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
    op.create_table(
        "order_tag_defs",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_tag_defs")),
        sa.UniqueConstraint("name", name=op.f("uq_order_tag_defs_name")),
    )
    op.create_table(
        "order_tag_links",
        sa.Column("order_id", ID, nullable=False),
        sa.Column("tag_id", ID, nullable=False),
        sa.Column("added_by", sa.String(length=120), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_tag_links_order_id_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["order_tag_defs.id"],
                                name=op.f("fk_order_tag_links_tag_id_order_tag_defs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "tag_id", name=op.f("pk_order_tag_links")),
    )
    op.create_index("ix_order_tag_links_tag", "order_tag_links", ["tag_id", "order_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_tag_links_tag", table_name="order_tag_links")
    op.drop_table("order_tag_links")
    op.drop_table("order_tag_defs")
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
