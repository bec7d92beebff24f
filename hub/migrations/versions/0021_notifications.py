"""Notifications: deliveries (retried, deduplicated, recorded) and the unpaid-order reminders.

Revision ID: 0021_notifications
Revises: 0020_batch_jobs
Create Date: 2026-12-05 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_notifications"
down_revision: str | None = "0020_batch_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", ID, primary_key=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("shop", sa.String(100)),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500)),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("resent_by", sa.String(100)),
        sa.UniqueConstraint("channel", "dedup_key"),
    )
    op.create_index("ix_notification_deliveries_due", "notification_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_notification_deliveries_created", "notification_deliveries", ["created_at"])
    op.create_table(
        "unpaid_reminders",
        sa.Column("order_id", ID, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reminded_at", TS, nullable=False),
        sa.Column("reminded_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("unpaid_reminders")
    op.drop_index("ix_notification_deliveries_created", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_due", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
