"""Index the exceptions queue: open holds by code, and dead letters not yet replayed by actor.

Two partial indexes (PostgreSQL and SQLite both support ``WHERE``): ``ix_order_holds_open`` on
``order_holds (code, id) WHERE released_at IS NULL`` for the grouped count of open holds and the
paged list under each code, and ``ix_dead_letters_open`` on ``dead_letters (actor, id) WHERE
replayed_at IS NULL`` for the list filtered by actor and "replay all of this actor". Only indexes:
nothing stored changes, so the downgrade drops them. Written by hand.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-11 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_HOLDS = "ix_order_holds_open"
OPEN_LETTERS = "ix_dead_letters_open"


def upgrade() -> None:
    op.create_index(OPEN_HOLDS, "order_holds", ["code", "id"], postgresql_where=sa.text("released_at IS NULL"),
                    sqlite_where=sa.text("released_at IS NULL"))
    op.create_index(OPEN_LETTERS, "dead_letters", ["actor", "id"], postgresql_where=sa.text("replayed_at IS NULL"),
                    sqlite_where=sa.text("replayed_at IS NULL"))


def downgrade() -> None:
    op.drop_index(OPEN_LETTERS, table_name="dead_letters")
    op.drop_index(OPEN_HOLDS, table_name="order_holds")
