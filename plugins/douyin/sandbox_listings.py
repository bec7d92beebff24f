"""``product.listV2`` for the Douyin sandbox: the emulated shop's products (one per listing the
sandbox made, see ``ShopBook.listing``), paged from 1 as the connector reads them. ``sku.list`` is
in ``sandbox_api``. Status 0 is "on sale" [U: the codes, see ``plugins.douyin.listings``].
"""

from __future__ import annotations

from typing import Any

from plugins.douyin.sandbox_shop import ApiFailure, EmulatedShop, ShopBook


def product_list_v2(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    try:
        page, size = int(params.get("page", 1)), int(params.get("size", 10))
    except (TypeError, ValueError):
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "page and size must be integers") from None
    if page < 1 or not 1 <= size <= 100:
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "page from 1, size 1..100")
    with book.lock:
        products: dict[str, dict[str, Any]] = {}
        for sku in sorted(shop.skus.values(), key=lambda s: int(s.product_id)):
            products.setdefault(sku.product_id, {
                "product_id": int(sku.product_id), "product_id_str": sku.product_id, "name": sku.title,
                "status": 0, "check_status": 3, "create_time": sku.created, "update_time": sku.created})
        rows = list(products.values())
        return {"data": rows[(page - 1) * size: page * size], "total": len(rows), "page": page, "size": size}
