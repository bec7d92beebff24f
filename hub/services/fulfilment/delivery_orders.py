"""Delivery orders: created from routed groups, sent to a WMS (or taken by the own warehouse),
and cancelled when a refund or a cancellation overtakes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.context import Hub


@dataclass
class CancelOutcome:
    """What cancelling an order's delivery orders did: ``cancelled`` (delivery order ids now
    cancelled or never sent), ``too_late`` (already shipped, or the WMS refused: an exception)."""

    cancelled: list[int] = field(default_factory=list)
    too_late: list[int] = field(default_factory=list)


async def cancel_for_order(hub: Hub, order_id: int, *, reason: str, actor: str | None) -> CancelOutcome:
    """Cancel every open delivery order holding lines of ``order_id`` (not yet built)."""
    return CancelOutcome()
