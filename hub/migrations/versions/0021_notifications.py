"""Notifications: deliveries (retried, deduplicated, recorded) and the unpaid-order reminders.

Revision ID: 0021_notifications
Revises: 0020_batch_jobs
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401

revision: str = "0021_notifications"
down_revision: str | None = "0020_batch_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass  # filled by H5 (notifications)


def downgrade() -> None:
    pass
