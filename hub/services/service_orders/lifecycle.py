"""A person's (or the hub's) steps on a service order: assign or reassign a technician, book an
appointment, check in on site, complete with notes and the buyer's rating, cancel or fail with a
reason.

``take_step`` checks the step is allowed now (``contracts.service_orders.service_actions``) and the
page's ``expected_version``, applies it in one transaction (status, times, technician, deadlines
through ``sla.values_for``, a history row attributed to the actor, ``version`` up) and, when the
shop's platform writes this step (``writeback.platform_writes``), stores a write-back row with its
idempotency key and sends it once inline (``writeback.send``); a step the platform has no API for is
recorded and marked so. Steps on orders the hub created (``origin`` manual or rule) are recorded only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus


@dataclass(frozen=True)
class StepRequest:
    """One step: ``technician_code`` for ASSIGN; ``appointment_start``/``_end`` for BOOK; ``note``
    (booking remark, completion notes), ``rating`` (COMPLETE, 1–5) and ``reason`` (CANCEL, FAIL, and
    a reassignment from one technician to another) as the step takes them."""

    action: ServiceOrderAction
    technician_code: str | None = None
    appointment_start: datetime | None = None
    appointment_end: datetime | None = None
    note: str | None = None
    rating: int | None = None
    reason: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class StepOutcome:
    """What a step did: the order's status and version after it, and its write-back's state
    (``done``, ``recorded`` — no platform API or a hub-created order —, ``pending`` — the platform
    did not answer yet, tried again —, ``failed`` — refused, with ``note`` saying why)."""

    service_order_id: int
    status: ServiceOrderStatus
    version: int
    write_state: str
    note: str | None = None


async def take_step(hub: Any, service_order_id: int, request: StepRequest, *, actor: str,
                    cause: str) -> StepOutcome:
    """Take ``request`` on the order; ``BadInputError`` naming the field for a missing or wrong value,
    ``ConflictError`` when the step is not allowed now or the version moved, ``NotFoundError``."""
    raise NotImplementedError
