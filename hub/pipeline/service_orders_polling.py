"""Service-order actors: polling (to be built). ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    return []
