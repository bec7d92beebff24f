"""What the hub asks a channel connector to change on an order, and what the platform made of it.

The hub records every edit itself (before, after, who, why); a connector with
``Capability.EDIT_ORDERS`` writes the kinds it lists in ``order_edit_kinds`` back to the platform,
and the hub keeps the others local-only and says so. Pure models: no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.orders import Address, Order


class OrderEditKind(StrEnum):
    """What a person changes on an order."""

    ADDRESS = "address"  # the shipping address (unshipped orders)
    BUYER_NOTE = "buyer_note"  # the buyer's remark: the buyer's words, so the hub keeps a copy only
    SELLER_NOTE = "seller_note"  # the seller's memo (TOP ``memo``, Douyin ``remark``)
    FLAG = "flag"  # the seller's flag colour
    PRICE = "price"  # a line's unit price, before payment (a money change)
    QUANTITY = "quantity"  # a line's quantity, before payment (a money change)
    CANCEL = "cancel"  # the merchant cancels an unshipped order


#: Kinds that change what the buyer pays: they wait for an approval before they take effect.
MONEY_KINDS = frozenset({OrderEditKind.PRICE, OrderEditKind.QUANTITY})


class SellerFlag(IntEnum):
    """The hub's seller-flag colours. Platforms number their colours differently (TOP 1 red … 5
    pink, Douyin 1 purple … 5 red): each connector maps these to its own codes."""

    NONE = 0  # grey / no flag
    RED = 1
    YELLOW = 2
    GREEN = 3
    BLUE = 4
    PURPLE = 5
    PINK = 6
    CYAN = 7
    ORANGE = 8


class LineChange(BaseModel):
    """A new unit price or quantity for one line (``external_id`` is the line's channel id)."""

    model_config = ConfigDict(frozen=True)

    line: str
    unit_price: Decimal | None = Field(default=None, ge=0)
    quantity: int | None = Field(default=None, gt=0)


class OrderEditValues(BaseModel):
    """The new values of one edit; only the fields of its kind are set."""

    model_config = ConfigDict(frozen=True)

    address: Address | None = None
    note: str | None = None  # buyer_note / seller_note
    flag: SellerFlag | None = None
    lines: list[LineChange] = Field(default_factory=list)  # price / quantity
    reason: str | None = None  # cancel: the merchant's reason


class OrderEditRequest(BaseModel):
    """One edit the connector writes back (``edit_order``). ``order`` is the hub's copy with the edit
    applied (its ``raw_status`` as last reported); ``key`` is the same on every retry of this edit."""

    model_config = ConfigDict(frozen=True)

    order: Order
    kind: OrderEditKind
    values: OrderEditValues
    key: str


class OrderEditResult(BaseModel):
    """What the platform made of an edit: ``written_back`` False with a ``note`` when the platform
    has no API for it (the hub then keeps it local-only)."""

    model_config = ConfigDict(frozen=True)

    written_back: bool
    note: str | None = None
