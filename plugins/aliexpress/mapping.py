"""Pure translation between AliExpress payloads and the hub's canonical models.

Orders come in two shapes and both map here: the list/TMC-era ``order_dto`` of
``aliexpress.solution.order.get`` (``order_id``, ``pay_amount``, ``product_list.order_product_dto[]``,
§7/§8 [C: OT, RC]) and the detail ``result.data`` of ``aliexpress.solution.order.info.get``
(``id``, ``order_amount``, ``child_order_list[]``, ``receipt_address``, ``order_end_reason`` [C: OT]).
Issues (disputes) map in ``issue_mapping.py``. AliExpress API times are US Pacific wall-clock
strings (§7): converted here with ``America/Los_Angeles``, so daylight saving is handled.
Money stays in its own currency. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contracts import (
    Address,
    Buyer,
    ChannelRef,
    Money,
    Order,
    OrderLine,
    OrderStatus,
    platform_id,
)
from hub.plugin_api import BadInputError

PLATFORM = "aliexpress"
PACIFIC = ZoneInfo("America/Los_Angeles")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Every AE order status (§7) → canonical status and the tags the hub shows with it.
#: FINISH/ARCHIVE are decided by ``finished_status`` from what the order says, not from this table.
STATUS_MAP: dict[str, tuple[OrderStatus, tuple[str, ...]]] = {
    "PLACE_ORDER_SUCCESS": (OrderStatus.PENDING_PAYMENT, ()),
    # Paid, but the buyer asked to cancel: do not ship before the seller answers.
    "IN_CANCEL": (OrderStatus.PAID, ("cancel_requested_by_buyer",)),
    "WAIT_SELLER_SEND_GOODS": (OrderStatus.PAID, ()),
    "SELLER_PART_SEND_GOODS": (OrderStatus.PARTIALLY_SHIPPED, ()),
    "WAIT_BUYER_ACCEPT_GOODS": (OrderStatus.SHIPPED, ()),
    # FUND_PROCESSING comes after the buyer confirmed receipt (or the confirmation timed out) and
    # before the money is released to the seller, so the goods are delivered; RC's enum spells it
    # PAYMENT_PROCESSING [U]. Mapping to ``delivered`` (not ``completed``) leaves the order open
    # until FINISH, when a late issue can still close it.
    "FUND_PROCESSING": (OrderStatus.DELIVERED, ("fund_processing",)),
    "PAYMENT_PROCESSING": (OrderStatus.DELIVERED, ("fund_processing",)),
    # An open dispute: the order keeps its place, the tag stops automatic actions.
    "IN_ISSUE": (OrderStatus.SHIPPED, ("in_issue",)),
    "IN_FROZEN": (OrderStatus.PAID, ("frozen",)),
    "WAIT_SELLER_EXAMINE_MONEY": (OrderStatus.PENDING_PAYMENT, ("seller_must_confirm_amount",)),
    # Payment under 24 h risk review: not yet safe to ship.
    "RISK_CONTROL": (OrderStatus.PENDING_PAYMENT, ("risk_control",)),
    "RISK_CONTROL_HOLD": (OrderStatus.PENDING_PAYMENT, ("risk_control",)),
    "WAIT_GROUP_SUCCESS": (OrderStatus.PENDING_PAYMENT, ("waiting_group_buy",)),
    "IN_BOOK_SALE": (OrderStatus.PENDING_PAYMENT, ("presale",)),
}
FINISHED = frozenset({"FINISH", "ARCHIVE"})
#: ``end_reason`` values seen in public integrations [U: not in the official docs we have] that
#: end an order without a sale; a FINISH with one of them is not a completed sale.
UNPAID_END_REASONS = frozenset({"buyer_cancel_notpay_order", "pay_timeout", "buyer_pay_timeout", "risk_reject_closed",
                                "buyer_cancel_order_in_risk", "security_close", "reject_payamount",
                                "confirm_payamount_timeout"})
REFUNDED_END_REASONS = frozenset({"cancel_order_close_trade", "seller_send_goods_timeout", "buyer_cancel_order",
                                  "seller_accept_issue_no_goods_return", "seller_response_issue_timeout",
                                  "trade_close", "end_issue"})

# -- times and money ------------------------------------------------------------------------------


def parse_pacific(text: Any) -> datetime | None:
    """``"2017-10-12 12:12:12"`` (US Pacific wall clock) → aware datetime; empty → None."""
    if text in (None, ""):
        return None
    try:
        naive = datetime.strptime(str(text).strip(), TIME_FORMAT)
    except ValueError as exc:
        raise BadInputError(f"AliExpress time {text!r} is not 'yyyy-MM-dd HH:mm:ss'", field="time") from exc
    return naive.replace(tzinfo=PACIFIC)


def format_pacific(moment: datetime) -> str:
    """An aware datetime → the US Pacific ``yyyy-MM-dd HH:mm:ss`` AliExpress queries expect."""
    if moment.tzinfo is None:
        raise ValueError("format_pacific needs an aware datetime")
    return moment.astimezone(PACIFIC).strftime(TIME_FORMAT)


def money(value: Any, currency: str | None = None) -> Money | None:
    """An AE amount object (``{currency_code, amount}``; ``amount_str`` or ``cent``+``cent_factor``
    in some DTOs) → ``Money`` in its own currency; a bare string uses ``currency``."""
    if value in (None, "", {}):
        return None
    if not isinstance(value, Mapping):
        return Money(amount=str(value), currency=currency or "USD")
    code = value.get("currency_code") or (value.get("currency") or {}).get("currency_code") or currency
    if not code:
        raise BadInputError(f"AliExpress amount {dict(value)!r} has no currency", field="currency_code")
    if value.get("amount") not in (None, ""):
        return Money(amount=str(value["amount"]), currency=code)
    if value.get("amount_str") not in (None, ""):
        return Money(amount=str(value["amount_str"]), currency=code)
    if value.get("cent") is not None:
        factor = Decimal(str(value.get("cent_factor") or 100))
        return Money(amount=Decimal(str(value["cent"])) / factor, currency=code)
    return None


# -- statuses -------------------------------------------------------------------------------------


def _end_reason(order: Mapping[str, Any]) -> str:
    return str(order.get("end_reason") or order.get("order_end_reason") or "").strip()


def finished_status(order: Mapping[str, Any]) -> tuple[OrderStatus, tuple[str, ...]]:
    """FINISH/ARCHIVE: ``cancelled`` when never paid, ``closed`` when ended by cancel or refund,
    ``completed`` when the sale went through (fund released, no ending reason against it)."""
    reason = _end_reason(order)
    tags = (f"end_reason:{reason}",) if reason else ()
    if reason in UNPAID_END_REASONS or str(order.get("fund_status") or "") == "NOT_PAY":
        return OrderStatus.CANCELLED, tags
    if reason in REFUNDED_END_REASONS or "cancel" in reason or "refund" in reason or "close" in reason:
        return OrderStatus.CLOSED, tags
    return OrderStatus.COMPLETED, tags


def map_status(raw: str, order: Mapping[str, Any] | None = None) -> tuple[OrderStatus, tuple[str, ...]]:
    """Canonical status and tags for an AE ``order_status``; an unknown status is refused by name."""
    if raw in FINISHED:
        return finished_status(order or {})
    if raw not in STATUS_MAP:
        raise BadInputError(f"AliExpress order status {raw!r} is unknown to the hub; add it to STATUS_MAP",
                            field="order_status")
    return STATUS_MAP[raw]


# -- orders ---------------------------------------------------------------------------------------


def _product_rows(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    products = order.get("product_list")
    if isinstance(products, Mapping):
        products = products.get("order_product_dto")
    if products is None:
        return listed(order.get("child_order_list"))
    return list(products or [])


def map_address(receipt: Mapping[str, Any] | None) -> Address | None:
    """AE receipt address (§7 fields) → ``Address``; ``UK`` becomes ISO ``GB`` [U: AE's spelling]."""
    if not receipt:
        return None
    country = str(receipt.get("country") or "").strip().upper()
    country = {"UK": "GB"}.get(country, country)
    if len(country) != 2:
        raise BadInputError(f"AliExpress address country {country!r} is not an ISO2 code", field="country")
    parts = [str(receipt.get(k) or "").strip() for k in ("detail_address", "address", "address2")]
    street = ", ".join(dict.fromkeys(p for p in parts if p)) or None
    phone = receipt.get("mobile_no") or "".join(
        str(receipt.get(k) or "") for k in ("phone_country", "phone_area", "phone_number")) or None
    return Address(name=receipt.get("contact_person") or None, phone=phone, country=country,
                   province=receipt.get("province") or None, city=receipt.get("city") or None,
                   street=street, postcode=receipt.get("zip") or None)


def _line(row: Mapping[str, Any], currency: str) -> OrderLine:
    line_id = row.get("order_id") or row.get("child_id") or row.get("child_order_id") or row.get("id")
    if line_id in (None, ""):
        raise BadInputError("AliExpress sub-order without an id", field="order_id")
    unit = money(row.get("product_unit_price") or row.get("product_price"), currency) or Money.zero(currency)
    raw_line_status = row.get("son_order_status") or row.get("order_status")
    status = STATUS_MAP[raw_line_status][0] if raw_line_status in STATUS_MAP else None
    return OrderLine(
        external_id=platform_id(line_id),
        merchant_sku=str(row["sku_code"]) if row.get("sku_code") not in (None, "") else None,
        channel_item_id=platform_id(row["product_id"]) if row.get("product_id") not in (None, "") else None,
        title=str(row.get("product_name") or ""),
        quantity=int(row.get("product_count") or row.get("quantity") or 1),
        unit_price=unit,
        paid=money(row.get("total_product_amount"), currency),
        status=status,
    )


def map_order(order: Mapping[str, Any], shop: str, receipt: Mapping[str, Any] | None = None) -> Order:
    """One AE order (list ``order_dto`` or detail ``data``) → ``Order``. ``receipt`` is the answer of
    ``aliexpress.solution.order.receiptinfo.get`` when the order itself carries no address."""
    order_id = order.get("order_id") or order.get("id")
    if order_id in (None, ""):
        raise BadInputError("AliExpress order without order_id", field="order_id")
    raw = str(order.get("order_status") or "")
    status, tags = map_status(raw, order)
    total = money(order.get("pay_amount") or order.get("order_amount"))
    if total is None:
        raise BadInputError(f"AliExpress order {order_id} has no pay_amount", field="pay_amount")
    created = parse_pacific(order.get("gmt_create"))
    if created is None:
        raise BadInputError(f"AliExpress order {order_id} has no gmt_create", field="gmt_create")
    rows = _product_rows(order)
    if not rows:
        raise BadInputError(f"AliExpress order {order_id} has no products", field="product_list")
    issue = str(order.get("issue_status") or "")
    extra_tags = ("in_issue",) if issue == "IN_ISSUE" and "in_issue" not in tags else ()
    buyer_id = order.get("buyer_login_id") or order.get("buyerloginid") or (order.get("buyer_info") or {}).get(
        "login_id")
    return Order(
        ref=ChannelRef(platform=PLATFORM, shop=shop, external_id=platform_id(order_id)),
        status=status,
        raw_status=raw,
        created_at=created,
        updated_at=parse_pacific(order.get("gmt_update") or order.get("gmt_modified")) or created,
        paid_at=parse_pacific(order.get("gmt_pay_time") or order.get("gmt_pay_success")),
        shipped_at=parse_pacific(order.get("gmt_send_goods_time")),
        buyer=Buyer(nick=buyer_id or None, platform_buyer_id=buyer_id or None,
                    name=order.get("buyer_signer_fullname") or None),
        shipping_address=map_address(receipt or order.get("receipt_address")),
        lines=[_line(row, total.currency) for row in rows],
        total=total,
        shipping_fee=money(order.get("logistics_amount"), total.currency),
        buyer_note=order.get("memo") or None,
        tags=list(tags + extra_tags),
        # The list says ``end_reason``, the detail ``order_end_reason``: kept under one key, so a
        # polled order carries what a fetched one does.
        extra={**{k: order[k] for k in ("fund_status", "logistics_status", "issue_status", "frozen_status",
                                         "payment_type") if order.get(k)},
               **({"end_reason": _end_reason(order)} if _end_reason(order) else {})},
    )


def listed(block: Any) -> list[Any]:
    """A TOP-style wrapped list (``{"<singular dto name>": [...]}``, §1) or a bare list → a list.
    The wrapper's name is not relied on (it is undocumented for several AE DTOs)."""
    if isinstance(block, Mapping):
        block = next(iter(block.values()), []) if len(block) == 1 else []
    return list(block or [])


def shipped_tracking_numbers(order: Mapping[str, Any]) -> set[str]:
    """Tracking numbers AliExpress already holds for an order (detail ``logistic_info_list``)."""
    rows = listed(order.get("logistic_info_list"))
    return {str(row["logistics_no"]) for row in rows if isinstance(row, Mapping) and row.get("logistics_no")}
