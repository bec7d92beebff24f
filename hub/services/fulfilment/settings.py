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

    courier: str | None = Field(
        default=None, max_length=63,
        description="The [couriers.<name>] account that tracks parcels (a connector with TRACK and "
                    "RECEIVE_TRACKING_PUSH, e.g. Kuaidi100); unset: parcels are not subscribed anywhere.")
    callback_base_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="The hub's public address the tracking courier calls back "
                    "(<callback_base_url>/webhooks/tracking/<courier>), e.g. https://hub.example.com.")
    not_collected_hours: float = Field(
        default=24.0, gt=0, description="A shipped parcel with no scan after this long is 'not collected'.")
    not_moving_hours: float = Field(
        default=48.0, gt=0, description="A collected parcel with no new scan for this long is 'stalled'.")
    resubscribe_after_minutes: float = Field(
        default=30.0, ge=0,
        description="After the courier stopped tracking a parcel (Kuaidi100 'abort'), subscribe it again "
                    "after this long.")
    check_interval_s: float = Field(
        default=600.0, gt=0, description="How often the rules check parcels (and resubscribe stopped ones).")


class FulfilmentSection(BaseModel):
    """``[fulfilment]``: the whole flow from a paid order to a delivered parcel."""

    model_config = ConfigDict(extra="forbid")

    review: ReviewSettings = Field(default_factory=ReviewSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    couriers: CourierRulesSettings = Field(default_factory=CourierRulesSettings)
    waybills: WaybillSettings = Field(default_factory=WaybillSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
