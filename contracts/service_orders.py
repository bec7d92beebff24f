"""Service work orders (``ServiceOrder``): installation, repair and other work done for a buyer
after the sale, with their lifecycle, the steps a person takes on one, the technicians who do
the work and a platform's service-level alerts.

A service order comes from a platform (Tmall 服务工单, mapped by the channel plugin) or is created
in the hub for an order of any shop (a person, or a rule). Its lifecycle::

    new → assigned → booked → on_site → completed
                 ↘ cancelled / failed (with a reason) from any open status

``ServiceOrderAction`` is a step a person (or the hub's automatic assignment) takes; a connector
with ``Capability.WRITE_SERVICE_ORDERS`` writes the steps its platform takes
(``service_order_writes``) and the hub records the others itself.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.refs import ChannelRef


class ServiceOrderType(StrEnum):
    """What the work is. Platforms name it by their own service codes; the hub's
    ``[service_orders] service_codes`` table maps those codes to one of these."""

    INSTALLATION = "installation"
    REPAIR = "repair"
    MAINTENANCE = "maintenance"
    MEASURE = "measure"
    RETURN_PICKUP = "return_pickup"
    OTHER = "other"


class ServiceOrderStatus(StrEnum):
    """``new → assigned → booked → on_site → completed``; ``cancelled`` and ``failed`` (each with a
    reason) from any open status. ``completed``, ``cancelled`` and ``failed`` are terminal."""

    NEW = "new"
    ASSIGNED = "assigned"
    BOOKED = "booked"
    ON_SITE = "on_site"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_SERVICE_STATUSES: frozenset[ServiceOrderStatus] = frozenset(
    {ServiceOrderStatus.COMPLETED, ServiceOrderStatus.CANCELLED, ServiceOrderStatus.FAILED}
)

#: How far along each status is; a report never moves a service order back (``service_order_can_move``).
SERVICE_STATUS_RANK: dict[ServiceOrderStatus, int] = {
    ServiceOrderStatus.NEW: 0,
    ServiceOrderStatus.ASSIGNED: 1,
    ServiceOrderStatus.BOOKED: 2,
    ServiceOrderStatus.ON_SITE: 3,
    ServiceOrderStatus.COMPLETED: 4,
    ServiceOrderStatus.CANCELLED: 4,
    ServiceOrderStatus.FAILED: 4,
}


def service_order_can_move(current: ServiceOrderStatus, reported: ServiceOrderStatus) -> bool:
    """Whether a report of ``reported`` moves a service order that is ``current``: forward only,
    never out of a terminal status."""
    if current in TERMINAL_SERVICE_STATUSES:
        return False
    return SERVICE_STATUS_RANK[reported] > SERVICE_STATUS_RANK[current]


class ServiceOrderAction(StrEnum):
    """A step a person (or the hub) takes on a service order."""

    ASSIGN = "assign"  # give it to a technician, or to another one (reassign, with a reason)
    BOOK = "book"  # an appointment window agreed with the buyer (again: rebook)
    CHECK_IN = "check_in"  # the technician is on site
    COMPLETE = "complete"  # done, with notes and the buyer's rating when known
    CANCEL = "cancel"  # no longer wanted (reason)
    FAIL = "fail"  # could not be done (reason)


#: The steps each open status allows; a terminal status allows none.
SERVICE_ACTIONS: dict[ServiceOrderStatus, frozenset[ServiceOrderAction]] = {
    ServiceOrderStatus.NEW: frozenset({ServiceOrderAction.ASSIGN, ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL}),
    ServiceOrderStatus.ASSIGNED: frozenset({ServiceOrderAction.ASSIGN, ServiceOrderAction.BOOK,
                                            ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL}),
    ServiceOrderStatus.BOOKED: frozenset({ServiceOrderAction.ASSIGN, ServiceOrderAction.BOOK,
                                          ServiceOrderAction.CHECK_IN, ServiceOrderAction.CANCEL,
                                          ServiceOrderAction.FAIL}),
    ServiceOrderStatus.ON_SITE: frozenset({ServiceOrderAction.COMPLETE, ServiceOrderAction.FAIL}),
    ServiceOrderStatus.COMPLETED: frozenset(),
    ServiceOrderStatus.CANCELLED: frozenset(),
    ServiceOrderStatus.FAILED: frozenset(),
}

#: Where each step takes a service order. ``ASSIGN`` leads to ``assigned`` from ``new`` and leaves
#: a booked order booked (a reassignment keeps the appointment); ``BOOK`` from ``booked`` rebooks.
SERVICE_ACTION_LEADS_TO: dict[ServiceOrderAction, ServiceOrderStatus] = {
    ServiceOrderAction.ASSIGN: ServiceOrderStatus.ASSIGNED,
    ServiceOrderAction.BOOK: ServiceOrderStatus.BOOKED,
    ServiceOrderAction.CHECK_IN: ServiceOrderStatus.ON_SITE,
    ServiceOrderAction.COMPLETE: ServiceOrderStatus.COMPLETED,
    ServiceOrderAction.CANCEL: ServiceOrderStatus.CANCELLED,
    ServiceOrderAction.FAIL: ServiceOrderStatus.FAILED,
}


def service_actions(status: ServiceOrderStatus) -> frozenset[ServiceOrderAction]:
    """The steps a service order in ``status`` allows."""
    return SERVICE_ACTIONS[status]


def status_after(current: ServiceOrderStatus, action: ServiceOrderAction) -> ServiceOrderStatus:
    """The status ``action`` leaves a ``current`` service order in (it must be allowed)."""
    target = SERVICE_ACTION_LEADS_TO[action]
    if SERVICE_STATUS_RANK[target] < SERVICE_STATUS_RANK[current]:
        return current
    return target


class ServiceRegion(BaseModel):
    """Where the work is, to the district: what assignment by region needs. Never the street
    address (that stays in the platform's order, for roles allowed to read it)."""

    model_config = ConfigDict(frozen=True)

    province: str | None = None
    city: str | None = None
    district: str | None = None

    def names(self) -> tuple[str, ...]:
        """The parts given, from the widest."""
        return tuple(p for p in (self.province, self.city, self.district) if p)


class ServiceOrder(BaseModel):
    """A service work order as a platform reports it (or as the hub created it)."""

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef
    order_ref: ChannelRef | None = Field(default=None, description="The sales order the work is for.")
    line_external_id: str | None = Field(
        default=None, description="The order line (sub-order) the work is for, when the platform names it.")
    merchant_sku: str | None = Field(default=None, description="The merchant's code of the goods served.")
    product_title: str | None = None
    quantity: int = Field(default=1, ge=0, description="How many units the work covers (Tmall service_count).")
    service_code: str | None = Field(
        default=None, description="The platform's service code, verbatim; the hub types it through its "
                                  "configured table (``[service_orders] service_codes``).")
    service_name: str | None = None
    type: ServiceOrderType = Field(description="The connector's best reading; the hub's code table wins.")
    status: ServiceOrderStatus
    raw_status: str
    region: ServiceRegion | None = None
    expected_at: AwareDatetime | None = Field(default=None, description="The date the buyer asked for.")
    appointment_start: AwareDatetime | None = None
    appointment_end: AwareDatetime | None = None
    assignee: str | None = Field(default=None, description="The worker the platform names, when it does.")
    sla_deadline: AwareDatetime | None = Field(default=None, description="A deadline the platform sets.")
    rating: int | None = Field(default=None, ge=1, le=5, description="The buyer's rating, when the platform gives it.")
    completion_note: str | None = None
    reason: str | None = Field(default=None, description="Why it was cancelled or failed.")
    description: str | None = None
    extra: dict[str, str] = Field(
        default_factory=dict, description="Platform values the connector needs back when it writes a step "
                                          "(e.g. Tmall's ``sequence``); the hub stores and returns them as is.")
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ServiceAlertLevel(StrEnum):
    """A platform's service-level alert, from mild to severe (Tmall ``level`` 1 预警, 2 警告, 3 严重)."""

    WARNING = "warning"
    ALERT = "alert"
    CRITICAL = "critical"


class ServiceAlert(BaseModel):
    """A platform's alert that a service order is late or about to be (Tmall ServiceMonitorMessage)."""

    model_config = ConfigDict(frozen=True)

    ref: ChannelRef = Field(description="The service order the alert is about.")
    alert_id: str = Field(min_length=1)
    level: ServiceAlertLevel
    rule_id: str | None = None
    content: str = Field(default="", description="The platform's words, e.g. what was not reported in time.")
    raised_at: AwareDatetime


class TechnicianRef(BaseModel):
    """Who does the work, as a write-back names them to the platform."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    mobile: str | None = None


class Technician(BaseModel):
    """One technician in the hub's registry, with their current load (open orders assigned; orders
    booked for today). What ``assign_service_order`` implementations choose among."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=100)
    mobile: str | None = Field(default=None, max_length=30)
    skills: frozenset[ServiceOrderType] = Field(default_factory=frozenset)
    regions: tuple[str, ...] = Field(
        default=(), description="Province, city or district names served; empty serves everywhere.")
    work_days: tuple[int, ...] = Field(default=(1, 2, 3, 4, 5, 6), description="ISO weekdays, 1 = Monday.")
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    daily_capacity: int = Field(default=4, ge=0, le=100)
    active: bool = True
    open_load: int = Field(default=0, ge=0, description="Open service orders assigned now.")
    today_load: int = Field(default=0, ge=0, description="Appointments booked for today.")


class ServiceOrderStep(BaseModel):
    """One step to write back to the platform (``write_service_order``)."""

    model_config = ConfigDict(frozen=True)

    action: ServiceOrderAction
    key: str = Field(min_length=1, max_length=100, description="Idempotency key: the same on every retry.")
    technician: TechnicianRef | None = None
    appointment_start: AwareDatetime | None = None
    appointment_end: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=500)
    reason: str | None = Field(default=None, max_length=500)


class ServiceStepResult(BaseModel):
    """What the platform made of a step: ``written_back`` False when it has no API for it (the hub
    records it; ``note`` says so in the platform's terms). ``service_order`` is the order as the
    platform reports it afterwards, when the connector read it again."""

    model_config = ConfigDict(frozen=True)

    written_back: bool
    service_order: ServiceOrder | None = None
    note: str | None = None
