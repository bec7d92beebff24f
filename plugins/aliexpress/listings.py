"""The shop's listings on AliExpress, for the hub's listing sync (capability ``LIST_LISTINGS``).

``aliexpress.solution.product.list.get`` pages the products on sale: one JSON parameter
``aeop_a_e_product_list_query`` with ``current_page``, ``page_size`` (under 100) and
``product_status_type`` = ``onSelling``; the answer is ``result{current_page, total_page,
product_count, aeop_a_e_product_display_d_t_o_list{item_display_dto[]{product_id, subject}}}``
[C: the TOP SDK models of the method]. A product's SKUs come from
``aliexpress.solution.product.info.get`` (``product_id``): ``result.aeop_ae_product_s_k_us`` with
``sku_code`` (the merchant code), ``id`` and ``ipm_sku_stock`` per SKU [U: the list wrapper is seen
as both ``aeop_ae_product_sku`` and ``global_aeop_ae_product_sku`` in public code; any single
wrapper is accepted]. The hub pushes AliExpress stock by ``sku_code``, so a listing's SKU id here
is its ``sku_code`` (the SKU ``id`` when the code is empty). Not for stock values.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from contracts import ChannelListing, ListingPage, ListingStatus
from hub.plugin_api import BadInputError
from plugins.aliexpress.mapping import listed

LIST_METHOD = "aliexpress.solution.product.list.get"
INFO_METHOD = "aliexpress.solution.product.info.get"
PAGE_SIZE = 50

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def listings_of_product(product_id: str, info: Mapping[str, Any], title: str = "") -> list[ChannelListing]:
    """The listings of one product from its ``product.info.get`` result (pure; table-tested)."""
    if not product_id:
        raise BadInputError("AliExpress product without product_id", field="product_id")
    out = []
    for sku in listed(info.get("aeop_ae_product_s_k_us")):
        code, sku_id = _text(sku.get("sku_code")), _text(sku.get("id"))
        stock = _text(sku.get("ipm_sku_stock") or sku.get("s_k_u_available_stock"))
        out.append(ChannelListing(channel_item_id=product_id, channel_sku_id=code or sku_id, merchant_code=code or None,
                                  title=title or _text(info.get("subject")),
                                  quantity=int(stock) if stock.isdigit() else None, status=ListingStatus.ON_SALE))
    return out


def _page(cursor: str | None) -> int:
    if cursor is None:
        return 1
    number = cursor.removeprefix("products:")
    if not number.isdigit() or int(number) < 1:
        raise BadInputError(f"not an AliExpress listing cursor: {cursor!r}", field="cursor")
    return int(number)


async def fetch_listings(call: Call, cursor: str | None, *, page_size: int = PAGE_SIZE) -> ListingPage:
    """One page of products on sale, each expanded into its SKUs."""
    page = _page(cursor)
    query = {"current_page": page, "page_size": page_size, "product_status_type": "onSelling"}
    body = await call(LIST_METHOD, {"aeop_a_e_product_list_query": json.dumps(query)})
    result = body.get("result") or {}
    products = listed(result.get("aeop_a_e_product_display_d_t_o_list"))
    listings: list[ChannelListing] = []
    for product in products:
        product_id = _text(product.get("product_id"))
        if not product_id:
            continue
        info = await call(INFO_METHOD, {"product_id": product_id})
        listings += listings_of_product(product_id, info.get("result") or {}, _text(product.get("subject")))
    more = bool(products) and page < int(result.get("total_page") or 0)
    return ListingPage(listings=listings, next_cursor=f"products:{page + 1}" if more else None)
