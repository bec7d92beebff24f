"""Reports: cost price per SKU, freight and platform fees, and the rollups reports read.

Revision ID: 0022_reports
Revises: 0021_notifications
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401

revision: str = "0022_reports"
down_revision: str | None = "0021_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass  # filled by H6 (reports)


def downgrade() -> None:
    pass
