"""Dimensions a report groups by: none, channel (platform), shop, SKU, province. Each names the SQL
key of a row; the SKU dimension also needs the order lines joined. Not for what is counted.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, literal

from hub.db.tables import OrderLineRow, OrderRow

Dimension = Literal["none", "channel", "shop", "sku", "province"]
DIMENSIONS: tuple[Dimension, ...] = ("none", "channel", "shop", "sku", "province")
#: The key of rows whose province (or SKU) is unknown.
UNKNOWN = ""


def key_sql(dimension: Dimension) -> Any:
    """The SQL of a row's key for ``dimension`` (orders joined with lines for ``sku``)."""
    if dimension == "channel":
        return OrderRow.platform
    if dimension == "shop":
        return OrderRow.shop
    if dimension == "province":
        return func.coalesce(OrderRow.province, UNKNOWN)
    if dimension == "sku":
        return func.coalesce(OrderLineRow.merchant_sku, UNKNOWN)
    return literal(UNKNOWN)
