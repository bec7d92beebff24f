"""The ``[fulfilment]`` section of the configuration: how orders are reviewed, merged, routed,
given a courier and a waybill, and tracked.

Only pydantic and ``contracts`` here (``hub.config`` imports it). One sub-section per step, each
with defaults that let a merchant with one warehouse and one courier run without writing any of
it. Names of warehouses and couriers refer to ``[warehouses.<name>]`` and ``[couriers.<name>]``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReviewSettings(BaseModel):
    """``[fulfilment.review]``: the review (审单) strategies every paid order passes."""

    model_config = ConfigDict(extra="forbid")

    auto: bool = Field(default=True,
                       description="Review paid orders automatically; off: every order waits for a person.")


class MergeSettings(BaseModel):
    """``[fulfilment.merge]``: unshipped orders of one buyer to one address shipped together."""

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(default="off", pattern="^(off|propose|auto)$",
                      description="off, propose (orders with a partner wait on a merge_proposed hold "
                                  "until a person merges or declines), or auto.")
    across_shops: bool = Field(default=False,
                               description="Merge orders of one buyer from different shops of one platform.")
    max_orders: int = Field(default=10, ge=2, le=100, description="At most this many orders in one merged delivery.")
    address_keys: list[str] = Field(
        default_factory=lambda: ["oaid"],
        description="Order.extra keys that identify a (possibly encrypted) address; when both orders carry "
                    "one, they are compared by it instead of the address fields.")
    merge_masked: bool = Field(
        default=False,
        description="Merge addresses whose name, phone or street arrive masked (with '*'): two different "
                    "addresses can mask alike, so off by default.")
    presale_skus: list[str] = Field(
        default_factory=list,
        description="Merchant SKUs on presale: their lines wait (OrderLine has no presale field; an order's "
                    "extra['presale_lines'] may also list line ids).")
    presale_split: bool = Field(
        default=False,
        description="Ship an order's other lines now and leave its presale lines waiting; off: the whole "
                    "order waits (hold presale_waiting) while any line is presale.")


class RoutingSettings(BaseModel):
    """``[fulfilment.routing]``: which warehouse ships an order."""

    model_config = ConfigDict(extra="forbid")

    auto: bool = Field(default=True, description="Route approved orders and send delivery orders without a person.")


class CourierRulesSettings(BaseModel):
    """``[fulfilment.couriers]``: which courier carries a parcel."""

    model_config = ConfigDict(extra="forbid")


class WaybillSettings(BaseModel):
    """``[fulfilment.waybills]``: obtaining electronic waybills and printing labels."""

    model_config = ConfigDict(extra="forbid")


class TrackingSettings(BaseModel):
    """``[fulfilment.tracking]``: subscribing parcels and the rules that flag stuck ones."""

    model_config = ConfigDict(extra="forbid")


class FulfilmentSection(BaseModel):
    """``[fulfilment]``: the whole flow from a paid order to a delivered parcel."""

    model_config = ConfigDict(extra="forbid")

    review: ReviewSettings = Field(default_factory=ReviewSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    couriers: CourierRulesSettings = Field(default_factory=CourierRulesSettings)
    waybills: WaybillSettings = Field(default_factory=WaybillSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
