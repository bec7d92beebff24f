"""A fake channel with work cards, as the connector contract says (``fetch_service_orders``,
``get_service_order``, ``write_service_order``): for the hub's own tests of service orders, not for
any platform's behaviour (the Tmall sandbox is that).

``ServicePlatform`` holds the cards as "the platform" sees them; a written step moves the card (the
same key twice is applied once) and is logged in ``taken``. Faults are injected in order:
``timeouts`` raise ``RetryableError`` before applying, ``lost_answers`` apply and then raise it,
``refusals`` raise ``PermanentError``. ``make_service_channel(platform, writes=...)`` makes a connector
class of its own (its own platform state) writing only ``writes``; ``ChannelsPlugin`` (from
``hub.testing.aftersales_channel``) registers classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from contracts.connectors import Capability
from contracts.service_orders import (
    SERVICE_ACTION_LEADS_TO,
    ServiceOrder,
    ServiceOrderAction,
    ServiceOrderStep,
    ServiceStepResult,
    status_after,
)
from hub.plugin_api import NotFoundError, PermanentError, RetryableError


@dataclass
class ServicePlatform:
    """The fake platform's work cards, the steps it took, faults to inject."""

    cards: dict[str, ServiceOrder] = field(default_factory=dict)
    applied: dict[str, ServiceStepResult] = field(default_factory=dict)
    taken: list[tuple[str, str]] = field(default_factory=list)  # (card id, action), each once
    calls: int = 0
    timeouts: int = 0
    lost_answers: int = 0
    refusals: int = 0

    def add(self, card: ServiceOrder) -> ServiceOrder:
        self.cards[card.ref.external_id] = card
        return card

    def write(self, order: ServiceOrder, step: ServiceOrderStep) -> ServiceStepResult:
        self.calls += 1
        card_id = order.ref.external_id
        if self.timeouts:
            self.timeouts -= 1
            raise RetryableError(f"work card {card_id}: timed out (injected)")
        if self.refusals:
            self.refusals -= 1
            raise PermanentError(f"work card {card_id}: this session may not write work cards (injected)")
        if step.key in self.applied:
            return self.applied[step.key]
        current = self.cards.get(card_id, order)
        moved = current.model_copy(update={
            "status": status_after(current.status, step.action),
            "raw_status": SERVICE_ACTION_LEADS_TO[step.action].value,
            "assignee": step.technician.name if step.technician else current.assignee,
            "appointment_start": step.appointment_start or current.appointment_start,
            "appointment_end": step.appointment_end or current.appointment_end,
            "updated_at": current.updated_at + timedelta(minutes=1)})
        self.cards[card_id] = moved
        result = ServiceStepResult(written_back=True, service_order=moved)
        self.applied[step.key] = result
        self.taken.append((card_id, step.action.value))
        if self.lost_answers:
            self.lost_answers -= 1
            raise RetryableError(f"work card {card_id}: the answer was lost (injected)")
        return result


class _Settings(BaseModel):
    app_key: str = "fake"


class FakeServiceChannel:
    """The connector: every call goes to its class's ``platform_state``."""

    platform: ClassVar[str] = "svcfake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SERVICE_ORDERS, Capability.WRITE_SERVICE_ORDERS})
    service_order_writes: ClassVar[frozenset[ServiceOrderAction]] = frozenset(ServiceOrderAction)
    max_service_window_s: ClassVar[float] = 900.0
    platform_state: ClassVar[ServicePlatform] = ServicePlatform()
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        return [c for c in self.platform_state.cards.values() if start <= c.updated_at.astimezone(UTC) < end]

    async def get_service_order(self, external_id: str) -> ServiceOrder:
        try:
            return self.platform_state.cards[external_id]
        except KeyError:
            raise NotFoundError(f"no work card {external_id}") from None

    async def write_service_order(self, order: ServiceOrder, step: ServiceOrderStep) -> ServiceStepResult:
        if step.action not in self.service_order_writes:
            return ServiceStepResult(written_back=False, note=f"no API for {step.action.value}")
        return self.platform_state.write(order, step)

    async def aclose(self) -> None:
        return None


def make_service_channel(platform: str, *, writes: frozenset[ServiceOrderAction] | None = None,
                         writable: bool = True) -> type[FakeServiceChannel]:
    """A connector class of its own for ``platform`` (its own ``platform_state``), writing only
    ``writes``; ``writable=False``: one without ``WRITE_SERVICE_ORDERS`` at all."""
    capabilities = {Capability.SERVICE_ORDERS} | ({Capability.WRITE_SERVICE_ORDERS} if writable else set())
    return type(f"FakeService_{platform}", (FakeServiceChannel,), {
        "platform": platform, "capabilities": frozenset(capabilities),
        "service_order_writes": writes if writes is not None else frozenset(ServiceOrderAction),
        "platform_state": ServicePlatform()})
