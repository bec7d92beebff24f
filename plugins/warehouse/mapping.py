"""Pure translation between the hub and Qimen WMS documents: delivery orders out, stock in,
warehouse statuses, and the canonical objects a ``deliveryorder.confirm`` parses into.

No I/O. Element names are Qimen's (§10 of ``docs/platforms/couriers-and-warehouses.md``,
[QM] Top.Api/Qimen/*.cs); times are GMT+8 wall clock; amounts are yuan strings.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from contracts import (
    Money,
    Order,
    OrderLine,
    Parcel,
    ParcelItem,
    StockChange,
    StockChangeCause,
    StockLevel,
    canonical_courier_code,
)
from hub.plugin_api import BadInputError
from plugins.warehouse.client import china_time, parse_china_time, sub, text_of

#: Hub platform → Qimen ``sourcePlatformCode`` (§10 ✅ TB/TM). Douyin and AliExpress have no
#: confirmed code: they go as OTHER (⚠️); override with the ``source_platform_codes`` setting.
SOURCE_PLATFORM_CODES: dict[str, str] = {"taobao": "TB", "tmall": "TM"}
OTHER = "OTHER"

#: Qimen ``logisticsCode`` values (§10 ✅). The hub's courier codes are the same words where they
#: overlap; a hub code outside this list is sent as OTHER.
QIMEN_LOGISTICS_CODES = frozenset(
    {"SF", "EMS", "EYB", "ZJS", "YTO", "ZTO", "HTKY", "UC", "STO", "TTKDEX", "QFKD", "FAST", "POSTB", "GTO",
     "YUNDA", "JD", "DD", "AMAZON", "OTHER"}
)


class WarehouseOrderStatus(StrEnum):
    """A delivery order's state in the warehouse, in the hub's words."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCEL_FAILED = "cancel_failed"


#: Qimen delivery order ``status`` → hub (§10 ✅ [QM DeliveryorderQueryResponse.cs]). An unknown
#: value maps to EXCEPTION (someone must look at it) with the raw value kept.
QIMEN_STATUSES: dict[str, WarehouseOrderStatus] = {
    "NEW": WarehouseOrderStatus.RECEIVED,
    "ACCEPT": WarehouseOrderStatus.ACCEPTED,
    "PARTDELIVERED": WarehouseOrderStatus.PARTIALLY_SHIPPED,
    "DELIVERED": WarehouseOrderStatus.SHIPPED,
    "EXCEPTION": WarehouseOrderStatus.EXCEPTION,
    "CANCELED": WarehouseOrderStatus.CANCELLED,
    "CLOSED": WarehouseOrderStatus.CLOSED,
    "REJECT": WarehouseOrderStatus.REJECTED,
    "CANCELEDFAIL": WarehouseOrderStatus.CANCEL_FAILED,
}


def warehouse_status(raw: str) -> WarehouseOrderStatus:
    return QIMEN_STATUSES.get(raw.strip().upper(), WarehouseOrderStatus.EXCEPTION)


def source_platform_code(platform: str, overrides: Mapping[str, str] | None = None) -> str:
    table = {**SOURCE_PLATFORM_CODES, **(overrides or {})}
    return table.get(platform, OTHER)


def logistics_code(hub_courier_code: str | None) -> str | None:
    """The Qimen ``logisticsCode`` for a hub courier code in any case (Qimen's are upper case)."""
    if not hub_courier_code or not hub_courier_code.strip():
        return None
    code = canonical_courier_code(hub_courier_code).upper()
    return code if code in QIMEN_LOGISTICS_CODES else OTHER


def yuan(money: Money | None) -> str:
    """A Qimen amount: yuan with two decimals, as text."""
    return f"{(money.amount if money else Decimal('0')):.2f}"


# --------------------------------------------------------------------------- requests (hub → WMS)


@dataclass(frozen=True)
class WarehouseCodes:
    """Who the documents are for: the WMS's owner (货主) and warehouse codes."""

    owner_code: str
    warehouse_code: str
    order_type: str = "JYCK"
    inventory_type: str = "ZP"


def _selected_lines(order: Order, line_ids: list[str]) -> list[OrderLine]:
    if not line_ids:
        raise BadInputError(f"order {order.ref}: no lines given for the delivery order", field="lines")
    by_id = {line.external_id: line for line in order.lines}
    missing = [line_id for line_id in line_ids if line_id not in by_id]
    if missing:
        raise BadInputError(f"order {order.ref}: unknown line(s) {', '.join(missing)}", field="lines")
    lines = [by_id[line_id] for line_id in line_ids]
    unmapped = [line.external_id for line in lines if not line.merchant_sku]
    if unmapped:
        raise BadInputError(
            f"order {order.ref}: line(s) {', '.join(unmapped)} have no merchant SKU; map them before shipping",
            field="merchant_sku",
        )
    return lines


def delivery_order_request(
    order: Order,
    line_ids: list[str],
    delivery_order_code: str,
    codes: WarehouseCodes,
    *,
    source_platform: str,
    shop_nick: str,
    courier: str | None = None,
    now: datetime | None = None,
) -> ET.Element:
    """The ``deliveryorder.create`` request for ``line_ids`` of ``order``.

    The WMS prints the label, so it needs the real address: the hub must pass the order with its
    revealed address (``reveal_address``); an encrypted or missing address is refused here.
    """
    address = order.shipping_address
    if address is None or address.encrypted:
        raise BadInputError(
            f"order {order.ref}: the warehouse needs the revealed shipping address; reveal it before "
            "creating the delivery order",
            field="shipping_address",
        )
    lines = _selected_lines(order, line_ids)
    root = ET.Element("request")
    head = sub(root, "deliveryOrder")
    sub(head, "deliveryOrderCode", delivery_order_code)
    sub(head, "orderType", codes.order_type)
    sub(head, "warehouseCode", codes.warehouse_code)
    sub(head, "sourcePlatformCode", source_platform)
    sub(head, "createTime", china_time(now))
    sub(head, "placeOrderTime", china_time(order.created_at))
    if order.paid_at is not None:
        sub(head, "payTime", china_time(order.paid_at))
    sub(head, "shopNick", shop_nick)
    if order.buyer.nick:
        sub(head, "buyerNick", order.buyer.nick)
    if order.currency == "CNY":  # Qimen amounts are yuan; other currencies are left out, not converted
        items = sum((line.unit_price.amount * line.quantity for line in order.lines), Decimal("0"))
        discounts = sum((line.discount.amount for line in order.lines if line.discount), Decimal("0"))
        sub(head, "totalAmount", yuan(order.total))
        sub(head, "itemAmount", f"{items:.2f}")
        sub(head, "discountAmount", f"{discounts:.2f}")
        sub(head, "freight", yuan(order.shipping_fee))
        sub(head, "arAmount", yuan(order.total))
        sub(head, "gotAmount", yuan(order.total) if order.paid_at is not None else "0.00")
    code = logistics_code(courier)
    if code:
        sub(head, "logisticsCode", code)
    receiver = sub(head, "receiverInfo")
    sub(receiver, "name", address.name)
    sub(receiver, "mobile", address.phone)
    sub(receiver, "province", address.province)
    sub(receiver, "city", address.city)
    sub(receiver, "area", address.district)
    sub(receiver, "detailAddress", " ".join(part for part in (address.town, address.street) if part))
    if order.buyer_note:
        sub(head, "buyerMessage", order.buyer_note)
    if order.seller_note:
        sub(head, "sellerMessage", order.seller_note)
    order_lines = sub(root, "orderLines")
    for line in lines:
        row = sub(order_lines, "orderLine")
        sub(row, "orderLineNo", line.external_id)
        sub(row, "sourceOrderCode", order.ref.external_id)
        sub(row, "subSourceOrderCode", line.external_id)
        sub(row, "ownerCode", codes.owner_code)
        sub(row, "itemCode", line.merchant_sku)
        sub(row, "inventoryType", codes.inventory_type)
        sub(row, "itemName", line.title)
        sub(row, "planQty", line.quantity)
        sub(row, "retailPrice", yuan(line.unit_price))
        paid_each = line.paid.amount / line.quantity if line.paid else line.unit_price.amount
        sub(row, "actualPrice", f"{paid_each:.2f}")
    return root


def delivery_order_query_request(code: str, codes: WarehouseCodes) -> ET.Element:
    """``deliveryorder.query`` by our code ([QM] DeliveryorderQueryRequest.cs: orderCode, ownerCode,
    warehouseCode)."""
    root = ET.Element("request")
    sub(root, "ownerCode", codes.owner_code)
    sub(root, "warehouseCode", codes.warehouse_code)
    sub(root, "orderCode", code)
    return root


def order_cancel_request(code: str, codes: WarehouseCodes, warehouse_order_id: str | None) -> ET.Element:
    """``order.cancel`` ([QM] OrderCancelRequest.cs: warehouseCode, ownerCode, orderCode, orderId,
    orderType, cancelReason)."""
    root = ET.Element("request")
    sub(root, "warehouseCode", codes.warehouse_code)
    sub(root, "ownerCode", codes.owner_code)
    sub(root, "orderCode", code)
    if warehouse_order_id:
        sub(root, "orderId", warehouse_order_id)
    sub(root, "orderType", codes.order_type)
    sub(root, "cancelReason", "cancelled by the merchant")
    return root


def inventory_query_request(skus: Iterable[str], codes: WarehouseCodes) -> ET.Element:
    root = ET.Element("request")
    criteria_list = sub(root, "criteriaList")
    for sku in skus:
        criteria = sub(criteria_list, "criteria")
        sub(criteria, "warehouseCode", codes.warehouse_code)
        sub(criteria, "ownerCode", codes.owner_code)
        sub(criteria, "itemCode", sku)
        sub(criteria, "inventoryType", codes.inventory_type)
    return root


# --------------------------------------------------------------------------- answers and reports (WMS → hub)


def _int(element: ET.Element, path: str, what: str) -> int:
    raw = text_of(element, path, "0") or "0"
    try:
        return int(Decimal(raw))
    except ArithmeticError as exc:
        raise BadInputError(f"Qimen {what}: {path} is not a number ({raw!r})", field=path) from exc


def _grams(kilograms: str) -> int | None:
    """A weight in kg (⚠️ [U] unit) as whole grams; None when absent, not a number or negative."""
    try:
        grams = Decimal(kilograms) * 1000 if kilograms else None
    except ArithmeticError:
        return None
    return int(grams) if grams is not None and grams.is_finite() and grams >= 0 else None


def stock_levels(response: ET.Element, warehouse: str, codes: WarehouseCodes, as_of: datetime) -> list[StockLevel]:
    """``inventory.query`` items → one ``StockLevel`` per SKU: sellable stock (``inventory_type``,
    summed over batches), ``quantity`` as on hand and ``lockQuantity`` as locked. SKUs the WMS did
    not report are left out (the WMS said nothing about them)."""
    totals: dict[str, list[int]] = {}
    for item in response.iterfind("items/item"):
        kind = text_of(item, "inventoryType") or codes.inventory_type
        if kind != codes.inventory_type:
            continue
        if text_of(item, "warehouseCode") not in ("", codes.warehouse_code):
            continue
        sku = text_of(item, "itemCode")
        if not sku:
            continue
        row = totals.setdefault(sku, [0, 0])
        row[0] += _int(item, "quantity", "inventory.query")
        row[1] += _int(item, "lockQuantity", "inventory.query")
    return [
        StockLevel(warehouse=warehouse, merchant_sku=sku, on_hand=max(0, qty), locked=max(0, locked), as_of=as_of)
        for sku, (qty, locked) in totals.items()
    ]


@dataclass(frozen=True)
class PackageItem:
    item_code: str
    quantity: int
    item_id: str | None = None


@dataclass(frozen=True)
class DeliveredPackage:
    """One parcel the warehouse sent: the courier (Qimen ``logisticsCode``, which is the hub
    courier code where they overlap), the waybill (``expressCode``) and what is inside."""

    logistics_code: str
    express_code: str
    package_code: str | None = None
    items: tuple[PackageItem, ...] = ()
    #: From the package's ``weight`` in kg (⚠️ [U]: not among the confirmed fields of the
    #: confirmation; read when a WMS sends it, None otherwise or when it is not a number).
    weight_grams: int | None = None


@dataclass(frozen=True)
class ConfirmedLine:
    order_line_no: str
    item_code: str
    actual_qty: int
    inventory_type: str | None = None
    batch_code: str | None = None


@dataclass(frozen=True)
class DeliveryOrderConfirmation:
    """A parsed ``deliveryorder.confirm``. ``out_biz_code`` is the WMS's dedupe key: the same
    value twice is the same report. ``final`` is False for an intermediate confirmation
    (``confirmType`` 1) of an order shipped in several goes."""

    delivery_order_code: str
    delivery_order_id: str | None
    warehouse_code: str
    order_type: str
    status: WarehouseOrderStatus
    raw_status: str
    out_biz_code: str | None
    final: bool
    confirmed_at: datetime | None
    packages: tuple[DeliveredPackage, ...] = field(default_factory=tuple)
    lines: tuple[ConfirmedLine, ...] = field(default_factory=tuple)

    @property
    def dedupe_key(self) -> str:
        return self.out_biz_code or f"{self.delivery_order_code}:{self.raw_status}:{self.confirmed_at}"

    def parcels(self, order: Order) -> list[Parcel]:
        """The packages as ``contracts.Parcel``s, items matched to ``order``'s lines by SKU."""
        line_by_sku = {line.merchant_sku: line.external_id for line in order.lines if line.merchant_sku}
        parcels = []
        for package in self.packages:
            items = [
                ParcelItem(line_external_id=line_by_sku[i.item_code], merchant_sku=i.item_code, quantity=i.quantity)
                for i in package.items
                if i.item_code in line_by_sku and i.quantity > 0
            ]
            parcels.append(Parcel(courier_code=package.logistics_code, tracking_number=package.express_code,
                                  items=items))
        return parcels


def delivery_confirmation(request: ET.Element) -> DeliveryOrderConfirmation:
    """Parse the ``<request>`` of a ``deliveryorder.confirm`` (§10 ✅)."""
    head = request.find("deliveryOrder")
    code = text_of(head, "deliveryOrderCode")
    if head is None or not code:
        raise BadInputError("Qimen deliveryorder.confirm has no deliveryOrder/deliveryOrderCode",
                            field="deliveryOrderCode")
    raw_status = text_of(head, "status")
    packages = []
    for package in request.iterfind("packages/package"):
        express = text_of(package, "expressCode")
        if not express:
            continue  # a package without a waybill number cannot be tracked or confirmed
        items = tuple(
            PackageItem(text_of(item, "itemCode"), _int(item, "quantity", "package item"),
                        text_of(item, "itemId") or None)
            for item in package.iterfind("items/item")
        )
        packages.append(DeliveredPackage(text_of(package, "logisticsCode") or OTHER, express,
                                         text_of(package, "packageCode") or None, items,
                                         _grams(text_of(package, "weight"))))
    lines = tuple(
        ConfirmedLine(text_of(line, "orderLineNo"), text_of(line, "itemCode"), _int(line, "actualQty", "orderLine"),
                      text_of(line, "inventoryType") or None, text_of(line, "batchCode") or None)
        for line in request.iterfind("orderLines/orderLine")
    )
    confirmed = text_of(head, "orderConfirmTime")
    return DeliveryOrderConfirmation(
        delivery_order_code=code,
        delivery_order_id=text_of(head, "deliveryOrderId") or None,
        warehouse_code=text_of(head, "warehouseCode"),
        order_type=text_of(head, "orderType"),
        status=warehouse_status(raw_status),
        raw_status=raw_status,
        out_biz_code=text_of(head, "outBizCode") or None,
        final=text_of(head, "confirmType", "0") != "1",
        confirmed_at=parse_china_time(confirmed) if confirmed else None,
        packages=tuple(packages),
        lines=lines,
    )


def stock_changes(request: ET.Element, warehouse: str, codes: WarehouseCodes) -> list[StockChange]:
    """Parse the ``<request>`` of a ``stockchange.report`` into ledger movements of sellable
    stock. Items of another inventory type, owner or warehouse are not this account's sellable
    stock and are skipped; ``outBizCode`` is the reference (the WMS's dedupe key)."""
    changes = []
    for item in request.iterfind("items/item"):
        if (text_of(item, "inventoryType") or codes.inventory_type) != codes.inventory_type:
            continue
        if text_of(item, "ownerCode") not in ("", codes.owner_code):
            continue
        if text_of(item, "warehouseCode") not in ("", codes.warehouse_code):
            continue
        sku = text_of(item, "itemCode")
        delta = _int(item, "quantity", "stockchange.report")
        if not sku or delta == 0:
            continue
        note = " ".join(p for p in (text_of(item, "orderType"), text_of(item, "orderCode")) if p) or None
        changes.append(
            StockChange(warehouse=warehouse, merchant_sku=sku, delta=delta, cause=StockChangeCause.WAREHOUSE_REPORT,
                        reference=text_of(item, "outBizCode") or None, note=note)
        )
    return changes
