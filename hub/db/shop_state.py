"""``contracts.ShopState`` backed by the database: small per-account values (tokens, cursors).

Each call opens its own short transaction, so a connector can save a refreshed token or a poll
cursor without being part of anyone else's unit of work. Not for large or structured data.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select

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
        await self.update({key: value})

    async def update(self, values: Mapping[str, str | None]) -> None:
        """Set several keys at once, ``None`` deleting one, in one transaction: both land or neither
        (a poll moves its window start and drops its page cursor together)."""
        kept = [{"shop": self.shop, "key": key, "value": value, "updated_at": utcnow()}
                for key, value in sorted(values.items()) if value is not None]
        dropped = sorted(key for key, value in values.items() if value is None)
        async with self.database.transaction() as session:
            if kept:
                await session.execute(
                    upsert(ShopStateRow, self.database.dialect, kept, conflict=["shop", "key"], update=["value"])
                )
            if dropped:
                await session.execute(
                    delete(ShopStateRow).where(ShopStateRow.shop == self.shop, ShopStateRow.key.in_(dropped))
                )
