"""The Douyin sandbox's e-waybill methods: ``logistics.newCreateOrder`` and ``logistics.cancelOrder``
over the emulated shops (``sandbox_shop``), as plain handlers ``sandbox_api`` dispatches to.

As strict as the platform and no stricter, from the SDK field trees and the published error tables:
required fields (``sender_info`` with the contact's name — ``isv.parameter-invalid:4006`` —,
``logistics_code``, ``order_infos`` of 1–50, each with ``order_id``, ``receiver_info`` and
``items``), ``pack_id`` ≤15 of ``[0-9A-Za-z_]``, a non-Douyin ``order_id`` ≤32 of
``[0-9A-Za-z/-]`` with ``order_channel``. Per-order failures go to ``err_infos`` (a Douyin order the
shop does not have: ``15002``, another shop's: ``15000``) while the others are issued: partial
success is normal. The same ``order_id`` + ``pack_id`` gets the number it got before ("返回老号").
Cancel answers the published sub codes (``10014`` unknown, ``10901`` already cancelled, ``10802``
collected). Where the platform's exact sub code for a missing field is unpublished the sandbox uses
``isv.parameter-invalid`` / ``isv.missing-parameter`` with the field named in ``sub_msg`` [U].
Numbers, sort codes and package centres are the sandbox's own.
"""

from __future__ import annotations

import re
from typing import Any

from hub.plugin_api import sandbox_ids
from plugins.douyin.sandbox_shop import SANDBOX_COMPANIES, ApiFailure, EmulatedShop, ShopBook

MAX_ORDERS = 50
PACK_ID = re.compile(r"[0-9A-Za-z_]{1,15}")
FOREIGN_ORDER_ID = re.compile(r"[0-9A-Za-z/-]{1,32}")
#: Logistics codes the sandbox's e-waybill subscriptions cover, with the number prefix they issue.
PREFIXES = {"shunfeng": "SF", "zhongtong": "78", "yuantong": "YT", "shentong": "77", "yunda": "43",
            "ems": "11", "jd": "JDV", "jtexpress": "JT"}
LOGISTICS_CODES = frozenset(c["code"] for c in SANDBOX_COMPANIES) | frozenset(PREFIXES)
_NUMBERS = sandbox_ids(310_000_000_001)


def _missing(field: str) -> ApiFailure:
    return ApiFailure(40002, "isv.missing-parameter", "缺少必选参数", f"{field} is required")


def _invalid(field: str, why: str, sub_code: str = "isv.parameter-invalid") -> ApiFailure:
    return ApiFailure(40004, sub_code, "非法的参数", f"{field}: {why}")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_address(value: Any, where: str) -> None:
    address = value if isinstance(value, dict) else {}
    for name in ("country_code", "province_name", "city_name", "district_name", "detail_address"):
        if not _text(address.get(name)):
            raise _missing(f"{where}.address.{name}")


def _check_contact(value: Any, where: str, name_sub_code: str = "isv.parameter-invalid") -> None:
    contact = value if isinstance(value, dict) else {}
    if not _text(contact.get("name")):
        raise _invalid(f"{where}.contact.name", "姓名不能为空", name_sub_code)
    if not _text(contact.get("phone")) and not _text(contact.get("mobile")):
        raise _missing(f"{where}.contact.phone|mobile")


def _check_request(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    sender = params.get("sender_info")
    if not isinstance(sender, dict):
        raise _missing("sender_info")
    _check_address(sender.get("address"), "sender_info")
    _check_contact(sender.get("contact"), "sender_info", "isv.parameter-invalid:4006")
    code = _text(params.get("logistics_code"))
    if not code:
        raise _missing("logistics_code")
    if code not in LOGISTICS_CODES:
        raise _invalid("logistics_code", f"{code!r} has no e-waybill subscription")
    infos = params.get("order_infos")
    if not isinstance(infos, list) or not infos:
        raise _missing("order_infos")
    if len(infos) > MAX_ORDERS:
        raise _invalid("order_infos", f"at most {MAX_ORDERS} per call")
    foreign = bool(_text(params.get("order_channel")))
    for index, info in enumerate(infos):
        where = f"order_infos[{index}]"
        if not isinstance(info, dict) or not _text(info.get("order_id")):
            raise _missing(f"{where}.order_id")
        if foreign and not FOREIGN_ORDER_ID.fullmatch(_text(info["order_id"])):
            raise _invalid(f"{where}.order_id", "at most 32 of digits, letters, '-' and '/'")
        pack = _text(info.get("pack_id"))
        if pack and not PACK_ID.fullmatch(pack):
            raise _invalid(f"{where}.pack_id", "at most 15 of digits, letters and '_'")
        receiver = info.get("receiver_info")
        if not isinstance(receiver, dict):
            raise _missing(f"{where}.receiver_info")
        _check_address(receiver.get("address"), f"{where}.receiver_info")
        _check_contact(receiver.get("contact"), f"{where}.receiver_info")
        items = info.get("items")
        if not isinstance(items, list) or not items:
            raise _missing(f"{where}.items")
        for item in items:
            if not isinstance(item, dict) or not _text(item.get("item_name")):
                raise _missing(f"{where}.items.item_name")
            try:
                count = int(str(item.get("item_count")))
            except (TypeError, ValueError):
                raise _missing(f"{where}.items.item_count") from None
            if count <= 0:
                raise _invalid(f"{where}.items.item_count", "must be positive")
    return code, infos


def _owner(book: ShopBook, order_id: str) -> EmulatedShop | None:
    for shop in book.shops.values():
        if order_id in shop.orders:
            return shop
    return None


def _issue(book: ShopBook, shop: EmulatedShop, code: str, order_id: str, pack: str, channel: str) -> dict[str, Any]:
    number = PREFIXES.get(code, "DY") + str(next(_NUMBERS))
    row = {"order_id": order_id, "pack_id": pack, "track_no": number, "company": code,
           "sort_code": f"{300 + len(shop.ebills) % 50}-W{len(shop.ebills) % 9 + 1:02d} 00",
           "package_center_code": "571", "package_center_name": "杭州转运中心",
           "short_address_code": "300", "short_address_name": "浙江杭州", "sub_waybill_codes": "",
           "extra_resp": "", "shipping_code": "", "order_channel": channel, "hint_msg": ""}
    record = {"row": row, "status": "issued"}
    shop.ebills[(order_id, pack)] = record
    shop.ebills_by_number[number] = record
    return row


def new_create_order(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``logistics.newCreateOrder``: every order_infos entry lands in ``ebill_infos`` or ``err_infos``."""
    code, infos = _check_request(params)
    channel = _text(params.get("order_channel"))
    issued: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with book.lock:
        for info in infos:
            order_id, pack = _text(info["order_id"]), _text(info.get("pack_id"))
            if not channel:
                owner = _owner(book, order_id)
                if owner is None:
                    failed.append({"order_id": order_id, "pack_id": pack, "err_code": "15002",
                                   "err_msg": "订单信息不存在", "order_channel": ""})
                    continue
                if owner is not shop:
                    failed.append({"order_id": order_id, "pack_id": pack, "err_code": "15000",
                                   "err_msg": "订单不是该店铺下的订单", "order_channel": ""})
                    continue
            known = shop.ebills.get((order_id, pack))
            if known is not None and known["status"] == "issued" and known["row"]["company"] == code:
                issued.append(dict(known["row"]))  # the old number ("返回老号")
            else:
                issued.append(dict(_issue(book, shop, code, order_id, pack, channel)))
    return {"ebill_infos": issued, "err_infos": failed}


def cancel_order(book: ShopBook, shop: EmulatedShop, params: dict[str, Any]) -> Any:
    """``logistics.cancelOrder``."""
    code, number = _text(params.get("logistics_code")), _text(params.get("track_no"))
    if not number:
        raise ApiFailure(40002, "isv.missing-parameter:400", "缺少必选参数", "物流单号不能为空")
    if not code:
        raise _missing("logistics_code")
    with book.lock:
        record = shop.ebills_by_number.get(number)
        if record is None or record["row"]["company"] != code:
            raise ApiFailure(40004, "isv.parameter-invalid:10014", "非法的参数", "电子面单号不存在")
        if record["status"] == "cancelled":
            raise ApiFailure(50002, "isv.business-failed:10901", "业务处理失败", "已经取消过了，无需再次取消")
        if record["status"] == "collected":
            raise ApiFailure(50002, "isv.business-failed:10802", "业务处理失败", "该运单已取件，不允许取消")
        record["status"] = "cancelled"
        row = record["row"]
        shop.ebills.pop((row["order_id"], row["pack_id"]), None)  # a new request gets a new number
    return {"cancel_result": {"success": True}}


def collect(book: ShopBook, shop_name: str, number: str) -> None:
    """The courier collected the parcel: its number can no longer be cancelled."""
    with book.lock:
        record = book.shop(shop_name).ebills_by_number[number]
        record["status"] = "collected"


def ebill_status(book: ShopBook, shop_name: str, number: str) -> str | None:
    with book.lock:
        record = book.shop(shop_name).ebills_by_number.get(number)
        return None if record is None else str(record["status"])


def issued_count(book: ShopBook, shop_name: str) -> int:
    """How many numbers the shop's subscription has issued (cancelled ones included)."""
    with book.lock:
        return len(book.shop(shop_name).ebills_by_number)
