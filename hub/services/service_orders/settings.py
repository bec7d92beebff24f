"""The ``[service_orders]`` section of the configuration: the service-code table that types work
cards, the service-level deadlines per type, when a deadline counts as due soon, automatic
assignment, the rules that create service orders for orders of any shop, and the polling safety net.

Only pydantic and the contracts here (``hub.config`` imports it). Platforms do not publish their
service codes (Tmall ``service_definition.service_code`` values are not documented): the table
starts empty and the hub falls back on the words of the service's name (安装 → installation);
the deadlines are the merchant's promise, not a platform rule.

```toml
[service_orders]
due_soon_hours = 4                    # flag a case this long before a deadline
auto_assign = true                    # new cases go to a technician by skill, region, load

[service_orders.service_codes]        # the platform's code → the hub's type [U: codes not published]
"ZZ_INSTALL" = "installation"

[service_orders.sla.installation]     # hours from the case's creation
contact_hours = 24                    # an appointment booked with the buyer
on_site_hours = 48                    # the technician on site
complete_hours = 72                   # the work done

[[service_orders.rules]]              # a service order for orders of any shop
shops = ["douyin-main"]
skus = ["AC-*"]                       # shell-style patterns of merchant SKUs
type = "installation"
when = "shipped"                      # paid | shipped
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.service_orders import ServiceOrderType

#: The milestones a service-level deadline is set for, in the order a case meets them.
MILESTONES = ("contact", "on_site", "complete")


class SlaHours(BaseModel):
    """The hours, from a case's creation, within which each milestone is promised."""

    model_config = ConfigDict(extra="forbid")

    contact_hours: float = Field(default=24.0, gt=0, description="An appointment booked with the buyer.")
    on_site_hours: float = Field(default=48.0, gt=0, description="The technician on site.")
    complete_hours: float = Field(default=72.0, gt=0, description="The work done.")

    @model_validator(mode="after")
    def _in_order(self) -> SlaHours:
        if not self.contact_hours <= self.on_site_hours <= self.complete_hours:
            raise ValueError("contact_hours ≤ on_site_hours ≤ complete_hours")
        return self

    def hours(self, milestone: str) -> float:
        return {"contact": self.contact_hours, "on_site": self.on_site_hours,
                "complete": self.complete_hours}[milestone]


def _default_sla() -> dict[ServiceOrderType, SlaHours]:
    return {
        ServiceOrderType.INSTALLATION: SlaHours(contact_hours=24, on_site_hours=48, complete_hours=72),
        ServiceOrderType.REPAIR: SlaHours(contact_hours=24, on_site_hours=48, complete_hours=96),
        ServiceOrderType.MAINTENANCE: SlaHours(contact_hours=48, on_site_hours=96, complete_hours=120),
        ServiceOrderType.MEASURE: SlaHours(contact_hours=24, on_site_hours=48, complete_hours=72),
        ServiceOrderType.RETURN_PICKUP: SlaHours(contact_hours=24, on_site_hours=48, complete_hours=72),
        ServiceOrderType.OTHER: SlaHours(contact_hours=48, on_site_hours=96, complete_hours=168),
    }


class ServiceRule(BaseModel):
    """Create a service order for each order of ``shops`` with a line matching ``skus``."""

    model_config = ConfigDict(extra="forbid")

    shops: list[str] = Field(default_factory=list, description="Shop names; empty: every shop.")
    skus: list[str] = Field(min_length=1, description="Shell-style patterns of merchant SKUs (fnmatch).")
    type: ServiceOrderType = ServiceOrderType.INSTALLATION
    when: Literal["paid", "shipped"] = Field(default="shipped", description="Once the order is paid, or shipped.")


class ServiceOrdersSection(BaseModel):
    """``[service_orders]``."""

    model_config = ConfigDict(extra="forbid")

    service_codes: dict[str, ServiceOrderType] = Field(
        default_factory=dict, description="A platform's service code → the hub's type. Codes are not published by "
                                          "the platforms [U]; unknown codes are typed from the service's name.")
    sla: dict[ServiceOrderType, SlaHours] = Field(
        default_factory=_default_sla, description="Service-level hours per type; a type left out uses `other`'s.")
    due_soon_hours: float = Field(default=4.0, ge=0, description="Flag a case this long before its next deadline.")
    auto_assign: bool = Field(default=True, description="Give new cases to a technician by skill, region and load.")
    rules: list[ServiceRule] = Field(default_factory=list, description="Service orders for orders of any shop.")
    poll_interval_s: float = Field(default=300.0, gt=0, description="The work-card safety-net poll period.")
    poll_overlap_s: float = Field(default=900.0, ge=0, description="Each work-card poll window re-reads this much.")
    writeback_max_attempts: int = Field(
        default=8, ge=1, le=50, description="How often a write-back that timed out is tried again (same key).")

    def sla_for(self, kind: ServiceOrderType) -> SlaHours:
        """The hours for ``kind`` (``other``'s, then the defaults, when the table leaves it out)."""
        return self.sla.get(kind) or self.sla.get(ServiceOrderType.OTHER) or _default_sla()[kind]
