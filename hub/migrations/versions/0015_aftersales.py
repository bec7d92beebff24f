"""After-sales a merchant can work: the columns a case list filters and sorts on (applied, deadline,
amount, reason, version), what the hub recorded (goods received, resolution, replacement delivery,
alerted), and three tables: ``aftersale_lines``, ``aftersale_events`` (history) and
``aftersale_actions`` (decisions and their write-back, one per idempotency key); and
``defective_stock``: units that came back damaged, apart from sellable stock.

Revision ID: 0015_aftersales
Revises: 0014_merging
Create Date: 2026-12-05 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_aftersales"
down_revision: str | None = "0014_merging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("aftersales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("applied_at", TS, nullable=True))
        batch_op.add_column(sa.Column("deadline", TS, nullable=True))
        batch_op.add_column(sa.Column("refund_amount", sa.Numeric(18, 4), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("version", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("received", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("resolution", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("delivery_order_id", ID, nullable=True))
        batch_op.add_column(sa.Column("alerted_at", TS, nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_aftersales_open_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index("ix_aftersales_order", ["order_id"], unique=False)
        batch_op.create_index("ix_aftersales_applied", ["shop", "applied_at"], unique=False)
    op.execute("UPDATE aftersales SET applied_at = created_at WHERE applied_at IS NULL")

    op.create_table(
        "aftersale_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("aftersale_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("order_line_id", ID, nullable=True),
        sa.Column("line_external_id", sa.String(length=200), nullable=True),
        sa.Column("merchant_sku", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("refund_amount", sa.Numeric(18, 4), nullable=True),
        sa.Column("received_good", sa.Integer(), server_default="0", nullable=False),
        sa.Column("received_damaged", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["aftersale_id"], ["aftersales.id"],
                                name=op.f("fk_aftersale_lines_aftersale_id_aftersales"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aftersale_lines")),
        sa.UniqueConstraint("aftersale_id", "position", name=op.f("uq_aftersale_lines_aftersale_id")),
    )
    with op.batch_alter_table("aftersale_lines", schema=None) as batch_op:
        batch_op.create_index("ix_aftersale_lines_sku", ["merchant_sku"], unique=False)

    op.create_table(
        "aftersale_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("aftersale_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("old_status", sa.String(length=30), nullable=True),
        sa.Column("new_status", sa.String(length=30), nullable=True),
        sa.Column("cause", sa.String(length=50), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["aftersale_id"], ["aftersales.id"],
                                name=op.f("fk_aftersale_events_aftersale_id_aftersales"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aftersale_events")),
    )
    with op.batch_alter_table("aftersale_events", schema=None) as batch_op:
        batch_op.create_index("ix_aftersale_events_case", ["aftersale_id", "id"], unique=False)

    op.create_table(
        "aftersale_actions",
        sa.Column("id", ID, nullable=False),
        sa.Column("aftersale_id", ID, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["aftersale_id"], ["aftersales.id"],
                                name=op.f("fk_aftersale_actions_aftersale_id_aftersales"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aftersale_actions")),
        sa.UniqueConstraint("key", name=op.f("uq_aftersale_actions_key")),
    )
    with op.batch_alter_table("aftersale_actions", schema=None) as batch_op:
        batch_op.create_index("ix_aftersale_actions_case", ["aftersale_id", "id"], unique=False)
        batch_op.create_index("ix_aftersale_actions_state", ["state", "next_attempt_at"], unique=False)


    op.create_table(
        "defective_stock",
        sa.Column("id", ID, nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("merchant_sku", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_defective_stock")),
        sa.UniqueConstraint("location", "merchant_sku", name=op.f("uq_defective_stock_location")),
    )


def downgrade() -> None:
    op.drop_table("defective_stock")
    op.drop_table("aftersale_actions")
    op.drop_table("aftersale_events")
    op.drop_table("aftersale_lines")
    with op.batch_alter_table("aftersales", schema=None) as batch_op:
        batch_op.drop_index("ix_aftersales_applied")
        batch_op.drop_index("ix_aftersales_order")
        batch_op.drop_index("ix_aftersales_open_deadline")
        for column in ("decided_by", "alerted_at", "delivery_order_id", "resolution", "received", "version",
                       "reason", "currency", "refund_amount", "deadline", "applied_at"):
            batch_op.drop_column(column)
