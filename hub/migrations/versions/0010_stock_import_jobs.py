"""Stock import jobs: a stock file uploaded in the console, applied in batches with its progress.

New table ``stock_import_jobs``: the file's SHA-256 and attempt number (unique together, so the
same file is never imported twice by accident), who uploaded it, its validated rows (JSON), how
many are applied (moved in the same transaction as each batch), the state, the running summary
and the error that stopped it. Written by hand.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stock_import_jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("on_hand_delta", sa.Integer(), nullable=False),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("shops", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_row", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_import_jobs")),
        sa.UniqueConstraint("file_sha256", "attempt", name=op.f("uq_stock_import_jobs_file_sha256")),
    )


def downgrade() -> None:
    op.drop_table("stock_import_jobs")
