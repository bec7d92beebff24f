"""Shipments: ``Shipment``, ``Parcel``, ``TrackingEvent`` and the canonical tracking states.

A shipment is what leaves a warehouse for one order (possibly several parcels, possibly a part
of the order); tracking events come from couriers and are mapped into ``TrackingState``.
Hub courier codes have one canonical form (``canonical_courier_code``: stripped, lower case), used
at every boundary: API input, configured courier maps, and every plugin's lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


def canonical_courier_code(code: str) -> str:
    """The one form of a hub courier code: ``"SF"``, ``"sf"`` and ``" Sf "`` are all ``"sf"``.

    Couriers are named differently by every person and platform (the API docs say ``SF``, a
    config may say ``sf``); compared in this form they are the same courier. Raises
    ``ValueError`` for a blank code."""
    canonical = code.strip().lower()
    if not canonical:
        raise ValueError("a courier code must not be blank")
    return canonical


def canonical_courier_map(table: Mapping[str, str]) -> dict[str, str]:
    """A configured courier map (hub courier code → a partner's code) keyed by canonical codes;
    the partner's codes are kept as written. Two keys naming the same courier with different
    values (``SF`` and ``sf``) are refused, naming both, rather than one silently winning."""
    out: dict[str, str] = {}
    written: dict[str, str] = {}
    for key, value in table.items():
        code = canonical_courier_code(key)
        if code in out and out[code] != value:
            raise ValueError(f"courier codes {written[code]!r} and {key!r} are the same courier "
                             f"({code!r}) but map to {out[code]!r} and {value!r}; keep one")
        out[code], written[code] = value, key
    return out


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

    courier_code: str = Field(description="Hub courier code (e.g. 'sf', 'zto'), kept in canonical form "
                              "(any case accepted); plugins map it.")
    tracking_number: str = Field(min_length=1)
    items: list[ParcelItem] = Field(default_factory=list)
    weight_grams: int | None = Field(default=None, ge=0)

    @field_validator("courier_code")
    @classmethod
    def _canonical_courier(cls, value: str) -> str:
        return canonical_courier_code(value)


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
    courier_code: str = Field(description="Hub courier code, canonical form.")
    state: TrackingState
    occurred_at: AwareDatetime
    description: str = ""
    location: str | None = None
    raw_state: str | None = None

    @field_validator("courier_code")
    @classmethod
    def _canonical_courier(cls, value: str) -> str:
        return canonical_courier_code(value)
