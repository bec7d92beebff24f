"""Reports' periodic job: ``reports_refresh`` brings the daily rollups up to date every minute
(``hub.services.reports.refresh``: only the days changed since the last refresh; everything the
first time, or after the time zone, freight settings or a cost price changed). Reports are never
stale: they read the days not rolled up yet from ``orders`` (``hub.services.reports.sources``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import structlog

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.reports import refresh

log = structlog.get_logger(__name__)
REFRESH_ACTOR = "reports_refresh"
REFRESH_INTERVAL_S = 60.0


@hub_actor(queue="default", priority=-10, max_retries=1, min_backoff_ms=5_000, max_backoff_ms=30_000,
           name=REFRESH_ACTOR)
async def reports_refresh() -> None:
    """Recompute the rollups of the days changed since the last refresh, in one transaction."""
    hub = current_hub()
    async with hub.database().transaction() as session:
        done = await refresh.refresh(session, hub.config.reports, ZoneInfo(hub.config.console.time_zone))
    if done.days:
        log.info("reports.refreshed", rebuilt=done.rebuilt, days=done.days)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs."""
    return [(REFRESH_ACTOR, REFRESH_INTERVAL_S, REFRESH_ACTOR, ())]
