"""Reports: rollups refreshed.
"""

from __future__ import annotations

from typing import Any


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return []
