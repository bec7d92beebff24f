"""Actors and periodic jobs of after-sales, one module per job: ``aftersales_polling`` (the
safety-net poll of each shop's cases), ``aftersales_writeback`` (decisions whose write-back timed
out, tried again with the same key) and ``aftersales_rules`` (deadline alerts). The rules that run
when a case changes hang off ``hub.pipeline.actors.aftersale_changed``.
"""

from __future__ import annotations

from typing import Any

from hub.pipeline import aftersales_polling, aftersales_rules, aftersales_writeback

STEP_MODULES = (aftersales_polling, aftersales_writeback, aftersales_rules)


def aftersales_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of every after-sales periodic job."""
    return [job for module in STEP_MODULES for job in module.jobs(hub)]
