"""The operations actors and periodic jobs, one module each: ``order_edits`` (write-back of edits),
``batch_jobs`` (background batch work), ``notifications`` (rules, deliveries, daily summary,
unpaid reminders) and ``reports`` (rollups). Importing this module registers their actors.
"""

from __future__ import annotations

from typing import Any

from hub.pipeline import batch_jobs, notifications, order_edits, reports

MODULES = (order_edits, batch_jobs, notifications, reports)


def operations_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of every operations periodic job."""
    return [job for module in MODULES for job in module.jobs(hub)]
