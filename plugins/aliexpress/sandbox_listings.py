"""The product-listing methods of the AliExpress sandbox: ``aliexpress.solution.product.list.get``
and ``aliexpress.solution.product.info.get``, answered from the sandbox shop's listings (product →
SKU code → stock) in the shapes ``plugins.aliexpress.listings`` reads. The SKU list wrapper
(``aeop_ae_product_sku``) and the SKU ``id`` format are the sandbox's choice [U]. Kept apart from
``sandbox.py``; ``AliExpressSandbox._dispatch`` registers these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plugins.aliexpress.sandbox_errors import SandboxError

if TYPE_CHECKING:
    from plugins.aliexpress.sandbox import SbShop

Handler = Callable[["SbShop", dict[str, str]], dict[str, Any]]


def _product_list(box: SbShop, form: dict[str, str]) -> dict[str, Any]:
    query = json.loads(form.get("aeop_a_e_product_list_query") or "{}")
    page, size = int(query.get("current_page") or 1), int(query.get("page_size") or 20)
    if page < 1 or not 1 <= size < 100:
        raise SandboxError("ISV", "isv.invalid-parameter", "current_page from 1, page_size under 100",
                           top_code=41, sub_code="isv.invalid-parameter")
    ids = sorted(box.listings, key=int)
    chunk = ids[(page - 1) * size: page * size]
    dtos = [{"product_id": int(pid), "subject": f"Sandbox product {pid}"} for pid in chunk]
    return {"result": {"success": True, "current_page": page, "product_count": len(ids),
                       "total_page": max(1, -(-len(ids) // size)),
                       "aeop_a_e_product_display_d_t_o_list": {"item_display_dto": dtos}}}


def _product_info(box: SbShop, form: dict[str, str]) -> dict[str, Any]:
    pid = str(form.get("product_id") or "")
    skus = box.listings.get(pid)
    if skus is None:
        raise SandboxError("ISV", "product_not_found", f"product {pid} not found", top_code=15,
                           sub_code="isv.product-not-found")
    rows = [{"id": f"{index}:{pid}", "sku_code": code, "ipm_sku_stock": stock}
            for index, (code, stock) in enumerate(sorted(skus.items()), start=1)]
    return {"result": {"product_id": int(pid), "subject": f"Sandbox product {pid}",
                       "product_status_type": "onSelling", "aeop_ae_product_s_k_us": {"aeop_ae_product_sku": rows}}}


def listing_handlers() -> dict[str, Handler]:
    return {"aliexpress.solution.product.list.get": _product_list,
            "aliexpress.solution.product.info.get": _product_info}
