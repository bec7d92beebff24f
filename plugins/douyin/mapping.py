"""Pure translation between Douyin shop payloads and the hub's contracts, both ways.

Inbound: shop orders (``order.searchList`` / ``order.orderDetail``), after-sales (``afterSale.List``
/ ``afterSale.Detail``), SKU lists (``sku.list``). Outbound: stock items, shipment params, search
windows. Money arrives in fen, times as Unix seconds, ids as 19-digit numbers or strings: all are
converted here. No I/O. Facts: §2–§5 of ``docs/platforms/douyin.md`` and the
field trees of [Z] ``api/*/response/*.go``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from contracts import (
    Address,
    AfterSale,
    AfterSaleLine,
    AfterSaleStatus,
    AfterSaleType,
    Buyer,
    ChannelRef,
    ChannelStock,
    ChannelStockChange,
    ChannelStockReading,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    StockPushResult,
    canonical_courier_map,
)
from contracts.privacy import mask_name, mask_phone, mask_text
from contracts.refs import platform_id
from hub.plugin_api import BadInputError

PLATFORM = "douyin"

#: order_status (shop order and sku order) ✅ §2. 105 (paid) and 2 (备货中, the only shippable state)
#: are both "paid" for the hub; 101 is partially shipped.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "1": OrderStatus.PENDING_PAYMENT,
    "105": OrderStatus.PAID,
    "2": OrderStatus.PAID,
    "101": OrderStatus.PARTIALLY_SHIPPED,
    "3": OrderStatus.SHIPPED,
    "4": OrderStatus.CANCELLED,
    "5": OrderStatus.COMPLETED,
}
SHIPPABLE_STATUSES = frozenset({"2", "105", "101"})
SHIPPED_STATUSES = frozenset({"3", "5"})

#: after-sale type ✅ §5. 4/5 (system/user cancel) and 6 (price protection) give money back
#: without goods moving, so they are refund-only for the hub.
AFTERSALE_TYPES: dict[str, AfterSaleType] = {
    "0": AfterSaleType.RETURN_AND_REFUND,
    "1": AfterSaleType.REFUND_ONLY,
    "2": AfterSaleType.REFUND_ONLY,
    "3": AfterSaleType.EXCHANGE,
    "4": AfterSaleType.REFUND_ONLY,
    "5": AfterSaleType.REFUND_ONLY,
    "6": AfterSaleType.REFUND_ONLY,
    "7": AfterSaleType.REISSUE,
    "8": AfterSaleType.REPAIR,
}
_GOODS_TYPES = frozenset({AfterSaleType.EXCHANGE, AfterSaleType.REISSUE, AfterSaleType.REPAIR})

#: after-sale status ✅ §5 (List ``aftersale_status`` = Detail ``after_sale_status``). 12 and 53 end
#: in a refund for money types and in completion for exchange/reissue/repair (see ``aftersale_status``).
AFTERSALE_STATUSES: dict[str, AfterSaleStatus] = {
    "6": AfterSaleStatus.REQUESTED,  # awaiting seller approval
    "7": AfterSaleStatus.AWAITING_RETURN,  # awaiting buyer's return
    "8": AfterSaleStatus.APPROVED,  # awaiting seller shipment (resend / repair; exchange below)
    "11": AfterSaleStatus.RETURNED,  # goods sent back, awaiting seller's 2nd approval
    "12": AfterSaleStatus.REFUNDED,  # success
    "13": AfterSaleStatus.REPLACEMENT_SHIPPED,  # exchange/resend shipped, awaiting buyer receipt
    "14": AfterSaleStatus.COMPLETED,  # exchange/resend done
    "27": AfterSaleStatus.REJECTED,  # seller's 1st refusal
    "28": AfterSaleStatus.CLOSED,  # failed (incl. buyer cancelled)
    "29": AfterSaleStatus.REJECTED,  # seller's 2nd refusal
    "51": AfterSaleStatus.CLOSED,  # order cancelled (refined by refund_status below)
    "53": AfterSaleStatus.REFUNDED,  # reverse trade done
}
#: An exchange reads some statuses differently: 8 (awaiting seller shipment) comes after the
#: returned goods were received [U: the status table names no type; afterSale.operate 311 takes
#: receipt and reshipment in one call, so the connector never leaves a case there itself].
EXCHANGE_STATUSES: dict[str, AfterSaleStatus] = {"8": AfterSaleStatus.RETURNED}
#: refund_status ✅ §5: 1 pending, 2 refunding, 3 refunded, 4 failed, 5 recovered (追缴成功).
REFUND_STATUSES = {"1": "pending", "2": "refunding", "3": "refunded", "4": "failed", "5": "recovered"}
_OPEN = frozenset({AfterSaleStatus.REQUESTED, AfterSaleStatus.APPROVED, AfterSaleStatus.AWAITING_RETURN,
                   AfterSaleStatus.RETURNED})


# --------------------------------------------------------------------------- small conversions


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def from_unix(value: Any) -> datetime | None:
    """Unix seconds (int or digits) → aware UTC datetime; 0 / empty → None."""
    raw = text(value)
    if not raw or raw == "0":
        return None
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except ValueError as exc:
        raise BadInputError(f"Douyin time {raw!r} is not Unix seconds") from exc


def to_unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return int(moment.timestamp())


def fen(value: Any) -> Money:
    """An amount in fen (int or digits) → CNY ``Money``."""
    raw = text(value) or "0"
    try:
        return Money.from_minor_units(int(raw), "CNY")
    except ValueError as exc:
        raise BadInputError(f"Douyin amount {raw!r} is not a whole number of fen") from exc


def optional_id(value: Any) -> str | None:
    raw = text(value)
    return None if raw in ("", "0") else platform_id(raw)


def _name(node: Any) -> str | None:
    return text(node.get("name")) or None if isinstance(node, dict) else None


#: Douyin's ``post_addr`` region levels, top down (``town`` is the district level, ``street`` the township).
REGION_LEVELS = ("province", "city", "town", "street")


def post_addr_regions(order: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The order's region ids and names by Douyin level (``{"province": {"id", "name"}, …}``), from
    ``post_addr`` (or ``mask_post_addr``, whose regions are not masked): what ``order.addressModify``
    needs back in its ``post_addr``. Regions only, no personal data; levels without id and name left out."""
    region = order.get("post_addr") or order.get("mask_post_addr") or {}
    kept: dict[str, dict[str, str]] = {}
    for level in REGION_LEVELS:
        node = region.get(level) if isinstance(region, dict) else None
        if isinstance(node, dict) and (text(node.get("id")) or text(node.get("name"))):
            kept[level] = {"id": text(node.get("id")), "name": text(node.get("name"))}
    return kept


# --------------------------------------------------------------------------- orders


def order_status(raw: Any) -> OrderStatus:
    """Douyin ``order_status`` → canonical; an unknown value is bad input, never guessed."""
    key = text(raw)
    try:
        return ORDER_STATUSES[key]
    except KeyError:
        raise BadInputError(f"unknown Douyin order_status {key!r}", field="order_status") from None


def map_address(order: dict[str, Any]) -> Address | None:
    """Ciphertext (``encrypt_post_*``) is stored as is with ``encrypted=True``; otherwise only masked
    values are kept (the platform's ``mask_post_*``, or legacy plain fields masked here)."""
    addr = order.get("post_addr") or {}
    masked_addr = order.get("mask_post_addr") or {}
    region = masked_addr if masked_addr and not addr else addr
    common = {
        "province": _name(region.get("province")),
        "city": _name(region.get("city")),
        "district": _name(region.get("town")),
        "town": _name(region.get("street")),
    }
    name_cipher = text(order.get("encrypt_post_receiver"))
    if name_cipher:
        return Address(name=name_cipher, phone=text(order.get("encrypt_post_tel")) or None,
                       street=text(addr.get("encrypt_detail")) or None, encrypted=True, **common)
    name = text(order.get("mask_post_receiver")) or mask_name(text(order.get("post_receiver")) or None)
    phone = text(order.get("mask_post_tel")) or mask_phone(text(order.get("post_tel")) or None)
    street = text(masked_addr.get("detail")) or mask_text(text(addr.get("detail")) or None)
    if not any([name, phone, street, *common.values()]):
        return None
    return Address(name=name or None, phone=phone or None, street=street or None, **common)


def map_line(sku_order: dict[str, Any]) -> OrderLine:
    quantity = int(text(sku_order.get("item_num")) or 0)
    if quantity <= 0:
        raise BadInputError(f"Douyin sku order {text(sku_order.get('order_id'))!r} has item_num {quantity}")
    promotion = fen(sku_order.get("promotion_amount"))
    after = sku_order.get("after_sale_info") or {}
    refund = None
    if text(after.get("after_sale_status")) not in ("", "0"):
        refund = aftersale_status(after.get("after_sale_status"), after.get("after_sale_type"),
                                  after.get("refund_status")).value
    status = text(sku_order.get("order_status"))
    return OrderLine(
        external_id=platform_id(sku_order["order_id"]),
        merchant_sku=text(sku_order.get("code")) or optional_id(sku_order.get("out_sku_id")),
        channel_item_id=optional_id(sku_order.get("product_id_str")) or optional_id(sku_order.get("product_id")),
        channel_sku_id=optional_id(sku_order.get("sku_id")),
        title=text(sku_order.get("product_name")),
        quantity=quantity,
        unit_price=fen(sku_order.get("origin_amount")),  # unit price; Douyin has no goods_price
        discount=promotion if promotion.amount else None,
        paid=fen(sku_order.get("pay_amount")),
        status=order_status(status) if status else None,
        refund_status=refund,
    )


def map_order(order: dict[str, Any], shop: str) -> Order:
    """A shop order (``shop_order_list[]`` item or ``shop_order_detail``) → ``contracts.Order``."""
    if not isinstance(order, dict) or not text(order.get("order_id")):
        raise BadInputError("Douyin shop order without order_id", field="order_id")
    raw_status = text(order.get("order_status"))
    created = from_unix(order.get("create_time"))
    if created is None:
        raise BadInputError(f"Douyin order {order['order_id']} without create_time", field="create_time")
    lines = [map_line(item) for item in order.get("sku_order_list") or []]
    if not lines:
        raise BadInputError(f"Douyin order {order['order_id']} has no sku_order_list", field="sku_order_list")
    logistics = [
        {"tracking_no": text(item.get("tracking_no")), "company": text(item.get("company")),
         "company_name": text(item.get("company_name"))}
        for item in order.get("logistics_info") or []
    ]
    extra = {
        "main_status": text(order.get("main_status")),
        "order_type": text(order.get("order_type")),
        "biz": text(order.get("biz")),
        "seller_remark_stars": int(text(order.get("seller_remark_stars")) or 0),
        "shop_id": text(order.get("shop_id")),
        "logistics": logistics,
    }
    regions = post_addr_regions(order)
    if regions:
        extra["post_addr_regions"] = regions
    return Order(
        ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=platform_id(order["order_id"])),
        status=order_status(raw_status),
        raw_status=raw_status,
        created_at=created,
        updated_at=from_unix(order.get("update_time")) or created,
        paid_at=from_unix(order.get("pay_time")),
        shipped_at=from_unix(order.get("ship_time")),
        buyer=Buyer(platform_buyer_id=text(order.get("doudian_open_id")) or None),
        shipping_address=map_address(order),
        lines=lines,
        total=fen(order.get("pay_amount")),
        shipping_fee=fen(order.get("post_amount")),
        buyer_note=text(order.get("buyer_words")) or None,
        seller_note=text(order.get("seller_words")) or None,
        extra=extra,
    )


def shipped_tracking_numbers(order: dict[str, Any]) -> set[str]:
    return {text(item.get("tracking_no")) for item in order.get("logistics_info") or [] if item.get("tracking_no")}


def search_params(start: datetime, end: datetime, page: int, size: int) -> dict[str, Any]:
    """``order.searchList`` by update time, oldest first, so a page boundary moves less under writes."""
    return {"update_time_start": to_unix(start), "update_time_end": to_unix(end), "order_by": "update_time",
            "order_asc": True, "page": page, "size": size}


# --------------------------------------------------------------------------- after-sales


def aftersale_type(raw: Any) -> AfterSaleType:
    key = text(raw)
    try:
        return AFTERSALE_TYPES[key]
    except KeyError:
        raise BadInputError(f"unknown Douyin aftersale_type {key!r}", field="aftersale_type") from None


def aftersale_status(raw_status: Any, raw_type: Any, refund_status: Any = None) -> AfterSaleStatus:
    """Status, refined by type (success of an exchange is completion, not a refund) and by
    ``refund_status`` (an open case whose money is moving is ``refunding``)."""
    key = text(raw_status)
    try:
        status = AFTERSALE_STATUSES[key]
    except KeyError:
        raise BadInputError(f"unknown Douyin aftersale_status {key!r}", field="aftersale_status") from None
    kind = aftersale_type(raw_type) if text(raw_type) else AfterSaleType.REFUND_ONLY
    refund = text(refund_status)
    if kind == AfterSaleType.EXCHANGE:
        status = EXCHANGE_STATUSES.get(key, status)
    if status == AfterSaleStatus.REFUNDED and kind in _GOODS_TYPES:
        return AfterSaleStatus.COMPLETED
    if key == "51" and refund == "3":
        return AfterSaleStatus.REFUNDED
    if status in _OPEN and refund == "2":
        return AfterSaleStatus.REFUNDING
    if status in _OPEN and refund == "3":
        return AfterSaleStatus.REFUNDED
    return status


def _version(value: Any) -> str | None:
    """``update_time`` as the optimistic-lock value ``afterSale.operate`` takes back (the official SDK's
    afterSale.Detail field notes: use it as operate ``update_time``), kept as the digits the platform sent."""
    raw = text(value)
    return raw if raw and raw != "0" else None


def _case_extra(info: dict[str, Any], raw_type: Any, **more: Any) -> dict[str, str]:
    """Values a write-back needs and the hub does not interpret, as strings (empty ones dropped):
    the raw type (operate's codes differ per type), ``refund_status``, and ``more``."""
    extra = {"aftersale_type": text(raw_type), "refund_status": text(info.get("refund_status"))}
    extra.update({key: text(value) for key, value in more.items()})
    return {key: value for key, value in extra.items() if value}


def map_aftersale_list_item(item: dict[str, Any], shop: str) -> AfterSale:
    """An ``afterSale.List`` item (``aftersale_info`` + ``order_info``) → ``contracts.AfterSale``.
    The list gives no paid amount, reason text or evidence: ``afterSale.Detail`` does."""
    info = item.get("aftersale_info") or {}
    order_info = item.get("order_info") or {}
    aftersale_id = text(info.get("aftersale_id"))
    if not aftersale_id:
        raise BadInputError("Douyin after-sale without aftersale_id", field="aftersale_id")
    applied = from_unix(info.get("apply_time")) or from_unix(info.get("create_time"))
    if applied is None:
        raise BadInputError(f"Douyin after-sale {aftersale_id} without apply_time", field="apply_time")
    lines = [
        AfterSaleLine(line_external_id=optional_id(rel.get("sku_order_id")),
                      merchant_sku=text(rel.get("shop_sku_code")) or None,
                      quantity=int(text(rel.get("aftersale_item_num")) or text(rel.get("item_num")) or 0))
        for rel in order_info.get("related_order_info") or []
    ]
    tracking = text(info.get("return_logistics_code")) or None
    raw_type = info.get("aftersale_type")
    return AfterSale(
        ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=aftersale_id),
        order_ref=ChannelRef(platform=PLATFORM, shop=shop,
                             external_id=text(order_info.get("shop_order_id")) or text(info.get("related_id"))),
        type=aftersale_type(raw_type),
        status=aftersale_status(info.get("aftersale_status"), raw_type, info.get("refund_status")),
        raw_status=text(info.get("aftersale_status")),
        refund_amount=fen(info.get("refund_amount")),
        lines=lines,
        goods_returned=tracking is not None,
        return_tracking_number=tracking,
        created_at=applied,
        updated_at=from_unix(info.get("update_time")) or applied,
        deadline=from_unix(info.get("status_deadline")),
        version=_version(info.get("update_time")),
        extra=_case_extra(info, raw_type),
    )


def _paid_for(sku_orders: list[dict[str, Any]]) -> Money | None:
    """What the buyer paid for the case's sub-orders (``pay_amount``, fen), when the detail says.
    [U] Whether freight (``post_amount``) may be refunded on top is not documented: not added."""
    amounts = [sku.get("pay_amount") for sku in sku_orders if text(sku.get("pay_amount"))]
    return fen(sum(int(text(a)) for a in amounts)) if amounts else None


def _exchange_sku_info(info: dict[str, Any]) -> dict[str, Any]:
    sku = info.get("exchange_sku_info") or {}
    return sku if isinstance(sku, dict) else {}


def exchange_sku_code(info: dict[str, Any]) -> str | None:
    """The merchant code of the SKU the buyer wants instead: ``exchange_sku_info.code``, else its
    ``out_sku_id``. [U] The detail's field notes list both without saying what they hold; read as on
    an order's ``sku_order_list`` (``code`` = 商家后台商品编码, ``out_sku_id`` = the merchant's own
    SKU id), where the hub takes them as the merchant SKU the same way (``map_line``)."""
    sku = _exchange_sku_info(info)
    return text(sku.get("code")) or optional_id(sku.get("out_sku_id"))


def exchange_sku_of(info: dict[str, Any]) -> str | None:
    """``exchange_sku_info``: the merchant code (``exchange_sku_code``), else the platform's words
    (name and spec) for what the buyer wants instead."""
    sku = _exchange_sku_info(info)
    words = " ".join(part for part in (text(sku.get("name")), text(sku.get("spec_desc"))) if part)
    return exchange_sku_code(info) or words or None


def exchange_extra(info: dict[str, Any]) -> dict[str, Any]:
    """The wanted SKU's ids for ``AfterSale.extra``: ``exchange_sku_id`` (Douyin's channel SKU id,
    which the shop's listing bindings map to a merchant SKU) and ``exchange_sku_code`` (its merchant
    code). The hub sends the replacement by them (``hub.services.aftersales.replacements``)."""
    sku = _exchange_sku_info(info)
    return {"exchange_sku_id": optional_id(sku.get("sku_id")), "exchange_sku_code": exchange_sku_code(info)}


def evidence_urls(value: Any) -> list[str]:
    """``evidence[]`` (≤8 image URLs): plain strings, or objects with ``url`` [U: both seen]."""
    urls = [text(item.get("url")) if isinstance(item, dict) else text(item) for item in value or []]
    return [url for url in urls if url]


def map_aftersale_detail(data: dict[str, Any], shop: str) -> AfterSale:
    """``afterSale.Detail`` data (``process_info.after_sale_info`` + ``order_info``) → ``AfterSale``.
    Ids are int64 here (strings in List): both become strings. ``update_time`` is the case's
    ``version`` (operate's optimistic lock), ``status_deadline`` its ``deadline``."""
    process = data.get("process_info") or {}
    info = process.get("after_sale_info") or {}
    order_info = data.get("order_info") or {}
    aftersale_id = text(info.get("after_sale_id"))
    if not aftersale_id:
        raise BadInputError("Douyin after-sale detail without after_sale_id", field="after_sale_id")
    applied = from_unix(info.get("apply_time"))
    if applied is None:
        raise BadInputError(f"Douyin after-sale {aftersale_id} without apply_time", field="apply_time")
    logistics = process.get("logistics_info") or {}
    returned = logistics.get("return") or {}
    exchange = logistics.get("exchange") or {}
    tracking = text(returned.get("tracking_no")) or None
    sku_orders = list(order_info.get("sku_order_infos") or [])
    lines = [
        AfterSaleLine(line_external_id=optional_id(sku.get("sku_order_id")),
                      merchant_sku=text(sku.get("shop_sku_code")) or None,
                      quantity=int(text(sku.get("after_sale_item_count")) or text(sku.get("item_quantity")) or 0))
        for sku in sku_orders
    ]
    resend = logistics.get("resend") or {}
    amount = info.get("real_refund_amount") or info.get("refund_total_amount")
    raw_type = info.get("after_sale_type")
    return AfterSale(
        ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=aftersale_id),
        order_ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=text(order_info.get("shop_order_id"))),
        type=aftersale_type(raw_type),
        status=aftersale_status(info.get("after_sale_status"), raw_type, info.get("refund_status")),
        raw_status=text(info.get("after_sale_status")),
        refund_amount=fen(amount),
        reason=text(info.get("reason")) or None,
        lines=lines,
        goods_returned=tracking is not None,
        return_tracking_number=tracking,
        created_at=applied,
        updated_at=from_unix(info.get("update_time")) or applied,
        deadline=from_unix(info.get("status_deadline")),
        version=_version(info.get("update_time")),
        max_refund=_paid_for(sku_orders),
        description=text(info.get("reason_remark")) or None,
        evidence=evidence_urls(info.get("evidence")),
        return_courier=text(returned.get("company_code")) or text(returned.get("company_name")) or None,
        exchange_sku=exchange_sku_of(info),
        extra=_case_extra(
            info, raw_type, reason_code=info.get("reason_code"), got_pkg=info.get("got_pkg"),
            part_type=info.get("part_type"), return_address_id=optional_id(info.get("return_address_id")),
            return_company_name=returned.get("company_name"), **exchange_extra(info),
            exchange_tracking_number=exchange.get("tracking_no"), exchange_courier=exchange.get("company_code"),
            resend_tracking_number=resend.get("tracking_no"), resend_courier=resend.get("company_code")),
    )


def aftersale_list_params(start: datetime, end: datetime, page: int, size: int) -> dict[str, Any]:
    return {"update_start_time": to_unix(start), "update_end_time": to_unix(end),
            "order_by": ["update_time asc"], "page": page, "size": size}


# --------------------------------------------------------------------------- stock


def _id_param(value: str, as_string: bool) -> int | str:
    # The SDK types product_id / sku_id as int64 (sent as JSON numbers); Python ints are exact, so
    # nothing is lost. ⚠️ Legacy docs wanted every value as a string: ``as_string`` keeps that open.
    return value if as_string else int(value)


def stock_item(value: ChannelStock | ChannelStockChange, *, ids_as_strings: bool = False) -> dict[str, Any]:
    """One ``sku.syncStockBatchMultiProducts`` item: an absolute quantity, or a change's delta."""
    if not value.channel_sku_id:
        raise BadInputError(f"SKU {value.merchant_sku!r} has no Douyin sku_id; map the listing first",
                            field="channel_sku_id")
    stock = value.quantity if isinstance(value, ChannelStock) else value.delta
    item: dict[str, Any] = {"sku_id": _id_param(value.channel_sku_id, ids_as_strings), "stock_num": stock}
    if value.channel_item_id:
        item["product_id"] = _id_param(value.channel_item_id, ids_as_strings)
    return item


def stock_batch_params(values: list[ChannelStock], idempotent_id: str, *,
                       ids_as_strings: bool = False) -> dict[str, Any]:
    """``sku.syncStockBatchMultiProducts``: ≤50 items, overwrite (``incremental=false``)."""
    if len(values) > 50:
        raise ValueError("syncStockBatchMultiProducts takes at most 50 SKUs")
    return {"items": [stock_item(v, ids_as_strings=ids_as_strings) for v in values],
            "incremental": False, "idempotent_id": idempotent_id}


def stock_change_params(change: ChannelStockChange, *, ids_as_strings: bool = False) -> dict[str, Any]:
    """``sku.syncStockBatchMultiProducts`` for one change: ``incremental=true`` (negatives allowed),
    ``idempotent_id`` = the hub's key of the change, so a resend is refused as already applied."""
    return {"items": [stock_item(change, ids_as_strings=ids_as_strings)], "incremental": True,
            "idempotent_id": change.key}


def change_result(change: ChannelStockChange, data: Any) -> StockPushResult:
    """The per-SKU result of a one-change ``syncStockBatchMultiProducts``: ``stock_num`` is what the
    SKU shows after and ``change_num`` the change really made (⚠️ read as such from the response
    fields' names; the doc does not say whether a decrement below 0 is cut short or refused)."""
    rows = [r for r in (data or {}).get("results") or [] if text(r.get("sku_id")) == change.channel_sku_id]
    if not rows:
        return StockPushResult(merchant_sku=change.merchant_sku, channel_sku_id=change.channel_sku_id, ok=True)
    row = rows[0]
    if int(text(row.get("status_code")) or 0) != 0:
        return StockPushResult(merchant_sku=change.merchant_sku, channel_sku_id=change.channel_sku_id, ok=False,
                               error_code=text(row.get("status_code")), error_message=text(row.get("status_message")))
    stock, changed = text(row.get("stock_num")), text(row.get("change_num"))
    return StockPushResult(merchant_sku=change.merchant_sku, channel_sku_id=change.channel_sku_id, ok=True,
                           quantity=int(stock) if stock.lstrip("-").isdigit() else None,
                           applied=int(changed) if changed.lstrip("-").isdigit() else None)


def sync_stock_params(value: ChannelStock, *, ids_as_strings: bool = False) -> dict[str, Any]:
    """``sku.syncStock`` for one value (overwrite, so no idempotent_id is needed)."""
    params = stock_item(value, ids_as_strings=ids_as_strings)
    params["incremental"] = False
    return params


def batch_fingerprint(items: list[dict[str, Any]]) -> str:
    """A stable digest of a batch's content, independent of item order."""
    keyed = sorted(f"{item.get('product_id', '')}:{item['sku_id']}:{item['stock_num']}" for item in items)
    return hashlib.sha256("|".join(keyed).encode("utf-8")).hexdigest()


def idempotent_id(fingerprint: str, generation: int) -> str:
    """Deterministic per (content, generation): a retry of an unconfirmed batch reuses the id; a later
    legitimate push of the same values uses the next generation, so it is not swallowed."""
    return hashlib.sha256(f"{fingerprint}:{generation}".encode()).hexdigest()[:32]


def stock_readings(skus: list[dict[str, Any]], listings: Iterable[ChannelStock]) -> list[ChannelStockReading]:
    """``sku.list`` data matched to the listings asked for (by sku_id)."""
    wanted = {listing.channel_sku_id: listing for listing in listings if listing.channel_sku_id}
    readings: list[ChannelStockReading] = []
    for sku in skus:
        sku_id = optional_id(sku.get("id"))
        if sku_id is None or sku_id not in wanted:
            continue
        listing = wanted[sku_id]
        readings.append(ChannelStockReading(
            merchant_sku=text(sku.get("code")) or listing.merchant_sku,
            channel_item_id=optional_id(sku.get("product_id_str")) or optional_id(sku.get("product_id")),
            channel_sku_id=sku_id,
            quantity=max(0, int(text(sku.get("stock_num")) or 0)),
        ))
    return readings


# --------------------------------------------------------------------------- shipping


def logistics_add_params(order_id: str, company_code: str, tracking_number: str) -> dict[str, Any]:
    """``order.logisticsAdd``: the whole order; ``logistics_code`` is the tracking number (运单号)."""
    return {"order_id": order_id, "company_code": company_code, "logistics_code": tracking_number}


def multipack_params(order_id: str, shipment: Shipment, company_codes: dict[str, str]) -> dict[str, Any]:
    """``order.logisticsAddMultiPack``: one pack per parcel with its sub-orders and counts; the
    ``request_id`` is derived from the content, so a retry is answered idempotently by the platform."""
    codes = canonical_courier_map(company_codes)  # keyed like ``Parcel.courier_code``, any spelling
    packs: list[dict[str, Any]] = []
    for parcel in shipment.parcels:
        if not parcel.items:
            raise BadInputError(f"parcel {parcel.tracking_number!r} lists no items; a multi-pack or partial "
                                "Douyin shipment needs the sub-orders in each parcel", field="parcels")
        packs.append({
            "shipped_order_info": [{"shipped_order_id": item.line_external_id, "shipped_num": item.quantity}
                                   for item in parcel.items],
            "logistics_code": parcel.tracking_number,
            "company_code": codes[parcel.courier_code],
        })
    seed = order_id + "|" + "|".join(
        f"{p['company_code']}:{p['logistics_code']}:" + ",".join(
            f"{i['shipped_order_id']}x{i['shipped_num']}" for i in p["shipped_order_info"])
        for p in packs)
    request_id = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]
    return {"order_id": order_id, "pack_list": packs, "request_id": request_id}


# --------------------------------------------------------------------------- buyer data


def decrypt_params(order_id: str, address: Address) -> dict[str, Any]:
    """``order.batchDecrypt`` for an encrypted address's name, phone and street (auth_id = order id)."""
    ciphers = [c for c in (address.name, address.phone, address.street) if c]
    return {"cipher_infos": [{"auth_id": order_id, "cipher_text": c} for c in ciphers]}


def decrypted_address(address: Address, decrypt_infos: list[dict[str, Any]]) -> Address:
    """The address with each ciphertext replaced by its plain text; a per-item error is bad input."""
    plain: dict[str, str] = {}
    for info in decrypt_infos:
        if int(text(info.get("err_no")) or 0) != 0:
            raise BadInputError(f"Douyin could not decrypt a field ({text(info.get('err_no'))} "
                                f"{text(info.get('err_msg'))})")
        plain[text(info.get("cipher_text"))] = text(info.get("decrypt_text"))
    return address.model_copy(update={
        "name": plain.get(address.name or "", address.name),
        "phone": plain.get(address.phone or "", address.phone),
        "street": plain.get(address.street or "", address.street),
        "encrypted": False,
    })
