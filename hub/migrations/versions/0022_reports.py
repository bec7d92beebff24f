"""Reports: a parcel's own freight (from its waybill) for gross profit. Cost price per SKU and the
order's platform fees and province came with the operations foundation; reports read orders by
indexed columns, no rollup tables.

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


def upgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.add_column(sa.Column("freight", sa.Numeric(18, 4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parcels") as batch:
        batch.drop_column("freight")
