"""Order edits with a record, the approval queue for money changes, and their write-back.

Revision ID: 0019_order_edits
Revises: 0018_search_and_tags
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401

revision: str = "0019_order_edits"
down_revision: str | None = "0018_search_and_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass  # filled by H2 (edits, approvals, cancellation)


def downgrade() -> None:
    pass
