"""Dimensions a report groups by: none, channel (platform), shop, SKU, province; the rollups keep
the platform, shop and province (``report_day_orders``) or SKU (``report_day_skus``) of each row.
Not for what is counted.
"""

from __future__ import annotations

from typing import Literal

Dimension = Literal["none", "channel", "shop", "sku", "province"]
DIMENSIONS: tuple[Dimension, ...] = ("none", "channel", "shop", "sku", "province")
#: The key of rows whose province (or SKU) is unknown.
UNKNOWN = ""
