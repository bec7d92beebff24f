"""Channel listings bound to SKUs: which shop item sells which merchant SKU.

A listing is a shop's item (and SKU id there) selling one merchant SKU; binding one also creates
its ``channel_stock`` row, dirty, so the next push sets its value. Inside the caller's
transaction. Not for pulling a shop's listings (``hub.services.listings``) nor for what a listing
shows (``push``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import ChannelStockRow, ListingRow
from hub.db.upsert import insert_ignore
from hub.services.stock.skus import require_skus


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _now() -> datetime:
    return datetime.now(UTC)


async def add_listing(
    session: AsyncSession,
    shop: str,
    merchant_sku: str,
    channel_item_id: str,
    channel_sku_id: str = "",
    policy: Mapping[str, Any] | None = None,
) -> int:
    """Record that ``merchant_sku`` is listed in ``shop``; returns the listing id (idempotent).

    The listing starts dirty, so the next push sets its value in the shop.
    """
    await require_skus(session, [merchant_sku], "merchant_sku")
    dialect = _dialect(session)
    await session.execute(insert_ignore(ListingRow, dialect).values(
        shop=shop, merchant_sku=merchant_sku, channel_item_id=channel_item_id, channel_sku_id=channel_sku_id,
        policy=dict(policy or {}),
    ))
    listing_id = await session.scalar(select(ListingRow.id).where(
        ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
        ListingRow.channel_sku_id == channel_sku_id,
    ))
    assert listing_id is not None
    await session.execute(insert_ignore(ChannelStockRow, dialect).values(
        listing_id=listing_id, shop=shop, merchant_sku=merchant_sku, dirty=True, dirty_since=_now(),
    ))
    return int(listing_id)


async def find_listing(
    session: AsyncSession, shop: str, merchant_sku: str | None, channel_item_id: str | None,
    channel_sku_id: str | None,
) -> int | None:
    """The listing an order line was bought from: by channel ids, else the shop's only listing of the SKU."""
    if channel_item_id:
        found = await session.scalar(select(ListingRow.id).where(
            ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
            ListingRow.channel_sku_id == (channel_sku_id or "")))
        if found is not None:
            return int(found)
    if merchant_sku:
        ids = list((await session.execute(select(ListingRow.id).where(
            ListingRow.shop == shop, ListingRow.merchant_sku == merchant_sku))).scalars())
        if len(ids) == 1:
            return int(ids[0])
    return None


async def listing_sku(
    session: AsyncSession, shop: str, channel_item_id: str | None, channel_sku_id: str | None
) -> str | None:
    """The merchant SKU behind a channel listing, for order lines that carry only channel ids."""
    if not channel_item_id:
        return None
    return await session.scalar(select(ListingRow.merchant_sku).where(
        ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
        ListingRow.channel_sku_id == (channel_sku_id or "")))
