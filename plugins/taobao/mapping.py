"""Pure translation between TOP trade/refund/stock/shipping objects and the hub's contracts.

Inbound: a ``trade`` object (``trade.fullinfo.get`` or ``trades.sold.increment.get``) → ``Order``;
a ``refund`` (``refunds.receive.get``/``refund.get``) → ``AfterSale``; GMT+8 times → aware
datetimes. Outbound: ``ChannelStock`` values → ``skus.quantity.update``/``item.quantity.update``
params; a ``Shipment`` → ``logistics.offline.send`` params. Every platform status is mapped
explicitly: an unknown value raises ``BadInputError`` naming it, never a silent default.
No I/O. Facts: ``docs/platforms/taobao-tmall.md`` §2–§5, §8.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import (
    RECIPIENT_OAID_EXTRA,
    Address,
    AfterSale,
    AfterSaleLine,
    AfterSaleStatus,
    AfterSaleType,
    Buyer,
    ChannelRef,
    ChannelStock,
    ChannelStockChange,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    canonical_courier_code,
    canonical_courier_map,
)
from hub.plugin_api import BadInputError
from plugins.taobao.client import GMT8, TOP_TIME_FORMAT, unwrap_list

CURRENCY = "CNY"

#: §2 "Trade status": all twelve values (order lines use the same words).
TRADE_STATUS: dict[str, OrderStatus] = {
    "TRADE_NO_CREATE_PAY": OrderStatus.PENDING_PAYMENT,
    "WAIT_BUYER_PAY": OrderStatus.PENDING_PAYMENT,
    "PAY_PENDING": OrderStatus.PENDING_PAYMENT,
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.PAID,
    "PAID_FORBID_CONSIGN": OrderStatus.PAID,  # paid but must not ship: tagged forbid_consign
    "SELLER_CONSIGNED_PART": OrderStatus.PARTIALLY_SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderStatus.DELIVERED,
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    "TRADE_CLOSED": OrderStatus.CLOSED,
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CANCELLED,
}
FORBID_CONSIGN = "PAID_FORBID_CONSIGN"
FORBID_CONSIGN_TAG = "forbid_consign"
TMALL_TAG = "tmall"

#: §5 refund status, plus NO_REFUND which real payloads carry (SAMP): it means "no after-sale".
REFUND_STATUS: dict[str, AfterSaleStatus | None] = {
    "NO_REFUND": None,
    "WAIT_SELLER_AGREE": AfterSaleStatus.REQUESTED,
    "WAIT_BUYER_RETURN_GOODS": AfterSaleStatus.AWAITING_RETURN,
    "WAIT_SELLER_CONFIRM_GOODS": AfterSaleStatus.RETURNED,
    "SELLER_REFUSE_BUYER": AfterSaleStatus.REJECTED,
    "CLOSED": AfterSaleStatus.CLOSED,
    "SUCCESS": AfterSaleStatus.REFUNDED,
}

#: §5 ``dispute_type``.
DISPUTE_TYPE: dict[str, AfterSaleType] = {
    "REFUND": AfterSaleType.REFUND_ONLY,
    "REFUND_AND_RETURN": AfterSaleType.RETURN_AND_REFUND,
    "TMALL_EXCHANGE": AfterSaleType.EXCHANGE,
    "TAOBAO_EXCHANGE": AfterSaleType.EXCHANGE,
    "REPAIR": AfterSaleType.REPAIR,
    "RESHIPPING": AfterSaleType.REISSUE,
    "OTHERS": AfterSaleType.OTHER,
}

#: Hub courier code → TOP ``company_code``: §4 table (an older real response). Shops override or
#: extend it with the ``carrier_codes`` setting; sync ``logistics.companies.get`` for the truth.
#: POSTB and JD are only seen in merchant constants [U]; 极兔/德邦快递 are unknown [U]: not listed.
DEFAULT_CARRIER_CODES: dict[str, str] = {
    "SF": "SF",
    "ZTO": "ZTO",
    "YTO": "YTO",
    "STO": "STO",
    "YUNDA": "YUNDA",
    "EMS": "EMS",
    "POST": "POST",
    "ZJS": "ZJS",
    "HTKY": "HTKY",
    "TTKDEX": "TTKDEX",
    "DBL": "DBL",
    "UC": "UC",
    "OTHER": "OTHER",
    "POSTB": "POSTB",  # [U] merchant constants only
    "JD": "JD",  # [U] merchant constants only
}

SKUS_PER_CALL = 20


# --------------------------------------------------------------------------- small values


def parse_top_time(value: Any) -> datetime | None:
    """A TOP time → aware datetime. ``yyyy-MM-dd HH:mm:ss`` is GMT+8; digits are epoch ms."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, GMT8)
    try:
        return datetime.strptime(text, TOP_TIME_FORMAT).replace(tzinfo=GMT8)
    except ValueError as exc:
        raise BadInputError(f"not a TOP time (yyyy-MM-dd HH:mm:ss, GMT+8): {text!r}", field="time") from exc


def format_top_time(moment: datetime) -> str:
    """An aware datetime as TOP writes it (GMT+8)."""
    if moment.tzinfo is None:
        raise ValueError("format_top_time needs an aware datetime")
    return moment.astimezone(GMT8).strftime(TOP_TIME_FORMAT)


def money(value: Any) -> Money:
    """A TOP money string (``"108.00"`` yuan) → ``Money`` CNY."""
    if value is None or value == "":
        return Money.zero(CURRENCY)
    return Money(amount=str(value), currency=CURRENCY)


def _opt_money(value: Any) -> Money | None:
    return None if value is None or value == "" else money(value)


def _id(obj: Mapping[str, Any], key: str) -> str | None:
    """``<key>_str`` when present (exact for ids beyond 2^53), else ``<key>`` as a string."""
    for name in (f"{key}_str", key):
        value = obj.get(name)
        if value not in (None, ""):
            if isinstance(value, float):
                raise BadInputError(f"{name} arrived as a float ({value!r}); it must be parsed exactly", field=name)
            return str(value)
    return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def order_status(raw: str) -> OrderStatus:
    try:
        return TRADE_STATUS[raw]
    except KeyError:
        raise BadInputError(f"unknown TOP trade status {raw!r}; add it to plugins.taobao.mapping.TRADE_STATUS",
                            field="status") from None


def refund_status(raw: str | None) -> AfterSaleStatus | None:
    """A refund status → canonical after-sale status; ``NO_REFUND`` (and absent) → ``None``."""
    if raw in (None, ""):
        return None
    try:
        return REFUND_STATUS[str(raw)]
    except KeyError:
        raise BadInputError(f"unknown TOP refund status {raw!r}", field="refund_status") from None


def aftersale_type(dispute_type: str | None, has_good_return: Any = None) -> AfterSaleType:
    """``dispute_type`` → type; without one, ``has_good_return`` tells return-and-refund apart."""
    if dispute_type in (None, ""):
        return AfterSaleType.RETURN_AND_REFUND if _truthy(has_good_return) else AfterSaleType.REFUND_ONLY
    try:
        return DISPUTE_TYPE[str(dispute_type)]
    except KeyError:
        raise BadInputError(f"unknown TOP dispute_type {dispute_type!r}", field="dispute_type") from None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


# --------------------------------------------------------------------------- trades → Order


def _address(trade: Mapping[str, Any]) -> Address | None:
    fields = ("receiver_name", "receiver_state", "receiver_city", "receiver_address", "receiver_mobile")
    if not any(trade.get(f) for f in fields):
        return None
    name, street = _text(trade.get("receiver_name")), _text(trade.get("receiver_address"))
    phone = _text(trade.get("receiver_mobile")) or _text(trade.get("receiver_phone"))
    country = str(trade.get("receiver_country") or "")
    # Encrypted TOP receiver fields are "~…~" ciphertext [U: format from public practice];
    # masked ones ("闫**") are kept as sent either way.
    encrypted = any(v and v.startswith("~") for v in (name, street, phone))
    return Address(
        name=name,
        phone=phone,
        country=country if len(country) == 2 and country.isalpha() else "CN",
        province=_text(trade.get("receiver_state")),
        city=_text(trade.get("receiver_city")) or _text(trade.get("receiver_district")),
        district=_text(trade.get("receiver_district")),
        town=_text(trade.get("receiver_town")),
        street=street,
        postcode=_text(trade.get("receiver_zip")),
        encrypted=encrypted,
    )


def _line(item: Mapping[str, Any]) -> OrderLine:
    oid = _id(item, "oid")
    if oid is None:
        raise BadInputError("TOP order line without oid", field="oid")
    line_refund = refund_status(item.get("refund_status"))
    return OrderLine(
        external_id=oid,
        merchant_sku=_text(item.get("outer_sku_id")) or _text(item.get("outer_iid")),
        channel_item_id=_id(item, "num_iid"),
        channel_sku_id=_text(item.get("sku_id")),
        title=str(item.get("title") or ""),
        quantity=int(item.get("num") or 1),
        unit_price=money(item.get("price")),
        discount=_opt_money(item.get("discount_fee")),
        paid=_opt_money(item.get("divide_order_fee")) or _opt_money(item.get("payment")),
        status=order_status(str(item["status"])) if item.get("status") else None,
        refund_status=line_refund.value if line_refund else None,
    )


def order_from_trade(trade: Mapping[str, Any], shop: str, platform: str = "taobao") -> Order:
    """A TOP ``trade`` → ``Order``. Used by the Tmall plugin too (``platform="tmall"``)."""
    tid = _id(trade, "tid")
    if tid is None:
        raise BadInputError("TOP trade without tid", field="tid")
    raw_status = str(trade.get("status") or "")
    status = order_status(raw_status)
    items = unwrap_list(trade.get("orders"))
    if not items:
        raise BadInputError(f"TOP trade {tid} has no orders.order[]; ask for the orders fields", field="orders")
    lines = [_line(item) for item in items]
    tags: list[str] = []
    if raw_status == FORBID_CONSIGN or any(i.get("status") == FORBID_CONSIGN for i in items):
        tags.append(FORBID_CONSIGN_TAG)
    seller_types = {str(i.get("seller_type")) for i in items if i.get("seller_type")}
    if "B" in seller_types:
        tags.append(TMALL_TAG)
    created = parse_top_time(trade.get("created"))
    if created is None:
        raise BadInputError(f"TOP trade {tid} has no created time", field="created")
    extra = {k: trade[k] for k in ("type", "seller_flag", "step_trade_status", "is_part_consign", "shipping_type")
             if trade.get(k) not in (None, "")}
    if seller_types:
        extra["seller_type"] = "B" if "B" in seller_types else sorted(seller_types)[0]
    commission = _text(trade.get("commission_fee"))
    if commission:
        # The trade's 交易佣金 in yuan, for the reports' gross profit [U: TOP fills it only once the trade
        # is settled, and only when ``trade_fields`` names ``commission_fee``; not in the default fields].
        extra["platform_fee"] = commission
    oaid = _text(trade.get("oaid"))
    if oaid:
        extra[RECIPIENT_OAID_EXTRA] = oaid  # TOP's id of the real recipient: what e-waybills are issued with
    return Order(
        ref=ChannelRef(platform=platform, shop=shop, external_id=tid),
        status=status,
        raw_status=raw_status,
        created_at=created,
        updated_at=parse_top_time(trade.get("modified")) or created,
        paid_at=parse_top_time(trade.get("pay_time")),
        shipped_at=parse_top_time(trade.get("consign_time")),
        buyer=Buyer(nick=_text(trade.get("buyer_nick")), platform_buyer_id=_text(trade.get("buyer_open_uid"))),
        shipping_address=_address(trade),
        lines=lines,
        total=money(trade.get("payment")),
        shipping_fee=_opt_money(trade.get("post_fee")),
        buyer_note=_text(trade.get("buyer_message")),
        seller_note=_text(trade.get("seller_memo")),
        tags=tags,
        extra=extra,
    )


#: TOP produces a trade's ``oaid`` only when ``fields`` names all of these (the trade model's comment);
#: ``trade.fullinfo.get`` also wants ``include_oaid`` (``INCLUDE_OAID``).
OAID_NEEDS = ("receiver_name", "receiver_address", "created", "receiver_mobile", "receiver_phone")
#: The value sent as ``include_oaid`` ⚠️ [U]: TOP's model types it as a string and documents no value.
INCLUDE_OAID = "true"


def with_oaid_fields(trade_fields: str) -> str:
    """``trade_fields`` plus ``oaid`` and what TOP needs asked for to produce it (``OAID_NEEDS``):
    without an oaid the masked address of a trade cannot be shipped with an e-waybill."""
    names = [name.strip() for name in trade_fields.split(",") if name.strip()]
    return ",".join(names + [f for f in (*OAID_NEEDS, "oaid") if f not in names])


def receiver_hidden(address: Address | None) -> bool:
    """Whether TOP gave the receiver masked (``闫**``) or encrypted rather than in clear."""
    if address is None:
        return False
    return address.encrypted or any("*" in (value or "") for value in (address.name, address.phone, address.street))


#: What ``trades.sold.increment.get`` is asked for on top of the fullinfo ``fields``: its answer is
#: documented as "part of the trade's data" and lists neither ``buyer_message`` nor ``seller_memo``
#: among its fields, only ``has_buyer_message`` and ``seller_flag`` [OT increment.get doc].
LIST_EXTRA_FIELDS = ("has_buyer_message",)


def list_fields(trade_fields: str) -> str:
    """The ``fields`` for a list call: the fullinfo ones plus ``LIST_EXTRA_FIELDS``."""
    names = [name.strip() for name in trade_fields.split(",") if name.strip()]
    return ",".join(names + [extra for extra in LIST_EXTRA_FIELDS if extra not in names])


def listed_trade_complete(trade: Mapping[str, Any]) -> bool:
    """Whether a trade from ``trades.sold.increment.get`` maps to the same ``Order`` as its
    ``trade.fullinfo.get``: not when it says it has a buyer message but carries none, or has a
    seller flag but no memo (a memo usually comes with a flag). The notes are still asked for:
    if TOP returns them, such trades are complete too [U]. A memo without a flag cannot be told
    apart from no memo when TOP leaves ``seller_memo`` out (it omits empty fields) [U]. Nor when its
    receiver is masked and it carries no ``oaid`` (whether the list calls return it is [U]): the
    waybill needs it."""
    if receiver_hidden(_address(trade)) and not _text(trade.get("oaid")):
        return False
    if _truthy(trade.get("has_buyer_message")) and not _text(trade.get("buyer_message")):
        return False
    flag = str(trade.get("seller_flag") or "0").strip()
    return flag in ("", "0") or bool(_text(trade.get("seller_memo")))


# --------------------------------------------------------------------------- refunds → AfterSale


#: Refund values a write-back needs or a person reads, kept as ``AfterSale.extra`` (as strings).
REFUND_EXTRA_FIELDS = ("refund_phase", "oid", "dispute_type", "operation_contraint")


def refund_deadline(refund: Mapping[str, Any]) -> datetime | None:
    """When TOP decides the refund by itself: ``refund_remind_timeout.timeout`` (``taobao.refund.get``,
    with ``exist_timeout``), else a flat ``time_out`` (``tmall.dispute.receive.get`` items) or
    ``timeout`` [U: neither flat name is documented on the refund object]. ``exist_timeout`` false
    means no deadline runs."""
    remind = refund.get("refund_remind_timeout")
    if isinstance(remind, Mapping):
        if remind.get("exist_timeout") is not None and not _truthy(remind.get("exist_timeout")):
            return None
        if remind.get("timeout"):
            return parse_top_time(remind.get("timeout"))
    return parse_top_time(refund.get("time_out") or refund.get("timeout"))


def refund_extra(refund: Mapping[str, Any]) -> dict[str, str]:
    """``REFUND_EXTRA_FIELDS`` that the refund carries, as strings (ids exact via ``_str``)."""
    extra: dict[str, str] = {}
    for name in REFUND_EXTRA_FIELDS:
        value = _id(refund, name) if name == "oid" else _text(refund.get(name))
        if value is not None:
            extra[name] = value
    return extra


def aftersale_from_refund(refund: Mapping[str, Any], shop: str, platform: str = "taobao",
                          max_refund_field: str = "payment") -> AfterSale:
    """A TOP ``refund`` → ``AfterSale`` (the order ref is the trade ``tid``).

    ``version`` is ``refund_version`` (what Tmall writes must carry); ``max_refund`` is the field
    ``max_refund_field`` names, ``payment`` by default [U: the TOP doc describes the refund's
    ``payment`` as "paid to the seller (trade total − refund)"; shops that see that set
    ``total_fee``]; ``deadline`` from ``refund_deadline``; ``return_courier`` is ``company_name``."""
    refund_id, tid = _id(refund, "refund_id"), _id(refund, "tid")
    if refund_id is None or tid is None:
        raise BadInputError("TOP refund without refund_id or tid", field="refund_id")
    raw = str(refund.get("status") or "")
    status = refund_status(raw)
    if status is None:
        raise BadInputError(f"TOP refund {refund_id} has status {raw!r}, which is not an after-sale status",
                            field="status")
    modified = parse_top_time(refund.get("modified"))
    created = parse_top_time(refund.get("created")) or modified
    if created is None:
        raise BadInputError(f"TOP refund {refund_id} has neither created nor modified", field="modified")
    oid = _id(refund, "oid")
    refund_amount = _opt_money(refund.get("refund_fee"))
    version = _text(refund.get("refund_version"))
    return AfterSale(
        ref=ChannelRef(platform=platform, shop=shop, external_id=refund_id),
        order_ref=ChannelRef(platform=platform, shop=shop, external_id=tid),
        type=aftersale_type(_text(refund.get("dispute_type")), refund.get("has_good_return")),
        status=status,
        raw_status=raw,
        refund_amount=refund_amount,
        reason=_text(refund.get("reason")),
        lines=[AfterSaleLine(line_external_id=oid, merchant_sku=_text(refund.get("outer_id")),
                             quantity=int(refund.get("num") or 1), refund_amount=refund_amount)] if oid else [],
        goods_returned=str(refund.get("good_status") or "") == "BUYER_RETURNED_GOODS",
        return_tracking_number=_text(refund.get("sid")),
        created_at=created,
        updated_at=modified or created,
        deadline=refund_deadline(refund),
        version=version,
        max_refund=_opt_money(refund.get(max_refund_field)),
        description=_text(refund.get("desc")),
        return_courier=_text(refund.get("company_name")),
        extra=refund_extra(refund),
    )


# --------------------------------------------------------------------------- stock → TOP params


@dataclass
class StockCall:
    """One TOP stock call and the values (or changes) it carries, so results map back one each."""

    method: str
    params: dict[str, Any]
    values: list[ChannelStock] | list[ChannelStockChange] = field(default_factory=list)


def skuid_quantities(values: list[ChannelStock]) -> str:
    """``skuId:qty;skuId:qty`` (§3)."""
    return ";".join(f"{v.channel_sku_id}:{v.quantity}" for v in values)


def stock_calls(values: list[ChannelStock]) -> tuple[list[StockCall], list[ChannelStock]]:
    """Group absolute stock values into TOP calls: ``skus.quantity.update`` (≤20 SKUs of one
    ``num_iid``, ``type=1`` full) and ``item.quantity.update`` for listings without SKUs.
    Returns (calls, values that cannot be pushed because they have no ``channel_item_id``)."""
    unbound = [v for v in values if not v.channel_item_id]
    by_item: dict[str, list[ChannelStock]] = {}
    calls: list[StockCall] = []
    for value in values:
        if not value.channel_item_id:
            continue
        if value.channel_sku_id:
            by_item.setdefault(value.channel_item_id, []).append(value)
        else:
            calls.append(StockCall("taobao.item.quantity.update",
                                   {"num_iid": value.channel_item_id, "quantity": value.quantity, "type": 1},
                                   [value]))
    for num_iid, group in by_item.items():
        for start in range(0, len(group), SKUS_PER_CALL):
            chunk = group[start:start + SKUS_PER_CALL]
            calls.append(StockCall("taobao.skus.quantity.update",
                                   {"num_iid": num_iid, "skuid_quantities": skuid_quantities(chunk), "type": 1},
                                   chunk))
    return calls, unbound


def stock_change_calls(changes: list[ChannelStockChange]) -> tuple[list[StockCall], list[ChannelStockChange]]:
    """Relative changes (``type=2``, incremental). Raises of one ``num_iid`` share a
    ``skus.quantity.update`` (≤20 SKUs). Every decrement goes alone through
    ``item.quantity.update``, whose answer carries what the SKU shows afterwards (§3): TOP cuts
    an incremental decrement short at 0, and only that answer tells the hub it was not.
    Returns (calls, changes without a ``channel_item_id``)."""
    unbound = [c for c in changes if not c.channel_item_id]
    raises: dict[str, list[ChannelStockChange]] = {}
    calls: list[StockCall] = []
    for change in changes:
        if not change.channel_item_id:
            continue
        if change.delta > 0 and change.channel_sku_id:
            raises.setdefault(change.channel_item_id, []).append(change)
            continue
        params: dict[str, Any] = {"num_iid": change.channel_item_id, "quantity": change.delta, "type": 2}
        if change.channel_sku_id:
            params["sku_id"] = change.channel_sku_id
        calls.append(StockCall("taobao.item.quantity.update", params, [change]))
    for num_iid, group in raises.items():
        for start in range(0, len(group), SKUS_PER_CALL):
            chunk = group[start:start + SKUS_PER_CALL]
            calls.append(StockCall("taobao.skus.quantity.update", {
                "num_iid": num_iid, "skuid_quantities": ";".join(f"{c.channel_sku_id}:{c.delta}" for c in chunk),
                "type": 2}, chunk))
    return calls, unbound


# --------------------------------------------------------------------------- shipment → TOP params


def carrier_table(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Canonical hub courier code → TOP company_code: the defaults, the shop's overrides on top."""
    table = canonical_courier_map(DEFAULT_CARRIER_CODES)
    table.update(canonical_courier_map(overrides or {}))
    return table


def company_code(courier_code: str, table: Mapping[str, str]) -> str:
    """The TOP company_code for a hub courier code in any case (``table`` from ``carrier_table``)."""
    try:
        return table[canonical_courier_code(courier_code)]
    except KeyError:
        raise BadInputError(f"no TOP company_code for courier {courier_code!r}; add it to the shop's "
                            "carrier_codes setting", field="courier_code") from None


def offline_send_params(tid: str, shipment: Shipment, table: Mapping[str, str]) -> list[dict[str, Any]]:
    """``logistics.offline.send`` params, one call per parcel. A full shipment in one parcel is a
    plain send; a partial or multi-parcel shipment sends ``is_split=1`` with ``sub_tid`` = the
    parcel's order lines (oids), so each parcel ships exactly its lines."""
    split = shipment.partial or len(shipment.parcels) > 1
    calls: list[dict[str, Any]] = []
    for parcel in shipment.parcels:
        params: dict[str, Any] = {"tid": tid, "out_sid": parcel.tracking_number,
                                  "company_code": company_code(parcel.courier_code, table)}
        if split:
            oids = list(dict.fromkeys(item.line_external_id for item in parcel.items))
            if not oids:
                raise BadInputError(f"a split shipment of trade {tid} needs the parcel's order lines "
                                    f"(parcel {parcel.tracking_number} has none)", field="parcels.items")
            params.update(is_split=1, sub_tid=",".join(oids))
        calls.append(params)
    return calls
