"""Many synthetic orders in a PostgreSQL database at once, for the console benchmark
(``bench/console_orders.py``) and the query-plan tests: orders with their lines, holds and a
history event each, written with COPY (asyncpg's binary ``copy_records_to_table``).

The orders look like a merchant's: four platforms and two shops each (unevenly busy), statuses
in realistic shares, placed over ``days`` days (ids rising with time, a little out of order),
buyers and SKUs from skewed pools (some frequent, most rare), a few percent held (high value,
stock short, cancel requested) and some holds already released. Each ``orders.data`` is a valid
canonical ``contracts.Order`` (the order page reads it). Seeded, so a run is repeatable.
Ids are assigned here and the sequences moved past them; run it on an empty database only.
Not for SQLite, and not a fixture: callers choose the size.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts.orders import OrderStatus
from hub.testing.factories import make_order

PLATFORMS: dict[str, float] = {"taobao": 0.40, "tmall": 0.30, "douyin": 0.22, "aliexpress": 0.08}
SHOPS_PER_PLATFORM = (("flagship", 0.6), ("outlet", 0.4))
STATUSES: dict[OrderStatus, float] = {
    OrderStatus.PAID: 0.30, OrderStatus.SHIPPED: 0.24, OrderStatus.COMPLETED: 0.25, OrderStatus.DELIVERED: 0.08,
    OrderStatus.CANCELLED: 0.05, OrderStatus.PENDING_PAYMENT: 0.04, OrderStatus.CLOSED: 0.02,
    OrderStatus.PARTIALLY_SHIPPED: 0.02,
}
HOLD_CODES: dict[str, float] = {"high_value": 0.4, "stock_short": 0.4, "cancel_requested": 0.2}
_BUYER_PREFIX = {"taobao": "tb", "tmall": "tm", "douyin": "dy", "aliexpress": "ae"}
_SKU_FAMILIES = ("TEE", "MUG", "CAP", "SOCK", "BAG", "HOOD", "PEN", "BOOK", "LAMP", "SHOE")
_SIZES = ("S", "M", "L", "XL")


@dataclass(frozen=True)
class BulkShape:
    """How many of what. ``held`` and ``released`` are shares of all orders."""

    orders: int = 100_000
    days: int = 180
    buyers: int = 30_000
    skus: int = 400
    held: float = 0.03
    released: float = 0.02
    seed: int = 11
    end: datetime = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class BulkSummary:
    """What was written, and values worth searching for (so a benchmark filters on real data)."""

    orders: int = 0
    lines: int = 0
    holds: int = 0
    events: int = 0
    shops: dict[str, str] = field(default_factory=dict)  # shop -> platform
    busiest_buyer: str = ""
    rare_buyer: str = ""  # a buyer with one order
    busiest_sku: str = ""
    rare_sku: str = ""  # a SKU on few orders
    busy_day: date | None = None
    statuses: Counter[str] = field(default_factory=Counter)


def shop_names() -> dict[str, str]:
    """The eight shops (``taobao-flagship``…) and their platforms."""
    return {f"{p}-{kind}": p for p in PLATFORMS for kind, _ in SHOPS_PER_PLATFORM}


def _sku(n: int) -> str:
    family = _SKU_FAMILIES[n % len(_SKU_FAMILIES)]
    return f"{family}-{n // len(_SKU_FAMILIES):03d}-{_SIZES[n % len(_SIZES)]}"


def _pick(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _Rows:
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    holds: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


ORDER_COLUMNS = ("id", "platform", "shop", "external_id", "status", "raw_status", "channel_created_at",
                 "channel_updated_at", "paid_at", "total_amount", "currency", "buyer_nick", "data", "tags",
                 "fulfilment_status", "on_hold", "version", "created_at", "updated_at")
LINE_COLUMNS = ("id", "order_id", "external_id", "merchant_sku", "channel_item_id", "channel_sku_id", "title",
                "quantity", "unit_price", "status")
HOLD_COLUMNS = ("id", "order_id", "code", "reason", "created_at", "released_at", "released_by")
EVENT_COLUMNS = ("id", "order_id", "at", "kind", "old_status", "new_status", "cause", "actor", "inbox_id", "detail")


def generate(shape: BulkShape, batch: int = 10_000) -> Iterator[tuple[_Rows, BulkSummary]]:
    """Rows in batches of ``batch`` orders; the summary is complete after the last batch."""
    rng = random.Random(shape.seed)
    template = make_order(external_id="1", lines=[("TEMPLATE", 1)]).model_dump(mode="json")
    shops = [(f"{p}-{kind}", p, pw * kw) for p, pw in PLATFORMS.items() for kind, kw in SHOPS_PER_PLATFORM]
    start = shape.end - timedelta(days=shape.days)
    step = timedelta(days=shape.days) / shape.orders
    summary = BulkSummary(shops={name: p for name, p, _ in shops})
    buyers: Counter[str] = Counter()
    skus: Counter[str] = Counter()
    days: Counter[date] = Counter()
    line_id = hold_id = 0
    rows = _Rows()
    for order_id in range(1, shape.orders + 1):
        shop, platform, _ = rng.choices(shops, weights=[w for *_, w in shops])[0]
        status: OrderStatus = _pick(rng, STATUSES)
        created = start + step * order_id + timedelta(minutes=rng.uniform(-120, 30))
        updated = created + timedelta(minutes=rng.uniform(1, 600))
        paid = None if status is OrderStatus.PENDING_PAYMENT else created + timedelta(minutes=rng.uniform(0, 5))
        buyer = f"{_BUYER_PREFIX[platform]}_{int(shape.buyers * rng.random() ** 2):06d}"
        external_id = str(4_000_000_000_000_000 + order_id * 7)
        lines = []
        for n in range(rng.choice((1, 1, 1, 2, 2, 3))):
            sku = _sku(int(shape.skus * rng.random() ** 3))
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = Decimal(rng.choice(("19.90", "39.00", "59.90", "99.00", "129.00", "299.00", "1299.00")))
            line_id += 1
            lines.append((line_id, order_id, f"{external_id}{n}", sku, f"60000{n}", f"50000{n}", f"Item {sku}",
                          quantity, price, status.value))
            skus[sku] += 1
        total = sum((q * p for *_, q, p, _ in lines), Decimal("0"))
        held = rng.random() < shape.held
        data = copy.copy(template)
        data.update(
            ref={"platform": platform, "shop": shop, "external_id": external_id}, status=status.value,
            raw_status=status.value.upper(), created_at=created.isoformat(), updated_at=updated.isoformat(),
            paid_at=paid.isoformat() if paid else None, buyer={**template["buyer"], "nick": buyer},
            total={"amount": str(total), "currency": "CNY"},
            lines=[{**template["lines"][0], "external_id": ext, "merchant_sku": sku, "title": title,
                    "quantity": q, "unit_price": {"amount": str(p), "currency": "CNY"}}
                   for _, _, ext, sku, _, _, title, q, p, _ in lines],
        )
        rows.orders.append((
            order_id, platform, shop, external_id, status.value, status.value.upper(), created, updated, paid, total,
            "CNY", buyer, json.dumps(data), "[]",
            "shipped" if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
            else "unfulfilled", held, 1, created, updated))
        rows.lines.extend(lines)
        rows.events.append((order_id, order_id, created, "created", None, status.value, "poll", None, None, "{}"))
        if held or rng.random() < shape.released:
            hold_id += 1
            code = _pick(rng, HOLD_CODES)
            released_at = None if held else created + timedelta(hours=rng.uniform(1, 48))
            rows.holds.append((hold_id, order_id, code, f"{code} (synthetic)", created, released_at,
                               None if held else "user:bench"))
        summary.orders += 1
        summary.lines += len(lines)
        summary.holds = hold_id
        summary.events += 1
        summary.statuses[status.value] += 1
        buyers[buyer] += 1
        days[created.date()] += 1
        if len(rows.orders) >= batch or order_id == shape.orders:
            if order_id == shape.orders:
                summary.busiest_buyer = buyers.most_common(1)[0][0]
                summary.rare_buyer = next(b for b, n in reversed(buyers.most_common()) if n == 1)
                summary.busiest_sku = skus.most_common(1)[0][0]
                summary.rare_sku = min(skus, key=lambda s: (skus[s], s))
                summary.busy_day = days.most_common(1)[0][0]
            yield rows, summary
            rows = _Rows()


async def copy_orders(dsn: str, shape: BulkShape) -> BulkSummary:
    """Write ``shape``'s orders into the (empty, migrated) database at ``dsn`` (a libpq DSN), move
    the id sequences past them and ANALYZE, so the planner sees the table as it is."""
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=30)
    summary = BulkSummary()
    try:
        for rows, summary in generate(shape):  # noqa: B007 - the last batch's summary is the whole run's
            async with connection.transaction():
                await connection.copy_records_to_table("orders", records=rows.orders, columns=ORDER_COLUMNS)
                await connection.copy_records_to_table("order_lines", records=rows.lines, columns=LINE_COLUMNS)
                await connection.copy_records_to_table("order_holds", records=rows.holds, columns=HOLD_COLUMNS)
                await connection.copy_records_to_table("order_events", records=rows.events, columns=EVENT_COLUMNS)
        for table in ("orders", "order_lines", "order_holds", "order_events"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
            await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()
    return summary
