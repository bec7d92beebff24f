"""Pure translation for Kuaidi100's electronic waybill API: a ``WaybillRequest`` into the
``method=order`` param, its ``data`` into a ``Waybill``, and the ``method=cancel`` param.

No I/O. Field names are Kuaidi100's (java demo ``OrderReq`` / ``OrderResult``, the V2 order
documentation). Idempotency: ``orderId`` is the parcel's key and ``reorder`` is false, which makes
Kuaidi100 answer a repeat within 48 hours with the first result instead of a new number (the
default, ``reorder`` true, orders again). ⚠️ [U] Beyond 48 hours a repeat issues a second number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts import Address, Waybill, WaybillLabel, WaybillRequest
from hub.plugin_api import BadInputError

PROVIDER = "kuaidi100_label"
_MOBILE = re.compile(r"1\d{10}")
#: The label fields kept in ``Waybill.label.extra`` when given (``OrderResult``; "not every courier
#: returns them, nor under these names" says the demo).
EXTRA_FIELDS = ("pkgCode", "orgCode", "orgName", "destCode", "destName", "orgSortingCode", "orgSortingName",
                "destSortingCode", "destSortingName", "kdComOrderNum", "taskId", "childNum", "returnNum", "label",
                "qrCode", "expressCode", "expressName")
#: What this connector sends of the account (``partnerId`` … ``tbNet``): Kuaidi100's parameter
#: dictionary says per courier which are required.
PARTNER_FIELDS = ("partnerId", "partnerKey", "partnerSecret", "partnerName", "net", "code", "checkMan", "tbNet")


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def print_address(address: Address) -> str:
    """``printAddr``: the whole address in one line, province first."""
    parts = [address.province, address.city, address.district, address.town, address.street]
    out: list[str] = []
    for part in (text(p) for p in parts):
        if part and (not out or part != out[-1]):  # 上海市上海市 → 上海市
            out.append(part)
    return "".join(out)


def man(address: Address, where: str, *, oaid: str | None = None) -> dict[str, str]:
    """``recMan`` / ``sendMan``: ``name``, ``mobile`` (a mainland mobile) or ``tel``, ``printAddr``.
    A ciphertext address is accepted only with the platform's ``oaid`` of the recipient (sent
    beside it, ``order_param``)."""
    for name in ("name", "phone", "province", "city", "street"):
        if not text(getattr(address, name)):
            raise BadInputError(f"the {where} address has no {name}", field=f"{where}.{name}")
    if address.encrypted and not oaid:
        raise BadInputError(f"the {where} address is ciphertext, which Kuaidi100 cannot print; reveal it first",
                            field=where)
    if address.country != "CN":
        raise BadInputError(f"this connector sends domestic waybills only; the {where} is in {address.country}",
                            field=f"{where}.country")
    phone = text(address.phone)
    body = {"name": text(address.name), "printAddr": print_address(address)}
    if _MOBILE.fullmatch(phone.replace(" ", "").removeprefix("+86")):
        body["mobile"] = phone
    else:
        body["tel"] = phone
    return body


def cargo(request: WaybillRequest) -> str:
    """``cargo`` (物品名称): the item names, ``、``-separated, at most 64 characters ⚠️ [U: no limit
    is documented; kept short for the label]."""
    joined = "、".join(item.name for item in request.items)
    return joined if len(joined) <= 64 else joined[:63] + "…"


def order_param(request: WaybillRequest, kuaidicom: str, partner: Mapping[str, str], *, print_type: str = "NON",
                pay_type: str | None = None, exp_type: str | None = None, temp_id: str | None = None,
                siid: str | None = None) -> dict[str, Any]:
    """``method=order`` param for one parcel."""
    param: dict[str, Any] = {
        "kuaidicom": kuaidicom,
        "recMan": man(request.recipient, "recipient", oaid=request.recipient_oaid),
        "sendMan": man(request.sender, "sender"),
        "cargo": cargo(request),
        "orderId": request.key,
        "reorder": False,
        "printType": print_type,
    }
    param.update({k: v for k, v in partner.items() if v})
    if request.recipient_oaid:
        # ``oaid`` is documented for encrypted platform orders; whether the account must be a
        # platform-authorised one (``net`` taobao/cainiao) to use it ⚠️ [U].
        param["oaid"] = request.recipient_oaid
    if request.weight_grams:
        param["weight"] = round(request.weight_grams / 1000, 3)  # kilograms
    if request.remark:
        param["remark"] = request.remark
    for name, value in (("payType", pay_type), ("expType", exp_type), ("tempId", temp_id), ("siid", siid)):
        if value:
            param[name] = value
    return param


def waybill_of(data: Any, request: WaybillRequest) -> Waybill:
    """The ``Waybill`` in an order answer's ``data`` (``kuaidinum``), ``print_data`` = ``data`` as
    given. Label: ``bulkpen`` (大头笔) as the sort code, ``pkgName`` (集包地) as the package centre,
    ``road`` (路区) as the route code."""
    row = data[0] if isinstance(data, list) and data else data  # ⚠️ [U] a list is not documented
    if not isinstance(row, dict) or not text(row.get("kuaidinum")):
        raise ValueError("the answer carries no kuaidinum")
    extra = {name: text(row.get(name)) for name in EXTRA_FIELDS if text(row.get(name))}
    label = WaybillLabel(sort_code=text(row.get("bulkpen")) or None, route_code=text(row.get("road")) or None,
                         package_center=text(row.get("pkgName")) or text(row.get("pkgCode")) or None, extra=extra)
    return Waybill(key=request.key, provider=PROVIDER, courier_code=request.courier_code,
                   waybill_number=text(row.get("kuaidinum")), print_data=dict(row), label=label)


def cancel_param(kuaidicom: str, kuaidinum: str, partner: Mapping[str, str], reason: str) -> dict[str, Any]:
    """``method=cancel`` param. ``orderId`` (Kuaidi100: the ``kdComOrderNum`` when an order
    returned one) is not sent: the contract's cancel names only the number ⚠️ [U] whether couriers
    that return ``kdComOrderNum`` need it."""
    param: dict[str, Any] = {"kuaidicom": kuaidicom, "kuaidinum": kuaidinum, "reason": reason}
    param.update({k: v for k, v in partner.items() if v})
    return param
