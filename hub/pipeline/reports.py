"""Reports: periodic jobs. None today: the reports aggregate ``orders`` by indexed columns when asked
(``hub.services.reports``); daily rollups refreshed here from ``orders.updated_at`` are the next step
if a year of a million orders must answer in about a second (bench/README.md, "Reports").
"""

from __future__ import annotations

from typing import Any


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return []
