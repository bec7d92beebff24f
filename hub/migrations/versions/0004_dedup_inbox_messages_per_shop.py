"""Deduplicate inbox messages per shop: unique on (platform, shop, message id).

Was unique on (platform, message id): two shops of one platform whose message ids collided kept
only the first shop's message. Existing rows stay (the old key is stricter, so they all satisfy
the new one). The downgrade refuses while some message id is stored for two shops of a platform,
rather than delete one of them. Written by hand, checked with ``alembic check``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_inbox_platform"
NEW = "uq_inbox_platform_shop_message_id"


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_constraint(OLD, type_="unique")
        batch_op.create_unique_constraint(NEW, ["platform", "shop", "message_id"])


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT platform, message_id FROM inbox "
        "GROUP BY platform, message_id HAVING count(*) > 1) AS shared"
    )).scalar_one()
    if shared:
        raise RuntimeError(
            f"cannot go below revision 0004: {shared} inbox message id(s) are stored for more than one shop "
            "of a platform, which the old (platform, message id) key forbids; delete the rows you can spare first"
        )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_constraint(NEW, type_="unique")
        batch_op.create_unique_constraint(OLD, ["platform", "message_id"])
