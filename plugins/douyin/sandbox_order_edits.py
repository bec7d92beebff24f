"""The Douyin sandbox's ``order.addOrderRemark``: the remark (required, ≤ 500 characters [U]) and
the star (strings ``"true"``/``"false"`` and ``"0"``–``"5"``) land on the order the next
``order.orderDetail`` renders (``seller_words``, ``seller_remark_stars``). Error codes as the docs
list them (``isv.parameter-invalid:50002`` bad params, ``isv.business-failed:50056`` too long).
Not a place for hub logic.
"""

from __future__ import annotations

from typing import Any

from plugins.douyin.order_edits import REMARK_MAX
from plugins.douyin.sandbox_shop import ApiFailure, EmulatedShop, ShopBook


def add_order_remark(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    remark = params.get("remark")
    if not isinstance(remark, str) or not remark:
        raise ApiFailure(40004, "isv.parameter-invalid:50002", "参数不合法", "remark is required")
    if len(remark) > REMARK_MAX:
        raise ApiFailure(50002, "isv.business-failed:50056", "备注过长", f"remark longer than {REMARK_MAX}")
    add_star, star = params.get("is_add_star", "false"), params.get("star", "0")
    if add_star not in ("true", "false") or star not in {str(n) for n in range(6)}:
        raise ApiFailure(40004, "isv.parameter-invalid:50002", "参数不合法", "is_add_star and star are strings")
    with book.lock:
        order = book.order(shop.name, str(params.get("order_id") or ""))
        order.edits["seller_words"] = remark
        if add_star == "true":
            order.edits["seller_remark_stars"] = int(star)
        order.updated = book.now()
    return {}


HANDLERS = {"order.addOrderRemark": add_order_remark}
