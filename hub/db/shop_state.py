"""``contracts.ShopState`` backed by the database: small per-account values (tokens, cursors).

Each call opens its own short transaction, so a connector can save a refreshed token or a poll
cursor without being part of anyone else's unit of work. Not for large or structured data.
"""

from __future__ import annotations

from sqlalchemy import select

from hub.db.engine import Database
from hub.db.tables import ShopStateRow, utcnow
from hub.db.upsert import upsert


class DbShopState:
    """Key/value state for one account (``shop`` is the hub's account key, e.g. ``channel:tb-1``)."""

    def __init__(self, database: Database, shop: str) -> None:
        self.database = database
        self.shop = shop

    async def get(self, key: str) -> str | None:
        async with self.database.session() as session:
            return await session.scalar(
                select(ShopStateRow.value).where(ShopStateRow.shop == self.shop, ShopStateRow.key == key)
            )

    async def get_many(self, keys: list[str]) -> dict[str, str]:
        """The values of those ``keys`` that are set, in one query."""
        async with self.database.session() as session:
            rows = await session.execute(
                select(ShopStateRow.key, ShopStateRow.value).where(ShopStateRow.shop == self.shop,
                                                                   ShopStateRow.key.in_(keys))
            )
            return {key: value for key, value in rows.all()}

    async def set(self, key: str, value: str) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                upsert(
                    ShopStateRow,
                    self.database.dialect,
                    {"shop": self.shop, "key": key, "value": value, "updated_at": utcnow()},
                    conflict=["shop", "key"],
                    update=["value"],
                )
            )
