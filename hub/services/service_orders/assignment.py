"""Automatic assignment of service orders to technicians: by skill (the order's type), then region
(the order's district, city or province among the technician's regions; a technician with no
regions serves everywhere), then current load (open orders; a technician at their daily capacity of
appointments today goes last), then code. The ``assign_service_order`` hook may override the choice.

``rank`` is pure; ``auto_assign`` takes the step through ``lifecycle.take_step`` (so it is written
back and recorded like a person's, attributed to ``hub:auto``). A manual assignment or reassignment
is a person's ``ASSIGN`` step (``lifecycle``).
"""

from __future__ import annotations

from typing import Any

from contracts.service_orders import ServiceOrderType, ServiceRegion, Technician

#: Who automatic assignments are attributed to.
AUTO_ACTOR = "hub:auto"


def rank(kind: ServiceOrderType, region: ServiceRegion, technicians: list[Technician]) -> list[Technician]:
    """The active technicians with the skill ``kind``, best first (region, load, code)."""
    raise NotImplementedError


async def auto_assign(hub: Any, service_order_id: int, *, cause: str = "auto") -> str | None:
    """Assign an open, unassigned service order (a no-op otherwise); returns the chosen technician's
    code, or None when nobody fits (a history row says why, once)."""
    raise NotImplementedError
