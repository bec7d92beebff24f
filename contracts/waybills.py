"""Electronic waybills (电子面单): what the hub asks a waybill provider for, and what comes back.

A provider (Cainiao over TOP, the Douyin e-waybill, Kuaidi100's label API) issues a waybill
number for one parcel and the data its label is printed from. The hub asks once per parcel with
a stable ``key``; a provider connector must return the same waybill when asked again with the
same key (the partner's own idempotency field where it has one, else a lookup before issuing).
Pure values; no I/O. Not for tracking (``contracts.shipments.TrackingEvent``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.orders import Address
from contracts.shipments import canonical_courier_code

#: The ``Order.extra`` key under which a channel plugin keeps the platform's opaque id of the real
#: recipient when the address itself is masked or encrypted (TOP's ``oaid`` for Taobao/Tmall
#: trades). The hub copies it into ``WaybillRequest.recipient_oaid``.
RECIPIENT_OAID_EXTRA = "oaid"


class WaybillItem(BaseModel):
    """A line of goods printed on the label (name and quantity)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    merchant_sku: str | None = None


class WaybillRequest(BaseModel):
    """One parcel that needs a waybill number.

    ``key`` is the hub's idempotency key for this parcel (unique per parcel, stable across
    retries); providers send it as their object/order id so a retried request after a timeout
    returns the first waybill, never a second one.

    ``recipient_oaid`` is the channel platform's id of the real recipient (TOP's ``oaid``, "Open
    Addressee ID") of the first order in ``order_external_ids``, when the channel gives one: the
    order's address is then masked or encrypted (``闫**``), and a provider of that platform
    (Cainiao) finds the real recipient from the id. Providers that cannot use it ignore it.
    """

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1, max_length=64, description="Stable per parcel: same key → same waybill.")
    courier_code: str = Field(description="Hub courier code (canonical, e.g. 'zto').")
    platform: str = Field(description="The order's channel platform ('tmall', 'douyin', ...).")
    shop: str = Field(description="The order's shop name in the hub config.")
    order_external_ids: list[str] = Field(min_length=1, description="Channel order ids in this parcel.")
    sender: Address
    recipient: Address
    items: list[WaybillItem] = Field(min_length=1)
    weight_grams: int | None = Field(default=None, ge=0)
    remark: str | None = None
    recipient_oaid: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="TOP's oaid of the recipient of order_external_ids[0] (masked Taobao/Tmall addresses).")

    @field_validator("courier_code")
    @classmethod
    def _canonical_courier(cls, value: str) -> str:
        return canonical_courier_code(value)


class WaybillLabel(BaseModel):
    """Fields printed on the label besides the addresses and the barcode; each optional."""

    model_config = ConfigDict(frozen=True)

    sort_code: str | None = Field(default=None, description="大头笔 / three-segment code, when the provider gives one.")
    route_code: str | None = None
    package_center: str | None = Field(default=None, description="集包地, when given.")
    extra: dict[str, str] = Field(default_factory=dict)


class Waybill(BaseModel):
    """A waybill number a provider issued, with what its label is printed from.

    ``print_data`` is what the provider returned for printing, kept as given (Cainiao's
    ``print_data`` JSON, Douyin's print data, Kuaidi100's label fields); ``label`` holds the fields
    the hub's own 100×150 mm label shows, as far as the provider gives them.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    provider: str = Field(description="The provider's platform name ('cainiao', 'douyin_waybill', 'kuaidi100').")
    courier_code: str
    waybill_number: str = Field(min_length=1)
    print_data: dict[str, Any] = Field(default_factory=dict)
    label: WaybillLabel = Field(default_factory=WaybillLabel)
    reused: bool = Field(
        default=False, description="True when the provider returned the waybill issued earlier for this key.")

    @field_validator("courier_code")
    @classmethod
    def _canonical_courier(cls, value: str) -> str:
        return canonical_courier_code(value)
