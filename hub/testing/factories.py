"""Contract factories for tests: valid canonical objects with sensible defaults, one call each.

``make_order(status=OrderStatus.PAID, lines=[("SKU-1", 2)])`` — override what the test is about,
let the rest default. Ids are strings that exceed 2^53 on purpose, as TOP and Douyin ids do.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts import (
    Address,
    AfterSale,
    AfterSaleStatus,
    AfterSaleType,
    Buyer,
    ChannelRef,
    Money,
    Order,
    OrderLine,
    OrderStatus,
)

_ids = itertools.count(1)
BIG_ID_BASE = 9_007_199_254_740_993  # 2^53 + 1: a float cannot hold it


def next_external_id() -> str:
    return str(BIG_ID_BASE + next(_ids) * 1000)


def make_order(
    *,
    platform: str = "taobao",
    shop: str = "test-shop",
    external_id: str | None = None,
    status: OrderStatus = OrderStatus.PAID,
    lines: list[tuple[str, int]] | None = None,
    updated_at: datetime | None = None,
    currency: str = "CNY",
    unit_price: str = "19.90",
    tags: list[str] | None = None,
    **overrides: Any,
) -> Order:
    """A valid canonical order; ``lines`` is a list of (merchant SKU, quantity)."""
    external_id = external_id or next_external_id()
    created = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    order_lines = [
        OrderLine(
            external_id=f"{external_id}{i}",
            merchant_sku=sku,
            channel_item_id="600000000001",
            channel_sku_id=f"50000000000{i}",
            title=f"Item {sku}",
            quantity=qty,
            unit_price=Money(amount=unit_price, currency=currency),
        )
        for i, (sku, qty) in enumerate(lines or [("SKU-1", 1)])
    ]
    total = sum((line.unit_price.amount * line.quantity for line in order_lines), Decimal("0"))
    values: dict[str, Any] = {
        "ref": ChannelRef(platform=platform, shop=shop, external_id=external_id),
        "status": status,
        "raw_status": status.value.upper(),
        "created_at": created,
        "updated_at": updated_at or created + timedelta(minutes=1),
        "paid_at": created if status is not OrderStatus.PENDING_PAYMENT else None,
        "buyer": Buyer(nick="buyer_nick_1", name="张三", phone="13812345678"),
        "shipping_address": Address(
            name="张三", phone="13812345678", province="浙江省", city="杭州市", district="余杭区",
            street="文一西路969号", postcode="311121",
        ),
        "lines": order_lines,
        "total": Money(amount=total, currency=currency),
        "tags": tags or [],
    }
    values.update(overrides)
    return Order(**values)


def make_aftersale(
    order: Order,
    *,
    external_id: str | None = None,
    status: AfterSaleStatus = AfterSaleStatus.REQUESTED,
    type: AfterSaleType = AfterSaleType.REFUND_ONLY,
    updated_at: datetime | None = None,
) -> AfterSale:
    created = datetime(2026, 11, 12, tzinfo=UTC)
    return AfterSale(
        ref=ChannelRef(platform=order.ref.platform, shop=order.ref.shop, external_id=external_id or next_external_id()),
        order_ref=order.ref,
        type=type,
        status=status,
        raw_status=status.value.upper(),
        refund_amount=order.total,
        created_at=created,
        updated_at=updated_at or created,
    )
