"""What a shop lists: ``ChannelListing`` (one sellable SKU of an item, as the channel shows it) and
``ListingPage`` (one page of a shop's listings, with a cursor to the next).

Returned by a connector's ``fetch_listings`` (capability ``LIST_LISTINGS``); the hub's listing
sync binds each listing whose ``merchant_code`` names a catalogue SKU. Pure values, no I/O; not
for what the hub pushes to a listing (``contracts.inventory.ChannelStock``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ListingStatus(StrEnum):
    """Whether buyers can buy the listing now, in the hub's words."""

    ON_SALE = "on_sale"
    OFF_SALE = "off_sale"  # in the warehouse / delisted / offline
    UNKNOWN = "unknown"


class ChannelListing(BaseModel):
    """One sellable SKU of an item in a shop.

    ``channel_item_id`` is the item / product id and ``channel_sku_id`` the SKU id in the same
    form the connector's order lines carry them (so a listing bound here is the one an order line
    names); ``channel_sku_id`` is ``""`` for an item without SKUs. ``merchant_code`` is the
    merchant's code for the SKU (Taobao/Tmall ``outer_id``, Douyin ``code``, AliExpress
    ``sku_code``), ``None`` when the seller left it empty.
    """

    model_config = ConfigDict(frozen=True)

    channel_item_id: str = Field(min_length=1)
    channel_sku_id: str = ""
    merchant_code: str | None = None
    title: str = ""
    quantity: int | None = Field(default=None, description="What the listing shows now, when the platform says.")
    status: ListingStatus = ListingStatus.UNKNOWN


class ListingPage(BaseModel):
    """One page of a shop's listings; pass ``next_cursor`` back until it is ``None``."""

    model_config = ConfigDict(frozen=True)

    listings: list[ChannelListing] = Field(default_factory=list)
    next_cursor: str | None = None
