"""The Douyin sandbox's order edits, landing on the order the next ``order.orderDetail`` renders.

``order.addOrderRemark``: the remark (required, ≤ 500 characters [U]) and the star (strings
``"true"``/``"false"`` and ``"0"``–``"5"``) → ``seller_words``, ``seller_remark_stars``. Errors as the
docs list them (``isv.parameter-invalid:50002`` bad params, ``isv.business-failed:50056`` too long).

``order.addressModify``, strictly: ``post_receiver``, ``post_tel`` and ``post_addr`` (every region
level with ``id`` and ``name``, ``address_detail`` 1–60 characters, ``land_mark``) each optional;
unknown order ``isv.parameter-invalid:20003``, a shipped or partly shipped order
``isv.business-failed:80001``, a bad detail ``:80002``, nothing different ``isv.parameter-invalid:80004``.
The new values are rendered as the sandbox renders addresses: ciphertext plus the masked copy.
Not a place for hub logic.
"""

from __future__ import annotations

from typing import Any

from contracts.privacy import mask_name, mask_phone
from plugins.douyin.order_edits import DETAIL_MAX, DETAIL_MIN, REMARK_MAX
from plugins.douyin.sandbox_shop import ApiFailure, EmulatedShop, ShopBook, cipher, decipher

#: Order statuses in which goods (some or all) have left: 101 partly shipped, 3 shipped, 5 completed.
SHIPPED = frozenset({"101", "3", "5"})
REGION_LEVELS = ("province", "city", "town", "street")


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


def _post_addr(value: Any) -> dict[str, Any]:
    """``post_addr`` checked strictly: every region level with id and name, a 1–60 character detail."""
    if not isinstance(value, dict) or not isinstance(value.get("land_mark"), str) or not all(
            isinstance(value.get(level), dict) and str(value[level].get("id") or "") and
            str(value[level].get("name") or "") for level in REGION_LEVELS):
        raise ApiFailure(40004, "isv.parameter-invalid", "参数不合法",
                         "post_addr needs province, city, town and street {id, name} and land_mark")
    detail = value.get("address_detail")
    if not isinstance(detail, str) or not DETAIL_MIN <= len(detail) <= DETAIL_MAX:
        raise ApiFailure(50002, "isv.business-failed:80002", "详细地址长度不合法",
                         f"address_detail must be {DETAIL_MIN}-{DETAIL_MAX} characters")
    return value


def modify_address(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    with book.lock:
        order = shop.orders.get(str(params.get("order_id") or ""))
        if order is None:
            raise ApiFailure(40004, "isv.parameter-invalid:20003", "订单不存在",
                             f"order {params.get('order_id')} not found")
        if order.status in SHIPPED or any(line.shipped for line in order.lines):
            raise ApiFailure(50002, "isv.business-failed:80001", "订单已发货或部分发货，不能修改地址",
                             f"order_status {order.status}")
        post_addr = _post_addr(params["post_addr"]) if params.get("post_addr") is not None else None
        now = book.render_order(shop, order)
        edits: dict[str, Any] = {}
        receiver, tel = params.get("post_receiver"), params.get("post_tel")
        if receiver and receiver != decipher(now["encrypt_post_receiver"]):
            edits.update(encrypt_post_receiver=cipher(receiver), post_receiver=cipher(receiver),
                         mask_post_receiver=mask_name(receiver))
        if tel is not None and not (str(tel).replace("-", "").isdigit() and 7 <= len(str(tel)) <= 20):
            raise ApiFailure(40004, "isv.parameter-invalid:20002", "手机号不合法", "post_tel")
        if tel and tel != decipher(now["encrypt_post_tel"]):
            edits.update(encrypt_post_tel=cipher(tel), post_tel=cipher(tel), mask_post_tel=mask_phone(tel))
        if post_addr is not None:
            regions = {level: {"id": str(post_addr[level]["id"]), "name": str(post_addr[level]["name"])}
                       for level in REGION_LEVELS}
            current = now["post_addr"]
            same_region = all(str(current[level]["id"]) == regions[level]["id"] for level in REGION_LEVELS)
            if not same_region or post_addr["address_detail"] != decipher(current["encrypt_detail"]):
                detail = post_addr["address_detail"]
                edits["post_addr"] = {**regions, "detail": cipher(detail), "encrypt_detail": cipher(detail)}
        if not edits:
            raise ApiFailure(40004, "isv.parameter-invalid:80004", "地址未修改", "nothing changed")
        order.edits.update(edits)
        order.updated = book.now()
    return {}


HANDLERS = {"order.addOrderRemark": add_order_remark, "order.addressModify": modify_address}
