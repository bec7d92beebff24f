"""Reports: a parcel's own freight (from its waybill) for gross profit; the daily rollups the reports
read (orders per day × shop × province, per day × shop × SKU, buyers' spend per day × shop) and their
state; indexes on ``updated_at`` of orders, cases and parcels so the refresh finds what changed.
Cost price per SKU and the order's platform fees and province came with the operations foundation.

Revision ID: 0022_reports
Revises: 0021_notifications
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_reports"
down_revision: str | None = "0021_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


STATUSES = ("pending_payment", "paid", "partially_shipped", "shipped", "delivered", "completed", "cancelled",
            "closed")


def _figures() -> list[sa.Column[object]]:
    money = sa.Numeric(18, 4)
    counts = ["orders", "paid_orders", "sales_orders"]
    columns: list[sa.Column[object]] = [sa.Column(c, sa.Integer(), nullable=False) for c in counts]
    columns += [sa.Column("sales", money, nullable=False), sa.Column("units", sa.BigInteger(), nullable=False)]
    columns += [sa.Column(c, sa.Integer(), nullable=False)
                for c in ("cancelled", "refunded_orders", "returned_orders", *[f"n_{s}" for s in STATUSES])]
    columns += [sa.Column("cost", money, nullable=False), sa.Column("lines_without_cost", sa.Integer(), nullable=False),
                sa.Column("freight", money, nullable=False), sa.Column("fees", money, nullable=False),
                sa.Column("orders_with_fees", sa.Integer(), nullable=False)]
    return columns


def upgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.add_column(sa.Column("freight", sa.Numeric(18, 4), nullable=True))
    op.create_table(
        "report_day_orders",
        sa.Column("day", sa.String(10), nullable=False), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("province", sa.String(50), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "province", name="pk_report_day_orders"))
    op.create_table(
        "report_day_skus",
        sa.Column("day", sa.String(10), nullable=False), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("sku", sa.String(200), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "sku", name="pk_report_day_skus"))
    op.create_table(
        "report_buyer_days",
        sa.Column("day", sa.String(10), nullable=False), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("buyer_nick", sa.String(200), nullable=False),
        sa.Column("spend", sa.Numeric(18, 4), nullable=False),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "buyer_nick", name="pk_report_buyer_days"))
    op.create_index("ix_report_buyer_days_buyer", "report_buyer_days", ["platform", "buyer_nick", "day"])
    op.create_table(
        "report_rollup_state",
        sa.Column("name", sa.String(30), nullable=False), sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("settings_hash", sa.String(64), nullable=False), sa.Column("rolled_to", TS, nullable=False),
        sa.Column("refreshed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_report_rollup_state"))
    op.create_index("ix_orders_updated", "orders", ["updated_at"])
    op.create_index("ix_aftersales_updated", "aftersales", ["updated_at"])
    op.create_index("ix_parcels_updated", "parcels", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_parcels_updated", table_name="parcels")
    op.drop_index("ix_aftersales_updated", table_name="aftersales")
    op.drop_index("ix_orders_updated", table_name="orders")
    op.drop_table("report_rollup_state")
    op.drop_index("ix_report_buyer_days_buyer", table_name="report_buyer_days")
    op.drop_table("report_buyer_days")
    op.drop_table("report_day_skus")
    op.drop_table("report_day_orders")
    with op.batch_alter_table("parcels") as batch:
        batch.drop_column("freight")
