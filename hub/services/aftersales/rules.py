"""Rules that act on cases by themselves: approve a refund-only case below
``[aftersales] auto_approve_refund_below`` when nothing of the order shipped; give back the
reserved stock of lines refunded before shipment; raise an alert before a platform's reply
deadline lapses (history entry, metric, ``aftersale_due`` hook, console badge). Stopping the
shipment is the fulfilment interception's (``hub.services.fulfilment.interception``), run by intake.
"""

from __future__ import annotations

from typing import Any


async def after_change(hub: Any, case_id: int, status: str, cause: str) -> None:
    """Run the rules for a case that changed (from the ``aftersale_changed`` actor)."""
    return None


async def deadline_alerts(hub: Any, limit: int = 200) -> int:
    """Alert once for each open case whose deadline falls within the alert window; returns how many."""
    return 0
