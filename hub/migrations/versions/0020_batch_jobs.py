"""Batch jobs: one request over many orders, run in the background with progress and a result per item.

Revision ID: 0020_batch_jobs
Revises: 0019_order_edits
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401

revision: str = "0020_batch_jobs"
down_revision: str | None = "0019_order_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass  # filled by H3 (batch operations)


def downgrade() -> None:
    pass
