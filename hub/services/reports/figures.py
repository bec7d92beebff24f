"""What a report counts, and the row it hands back (figures per bucket and key). Pure data: the SQL
is in ``queries`` and ``profit``, the assembling in ``report``.

- **orders**: orders created (``orders.channel_created_at``) in the bucket, whatever their status;
  per SKU, orders with a line of it.
- **sales orders / sales**: those paid and not cancelled or closed (``SALES_STATUSES``) and their
  amounts (``orders.total_amount``; per SKU the lines' quantity × unit price); **AOV** = sales /
  sales orders.
- **status shares**: each canonical status's orders / orders.
- **cancellation rate**: orders cancelled, or closed before anything shipped
  (``fulfilment_status = 'unfulfilled'``), / orders.
- **paid orders**: orders paid, whatever happened next (not pending payment nor cancelled; closed,
  that is refunded in full after payment, included).
- **refund rate** (as the platforms' 退款率, and ``hub.services.aftersales.figures``): paid orders
  with a refund-only or return-and-refund case (not withdrawn or refused) / paid orders;
  **return rate**: those with a return-and-refund case / paid orders. Cases count in the bucket
  of their order.
- **gross profit** = sales − cost (lines × ``skus.cost_price``) − freight (per parcel) − platform
  fees (``orders.platform_fee``), over sales orders. Per SKU freight and fees are not split across
  SKUs: a SKU's gross profit is sales − cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from contracts import OrderStatus

PAID_STATUSES = tuple(s.value for s in OrderStatus
                      if s not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED))
SALES_STATUSES = tuple(s.value for s in OrderStatus
                       if s not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.CLOSED))
STATUSES = tuple(s.value for s in OrderStatus)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: object) -> Decimal:
    """A sum from either database as a Decimal to the cent (SQLite sums in floating point)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass
class Profit:
    """Cost, freight and fees of a row's sales orders, and what is missing from them."""

    cost: Decimal = ZERO
    freight: Decimal = ZERO
    fees: Decimal = ZERO
    #: Sales lines whose SKU has no cost price (their cost counts as 0).
    lines_without_cost: int = 0
    #: Sales orders whose channel reported their platform fees.
    orders_with_fees: int = 0

    def add(self, other: Profit) -> None:
        self.cost += other.cost
        self.freight += other.freight
        self.fees += other.fees
        self.lines_without_cost += other.lines_without_cost
        self.orders_with_fees += other.orders_with_fees


@dataclass
class Figures:
    """One row of a report: a bucket (its first local day; None in totals) and a key."""

    bucket: date | None
    key: str
    orders: int = 0
    paid_orders: int = 0
    sales_orders: int = 0
    sales: Decimal = ZERO
    units: int = 0
    cancelled: int = 0
    refunded_orders: int = 0
    returned_orders: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    profit: Profit | None = None

    @property
    def aov(self) -> Decimal:
        return (self.sales / self.sales_orders).quantize(CENT, rounding=ROUND_HALF_UP) if self.sales_orders else ZERO

    @property
    def cancellation_rate(self) -> float:
        return ratio(self.cancelled, self.orders)

    @property
    def refund_rate(self) -> float:
        return ratio(self.refunded_orders, self.paid_orders)

    @property
    def return_rate(self) -> float:
        return ratio(self.returned_orders, self.paid_orders)

    @property
    def status_shares(self) -> dict[str, float]:
        return {s: ratio(n, self.orders) for s, n in self.statuses.items() if n}

    @property
    def gross_profit(self) -> Decimal | None:
        if self.profit is None:
            return None
        return self.sales - self.profit.cost - self.profit.freight - self.profit.fees

    def add(self, other: Figures) -> None:
        self.orders += other.orders
        self.paid_orders += other.paid_orders
        self.sales_orders += other.sales_orders
        self.sales += other.sales
        self.units += other.units
        self.cancelled += other.cancelled
        self.refunded_orders += other.refunded_orders
        self.returned_orders += other.returned_orders
        for s, n in other.statuses.items():
            self.statuses[s] = self.statuses.get(s, 0) + n
        if other.profit is not None:
            if self.profit is None:
                self.profit = Profit()
            self.profit.add(other.profit)
