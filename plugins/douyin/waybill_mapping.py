"""Pure translation for the Douyin e-waybill (抖音电子面单): a ``WaybillRequest`` into the
``logistics.newCreateOrder`` params, its answer into a ``Waybill``, and ``logistics.cancelOrder``.

No I/O. Field names are the official doudian SDK's (``api/logistics_newCreateOrder``,
``api/logistics_cancelOrder``); §7 of ``docs/platforms/douyin.md``. Not for the HTTP call, tokens
or retries (``waybill`` with ``client``).

Idempotency: the platform answers a repeated ``order_id`` + ``pack_id`` with the number it issued
the first time ("返回老号"), so both are derived from the request alone: ``order_id`` is the
smallest channel order id (Douyin's without the trailing "A"), ``pack_id`` comes from
``request.key``. ``pack_id`` is sent for every parcel, the first one of an order included, so two
parcels of one order never share a number whichever is issued first. ⚠️ [U] The documentation says
a pack_id is *needed* from an order's second parcel on; that it is accepted on the first parcel is
inferred, not confirmed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from contracts import Address, Waybill, WaybillLabel, WaybillRequest
from hub.plugin_api import BadInputError

PROVIDER = "douyin_waybill"
#: ``pack_id``: at most 15 of ``[0-9A-Za-z_]``, case-sensitive (SDK comment).
PACK_ID = re.compile(r"[0-9A-Za-z_]{1,15}")
#: A non-Douyin ``order_id``: at most 32 of digits, letters, ``-`` and ``/`` (SDK comment).
FOREIGN_ORDER_ID = re.compile(r"[0-9A-Za-z/-]{1,32}")
#: ``country_code`` for China, the only country the e-waybill serves (SDK comment: "默认CHN").
COUNTRY_CODES = {"CN": "CHN"}
_MOBILE = re.compile(r"1\d{10}")

#: ``logistics.cancelOrder`` sub codes (the API's published error table).
CANCEL_ALREADY = frozenset({  # already cancelled: the wanted outcome
    "isv.business-failed:10901", "isv.business-failed:10801", "isv.business-failed:1102"})
CANCEL_TOO_LATE = frozenset({  # collected, has tracks, or the order shipped: it can no longer be
    "isv.business-failed:10902", "isv.business-failed:10804", "isv.business-failed:10802",
    "isv.business-failed:20802", "isv.business-failed:10000", "isv.business-failed:1105",
    "isv.business-failed:8060", "isv.business-failed:4007"})
#: ``20001`` "重复请求": a concurrent duplicate cancel; asked again, the platform says which.
CANCEL_RETRY = frozenset({"isv.business-failed:20001"})
#: ``newCreateOrder``'s "系统内部错误, 稍后重试" (50002): safe to repeat, the call is idempotent.
CREATE_RETRY = frozenset({"isv.business-failed:4029"})


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def pack_id(key: str) -> str:
    """The parcel's ``pack_id``: the key itself when it fits (≤15 of ``[0-9A-Za-z_]``), otherwise
    ``k`` + 14 hex digits of its SHA-256 — stable, so the same key always asks for the same pack."""
    if PACK_ID.fullmatch(key):
        return key
    return "k" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:14]


def order_id(request: WaybillRequest) -> str:
    """The ``order_id`` sent: one of the parcel's orders (the smallest, so a retry picks the same
    one; for merged orders the platform asks for just one of them). Douyin ids lose a trailing "A"
    (the SDK's instruction); other platforms' ids must fit the foreign-order format."""
    chosen = sorted(text(i) for i in request.order_external_ids if text(i))
    if not chosen:
        raise BadInputError("the parcel names no channel order id", field="order_external_ids")
    first = chosen[0]
    if request.platform == "douyin":
        return first[:-1] if first.endswith("A") else first
    if not FOREIGN_ORDER_ID.fullmatch(first):
        raise BadInputError(f"order id {first!r} does not fit the Douyin e-waybill's format for orders from "
                            "other platforms (at most 32 digits, letters, '-' or '/')", field="order_external_ids")
    return first


def _country(address: Address, where: str) -> str:
    code = COUNTRY_CODES.get(address.country)
    if code is None:
        raise BadInputError(f"the Douyin e-waybill serves China only; {where} is in {address.country}",
                            field=f"{where}.country")
    return code


def _required(address: Address, where: str, *names: str) -> None:
    for name in names:
        if not text(getattr(address, name)):
            raise BadInputError(f"the {where} address has no {name}", field=f"{where}.{name}")


def _contact(address: Address) -> dict[str, str]:
    """``name`` and ``mobile`` (a mainland mobile number, or ciphertext) or ``phone`` (a landline)."""
    phone = text(address.phone)
    contact = {"name": text(address.name)}
    if address.encrypted or _MOBILE.fullmatch(phone.replace(" ", "").removeprefix("+86")):
        contact["mobile"] = phone
    else:
        contact["phone"] = phone
    return contact


def _address(address: Address, where: str, *, with_town: bool = True) -> dict[str, str]:
    body = {
        "country_code": _country(address, where),
        "province_name": text(address.province),
        "city_name": text(address.city),
        "district_name": text(address.district),
        "detail_address": text(address.street),
    }
    if with_town and text(address.town):
        body["street_name"] = text(address.town)
    return body


def sender_info(address: Address) -> dict[str, Any]:
    """``sender_info``: it must be an address of the courier account's net site
    (``logistics.listShopNetsite``), so it comes from the warehouse's configured address."""
    _required(address, "sender", "name", "phone", "province", "city", "district", "street")
    if address.encrypted:
        raise BadInputError("the sender address must be plain text", field="sender")
    return {"address": _address(address, "sender"), "contact": _contact(address)}


def receiver_info(request: WaybillRequest) -> dict[str, Any]:
    """``receiver_info``: name, mobile and detail may be Douyin ciphertext (the SDK: "支持密文"),
    so a Douyin order's address is sent as the channel gave it, never decrypted here."""
    address = request.recipient
    _required(address, "recipient", "name", "phone", "province", "city", "district", "street")
    if address.encrypted and request.platform != "douyin":
        raise BadInputError(f"the recipient address is ciphertext from {request.platform!r}, which the Douyin "
                            "e-waybill cannot read; reveal the address first", field="recipient")
    return {"address": _address(address, "recipient"), "contact": _contact(address)}


def create_params(request: WaybillRequest, logistics_code: str, *, order_channel: str | None = None,
                  user_id: int | None = None, net_info: Mapping[str, str] | None = None,
                  pay_method: int | None = None, product_type: str | None = None) -> dict[str, Any]:
    """``logistics.newCreateOrder`` for one parcel (one ``order_infos`` entry). The parcel's weight
    is not sent: ``item_weight`` is per single item and ``total_weight`` is for SF only."""
    if request.platform != "douyin" and not order_channel:
        raise BadInputError(f"the Douyin e-waybill needs an order_channel code for {request.platform!r} orders; "
                            "add it to the account's order_channels setting", field="platform")
    info: dict[str, Any] = {
        "order_id": order_id(request),
        "pack_id": pack_id(request.key),
        "receiver_info": receiver_info(request),
        "items": [{"item_name": item.name, "item_count": item.quantity} for item in request.items],
    }
    if request.remark:
        info["remark"] = request.remark
    if net_info:
        info["net_info"] = {k: v for k, v in net_info.items() if v}
    if pay_method is not None:
        info["pay_method"] = pay_method
    if product_type:
        info["product_type"] = product_type
    params: dict[str, Any] = {
        "logistics_code": logistics_code,
        "sender_info": sender_info(request.sender),
        "order_infos": [info],
    }
    if request.platform != "douyin":
        params["order_channel"] = order_channel
    if user_id is not None:
        params["user_id"] = user_id
    return params


def _matches(row: Mapping[str, Any], sent_order: str, sent_pack: str) -> bool:
    # ⚠️ [U] Whether the answer echoes pack_id is not documented; an entry for the same order
    # without one is taken as ours when it is the only entry (one order_infos item per call).
    return text(row.get("order_id")) == sent_order and text(row.get("pack_id")) in (sent_pack, "")


def parse_created(data: Any, request: WaybillRequest, params: Mapping[str, Any]) -> Waybill | tuple[str, str]:
    """The ``Waybill`` in ``ebill_infos``, or ``(err_code, err_msg)`` from ``err_infos`` (partial
    success is normal: each order_infos item lands in one list). ``print_data`` is the
    ``ebill_infos`` entry as given; the label takes ``sort_code`` (三段码), the package centre
    (集包地) and the short address (大头笔)."""
    info = params["order_infos"][0]
    sent_order, sent_pack = str(info["order_id"]), str(info["pack_id"])
    body = data if isinstance(data, dict) else {}
    for row in body.get("ebill_infos") or []:
        if isinstance(row, dict) and _matches(row, sent_order, sent_pack) and text(row.get("track_no")):
            return waybill_of(row, request)
    for row in body.get("err_infos") or []:
        if isinstance(row, dict) and _matches(row, sent_order, sent_pack):
            return text(row.get("err_code")) or "unknown", text(row.get("err_msg"))
    return "no_entry", "the answer has neither an ebill_infos nor an err_infos entry for this parcel"


def waybill_of(row: Mapping[str, Any], request: WaybillRequest) -> Waybill:
    extra = {name: text(row.get(name)) for name in ("package_center_code", "short_address_code",
                                                    "short_address_name", "sub_waybill_codes", "shipping_code")
             if text(row.get(name))}
    label = WaybillLabel(sort_code=text(row.get("sort_code")) or None,
                         package_center=text(row.get("package_center_name")) or text(row.get("package_center_code"))
                         or None, extra=extra)
    return Waybill(key=request.key, provider=PROVIDER, courier_code=request.courier_code,
                   waybill_number=text(row.get("track_no")), print_data=dict(row), label=label)


def cancel_params(logistics_code: str, track_no: str, user_id: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"logistics_code": logistics_code, "track_no": track_no}
    if user_id is not None:
        params["user_id"] = user_id
    return params


def cancel_succeeded(data: Any) -> bool:
    """``cancel_result.success``."""
    result = data.get("cancel_result") if isinstance(data, dict) else None
    return bool(isinstance(result, dict) and result.get("success") is True)
