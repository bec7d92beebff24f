"""The ``[reports]`` section of the configuration: freight per parcel (a default and a rate table per
courier, optionally per province), the buyer tiers by spend, how long a report's range may be, and
how much memory a report's query may use on PostgreSQL.

Only pydantic here (``hub.config`` imports it).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FreightRate(BaseModel):
    """What one parcel of ``courier`` (optionally to ``province``) costs to send."""

    model_config = ConfigDict(extra="forbid")

    courier: str = Field(min_length=1, max_length=50, description="The parcel's courier code (e.g. ``SF``).")
    province: str | None = Field(default=None, max_length=50, description="Only parcels to this province.")
    amount: Decimal = Field(ge=0, description="Freight per parcel, in the orders' currency.")


class BuyerTier(BaseModel):
    """A buyer whose spend in the report's range is at least ``min_spend`` (and below the next tier's)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    min_spend: Decimal = Field(ge=0)


def _default_tiers() -> list[BuyerTier]:
    return [BuyerTier(name="low", min_spend=Decimal(0)), BuyerTier(name="middle", min_spend=Decimal(200)),
            BuyerTier(name="high", min_spend=Decimal(1000))]


class ReportsSection(BaseModel):
    """``[reports]``."""

    model_config = ConfigDict(extra="forbid")

    #: Freight of a parcel whose waybill recorded none and no rate below matches.
    default_freight: Decimal = Field(default=Decimal(0), ge=0)
    #: Freight per parcel by courier (and province): the most specific match wins.
    freight_rates: list[FreightRate] = Field(default_factory=list)
    #: Buyer tiers by spend over the report's range, ascending ``min_spend``; the first starts at 0.
    buyer_tiers: list[BuyerTier] = Field(default_factory=_default_tiers)
    #: The longest range a daily report may cover, and a weekly or monthly one.
    max_days_daily: int = Field(default=400, ge=1, le=3700)
    max_days_long: int = Field(default=1830, ge=1, le=7400)
    #: PostgreSQL memory (MB) a report's sorts and hash tables may each use (``work_mem`` for the
    #: report's transaction only): counting ~900,000 distinct buyers needs about 300 MB to stay in
    #: memory; with the server's default (often 4 MB) it spills to disk and takes about twice as long.
    work_mem_mb: int = Field(default=256, ge=4, le=4096)

    @model_validator(mode="after")
    def _tiers_ascend(self) -> ReportsSection:
        spends = [t.min_spend for t in self.buyer_tiers]
        if not spends or spends[0] != 0 or spends != sorted(set(spends)):
            raise ValueError("buyer_tiers: give at least one tier, the first with min_spend 0, ascending")
        names = [t.name for t in self.buyer_tiers]
        if len(set(names)) != len(names):
            raise ValueError("buyer_tiers: tier names must differ")
        return self
