"""The shop's listings on Douyin, for the hub's listing sync (capability ``LIST_LISTINGS``).

``product.listV2`` pages the shop's products (``page`` from 1 [U: the public SDK examples count
from 1, unlike ``order.searchList``], ``size`` ≤ 100 [U], answer ``data{data[], total}`` with
``product_id`` (int64; ``product_id_str`` when present), ``name`` and ``status`` (0 on sale
[U: the other codes are read as off sale])). Each product's SKUs come from ``sku.list``
(``product_id``), the call the connector already uses to read stock back: ``id`` is the SKU id an
order line carries as ``sku_id``, ``code`` the merchant code (商家编码), ``stock_num`` what it shows.
Not for stock values (``connector.read_stock``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import ChannelListing, ListingPage, ListingStatus
from hub.plugin_api import BadInputError
from plugins.douyin.mapping import optional_id, text

LIST_METHOD = "product.listV2"
SKU_METHOD = "sku.list"
PAGE_SIZE = 100

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


def product_id_of(product: Mapping[str, Any]) -> str | None:
    return optional_id(product.get("product_id_str")) or optional_id(product.get("product_id"))


def listings_of_product(product: Mapping[str, Any], skus: list[Mapping[str, Any]]) -> list[ChannelListing]:
    """The listings of one product (pure; table-tested): one per SKU of ``sku.list``."""
    product_id = product_id_of(product)
    if product_id is None:
        raise BadInputError("Douyin product without product_id", field="product_id")
    status = ListingStatus.ON_SALE if text(product.get("status")) == "0" else ListingStatus.OFF_SALE
    out = []
    for sku in skus:
        sku_id = optional_id(sku.get("id"))
        if sku_id is None:
            continue
        stock = text(sku.get("stock_num"))
        out.append(ChannelListing(channel_item_id=product_id, channel_sku_id=sku_id,
                                  merchant_code=text(sku.get("code")) or None, title=text(product.get("name")),
                                  quantity=int(stock) if stock.lstrip("-").isdigit() else None, status=status))
    return out


def _page(cursor: str | None) -> int:
    if cursor is None:
        return 1
    number = cursor.removeprefix("products:")
    if not number.isdigit() or int(number) < 1:
        raise BadInputError(f"not a Douyin listing cursor: {cursor!r}", field="cursor")
    return int(number)


async def fetch_listings(call: Call, cursor: str | None, *, ids_as_strings: bool = False,
                         page_size: int = PAGE_SIZE) -> ListingPage:
    """One page of products, each expanded into its SKUs."""
    page = _page(cursor)
    data = await call(LIST_METHOD, {"page": page, "size": page_size})
    products = list((data or {}).get("data") or [])
    total = int(text((data or {}).get("total")) or 0)
    listings: list[ChannelListing] = []
    for product in products:
        product_id = product_id_of(product)
        if product_id is None:
            continue
        skus = await call(SKU_METHOD, {"product_id": product_id if ids_as_strings else int(product_id)})
        listings += listings_of_product(product, list(skus or []))
    more = bool(products) and page * page_size < total
    return ListingPage(listings=listings, next_cursor=f"products:{page + 1}" if more else None)
