"""Shipments: ``Shipment``, ``Parcel``, ``TrackingEvent`` and the canonical tracking states.

A shipment is what leaves a warehouse for one order (possibly several parcels, possibly a part
of the order); tracking events come from couriers and are mapped into ``TrackingState``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class TrackingState(StrEnum):
    CREATED = "created"
    COLLECTED = "collected"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


class ParcelItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_external_id: str = Field(description="The order line (channel sub-order id) in this parcel.")
    merchant_sku: str | None = None
    quantity: int = Field(gt=0)


class Parcel(BaseModel):
    """One physical package with one tracking number."""

    model_config = ConfigDict(frozen=True)

    courier_code: str = Field(description="Hub courier code (e.g. 'SF', 'ZTO'); plugins map it.")
    tracking_number: str = Field(min_length=1)
    items: list[ParcelItem] = Field(default_factory=list)
    weight_grams: int | None = Field(default=None, ge=0)


class Shipment(BaseModel):
    """What was sent for one order. ``partial`` is true when lines remain to ship."""

    model_config = ConfigDict(frozen=True)

    order_id: int
    warehouse: str | None = None
    parcels: list[Parcel] = Field(min_length=1)
    partial: bool = False
    shipped_at: AwareDatetime | None = None


class ShipmentConfirmation(BaseModel):
    """A channel's answer to a shipment confirmation."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    already_confirmed: bool = False
    message: str | None = None


class TrackingEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    tracking_number: str
    courier_code: str
    state: TrackingState
    occurred_at: AwareDatetime
    description: str = ""
    location: str | None = None
    raw_state: str | None = None
