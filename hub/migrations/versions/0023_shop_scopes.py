"""Roles per shop: API keys and console users limited to some shops (no schema change of its own:
``api_keys.shops`` and ``users.shops`` came with 0018; kept so the revision chain is stable).

Revision ID: 0023_shop_scopes
Revises: 0022_reports
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401

revision: str = "0023_shop_scopes"
down_revision: str | None = "0022_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    pass  # the shops columns of api_keys and users came with 0018: nothing more is needed


def downgrade() -> None:
    pass
