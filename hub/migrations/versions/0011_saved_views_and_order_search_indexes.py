"""Saved views on the console's lists, and indexes that keep the orders screen fast at 100,000 orders.

New table ``saved_views`` (owner, screen, name unique; the filters as JSON; shared or not). New
indexes: ``ix_orders_buyer`` (buyer nick, id) and ``ix_order_lines_sku`` now (merchant SKU,
order id), both with ``varchar_pattern_ops`` on PostgreSQL so "starts with" searches use them
whatever the database's collation; ``ix_orders_on_hold`` (id) over held orders only;
``ix_order_holds_open_orders`` (code, order id) over holds not yet released. On
PostgreSQL the two searched columns keep finer statistics (1,000) so the planner tells a rare
prefix from a common one. Measured in ``bench/console_orders.py``. Written by hand.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-11 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SEARCH_STATISTICS = 1000


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", _ID, nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("owner_name", sa.String(length=100), nullable=False),
        sa.Column("screen", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("owner", "screen", "name", name=op.f("uq_saved_views_owner")),
    )
    op.create_index("ix_orders_buyer", "orders", ["buyer_nick", "id"],
                    postgresql_ops={"buyer_nick": "varchar_pattern_ops"})
    op.create_index("ix_orders_on_hold", "orders", ["id"], postgresql_where=sa.text("on_hold"),
                    sqlite_where=sa.text("on_hold"))
    op.drop_index("ix_order_lines_sku", table_name="order_lines")
    op.create_index("ix_order_lines_sku", "order_lines", ["merchant_sku", "order_id"],
                    postgresql_ops={"merchant_sku": "varchar_pattern_ops"})
    op.create_index("ix_order_holds_open_orders", "order_holds", ["code", "order_id"],
                    postgresql_where=sa.text("released_at IS NULL"), sqlite_where=sa.text("released_at IS NULL"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE orders ALTER COLUMN buyer_nick SET STATISTICS {_SEARCH_STATISTICS}")
        op.execute(f"ALTER TABLE order_lines ALTER COLUMN merchant_sku SET STATISTICS {_SEARCH_STATISTICS}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE order_lines ALTER COLUMN merchant_sku SET STATISTICS -1")
        op.execute("ALTER TABLE orders ALTER COLUMN buyer_nick SET STATISTICS -1")
    op.drop_index("ix_order_holds_open_orders", table_name="order_holds")
    op.drop_index("ix_order_lines_sku", table_name="order_lines")
    op.create_index("ix_order_lines_sku", "order_lines", ["merchant_sku"])
    op.drop_index("ix_orders_on_hold", table_name="orders")
    op.drop_index("ix_orders_buyer", table_name="orders")
    op.drop_table("saved_views")
