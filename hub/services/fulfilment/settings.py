"""The ``[fulfilment]`` section of the configuration: how orders are reviewed, merged, routed,
given a courier and a waybill, and tracked.

Only pydantic and ``contracts`` here (``hub.config`` imports it). One sub-section per step, each
with defaults that let a merchant with one warehouse and one courier run without writing any of
it. Names of warehouses and couriers refer to ``[warehouses.<name>]`` and ``[couriers.<name>]``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The address fields the incomplete-address strategy may require.
AddressField = Literal["name", "phone", "province", "city", "street"]
ADDRESS_FIELDS: tuple[AddressField, ...] = ("name", "phone", "province", "city", "street")
#: A shipment confirmation's claim counts as in flight for its time limit times this.
IN_FLIGHT_FACTOR = 1.25


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
    per strategy). Defaults: hold an order whose address misses a field a parcel needs (when the
    hub routes orders itself), and an AliExpress order whose funds are frozen; everything else
    passes until configured.
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
    hold_on_incomplete_address: bool | None = Field(
        default=None, description="Hold orders whose shipping address is missing or lacks one of address_fields. "
                                  "Code review_address. Unset: only when the hub routes orders without a person "
                                  "(it will hand the address to a warehouse or a courier); a hub where a person "
                                  "ships holds nobody for it.")
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

    auto: bool | None = Field(
        default=None,
        description="Route approved orders and send delivery orders without a person. Unset: only when the "
                    "hub has something to automate, a WMS warehouse or an enabled [couriers.<name>] account "
                    "(a hub with only its own/manual warehouses and no courier leaves orders for a person to "
                    "ship, as before fulfilment); true: always; false: orders wait for "
                    "POST /api/v1/orders/{id}/route.")
    code_prefix: str = Field(default="DO", pattern="^[A-Za-z0-9]{1,8}$",
                             description="Delivery order codes are <prefix><order id>-<n> "
                                         "(sent to a WMS as its deliveryOrderCode).")


class CourierRule(BaseModel):
    """One ``[[fulfilment.couriers.rules]]`` entry: a courier account and the parcels it takes.

    Every condition left out matches everything; the ones given must all hold. Province names are
    compared without their suffix (``浙江省`` = ``浙江``)."""

    model_config = ConfigDict(extra="forbid")

    courier: str = Field(min_length=1, max_length=63,
                         description="The courier account that issues the waybill: a ``[couriers.<name>]``.")
    courier_code: str | None = Field(
        default=None, min_length=1, max_length=50,
        description="The carrier (hub courier code, e.g. 'zto'); default: the account's ``courier_code`` "
                    "setting, else its name.")
    provinces: list[str] = Field(default_factory=list, description="Recipient provinces it serves; empty: all.")
    min_weight_grams: int | None = Field(default=None, ge=0)
    max_weight_grams: int | None = Field(default=None, ge=0)
    min_amount: Decimal | None = Field(default=None, ge=0, description="Order total at least this.")
    max_amount: Decimal | None = Field(default=None, ge=0, description="Order total at most this.")
    platforms: list[str] = Field(default_factory=list, description="Order platforms ('tmall', 'douyin'); empty: all.")
    warehouses: list[str] = Field(default_factory=list, description="Shipping warehouses; empty: all.")

    @model_validator(mode="after")
    def _bounds(self) -> CourierRule:
        if (self.min_weight_grams is not None and self.max_weight_grams is not None
                and self.min_weight_grams > self.max_weight_grams):
            raise ValueError("min_weight_grams is above max_weight_grams")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError("min_amount is above max_amount")
        return self


class CourierPrice(BaseModel):
    """A price: ``first_price`` for the first ``first_weight_grams``, ``extra_kg_price`` per kg (or part) above."""

    model_config = ConfigDict(extra="forbid")

    first_price: Decimal = Field(ge=0)
    extra_kg_price: Decimal = Field(default=Decimal(0), ge=0)
    first_weight_grams: int = Field(default=1000, gt=0)


class CourierCost(CourierPrice):
    """``[fulfilment.couriers.costs.<courier>]``: what one courier account charges, with per-province prices."""

    provinces: dict[str, CourierPrice] = Field(default_factory=dict,
                                               description="Province → its own price, instead of the default.")


class CourierRulesSettings(BaseModel):
    """``[fulfilment.couriers]``: which courier carries a parcel.

    The ``select_courier`` hook is asked first; then ``rules``, in order. ``strategy``
    ``first_match`` takes the first matching rule; ``cheapest`` the matching rule whose courier the
    ``costs`` table prices lowest for the parcel (unpriced couriers last, ties in rule order). No
    rules at all: the first configured courier. Rules, none matching: no courier (the order is held).
    """

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["first_match", "cheapest"] = "first_match"
    rules: list[CourierRule] = Field(default_factory=list)
    costs: dict[str, CourierCost] = Field(default_factory=dict, description="Courier account → its prices.")


class WaybillSettings(BaseModel):
    """``[fulfilment.waybills]``: obtaining electronic waybills and printing labels."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=50,
                              description="Transient failures before a parcel's waybill is given up (failed, held).")
    label_font: str = Field(default="STSong-Light", min_length=1,
                            description="The PDF font for labels (a reportlab CID font covering Chinese).")


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
    confirm_timeout_s: float = Field(
        default=120.0, ge=1, le=600,
        description="How long one attempt to confirm a shipment to its channel may spend on partner calls before "
                    "it is abandoned and retried (its outcome unknown, so the retry reads the channel's order "
                    "first). A claim older than 1.25 times this was left by a worker that died mid-call, and "
                    "another worker takes the confirmation over.")

    @property
    def confirm_in_flight(self) -> timedelta:
        """How long a confirmation claimed by another worker counts as still in flight: the attempt's
        time limit plus a quarter, for the time between claiming and calling and for clock skew."""
        return timedelta(seconds=self.confirm_timeout_s * IN_FLIGHT_FACTOR)
