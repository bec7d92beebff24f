"""Failed console sign-ins per user name (and per address for API keys), so guessing a password
is refused after ``[console] sign_in_max_failures`` tries: ``sign_in_failures``.

Revision ID: 0016_sign_in_failures
Revises: 0015_aftersales
Create Date: 2026-12-05 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_sign_in_failures"
down_revision: str | None = "0015_aftersales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
        sa.UniqueConstraint("subject", name=op.f("uq_sign_in_failures_subject")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
