"""The item-listing methods of the Taobao (and Tmall) sandbox: ``taobao.items.onsale.get`` and
``taobao.items.seller.list.get``, answered from the sandbox shop's items the way the connector's
``plugins.taobao.listings`` reads them. Kept apart from ``sandbox.py`` so the order and stock
emulation stays readable; ``TaobaoSandbox.handlers`` registers these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plugins.taobao.top_gateway import TopCall, invalid

if TYPE_CHECKING:
    from plugins.taobao.sandbox import SandboxItem, TaobaoSandbox

MAX_PAGE_SIZE = 200
MAX_DETAIL_IDS = 20


def _item_fields(item: SandboxItem, with_skus: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"num_iid": int(item.num_iid), "title": item.title, "num": item.total(),
                            "outer_id": item.outer_id, "approve_status": "onsale"}
    if with_skus and item.skus:
        body["skus"] = {"sku": [{"sku_id": int(s.sku_id), "outer_id": s.outer_id, "quantity": s.quantity}
                                for s in item.skus.values()]}
    return body


def listing_handlers(sandbox: TaobaoSandbox) -> dict[str, Callable[[TopCall], dict[str, Any]]]:
    """The two methods, bound to ``sandbox``'s shops."""

    def onsale_get(call: TopCall) -> dict[str, Any]:
        call.require("fields")
        page, size = call.integer("page_no", 1), call.integer("page_size", 40)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise invalid("page_size", f"page_no from 1, page_size 1..{MAX_PAGE_SIZE}")
        items = sorted(sandbox.shops[str(call.shop)].items.values(), key=lambda i: int(i.num_iid))
        chunk = items[(page - 1) * size: page * size]
        return {"items": {"item": [_item_fields(i, with_skus=False) for i in chunk]}, "total_results": len(items)}

    def seller_list_get(call: TopCall) -> dict[str, Any]:
        fields = call.require("fields").split(",")
        ids = [i for i in call.require("num_iids").split(",") if i]
        if len(ids) > MAX_DETAIL_IDS:
            raise invalid("num_iids", f"at most {MAX_DETAIL_IDS} num_iids per call")
        shop = sandbox.shops[str(call.shop)]
        # Like TOP: an unknown or foreign num_iid is silently left out.
        found = [shop.items[i] for i in ids if i in shop.items]
        return {"items": {"item": [_item_fields(i, with_skus="sku" in fields) for i in found]}}

    return {"taobao.items.onsale.get": onsale_get, "taobao.items.seller.list.get": seller_list_get}
