"""The ``[fulfilment]`` section of the configuration: how orders are reviewed, merged, routed,
given a courier and a waybill, and tracked.

Only pydantic and ``contracts`` here (``hub.config`` imports it). One sub-section per step, each
with defaults that let a merchant with one warehouse and one courier run without writing any of
it. Names of warehouses and couriers refer to ``[warehouses.<name>]`` and ``[couriers.<name>]``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The address fields the incomplete-address strategy may require.
AddressField = Literal["name", "phone", "province", "city", "street"]
ADDRESS_FIELDS: tuple[AddressField, ...] = ("name", "phone", "province", "city", "street")


def _names(values: list[str], what: str) -> list[str]:
    """Entries stripped; a blank or repeated one is an error naming it (pydantic adds the field)."""
    out: list[str] = []
    for index, value in enumerate(values):
        text = value.strip()
        if not text:
            raise ValueError(f"entry {index} is blank: name a {what}")
        if text in out:
            raise ValueError(f"{text!r} is listed twice")
        out.append(text)
    return out


class ReviewSettings(BaseModel):
    """``[fulfilment.review]``: the review (审单) strategies every paid order passes.

    Every strategy is optional; an order failing several is held with every reason (one hold code
    per strategy). Defaults: hold an order whose address misses a field a parcel needs, and an
    AliExpress order whose funds are frozen; everything else passes until configured.
    """

    model_config = ConfigDict(extra="forbid")

    auto: bool = Field(default=True,
                       description="Review paid orders automatically; off: every order waits for a person.")
    amount_above: Decimal | None = Field(
        default=None, gt=0, description="Hold orders whose total (shipping included) is above this amount "
                                        "(in the order's own currency). Code review_amount.")
    hold_on_buyer_remark: bool = Field(default=False, description="Hold orders with a buyer remark (买家留言). "
                                                                  "Code review_remark.")
    hold_on_seller_remark: bool = Field(default=False, description="Hold orders with a seller remark (卖家备注). "
                                                                   "Code review_remark.")
    provinces: list[str] = Field(default_factory=list, description="Hold orders shipped to these provinces "
                                 "(a listed name matches the address's province it begins: 新疆 matches "
                                 "新疆维吾尔自治区). Code review_region.")
    cities: list[str] = Field(default_factory=list, description="Hold orders shipped to these cities (same "
                                                                "matching as provinces). Code review_region.")
    blacklisted_buyers: list[str] = Field(default_factory=list, description="Hold orders of these buyers: the "
                                          "platform nick or buyer id (TOP buyer_open_uid, Douyin doudian_open_id). "
                                          "Code review_blacklist.")
    sku_combinations: list[list[str]] = Field(default_factory=list, description="Sets of merchant SKUs: hold an "
                                              "order containing every SKU of a set. Code review_sku_combo.")
    hold_on_incomplete_address: bool = Field(default=True, description="Hold orders whose shipping address is "
                                             "missing or lacks one of address_fields. Code review_address.")
    address_fields: list[AddressField] = Field(
        default_factory=lambda: list(ADDRESS_FIELDS),
        description="The fields an address must have; ciphertext (Douyin encrypt_post_*, TOP ~…~ ⚠️ [U]) and the "
                    "platform's masked values count as present.")
    risk_tags: list[str] = Field(default_factory=list, description="Order tags that hold the order "
                                 "(e.g. in_issue from AliExpress). Code review_risk.")
    risk_extra: dict[str, list[str]] = Field(
        default_factory=lambda: {"frozen_status": ["IN_FROZEN"]},
        description="Order ``extra`` keys that hold the order when their value is one of the listed ones (an "
                    "empty list: any value but false, 0 or empty). Code review_risk.")

    @field_validator("provinces", "cities", "blacklisted_buyers", "risk_tags")
    @classmethod
    def _listed(cls, values: list[str]) -> list[str]:
        return _names(values, "value")

    @field_validator("sku_combinations")
    @classmethod
    def _combinations(cls, values: list[list[str]]) -> list[list[str]]:
        out: list[list[str]] = []
        for index, combination in enumerate(values):
            try:
                skus = _names(combination, "merchant SKU")
            except ValueError as exc:
                raise ValueError(f"combination {index}: {exc}") from None
            if not skus:
                raise ValueError(f"combination {index} is empty: list the SKUs an order must all contain")
            out.append(skus)
        return out

    @field_validator("address_fields")
    @classmethod
    def _fields(cls, values: list[AddressField]) -> list[AddressField]:
        if len(set(values)) != len(values):
            raise ValueError("a field is listed twice")
        return values

    @field_validator("risk_extra")
    @classmethod
    def _extra(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, listed in values.items():
            if not key.strip():
                raise ValueError("a key is blank: name an extra field of the order")
            try:
                out[key.strip()] = _names(listed, "value")
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return out


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


class FulfilmentSection(BaseModel):
    """``[fulfilment]``: the whole flow from a paid order to a delivered parcel."""

    model_config = ConfigDict(extra="forbid")

    review: ReviewSettings = Field(default_factory=ReviewSettings)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    couriers: CourierRulesSettings = Field(default_factory=CourierRulesSettings)
    waybills: WaybillSettings = Field(default_factory=WaybillSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
