"""Cainiao electronic waybills over TOP: the hub's ``WaybillRequest`` → ``cainiao.waybill.ii.get``'s
request JSON, and its answer → ``contracts.Waybill``. Pure functions; no I/O.

Field names are the ones TOP's request model of ``cainiao.waybill.ii.get`` names
(``param_waybill_cloud_print_apply_new_request``: ``cp_code``, ``product_code``, ``sender``,
``trade_order_info_dtos[]{object_id, order_info{order_channels_type, trade_order_list},
package_info{id, items[]{name, count}, weight}, recipient{…, oaid, tid}, template_url, user_id}``) and its
answer model (``modules`` of ``waybill_cloud_print_response{object_id, waybill_code, print_data,
parent_waybill_code, cp_code, real_cp_code}``). What is uncertain is marked ⚠️ [U] here and in
``docs/platforms/cainiao.md``. Not for HTTP or error classification (``client.py``) nor for the
connector's flow (``cainiao.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from contracts import Address, Waybill, WaybillItem, WaybillRequest, canonical_courier_code, canonical_courier_map
from hub.plugin_api import BadInputError, PermanentError
from plugins.taobao.client import unwrap_list

GET_METHOD = "cainiao.waybill.ii.get"
CANCEL_METHOD = "cainiao.waybill.ii.cancel"
REQUEST_PARAM = "param_waybill_cloud_print_apply_new_request"
PROVIDER = "cainiao"

#: Hub courier code → Cainiao ``cp_code``. ``YTO`` is confirmed by a public request example; the
#: others follow TOP's logistics company codes ⚠️ [U]. Accounts extend or override it with the
#: ``cp_codes`` setting (``cainiao.waybill.ii.search`` lists the cp_codes an account subscribes to).
DEFAULT_CP_CODES: dict[str, str] = {
    "YTO": "YTO",
    "ZTO": "ZTO",  # ⚠️ [U]
    "STO": "STO",  # ⚠️ [U]
    "YUNDA": "YUNDA",  # ⚠️ [U]
    "SF": "SF",  # ⚠️ [U]
    "EMS": "EMS",  # ⚠️ [U]
    "POSTB": "POSTB",  # ⚠️ [U]
    "JD": "JD",  # ⚠️ [U]
}

#: The order's channel platform (``WaybillRequest.platform``) → ``order_channels_type``. TOP
#: documents the field as "订单渠道平台编码" without the table in its models; ``TB``/``TM`` follow
#: TOP's platform codes (TB 淘宝, TM 天猫, the same codes Qimen's ``sourcePlatformCode`` lists) and
#: are seen in public request examples; anything else is sent as ``OTHERS`` ⚠️ [U] (there is no
#: confirmed code for Douyin). Accounts override it with the ``order_channels`` setting.
DEFAULT_ORDER_CHANNELS: dict[str, str] = {"taobao": "TB", "tmall": "TM"}
OTHER_ORDER_CHANNEL = "OTHERS"

#: Limits the request model's comments give ⚠️ [U]: 100 goods lines per package.
MAX_ITEMS = 100

_MOBILE = re.compile(r"(?:\+?86)?1\d{10}")
#: A mobile number TOP masked (``1573672****``): still a mobile, sent as ``mobile`` with the oaid.
_MASKED_MOBILE = re.compile(r"(?:\+?86)?1[\d*]{10}")
_PACKAGE_ID_BAD = re.compile(r"[^0-9A-Za-z_]")


def cp_code_table(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical hub courier code → Cainiao cp_code: the defaults, the account's overrides on top."""
    table = canonical_courier_map(DEFAULT_CP_CODES)
    table.update(canonical_courier_map(overrides or {}))
    return table


def cp_code_for(courier_code: str, table: Mapping[str, str]) -> str:
    """The cp_code for a hub courier code; ``BadInputError`` naming ``courier_code`` when unknown."""
    try:
        return table[canonical_courier_code(courier_code)]
    except (KeyError, ValueError):
        raise BadInputError(f"no Cainiao cp_code for courier {courier_code!r}; add it to the courier account's "
                            "cp_codes setting", field="courier_code") from None


def order_channel(platform: str, overrides: Mapping[str, str] | None = None) -> str:
    """``order_channels_type`` for the order's platform (``OTHERS`` ⚠️ [U] when not listed)."""
    table = {**DEFAULT_ORDER_CHANNELS, **{k.strip().lower(): v for k, v in (overrides or {}).items()}}
    return table.get(platform.strip().lower(), OTHER_ORDER_CHANNEL)


def package_id(key: str) -> str:
    """``package_info.id`` for a parcel key: only letters, digits and ``_`` are allowed there
    (⚠️ [U], the model's comment), so other characters become ``_``. With it, two parcels of
    one order get two waybills rather than one."""
    return _PACKAGE_ID_BAD.sub("_", key)


def _phones(phone: str | None) -> dict[str, str]:
    """``mobile`` for a mainland mobile number (masked or not), else ``phone`` (a landline); one of
    them is required."""
    text = (phone or "").strip()
    compact = re.sub(r"[\s-]", "", text)
    if _MOBILE.fullmatch(compact) or ("*" in compact and _MASKED_MOBILE.fullmatch(compact)):
        return {"mobile": compact[-11:]}
    return {"phone": text}


def hidden(address: Address) -> bool:
    """Whether the address's name, phone or street is masked (``闫**``) or encrypted: a label
    printed from it would not reach anyone."""
    return address.encrypted or any("*" in (value or "") for value in (address.name, address.phone, address.street))


def user_info(address: Address, role: str, *, oaid: str | None = None) -> dict[str, Any]:
    """A sender's or recipient's ``{name, mobile|phone, address{province, city, district, town,
    detail}}``; ``BadInputError`` naming ``<role>.<field>`` for what a waybill cannot go without.

    A masked or encrypted address is accepted only with ``oaid`` (the recipient's, from
    ``WaybillRequest.recipient_oaid``): its values are then sent as the platform gave them and
    Cainiao finds the real recipient from the oaid ⚠️ [U: how Cainiao treats the masked values
    next to an oaid is not public]."""
    if hidden(address) and not oaid:
        if role != "recipient":
            raise BadInputError(f"the {role}'s address is masked or encrypted; a Cainiao waybill needs it in "
                                f"plain text ({role}.encrypted)", field=f"{role}.encrypted")
        raise BadInputError("the recipient's address is masked or encrypted (TOP hides Taobao/Tmall buyers); a "
                            "Cainiao waybill needs it in plain text or the order's TOP oaid (recipient_oaid)",
                            field="recipient_oaid")
    if address.country != "CN":
        raise BadInputError(f"Cainiao domestic waybills ship within China; the {role}'s country is "
                            f"{address.country!r} ({role}.country)", field=f"{role}.country")
    for name in ("name", "phone", "province", "city", "street"):
        if not (getattr(address, name) or "").strip():
            what = "street address" if name == "street" else name
            raise BadInputError(f"a Cainiao waybill needs the {role}'s {what} ({role}.{name})", field=f"{role}.{name}")
    place = {"province": address.province, "city": address.city, "district": address.district,
             "town": address.town, "detail": address.street}
    return {"name": address.name, **_phones(address.phone),
            "address": {k: v.strip() for k, v in place.items() if v and v.strip()}}


def recipient_info(request: WaybillRequest, tid: str) -> dict[str, Any]:
    """``recipient``: ``user_info`` of the request's recipient, plus, when the request carries the
    recipient's ``oaid``, ``oaid`` and ``tid`` (the real trade id of the order the oaid comes from,
    the first of ``order_external_ids``) — TOP's request model documents both for encrypted
    (privacy-protected) platform orders."""
    info = user_info(request.recipient, "recipient", oaid=request.recipient_oaid)
    if request.recipient_oaid:
        info.update(oaid=request.recipient_oaid, tid=tid)
    return info


def package_items(items: list[WaybillItem]) -> list[dict[str, Any]]:
    """``package_info.items``: one ``{name, count}`` per line; beyond ``MAX_ITEMS`` the rest are
    summed into one last line, so the label still counts every piece."""
    lines = [{"name": item.name, "count": item.quantity} for item in items]
    if len(lines) <= MAX_ITEMS:
        return lines
    rest = lines[MAX_ITEMS - 1:]
    return [*lines[: MAX_ITEMS - 1], {"name": f"+{len(rest)} more", "count": sum(line["count"] for line in rest)}]


def apply_request(
    request: WaybillRequest,
    *,
    cp_code: str,
    template_url: str,
    order_channels_type: str,
    user_id: int | None = None,
    product_code: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``param_waybill_cloud_print_apply_new_request`` for one parcel.

    ``object_id`` is the parcel's key (the hub's idempotency key) and ``package_info.id`` is
    derived from it; ``extra`` holds the account's optional top-level fields (``⚠️ [U]`` names:
    see the connector's settings), sent only when set.
    """
    order_ids = [str(i).strip() for i in request.order_external_ids if str(i).strip()]
    if not order_ids:
        raise BadInputError("a Cainiao waybill needs the parcel's channel order ids", field="order_external_ids")
    package: dict[str, Any] = {"id": package_id(request.key), "items": package_items(request.items)}
    if request.weight_grams:
        package["weight"] = request.weight_grams  # grams ⚠️ [U] (the model's comment)
    dto: dict[str, Any] = {
        "object_id": request.key,
        "order_info": {"order_channels_type": order_channels_type, "trade_order_list": order_ids},
        "package_info": package,
        "recipient": recipient_info(request, order_ids[0]),
        "template_url": template_url,
    }
    if user_id is not None:
        dto["user_id"] = user_id
    body: dict[str, Any] = {"cp_code": cp_code, "sender": user_info(request.sender, "sender"),
                            "trade_order_info_dtos": [dto]}
    if product_code:
        body["product_code"] = product_code
    body.update({k: v for k, v in (extra or {}).items() if v})
    return body


def print_data(text: Any) -> dict[str, Any]:
    """``print_data`` as given: the JSON object it holds (``data``/``encryptedData``,
    ``signature``, ``templateURL``…), unchanged; text that is not a JSON object is kept whole
    under ``"print_data"``."""
    if isinstance(text, dict):
        return dict(text)
    if isinstance(text, str) and text.strip():
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {"print_data": text}
    return {}


def modules(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``waybill_cloud_print_response`` objects of an answer (wrapped or bare)."""
    try:
        return [m for m in unwrap_list(answer.get("modules")) if isinstance(m, dict)]
    except ValueError:
        raise PermanentError(f"{GET_METHOD} answered with modules TOP never sends: "
                             f"{type(answer.get('modules')).__name__}") from None


def waybill_from_answer(answer: Mapping[str, Any], request: WaybillRequest, *, cp_code: str,
                        reused: bool = False) -> Waybill:
    """The ``Waybill`` for ``request`` in an answer: the module of its ``object_id`` (or the only
    one). ``PermanentError`` when the answer holds no waybill for it."""
    found = modules(answer)
    mine = [m for m in found if str(m.get("object_id") or "") == request.key]
    if not mine and len(found) == 1 and not found[0].get("object_id"):
        mine = found
    number = str(mine[0].get("waybill_code") or "").strip() if mine else ""
    if not number:
        raise PermanentError(f"{GET_METHOD} answered without a waybill_code for object_id {request.key!r}")
    answered_cp = str(mine[0].get("cp_code") or cp_code)
    if answered_cp != cp_code:
        raise PermanentError(f"{GET_METHOD} answered for cp_code {answered_cp!r}, asked {cp_code!r}")
    return Waybill(key=request.key, provider=PROVIDER, courier_code=request.courier_code, waybill_number=number,
                   print_data=print_data(mine[0].get("print_data")), reused=reused)
