"""Service orders the hub creates for an order of any shop (a Douyin order that needs
installation): by a person (``create_for_order``) or by ``[[service_orders.rules]]``
(``apply_rules``, run by the scheduler). They have the same lifecycle as a platform's work card;
their ``origin`` is ``manual`` or ``rule`` and their steps are recorded, not written back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.service_orders import ServiceOrderType


@dataclass(frozen=True)
class CreateRequest:
    """A service order for ``order_id``: for one line (``order_line_id``) or the order's first line
    with goods; ``expected_at`` the buyer's date when known."""

    order_id: int
    type: ServiceOrderType
    order_line_id: int | None = None
    expected_at: datetime | None = None
    note: str | None = None


async def create_for_order(hub: Any, request: CreateRequest, *, actor: str, cause: str) -> int:
    """Create the service order; returns its id. ``NotFoundError`` for an unknown order or line,
    ``BadInputError`` naming the field for a line of another order."""
    raise NotImplementedError


async def apply_rules(hub: Any, *, now: datetime | None = None) -> int:
    """Create a service order for every order the rules name that has none of that type yet (once
    per order line and type, whatever runs twice); returns how many were created. Set-based."""
    raise NotImplementedError
