"""Canonical orders: ``Order``, ``OrderLine``, ``Buyer``, ``Address`` and ``OrderStatus``.

Every channel plugin maps its platform's order into these models (no platform status left
unmapped); the hub stores, audits, routes and fulfils only these. The status machine here is the
one the hub enforces: it is monotonic, so a stale or repeated channel event never moves an order
backwards. Not for hub-only state (holds, tags, routing): that lives in the hub's tables.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.money import Money
from contracts.privacy import mask_name, mask_phone, mask_text
from contracts.refs import ChannelRef, platform_id


class OrderStatus(StrEnum):
    """The one canonical order status.

    ``pending_payment → paid → (partially_shipped) → shipped → delivered → completed``, plus the
    terminal ``cancelled`` (before payment, or voided) and ``closed`` (after payment: fully refunded
    or otherwise ended without completing).
    """

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def progress(self) -> int:
        """Position on the forward path; terminal end states rank highest."""
        return _PROGRESS[self]


_PROGRESS: dict[OrderStatus, int] = {
    OrderStatus.PENDING_PAYMENT: 0,
    OrderStatus.PAID: 1,
    OrderStatus.PARTIALLY_SHIPPED: 2,
    OrderStatus.SHIPPED: 3,
    OrderStatus.DELIVERED: 4,
    OrderStatus.COMPLETED: 5,
    OrderStatus.CANCELLED: 6,
    OrderStatus.CLOSED: 6,
}

TERMINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.CLOSED})

#: Allowed moves. A move absent from this table is either stale (the stored order is already
#: further along: recorded in history, state unchanged) or impossible (rejected).
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_PAYMENT: frozenset(
        {
            OrderStatus.PAID,
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
            OrderStatus.CANCELLED,
            OrderStatus.CLOSED,
        }
    ),
    OrderStatus.PAID: frozenset(
        {
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
            OrderStatus.CANCELLED,
            OrderStatus.CLOSED,
        }
    ),
    OrderStatus.PARTIALLY_SHIPPED: frozenset(
        {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CLOSED}
    ),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CLOSED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.COMPLETED, OrderStatus.CLOSED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.CLOSED: frozenset(),
}


class TransitionVerdict(StrEnum):
    """What applying a reported status to a stored one means."""

    APPLY = "apply"  # a real forward move
    SAME = "same"  # already in that status: a repeat, nothing to do
    STALE = "stale"  # the stored order is already further along: keep it, record the event


def judge_transition(current: OrderStatus, reported: OrderStatus) -> TransitionVerdict:
    """Decide what a channel's reported status does to the stored status (pure, total)."""
    if current == reported:
        return TransitionVerdict.SAME
    if reported in ORDER_TRANSITIONS[current]:
        return TransitionVerdict.APPLY
    return TransitionVerdict.STALE


class FulfilmentStatus(StrEnum):
    """How far the goods of an order got, whoever moved them: the hub's own flow (routed, sent to
    a warehouse, a shipment recorded) or the channel saying they left (the merchant shipped in
    the seller centre). Only moves forward."""

    UNFULFILLED = "unfulfilled"
    ROUTED = "routed"
    SENT_TO_WAREHOUSE = "sent_to_warehouse"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"

    @property
    def progress(self) -> int:
        return list(FulfilmentStatus).index(self)


#: Order statuses that say the goods left, and how far: a channel's word for it.
_SHIPPED_BY_CHANNEL: dict[OrderStatus, FulfilmentStatus] = {
    OrderStatus.PARTIALLY_SHIPPED: FulfilmentStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED: FulfilmentStatus.SHIPPED,
    OrderStatus.DELIVERED: FulfilmentStatus.SHIPPED,
    OrderStatus.COMPLETED: FulfilmentStatus.SHIPPED,
}


def fulfilment_after(current: str, reached: FulfilmentStatus) -> FulfilmentStatus | None:
    """The fulfilment status once ``reached`` is known, or None to keep ``current`` (it is as far
    or further along: fulfilment never moves backwards). An unknown ``current`` is kept."""
    try:
        stored = FulfilmentStatus(current)
    except ValueError:
        return None
    return reached if reached.progress > stored.progress else None


def fulfilment_reported_by(status: OrderStatus) -> FulfilmentStatus | None:
    """How far the channel's order status says the goods got; None when it says nothing of it
    (not shipped yet, or cancelled/closed: a refund does not unship anything)."""
    return _SHIPPED_BY_CHANNEL.get(status)


class Address(BaseModel):
    """A postal address. ``masked()`` is the rendering for logs and for roles without PII access.

    Platforms may send some fields already masked or encrypted (TOP ``receiver_*``, Douyin
    ``encrypt_post_*``); plugins store what they get and set ``encrypted=True`` for ciphertext.
    """

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    country: str = Field(default="CN", description="ISO 3166-1 alpha-2 country code.")
    province: str | None = None
    city: str | None = None
    district: str | None = None
    town: str | None = None
    street: str | None = Field(default=None, description="Street address / detail lines.")
    postcode: str | None = None
    encrypted: bool = Field(default=False, description="True when name/phone/street are ciphertext.")

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {value!r}")
        return code

    def masked(self) -> Address:
        """The same address with name, phone and street masked; region fields kept."""
        return self.model_copy(
            update={
                "name": mask_name(self.name),
                "phone": mask_phone(self.phone),
                "street": mask_text(self.street),
                "postcode": self.postcode,
            }
        )


class Buyer(BaseModel):
    """The buyer as the channel identifies them. ``nick`` is a platform handle, not a real name."""

    model_config = ConfigDict(frozen=True)

    nick: str | None = None
    platform_buyer_id: str | None = Field(default=None, description="e.g. TOP buyer_open_uid.")
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def masked(self) -> Buyer:
        return self.model_copy(
            update={
                "name": mask_name(self.name),
                "phone": mask_phone(self.phone),
                "email": mask_text(self.email, keep=1),
            }
        )


class OrderLine(BaseModel):
    """One line of an order: a merchant SKU, its channel ids, quantity and prices."""

    model_config = ConfigDict(frozen=True)

    external_id: str = Field(description="The channel's sub-order / line id (TOP oid), as a string.")
    merchant_sku: str | None = Field(
        default=None,
        description="The merchant's own SKU code (TOP outer_sku_id, Douyin code, AE sku_code). "
        "None when the listing has no merchant code: the line cannot be reserved until mapped.",
    )
    channel_item_id: str | None = Field(default=None, description="Listing id (num_iid, product_id).")
    channel_sku_id: str | None = Field(default=None, description="The channel's SKU id.")
    title: str = ""
    quantity: int = Field(gt=0)
    unit_price: Money
    discount: Money | None = None
    paid: Money | None = Field(default=None, description="Amount paid for this line after allocation.")
    status: OrderStatus | None = Field(default=None, description="Line status, when the channel has one.")
    refund_status: str | None = Field(default=None, description="Canonical after-sale status of the line.")

    @field_validator("external_id", "channel_item_id", "channel_sku_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return None if value is None else platform_id(value)


class Order(BaseModel):
    """A sales order as the channel reports it, in canonical form.

    ``ref`` says where it lives; ``status`` is already mapped; ``raw_status`` keeps the platform's
    own word for support staff. ``updated_at`` is the channel's modification time, used to tell a
    newer report from a stale one.
    """

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef
    status: OrderStatus
    raw_status: str = Field(description="The platform's status value, verbatim.")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    paid_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    buyer: Buyer = Field(default_factory=Buyer)
    shipping_address: Address | None = None
    lines: list[OrderLine] = Field(min_length=1)
    total: Money = Field(description="What the buyer pays, shipping included.")
    shipping_fee: Money | None = None
    buyer_note: str | None = None
    seller_note: str | None = None
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Platform details worth keeping (type, flags); no PII."
    )

    @model_validator(mode="after")
    def _one_currency(self) -> Order:
        currencies = {self.total.currency} | {line.unit_price.currency for line in self.lines}
        if len(currencies) != 1:
            raise ValueError(f"an order must use one currency, got {sorted(currencies)}")
        return self

    @property
    def currency(self) -> str:
        return self.total.currency

    def masked(self) -> Order:
        """The order with buyer and address masked, for logs and roles without PII access."""
        return self.model_copy(
            update={
                "buyer": self.buyer.masked(),
                "shipping_address": self.shipping_address.masked() if self.shipping_address else None,
            }
        )


def order_age(order: Order, now: datetime) -> float:
    """Seconds since the order was created (for SLA and audit rules)."""
    return (now - order.created_at).total_seconds()
