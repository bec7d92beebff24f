"""After-sales (``AfterSale``) and service orders (``ServiceOrder``) with their state machines.

An after-sale is a buyer's refund, return, exchange or reissue request on an order; a service
order is work done for the buyer after the sale (installation, repair, custom service) with an
SLA deadline and an assignee. Both are mapped from platform objects by channel plugins.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.money import Money
from contracts.refs import ChannelRef


class AfterSaleType(StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_AND_REFUND = "return_and_refund"
    EXCHANGE = "exchange"
    REISSUE = "reissue"
    REPAIR = "repair"
    OTHER = "other"


class AfterSaleStatus(StrEnum):
    """Canonical after-sale status.

    ``requested → (approved → awaiting_return → returned) → refunding → refunded``; ``rejected``
    may be followed by a new request (the buyer escalates) so it is not terminal; ``closed``
    (withdrawn or ended without refund) and ``refunded``/``completed`` are terminal.
    """

    REQUESTED = "requested"
    APPROVED = "approved"
    AWAITING_RETURN = "awaiting_return"
    RETURNED = "returned"
    REJECTED = "rejected"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    COMPLETED = "completed"  # exchange/reissue/repair done
    CLOSED = "closed"


AFTERSALE_TRANSITIONS: dict[AfterSaleStatus, frozenset[AfterSaleStatus]] = {
    AfterSaleStatus.REQUESTED: frozenset(set(AfterSaleStatus) - {AfterSaleStatus.REQUESTED}),
    AfterSaleStatus.APPROVED: frozenset(
        {
            AfterSaleStatus.AWAITING_RETURN,
            AfterSaleStatus.RETURNED,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.AWAITING_RETURN: frozenset(
        {
            AfterSaleStatus.RETURNED,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.RETURNED: frozenset(
        {
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.COMPLETED,
            AfterSaleStatus.CLOSED,
            AfterSaleStatus.REJECTED,
        }
    ),
    AfterSaleStatus.REJECTED: frozenset(
        {
            AfterSaleStatus.REQUESTED,
            AfterSaleStatus.APPROVED,
            AfterSaleStatus.AWAITING_RETURN,
            AfterSaleStatus.REFUNDING,
            AfterSaleStatus.REFUNDED,
            AfterSaleStatus.CLOSED,
        }
    ),
    AfterSaleStatus.REFUNDING: frozenset({AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED}),
    AfterSaleStatus.REFUNDED: frozenset(),
    AfterSaleStatus.COMPLETED: frozenset(),
    AfterSaleStatus.CLOSED: frozenset(),
}


def aftersale_can_move(current: AfterSaleStatus, reported: AfterSaleStatus) -> bool:
    """True when ``reported`` is a forward move from ``current`` (repeats and stale reports are not)."""
    return reported in AFTERSALE_TRANSITIONS[current]


class AfterSaleLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_external_id: str | None = None
    merchant_sku: str | None = None
    quantity: int = Field(default=1, ge=0)


class AfterSale(BaseModel):
    """A refund / return / exchange / reissue case on one order, as the channel reports it."""

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef
    order_ref: ChannelRef
    type: AfterSaleType
    status: AfterSaleStatus
    raw_status: str
    refund_amount: Money | None = None
    reason: str | None = None
    lines: list[AfterSaleLine] = Field(default_factory=list)
    goods_returned: bool = False
    return_tracking_number: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ServiceOrderType(StrEnum):
    INSTALLATION = "installation"
    REPAIR = "repair"
    CUSTOM = "custom"
    OTHER = "other"


class ServiceOrderStatus(StrEnum):
    """``open → assigned → in_progress → completed``; ``cancelled`` from any open state."""

    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


SERVICE_ORDER_TRANSITIONS: dict[ServiceOrderStatus, frozenset[ServiceOrderStatus]] = {
    ServiceOrderStatus.OPEN: frozenset(
        {
            ServiceOrderStatus.ASSIGNED,
            ServiceOrderStatus.IN_PROGRESS,
            ServiceOrderStatus.COMPLETED,
            ServiceOrderStatus.CANCELLED,
        }
    ),
    ServiceOrderStatus.ASSIGNED: frozenset(
        {ServiceOrderStatus.IN_PROGRESS, ServiceOrderStatus.COMPLETED, ServiceOrderStatus.CANCELLED}
    ),
    ServiceOrderStatus.IN_PROGRESS: frozenset({ServiceOrderStatus.COMPLETED, ServiceOrderStatus.CANCELLED}),
    ServiceOrderStatus.COMPLETED: frozenset(),
    ServiceOrderStatus.CANCELLED: frozenset(),
}


def service_order_can_move(current: ServiceOrderStatus, reported: ServiceOrderStatus) -> bool:
    return reported in SERVICE_ORDER_TRANSITIONS[current]


class ServiceOrder(BaseModel):
    """A service work order (Tmall 服务工单 and the like) with its SLA deadline and assignee."""

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef
    order_ref: ChannelRef | None = None
    type: ServiceOrderType
    status: ServiceOrderStatus
    raw_status: str
    assignee: str | None = None
    sla_deadline: AwareDatetime | None = None
    description: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
