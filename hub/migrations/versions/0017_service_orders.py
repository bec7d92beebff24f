"""Service orders a merchant can work: the ``service_orders`` columns for the order (its platform id) and line, goods,
service code, region, expected date, appointment, technician, service-level deadlines and state,
platform alerts, lifecycle times, rating and version; and four tables: ``technicians`` (the
registry), ``service_order_events`` (history), ``service_order_writes`` (steps written back, one
per idempotency key) and ``service_alerts`` (a platform's SLA alerts, once each).

Statuses stored before this revision are renamed to the new lifecycle: ``open`` → ``new``,
``in_progress`` → ``on_site``.

Revision ID: 0017_service_orders
Revises: 0016_sign_in_failures
Create Date: 2026-12-05 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_service_orders"
down_revision: str | None = "0016_sign_in_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

NEW_TIMES = ("expected_at", "appointment_start", "appointment_end", "contact_due_at", "onsite_due_at",
             "complete_due_at", "due_at", "alerted_at", "assigned_at", "booked_at", "on_site_at", "closed_at")


def upgrade() -> None:
    op.create_table(
        "technicians",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mobile", sa.String(length=30), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("work_days", sa.JSON(), nullable=False),
        sa.Column("work_start", sa.String(length=5), nullable=False),
        sa.Column("work_end", sa.String(length=5), nullable=False),
        sa.Column("daily_capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technicians")),
        sa.UniqueConstraint("code", name=op.f("uq_technicians_code")),
    )
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("order_line_id", ID, nullable=True))
        batch_op.add_column(sa.Column("line_external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("merchant_sku", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("product_title", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("quantity", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("service_code", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=20), server_default="channel", nullable=False))
        batch_op.add_column(sa.Column("region_province", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("region_city", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("region_district", sa.String(length=100), nullable=True))
        for name in NEW_TIMES:
            batch_op.add_column(sa.Column(name, TS, nullable=True))
        batch_op.add_column(sa.Column("technician_id", ID, nullable=True))
        batch_op.add_column(sa.Column("due_milestone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sla_state", sa.String(length=20), server_default="ok", nullable=False))
        batch_op.add_column(sa.Column("alert_level", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("completion_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(op.f("fk_service_orders_technician_id_technicians"), "technicians",
                                    ["technician_id"], ["id"])
        batch_op.create_index("ix_service_orders_status", ["status", "id"], unique=False)
        batch_op.create_index("ix_service_orders_technician", ["technician_id", "status"], unique=False)
        batch_op.create_index("ix_service_orders_due", ["due_at"], unique=False)
        batch_op.create_index("ix_service_orders_order_ref", ["platform", "shop", "order_external_id"], unique=False)
    op.execute("UPDATE service_orders SET status = 'new' WHERE status = 'open'")
    op.execute("UPDATE service_orders SET status = 'on_site' WHERE status = 'in_progress'")

    op.create_table(
        "service_order_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("service_order_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("old_status", sa.String(length=30), nullable=True),
        sa.Column("new_status", sa.String(length=30), nullable=True),
        sa.Column("cause", sa.String(length=50), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["service_order_id"], ["service_orders.id"],
                                name=op.f("fk_service_order_events_service_order_id_service_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_order_events")),
    )
    with op.batch_alter_table("service_order_events", schema=None) as batch_op:
        batch_op.create_index("ix_service_order_events_order", ["service_order_id", "id"], unique=False)

    op.create_table(
        "service_order_writes",
        sa.Column("id", ID, nullable=False),
        sa.Column("service_order_id", ID, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["service_order_id"], ["service_orders.id"],
                                name=op.f("fk_service_order_writes_service_order_id_service_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_order_writes")),
        sa.UniqueConstraint("key", name=op.f("uq_service_order_writes_key")),
    )
    with op.batch_alter_table("service_order_writes", schema=None) as batch_op:
        batch_op.create_index("ix_service_order_writes_order", ["service_order_id", "id"], unique=False)
        batch_op.create_index("ix_service_order_writes_state", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "service_alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=50), nullable=False),
        sa.Column("shop", sa.String(length=100), nullable=False),
        sa.Column("alert_id", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("service_order_id", ID, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("content", sa.String(length=1000), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["service_order_id"], ["service_orders.id"],
                                name=op.f("fk_service_alerts_service_order_id_service_orders"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_alerts")),
        sa.UniqueConstraint("platform", "shop", "alert_id", name=op.f("uq_service_alerts_platform")),
    )
    with op.batch_alter_table("service_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_service_alerts_order", ["service_order_id"], unique=False)


def downgrade() -> None:
    op.drop_table("service_alerts")
    op.drop_table("service_order_writes")
    op.drop_table("service_order_events")
    op.execute("UPDATE service_orders SET status = 'open' WHERE status = 'new'")
    op.execute("UPDATE service_orders SET status = 'assigned' WHERE status = 'booked'")
    op.execute("UPDATE service_orders SET status = 'in_progress' WHERE status = 'on_site'")
    op.execute("UPDATE service_orders SET status = 'cancelled' WHERE status = 'failed'")
    with op.batch_alter_table("service_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_service_orders_order_ref")
        batch_op.drop_index("ix_service_orders_due")
        batch_op.drop_index("ix_service_orders_technician")
        batch_op.drop_index("ix_service_orders_status")
        batch_op.drop_constraint(op.f("fk_service_orders_technician_id_technicians"), type_="foreignkey")
        for name in ("created_by", "version", "reason", "completion_note", "rating", "alert_level", "sla_state",
                     "due_milestone", "technician_id", *reversed(NEW_TIMES), "region_district", "region_city",
                     "region_province", "origin", "service_code", "quantity", "product_title", "merchant_sku",
                     "line_external_id", "order_line_id", "order_external_id"):
            batch_op.drop_column(name)
    op.drop_table("technicians")
