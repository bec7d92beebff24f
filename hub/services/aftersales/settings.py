"""The ``[aftersales]`` section of the configuration: the rules that act on cases by themselves,
where returned goods go, the return addresses decisions send, and the polling safety net.

Only pydantic and the contracts here (``hub.config`` imports it). Every rule is off or harmless
until configured, except the ones a merchant would expect on day one: an open refund stops a
shipment (the fulfilment interception), a refund before shipment gives the stock back, and a
deadline about to lapse raises an alert.

```toml
[aftersales]
auto_approve_refund_below = 50.00     # refund-only, nothing shipped, amount below this: approved
deadline_alert_hours = 12             # alert this long before the platform decides for the buyer
defective_warehouse = "defective"     # where damaged returns go (a location never sold from)

[aftersales.return_addresses.tmall-flagship]
address_id = "1234567"                # the platform's id of the seller's return address
name = "售后仓"
phone = "0571-88888888"
province = "浙江省"
city = "杭州市"
district = "余杭区"
detail = "文一西路 1 号"
```
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from contracts.aftersales import ReturnAddress


class ReturnAddressConfig(ReturnAddress):
    """A shop's return address, as the decisions send it: the contract's fields (``ReturnAddress``),
    with an unknown key refused and the model left mutable like the rest of the configuration."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    address_id: str | None = Field(default=None, description="The platform's id of the seller address "
                                   "(TOP contact_id, Douyin receiver_address_id, AliExpress return_address_id).")


class AfterSalesSection(BaseModel):
    """``[aftersales]``."""

    model_config = ConfigDict(extra="forbid")

    auto_approve_refund_below: Decimal | None = Field(
        default=None, gt=0, description="Approve a refund-only case below this amount by itself when nothing of the "
                                        "order has shipped (None: a person decides every case).")
    release_on_refund: bool = Field(
        default=True, description="A refund before shipment gives the reserved stock of its lines back.")
    deadline_alert_hours: float = Field(
        default=12.0, ge=0, description="Raise an alert this long before a platform's reply deadline lapses.")
    defective_warehouse: str = Field(
        default="defective", min_length=1, max_length=100,
        description="The stock location damaged returns go to: never counted as sellable.")
    return_addresses: dict[str, ReturnAddressConfig] = Field(
        default_factory=dict, description="Shop name → the return address decisions send for that shop.")
    default_return_address: ReturnAddressConfig | None = Field(
        default=None, description="The return address of shops without their own.")
    poll_interval_s: float = Field(default=300.0, gt=0, description="The after-sales safety-net poll period.")
    poll_overlap_s: float = Field(default=900.0, ge=0, description="Each after-sales poll window re-reads this much.")
    writeback_max_attempts: int = Field(
        default=8, ge=1, le=50, description="How often a write-back that timed out is tried again (same key).")
