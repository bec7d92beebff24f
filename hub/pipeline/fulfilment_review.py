"""Actors and periodic jobs for the review queue: orders held by review strategies, approve, hold and release.

``jobs(hub)`` lists the periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step (none yet)."""
    return []
