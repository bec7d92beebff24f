"""Actors and periodic jobs for routing and delivery orders: to a WMS or the own warehouse.

``jobs(hub)`` lists the periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step (none yet)."""
    return []
