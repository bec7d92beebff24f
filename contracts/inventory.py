"""Stock values: ``StockLevel``, ``StockChange``, ``ChannelStock``, ``Reservation`` and the
allocation policy a shop (or product, or SKU) applies to what is available.

Pure values and the pure allocation arithmetic of docs/architecture.md §6; the hub's inventory service does the
I/O. Quantities are whole units; rounding is always down, so a share never shows stock that
isn't there.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class StockLevel(BaseModel):
    """Units on hand for one SKU in one warehouse, as last known."""

    model_config = ConfigDict(frozen=True)

    warehouse: str
    merchant_sku: str
    on_hand: int = Field(ge=0)
    locked: int = Field(default=0, ge=0, description="Units the warehouse holds back (frozen).")
    as_of: AwareDatetime | None = None


class StockChangeCause(StrEnum):
    """Why stock moved; every ledger row carries one."""

    ORDER_RESERVED = "order_reserved"
    ORDER_RELEASED = "order_released"
    ORDER_SHIPPED = "order_shipped"
    ADJUSTMENT = "adjustment"
    IMPORT = "import"
    WAREHOUSE_REPORT = "warehouse_report"
    RETURN = "return"
    #: Damaged returns scrapped or sent back to the supplier (taken out of the defective location).
    DEFECTIVE_DISPOSAL = "defective_disposal"


class StockChange(BaseModel):
    """A movement of on-hand stock (positive in, negative out) with its cause."""

    model_config = ConfigDict(frozen=True)

    warehouse: str
    merchant_sku: str
    delta: int
    cause: StockChangeCause
    reference: str | None = Field(default=None, description="Order id, adjustment id, report id...")
    note: str | None = None


class AllocationMode(StrEnum):
    """How shops share one SKU group's available stock."""

    SHARED = "shared"  # every shop may show the whole available
    PARTITIONED = "partitioned"  # shares add up to at most available: no oversell


class StockPolicy(BaseModel):
    """What a shop shows of the available stock. Unset fields inherit (SKU > product > shop).

    Applied in this order: ``off`` → 0; ``fixed`` → that value; otherwise
    ``floor(available × share_percent / 100)``, then ``cap`` (at most), then ``floor_qty`` (at
    least, but never more than available).
    """

    model_config = ConfigDict(frozen=True)

    off: bool | None = None
    fixed: int | None = Field(default=None, ge=0, description="A virtual value shown regardless.")
    share_percent: int | None = Field(default=None, ge=0, le=100)
    cap: int | None = Field(default=None, ge=0)
    floor_qty: int | None = Field(default=None, ge=0)
    safety_stock: int | None = Field(default=None, ge=0, description="Held back from this shop.")

    def merged_over(self, base: StockPolicy) -> StockPolicy:
        """This policy with its unset fields taken from ``base`` (the less specific level)."""
        values = base.model_dump()
        values.update({k: v for k, v in self.model_dump().items() if v is not None})
        return StockPolicy(**values)


def apply_policy(available: int, policy: StockPolicy) -> int:
    """The quantity one shop should show, given the available stock and its effective policy."""
    available = max(0, available - (policy.safety_stock or 0))
    if policy.off:
        return 0
    if policy.fixed is not None:
        return policy.fixed
    share = 100 if policy.share_percent is None else policy.share_percent
    qty = available * share // 100
    if policy.cap is not None:
        qty = min(qty, policy.cap)
    if policy.floor_qty is not None:
        qty = max(qty, min(policy.floor_qty, available))
    return max(0, qty)


class ChannelStock(BaseModel):
    """What one shop should show for one listing: an absolute quantity, never an increment."""

    model_config = ConfigDict(frozen=True)

    shop: str
    merchant_sku: str
    channel_item_id: str | None = None
    channel_sku_id: str | None = None
    quantity: int = Field(ge=0)


class ChannelStockChange(BaseModel):
    """A relative change of what one shop shows for one listing: ``delta`` units (±), sent once.

    Partitioned stock groups move units between shops with changes rather than absolute values,
    because an absolute value overwrites the platform's own decrements for sales the hub has not
    heard of yet. ``key`` is the hub's idempotency key for this change (32 lowercase hex
    characters, unique per change): a connector whose platform takes such a key passes it on, so
    a resend after a lost answer is applied once.
    """

    model_config = ConfigDict(frozen=True)

    shop: str
    merchant_sku: str
    channel_item_id: str | None = None
    channel_sku_id: str | None = None
    delta: int
    key: str = Field(pattern=r"^[0-9a-f]{32}$")

    @model_validator(mode="after")
    def _not_zero(self) -> ChannelStockChange:
        if self.delta == 0:
            raise ValueError("a stock change of 0 units changes nothing; do not send it")
        return self


class StockPushResult(BaseModel):
    """The outcome of pushing one ``ChannelStock`` value or ``ChannelStockChange``, reported per
    SKU by a connector."""

    model_config = ConfigDict(frozen=True)

    merchant_sku: str
    channel_sku_id: str | None = None
    ok: bool
    quantity: int | None = Field(default=None, description="What the shop shows now, if it said.")
    applied: int | None = Field(
        default=None,
        description="For a change: the change the platform says it really made, if it said (a decrement "
                    "larger than the shop's stock is cut short at 0 by some platforms).")
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False
    outcome_unknown: bool = Field(
        default=False,
        description="With ok=False: the answer was lost (a timeout), so the platform may or may not have "
                    "applied it. Plain ok=False means it certainly did not.")


class ChannelStockReading(BaseModel):
    """What a shop really shows for one listing, read back for reconciliation."""

    model_config = ConfigDict(frozen=True)

    merchant_sku: str | None
    channel_item_id: str | None = None
    channel_sku_id: str | None = None
    quantity: int = Field(ge=0)


class ReservationState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CONSUMED = "consumed"


class Reservation(BaseModel):
    """Units of one SKU held for one order line until it ships (consumed) or is cancelled."""

    model_config = ConfigDict(frozen=True)

    order_id: int
    line_external_id: str
    merchant_sku: str
    quantity: int = Field(gt=0)
    state: ReservationState = ReservationState.ACTIVE
    warehouse: str | None = None


class AllocationRequest(BaseModel):
    """Input to the ``allocate_stock`` hook: one shop's proposed share of one SKU."""

    model_config = ConfigDict(frozen=True)

    shop: str
    platform: str
    merchant_sku: str
    available: int
    mode: AllocationMode
    policy: StockPolicy
    proposed: int

    @model_validator(mode="after")
    def _non_negative(self) -> AllocationRequest:
        if self.proposed < 0:
            raise ValueError("proposed must be >= 0")
        return self
