"""The shop's listings over TOP, for the hub's listing sync (capability ``LIST_LISTINGS``); shared
by Taobao and Tmall, whose items are read the same way.

``taobao.items.onsale.get`` pages the items on sale (fields limited to the item's own:
``num_iid,title,num,outer_id,approve_status``; at most 200 per page [C: TOP docs, the ``fields``
and ``page_size`` notes]; paging past page_no × page_size = 20,000 is refused, so a bigger shop
needs a modified-time filter, which this does not do yet). SKUs are not in that answer ("use
taobao.item.seller.get"): ``taobao.items.seller.list.get`` reads up to 20 items per call with the
``sku`` field (the field name is ``sku``, not ``skus``; the answer nests them as ``skus.sku[]``
[U: the wrapper key, as ``taobao.item.seller.get`` answers it]). Every SKU is one listing with its
``outer_id`` (the SKU's merchant code); an item without SKUs is one listing with the item's
``outer_id`` and an empty SKU id. Not for stock values (``connector.read_stock``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from contracts import ChannelListing, ListingPage, ListingStatus
from hub.plugin_api import BadInputError
from plugins.taobao.client import unwrap_list

ONSALE_METHOD = "taobao.items.onsale.get"
DETAIL_METHOD = "taobao.items.seller.list.get"
ONSALE_FIELDS = "num_iid,title,num,outer_id,approve_status"
DETAIL_FIELDS = "num_iid,title,num,outer_id,approve_status,sku"
PAGE_SIZE = 200
ITEMS_PER_DETAIL_CALL = 20
STATUS = {"onsale": ListingStatus.ON_SALE, "instock": ListingStatus.OFF_SALE}


class TopCaller(Protocol):
    async def call(self, method: str, params: dict[str, Any], *, retry: bool = True) -> dict[str, Any]: ...


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _quantity(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def listings_of_item(item: Mapping[str, Any]) -> list[ChannelListing]:
    """The listings of one TOP item (pure; table-tested): one per SKU, or the item itself."""
    num_iid = _text(item.get("num_iid"))
    if not num_iid:
        raise BadInputError("TOP item without num_iid", field="num_iid")
    title = _text(item.get("title"))
    status = STATUS.get(_text(item.get("approve_status")), ListingStatus.ON_SALE)
    skus = unwrap_list(item.get("skus"))
    if not skus:
        return [ChannelListing(channel_item_id=num_iid, merchant_code=_text(item.get("outer_id")) or None,
                               title=title, quantity=_quantity(item.get("num")), status=status)]
    return [ChannelListing(channel_item_id=num_iid, channel_sku_id=_text(sku.get("sku_id")),
                           merchant_code=_text(sku.get("outer_id")) or None, title=title,
                           quantity=_quantity(sku.get("quantity")), status=status) for sku in skus]


def _page(cursor: str | None) -> int:
    if cursor is None:
        return 1
    try:
        page = int(cursor.removeprefix("items:"))
    except ValueError:
        page = 0
    if page < 1:
        raise BadInputError(f"not a TOP listing cursor: {cursor!r}", field="cursor")
    return page


async def fetch_listings(client: TopCaller, cursor: str | None, *, page_size: int = PAGE_SIZE) -> ListingPage:
    """One page of items on sale, each expanded into its SKUs."""
    page = _page(cursor)
    body = await client.call(ONSALE_METHOD, {"fields": ONSALE_FIELDS, "page_no": page, "page_size": page_size})
    items = unwrap_list(body.get("items"))
    total = int(body.get("total_results") or 0)
    listings: list[ChannelListing] = []
    ids = [_text(i.get("num_iid")) for i in items if _text(i.get("num_iid"))]
    for start in range(0, len(ids), ITEMS_PER_DETAIL_CALL):
        listings += await _detailed(client, ids[start:start + ITEMS_PER_DETAIL_CALL])
    more = page * page_size < total and bool(items)
    return ListingPage(listings=listings, next_cursor=f"items:{page + 1}" if more else None)


async def _detailed(client: TopCaller, num_iids: Sequence[str]) -> list[ChannelListing]:
    body = await client.call(DETAIL_METHOD, {"fields": DETAIL_FIELDS, "num_iids": ",".join(num_iids)})
    out: list[ChannelListing] = []
    for item in unwrap_list(body.get("items")):
        out += listings_of_item(item)
    return out
