"""The gateway methods the Douyin sandbox answers, as plain functions over a ``ShopBook``.

Each takes the emulated shop and the decoded ``param_json`` and returns the envelope's ``data``,
or raises ``ApiFailure`` with the code a real gateway would use. Not for signatures, tokens or
faults (``sandbox.py`` checks those before dispatching here); the after-sale methods live in
``sandbox_aftersales``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.douyin.sandbox_aftersales import (
    aftersale_detail,
    aftersale_list,
    fill_logistics,
    operate,
    reject_reason_code_list,
)
from plugins.douyin.sandbox_listings import product_list_v2
from plugins.douyin.sandbox_order_edits import HANDLERS as order_edit_handlers
from plugins.douyin.sandbox_shop import (
    SANDBOX_COMPANIES,
    ApiFailure,
    EmulatedShop,
    ShopBook,
    decipher,
)
from plugins.douyin.sandbox_waybill import cancel_order, new_create_order

Handler = Callable[[ShopBook, EmulatedShop, dict[str, Any]], Any]


def _int(params: dict[str, Any], key: str, default: int | None = None) -> int:
    value = params.get(key, default)
    if value is None or value == "":
        raise ApiFailure(40001, "isv.missing-parameter", "缺少参数", f"{key} is required")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", f"{key} must be an integer") from None


def _page(params: dict[str, Any]) -> tuple[int, int]:
    page, size = _int(params, "page", 0), _int(params, "size", 10)
    if page < 0 or not 1 <= size <= 100:
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "page from 0, size 1..100")
    return page, size


def search_list(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``order.searchList``: every time range given applies (create and update, Unix seconds, ends
    included), sorted by ``order_by`` (``create_time`` by default), newest first unless
    ``order_asc``; ``page`` from 0, ``size`` 1–100."""
    page, size = _page(params)
    ranges = [(field, _int(params, f"{field}_start", 0), _int(params, f"{field}_end", 2**62))
              for field in ("create_time", "update_time")
              if f"{field}_start" in params or f"{field}_end" in params]
    order_by = "update_time" if params.get("order_by") == "update_time" else "create_time"

    def at(order: Any, field: str) -> int:
        return int(order.updated if field == "update_time" else order.created)

    with book.lock:
        chosen = [o for o in shop.orders.values() if all(lo <= at(o, field) <= hi for field, lo, hi in ranges)]
        chosen.sort(key=lambda o: (at(o, order_by), o.order_id), reverse=not params.get("order_asc", False))
        window = chosen[page * size:(page + 1) * size]
        return {"page": page, "size": size, "total": len(chosen),
                "shop_order_list": [book.render_order(shop, o) for o in window]}


def order_detail(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        order = book.order(shop.name, str(params.get("shop_order_id") or ""))
        return {"shop_order_detail": book.render_order(shop, order)}


def _company(code: str) -> None:
    if code not in {c["code"] for c in SANDBOX_COMPANIES}:
        raise ApiFailure(40004, "isv.parameter-invalid", "物流公司不存在", f"company_code {code!r} unknown")


def logistics_add(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        order = book.order(shop.name, str(params.get("order_id") or ""))
        code, tracking = str(params.get("company_code") or ""), str(params.get("logistics_code") or "")
        if not code or not tracking:
            raise ApiFailure(40001, "isv.missing-parameter", "缺少参数", "company_code and logistics_code required")
        _company(code)
        if order.status not in ("2", "105"):
            raise ApiFailure(50002, "isv.business-failed", "订单状态不允许发货", f"order_status {order.status}")
        book._ship(order, code, tracking, [(line, line.quantity - line.shipped) for line in order.lines])
        book._move(shop, order, "3")
        return {}


def logistics_add_multipack(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    request_id = str(params.get("request_id") or "")
    with book.lock:
        if request_id and request_id in shop.pack_requests:
            return shop.pack_requests[request_id]  # idempotent: the first answer again
        order = book.order(shop.name, str(params.get("order_id") or ""))
        if order.status not in ("2", "105", "101"):
            raise ApiFailure(50002, "isv.business-failed", "订单状态不允许发货", f"order_status {order.status}")
        lines = {line.order_id: line for line in order.lines}
        packs = []
        for index, pack in enumerate(params.get("pack_list") or []):
            _company(str(pack.get("company_code") or ""))
            shipped = []
            for info in pack.get("shipped_order_info") or []:
                line = lines.get(str(info.get("shipped_order_id")))
                count = int(info.get("shipped_num") or 0)
                if line is None or count <= 0 or line.shipped + count > line.quantity:
                    raise ApiFailure(40004, "isv.parameter-invalid", "发货子订单不合法", str(info))
                shipped.append((line, count))
            book._ship(order, str(pack["company_code"]), str(pack.get("logistics_code")), shipped)
            packs.append({"pack_id": f"{order.order_id}-{len(order.logistics)}-{index}",
                          "logistics_code": str(pack.get("logistics_code")),
                          "shipped_order_info": [{"shipped_order_id": ln.order_id, "shipped_num": n}
                                                 for ln, n in shipped]})
        done = all(line.shipped >= line.quantity for line in order.lines)
        book._move(shop, order, "3" if done else "101")
        result = {"pack_list": packs}
        if request_id:
            shop.pack_requests[request_id] = result
        return result


def company_list(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    return [dict(c) for c in SANDBOX_COMPANIES]


def batch_decrypt(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    infos = params.get("cipher_infos") or []
    if len(infos) > 50:
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "at most 50 cipher_infos")
    out = []
    for info in infos:
        plain = decipher(str(info.get("cipher_text") or ""))
        out.append({"auth_id": info.get("auth_id"), "cipher_text": info.get("cipher_text"),
                    "decrypt_text": plain or "", "err_no": 0 if plain is not None else 300008,
                    "err_msg": "" if plain is not None else "密文不合法", "data_type": 0, "is_virtual_tel": False})
    return {"decrypt_infos": out, "custom_err": {"err_code": 0, "err_msg": ""}}


def _sku(shop: EmulatedShop, sku_id: Any = None, code: Any = None) -> Any:
    for sku in shop.skus.values():
        if (sku_id not in (None, "") and sku.sku_id == str(sku_id)) or (code and sku.code == str(code)):
            return sku
    raise ApiFailure(40004, "isv.parameter-invalid", "sku不存在", f"sku {sku_id or code} not found")


def sync_stock(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        sku = _sku(shop, params.get("sku_id"), params.get("code"))
        stock = _int(params, "stock_num")
        if params.get("incremental"):
            if not params.get("idempotent_id"):
                raise ApiFailure(40001, "isv.missing-parameter", "缺少参数", "idempotent_id required when incremental")
            sku.stock = max(0, sku.stock + stock)
        elif stock < 0:
            raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "stock_num must be >= 0")
        else:
            sku.stock = stock
        return {}


def sync_stock_batch_multi(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    items = params.get("items") or []
    if "incremental" not in params:
        raise ApiFailure(40001, "isv.missing-parameter", "缺少参数", "incremental is required")
    if not items or len(items) > 50:
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法", "1..50 items")
    idempotent_id = str(params.get("idempotent_id") or "")
    with book.lock:
        if idempotent_id and idempotent_id in shop.idempotent_ids:
            raise ApiFailure(40003, "isv.idempotent-id-existed", "幂等ID已存在", idempotent_id)
        skus = [_sku(shop, item.get("sku_id")) for item in items]  # all-or-nothing lookup first
        results = []
        for sku, item in zip(skus, items, strict=True):
            before = sku.stock
            stock = int(item.get("stock_num") or 0)
            sku.stock = max(0, before + stock) if params["incremental"] else stock
            results.append({"sku_id": int(sku.sku_id), "warehouse_id": 0, "stock_num": sku.stock,
                            "step_stock_num": 0, "change_num": sku.stock - before, "status_code": 0,
                            "status_message": "success"})
        if idempotent_id:
            shop.idempotent_ids.add(idempotent_id)
        return {"results": results}


def sku_list(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    product_id = str(params.get("product_id") or "")
    with book.lock:
        return [{"id": int(s.sku_id), "product_id": int(s.product_id), "product_id_str": s.product_id,
                 "code": s.code, "out_sku_id": 0, "sku_type": 0, "stock_num": s.stock, "prehold_stock_num": 0,
                 "price": s.price_fen, "create_time": s.created, "spec_detail_name1": "默认"}
                for s in shop.skus.values() if s.product_id == product_id]


HANDLERS: dict[str, Handler] = {
    "order.searchList": search_list,
    "order.orderDetail": order_detail,
    "order.logisticsAdd": logistics_add,
    "order.logisticsAddMultiPack": logistics_add_multipack,
    "order.logisticsCompanyList": company_list,
    "order.batchDecrypt": batch_decrypt,
    "sku.syncStock": sync_stock,
    "sku.syncStockBatchMultiProducts": sync_stock_batch_multi,
    "sku.list": sku_list,
    "product.listV2": product_list_v2,
    "afterSale.List": aftersale_list,
    "afterSale.Detail": aftersale_detail,
    "afterSale.operate": operate,
    "afterSale.rejectReasonCodeList": reject_reason_code_list,
    "afterSale.fillLogistics": fill_logistics,
    "logistics.newCreateOrder": new_create_order,
    "logistics.cancelOrder": cancel_order,
    **order_edit_handlers,
}
