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
                      description="off, propose (a person merges), or auto.")


class RoutingSettings(BaseModel):
    """``[fulfilment.routing]``: which warehouse ships an order."""

    model_config = ConfigDict(extra="forbid")

    auto: bool = Field(default=True, description="Route approved orders and send delivery orders without a person; "
                                                  "off: orders wait for POST /api/v1/orders/{id}/route.")
    code_prefix: str = Field(default="DO", pattern="^[A-Za-z0-9]{1,8}$",
                             description="Delivery order codes are <prefix><order id>-<n> "
                                         "(sent to a WMS as its deliveryOrderCode).")


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
