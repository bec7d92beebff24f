"""Reports over a million orders in about a second: the rollups' days become dates (not text
compared by collation), each row carries its week and month (summing per bucket reads a column),
and buyers are counted by a 64-bit ``buyer_key`` instead of platform and nick (so the rollup holds
no nick), their spend an integer of 1/10,000 units. The rollups are derived data: the tables are
made again empty and the state row is dropped, so the next refresh (every minute, or ``hub reports
rebuild``) rebuilds them; until then the reports read ``orders``.

Revision ID: 0024_report_rollups_by_date
Revises: 0023_shop_scopes
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_report_rollups_by_date"
down_revision: str | None = "0023_shop_scopes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def _days() -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Date(), nullable=False) for name in ("day", "week", "month")]


def _drop() -> None:
    op.execute("DELETE FROM report_rollup_state")
    for table in ("report_buyer_days", "report_day_skus", "report_day_orders"):
        op.drop_table(table)


def upgrade() -> None:
    op.drop_index("ix_report_buyer_days_buyer", table_name="report_buyer_days")
    _drop()
    op.create_table(
        "report_day_orders",
        *_days(), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("province", sa.String(50), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "province", name="pk_report_day_orders"))
    op.create_table(
        "report_day_skus",
        *_days(), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("sku", sa.String(200), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "sku", name="pk_report_day_skus"))
    op.create_table(
        "report_buyer_days",
        *_days(), sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("shop", sa.String(100), nullable=False), sa.Column("buyer_key", sa.BigInteger(), nullable=False),
        sa.Column("spend_units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "platform", "shop", "buyer_key", name="pk_report_buyer_days"))


def downgrade() -> None:
    _drop()
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
